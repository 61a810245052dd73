// What one cluster member may cost this daemon, applied in core before any plugin runs (so no
// plugin can forget it): a token bucket on the requests each member has served here
// (peer.max_requests_per_s, burst peer.max_requests_burst), and refusals audited in summary
// once one member repeats them — the first kInFull of a kWindow in full, then one summary record
// per window and decision. Without it, one member's flood of refused requests rotated every
// other record out of the audit log and daemon.log. Requests that ran are never summarised,
// and local callers never pass through here.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "automatelinux/sdk/audit.hpp"
#include "core/asio.hpp"

namespace spdlog {
class logger;
}

namespace automatelinux::core {

struct MemberRequestLimits {
  double per_second = 200;  // peer.max_requests_per_s
  double burst = 400;       // peer.max_requests_burst
};

class MemberRequests : public std::enable_shared_from_this<MemberRequests> {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kWindow{10};
  static constexpr unsigned kInFull = 20;

  // `audit` may be null (tests).
  MemberRequests(asio::io_context& io, std::shared_ptr<spdlog::logger> log, sdk::AuditLog* audit,
                 MemberRequestLimits limits);

  const MemberRequestLimits& limits() const { return limits_; }

  // Whether one more request from `member` may be served now. When not, it is counted (and
  // answered `busy` by the caller); the count is logged and audited once per window.
  bool admit(const std::string& member, Clock::time_point now = Clock::now());
  // Whether a refused or denied request from `member` gets its own audit record and log line.
  // When not, it is counted into its window's summary (with the first reason seen).
  bool audit_in_full(const std::string& member, const std::string& decision,
                     const std::string& reason, Clock::time_point now = Clock::now());
  // Writes the summaries of windows that ended by `now` (the timer does; tests call it).
  void flush(Clock::time_point now);

 private:
  struct Tally {
    std::uint64_t count = 0;
    std::string reason;  // the first one of the window
  };
  struct Member {
    double tokens = 0;
    Clock::time_point refilled{};
    bool seen = false;
    Clock::time_point window_start{};
    unsigned in_full = 0;
    std::map<std::string, Tally> summarised;  // by decision ("refused", "denied", "busy")
  };

  Member& member(const std::string& id, Clock::time_point now);
  void count(Member& m, const std::string& decision, const std::string& reason);
  void summarise(const std::string& id, Member& m);
  // Summarises the window that ended and starts the next one at `now`.
  void end_window(const std::string& id, Member& m, Clock::time_point now);
  void arm_timer();

  asio::io_context& io_;
  std::shared_ptr<spdlog::logger> log_;
  sdk::AuditLog* audit_;
  MemberRequestLimits limits_;
  std::map<std::string, Member> members_;
  asio::steady_timer timer_;
  bool timer_armed_ = false;
};

}  // namespace automatelinux::core
