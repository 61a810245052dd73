#include "core/member_requests.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/untrusted_text.hpp"

namespace automatelinux::core {

MemberRequests::MemberRequests(asio::io_context& io, std::shared_ptr<spdlog::logger> log,
                               sdk::AuditLog* audit, MemberRequestLimits limits)
    : io_(io), log_(std::move(log)), audit_(audit), limits_(limits), timer_(io) {}

MemberRequests::Member& MemberRequests::member(const std::string& id, Clock::time_point now) {
  Member& m = members_[id];
  if (!m.seen) {
    m.seen = true;
    m.tokens = limits_.burst;
    m.refilled = now;
    m.window_start = now;
  } else if (now - m.window_start >= kWindow) {
    end_window(id, m, now);
  }
  return m;
}

bool MemberRequests::admit(const std::string& id, Clock::time_point now) {
  Member& m = member(id, now);
  const double elapsed = std::chrono::duration<double>(now - m.refilled).count();
  m.tokens = std::min(limits_.burst, m.tokens + std::max(0.0, elapsed) * limits_.per_second);
  m.refilled = now;
  if (m.tokens >= 1) {
    m.tokens -= 1;
    return true;
  }
  count(m, "busy", "");
  return false;
}

bool MemberRequests::audit_in_full(const std::string& id, const std::string& decision,
                                   const std::string& reason, Clock::time_point now) {
  Member& m = member(id, now);
  if (m.in_full < kInFull) {
    ++m.in_full;
    return true;
  }
  count(m, decision, reason);
  return false;
}

void MemberRequests::count(Member& m, const std::string& decision, const std::string& reason) {
  Tally& tally = m.summarised[decision];
  if (tally.count++ == 0) tally.reason = reason;
  arm_timer();
}

void MemberRequests::summarise(const std::string& id, Member& m) {
  constexpr auto window_s = std::chrono::duration_cast<std::chrono::seconds>(kWindow).count();
  for (const auto& [decision, tally] : m.summarised) {
    if (tally.count == 0) continue;
    if (decision == "busy")
      log_->warn("{}: {} requests answered busy in {} s (over peer.max_requests_per_s = {})",
                 escape_untrusted(id), tally.count, window_s, limits_.per_second);
    else
      log_->warn("{}: {} more requests {} ({}) in {} s", escape_untrusted(id), tally.count,
                 decision, escape_untrusted(tally.reason), window_s);
    if (audit_ == nullptr) continue;
    nlohmann::json record = {{"event", "summary"},
                             {"requester", id},
                             {"decision", decision},
                             {"count", tally.count},
                             {"window_s", window_s}};
    if (!tally.reason.empty()) record["reason"] = tally.reason;
    audit_->record(std::move(record));
  }
  m.summarised.clear();
}

void MemberRequests::end_window(const std::string& id, Member& m, Clock::time_point now) {
  summarise(id, m);
  m.window_start = now;
  m.in_full = 0;
}

void MemberRequests::flush(Clock::time_point now) {
  for (auto it = members_.begin(); it != members_.end();) {
    Member& m = it->second;
    const bool window_ended = now - m.window_start >= kWindow;
    if (window_ended && !m.summarised.empty()) end_window(it->first, m, now);
    // A member that has been quiet for a whole window with a full bucket is forgotten, so the
    // table holds only members that sent something lately.
    const double refill = std::chrono::duration<double>(now - m.refilled).count();
    if (window_ended && m.summarised.empty() &&
        m.tokens + refill * limits_.per_second >= limits_.burst)
      it = members_.erase(it);
    else
      ++it;
  }
}

void MemberRequests::arm_timer() {
  if (timer_armed_) return;
  timer_armed_ = true;
  timer_.expires_after(std::chrono::seconds(1));
  timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!self || ec) return;
    self->timer_armed_ = false;
    self->flush(Clock::now());
    for (const auto& [id, m] : self->members_)
      if (!m.summarised.empty()) return self->arm_timer();
  });
}

}  // namespace automatelinux::core
