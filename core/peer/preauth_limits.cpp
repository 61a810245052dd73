#include "core/peer/preauth_limits.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <utility>

namespace automatelinux::core::peer {

std::shared_ptr<PreauthGate::Slot> PreauthGate::try_acquire(const std::string& address,
                                                            std::string& why) {
  if (active_ >= total_limit_) {
    why = "too many unauthenticated connections (" + std::to_string(total_limit_) + ")";
    return nullptr;
  }
  auto& from_here = by_address_[address];
  if (from_here >= per_address_limit_) {
    why = "too many unauthenticated connections from this address (" +
          std::to_string(per_address_limit_) + ")";
    return nullptr;
  }
  ++from_here;
  ++active_;
  peak_ = std::max(peak_, active_);
  return std::make_shared<Slot>(shared_from_this(), address);
}

void PreauthGate::release(const std::string& address) {
  --active_;
  if (auto it = by_address_.find(address); it != by_address_.end() && --it->second == 0)
    by_address_.erase(it);
}

std::size_t PreauthGate::take_peak() {
  return std::exchange(peak_, active_);
}

bool LogRateLimit::admit(Clock::time_point now) {
  if (!started_) {
    started_ = true;
    last_ = now;
  }
  const double refill = std::chrono::duration<double>(now - last_) / interval_;
  tokens_ = std::min(static_cast<double>(burst_), tokens_ + refill);
  last_ = now;
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return true;
  }
  ++suppressed_;
  return false;
}

std::size_t fd_reserve() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 256;
  return std::clamp<std::size_t>(limit.rlim_cur / 4, 16, 256);
}

bool fd_in_reserve(int fd) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return false;
  return static_cast<std::size_t>(fd) + fd_reserve() >= limit.rlim_cur;
}

}  // namespace automatelinux::core::peer
