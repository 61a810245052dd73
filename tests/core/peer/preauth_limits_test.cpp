#include "core/peer/preauth_limits.hpp"

#include <sys/resource.h>

#include <gtest/gtest.h>
#include <vector>

using namespace automatelinux::core::peer;

TEST(PreauthGate, LimitsConnectionsInTotalAndPerAddressAndGivesSlotsBack) {
  auto gate = std::make_shared<PreauthGate>(5, 2);
  std::string why;
  std::vector<std::shared_ptr<PreauthGate::Slot>> held;
  held.push_back(gate->try_acquire("10.0.0.1", why));
  held.push_back(gate->try_acquire("10.0.0.1", why));
  EXPECT_FALSE(gate->try_acquire("10.0.0.1", why));
  EXPECT_NE(why.find("from this address"), std::string::npos);
  held.push_back(gate->try_acquire("10.0.0.2", why));
  held.push_back(gate->try_acquire("10.0.0.3", why));
  held.push_back(gate->try_acquire("10.0.0.4", why));
  for (auto& s : held) ASSERT_TRUE(s);
  EXPECT_FALSE(gate->try_acquire("10.0.0.5", why));
  EXPECT_EQ(gate->active(), 5u);
  held.erase(held.begin());                         // one from 10.0.0.1 is gone
  EXPECT_TRUE(gate->try_acquire("10.0.0.1", why));  // released again at once
  EXPECT_EQ(gate->take_peak(), 5u);
  held.clear();
  EXPECT_EQ(gate->active(), 0u);
  EXPECT_EQ(gate->take_peak(), 4u);  // what was held when the peak was last taken
  EXPECT_EQ(gate->take_peak(), 0u);
}

TEST(LogRateLimit, ABurstThenOneLinePerIntervalAndTheRestCounted) {
  using namespace std::chrono;
  LogRateLimit limit(5, seconds(10));
  const auto t0 = steady_clock::now();
  int logged = 0;
  for (int i = 0; i < 1000; ++i) logged += limit.admit(t0 + milliseconds(i));  // one second
  EXPECT_EQ(logged, 5);
  EXPECT_EQ(limit.take_suppressed(), 995u);
  EXPECT_EQ(limit.take_suppressed(), 0u);
  EXPECT_FALSE(limit.admit(t0 + seconds(5)));
  EXPECT_TRUE(limit.admit(t0 + seconds(11)));  // one more per 10 s
  EXPECT_FALSE(limit.admit(t0 + seconds(12)));
}

TEST(FdReserve, RefusesDescriptorsCloseToTheLimit) {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_cur == RLIM_INFINITY) GTEST_SKIP();
  const auto reserve = fd_reserve();
  EXPECT_GE(reserve, 16u);
  EXPECT_LE(reserve, 256u);
  EXPECT_FALSE(fd_in_reserve(3));
  EXPECT_TRUE(fd_in_reserve(static_cast<int>(limit.rlim_cur - reserve)));
  EXPECT_FALSE(fd_in_reserve(static_cast<int>(limit.rlim_cur - reserve - 1)));
}
