// One member's requests: a token bucket before any plugin runs, and refusals it repeats audited
// in summary (the first 20 of a 10 s window in full). The audit log is the real one, on disk.
#include "core/member_requests.hpp"

#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/audit_log.hpp"

namespace automatelinux::core {
namespace {
namespace fs = std::filesystem;
using Clock = MemberRequests::Clock;
using namespace std::chrono_literals;

class MemberRequestsTest : public ::testing::Test {
 protected:
  MemberRequestsTest() {
    char templ[] = "/tmp/al-member-requests-XXXXXX";
    dir_ = ::mkdtemp(templ);
    audit_ = std::make_unique<AuditLog>(io_, dir_ / "audit.jsonl", AuditLimits{}, logger_);
    audit_->identify_with([] { return std::string("laptop"); });
  }
  ~MemberRequestsTest() override { fs::remove_all(dir_); }

  std::shared_ptr<MemberRequests> make(MemberRequestLimits limits) {
    return std::make_shared<MemberRequests>(io_, logger_, audit_.get(), limits);
  }
  std::vector<nlohmann::json> summaries() const {
    std::vector<nlohmann::json> out;
    for (const auto& line : audit_->read({})) {
      auto record = nlohmann::json::parse(line);
      if (record["event"] == "summary") out.push_back(std::move(record));
    }
    return out;
  }

  asio::io_context io_;
  fs::path dir_;
  std::shared_ptr<spdlog::logger> logger_ =
      std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  std::unique_ptr<AuditLog> audit_;
};

TEST_F(MemberRequestsTest, ABurstThenTheRatePerMemberAndOtherMembersUntouched) {
  auto guard = make({.per_second = 100, .burst = 10});
  const auto t0 = Clock::now();
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(guard->admit("vps", t0)) << i;
  EXPECT_FALSE(guard->admit("vps", t0));
  EXPECT_TRUE(guard->admit("desktop", t0));  // a bucket per member
  // 100 per second: one more after 10 ms, not two.
  EXPECT_TRUE(guard->admit("vps", t0 + 10ms));
  EXPECT_FALSE(guard->admit("vps", t0 + 10ms));
  // The bucket never holds more than the burst, however long the member was quiet.
  const auto later = t0 + 5s;
  int admitted = 0;
  while (guard->admit("vps", later)) ++admitted;
  EXPECT_EQ(admitted, 10);
}

TEST_F(MemberRequestsTest, RefusalsBeyondTwentyInAWindowBecomeOneSummaryPerDecision) {
  auto guard = make({});
  const auto t0 = Clock::now();
  int in_full = 0;
  for (int i = 0; i < 5000; ++i)
    in_full += guard->audit_in_full("vps", "denied", "peer vps may not run commands here",
                                    t0 + std::chrono::microseconds(i))
                   ? 1
                   : 0;
  EXPECT_EQ(in_full, 20);
  EXPECT_FALSE(guard->audit_in_full("vps", "refused", "directory not found", t0 + 1s));
  // Another member has its own window.
  EXPECT_TRUE(guard->audit_in_full("desktop", "refused", "directory not found", t0 + 1s));
  guard->flush(t0 + 9s);  // the window has not ended
  EXPECT_TRUE(summaries().empty());
  guard->flush(t0 + 10s);
  const auto s = summaries();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0]["requester"], "vps");
  EXPECT_EQ(s[0]["decision"], "denied");
  EXPECT_EQ(s[0]["count"], 4980);
  EXPECT_EQ(s[0]["reason"], "peer vps may not run commands here");
  EXPECT_EQ(s[0]["window_s"], 10);
  EXPECT_EQ(s[1]["decision"], "refused");
  EXPECT_EQ(s[1]["count"], 1);
  // A new window: in full again.
  EXPECT_TRUE(guard->audit_in_full("vps", "denied", "again", t0 + 11s));
}

TEST_F(MemberRequestsTest, BusyAnswersAreCountedIntoTheSummaryToo) {
  auto guard = make({.per_second = 1, .burst = 1});
  const auto t0 = Clock::now();
  EXPECT_TRUE(guard->admit("vps", t0));
  for (int i = 0; i < 300; ++i) EXPECT_FALSE(guard->admit("vps", t0));
  guard->flush(t0 + 10s);
  const auto s = summaries();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0]["decision"], "busy");
  EXPECT_EQ(s[0]["count"], 300);
}

TEST_F(MemberRequestsTest, TheTimerWritesTheSummaryAfterTheFloodStops) {
  auto guard = make({});
  const auto long_ago = Clock::now() - 9500ms;
  for (int i = 0; i < 21; ++i) guard->audit_in_full("vps", "refused", "no", long_ago);
  EXPECT_TRUE(summaries().empty());
  io_.run_for(3s);  // nothing more arrives from vps: the timer ends its window
  ASSERT_EQ(summaries().size(), 1u);
  EXPECT_EQ(summaries()[0]["count"], 1);
}

}  // namespace
}  // namespace automatelinux::core
