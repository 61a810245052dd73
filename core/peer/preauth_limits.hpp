// Limits on what anyone who can reach the leader's port costs before they are authenticated:
// how many such connections exist at once (in total and per source address), whether a
// descriptor may go to one at all, and how many log lines their failures may write.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

namespace automatelinux::core::peer {

// Largest frame accepted before authentication (an enroll request is a few KiB).
inline constexpr std::size_t kMaxPreauthFrame = 16 * 1024;
// Connections between accept and authentication (TLS handshake, or the one enroll request).
inline constexpr std::size_t kMaxPreauthConnections = 64;
inline constexpr std::size_t kMaxPreauthPerAddress = 8;
// Pre-authentication failures logged in detail: a burst, then one per interval; the rest are
// counted and summarised once per interval.
inline constexpr std::size_t kPreauthLogBurst = 5;
inline constexpr std::chrono::seconds kPreauthLogInterval{10};
// Untrusted text shown in a pre-authentication log line, at most.
inline constexpr std::size_t kPreauthLoggedText = 64;

// Counts unauthenticated connections. A slot is held from accept until the connection is
// authenticated or gone; releasing the last reference gives it back.
class PreauthGate : public std::enable_shared_from_this<PreauthGate> {
 public:
  class Slot {
   public:
    Slot(std::shared_ptr<PreauthGate> gate, std::string address)
        : gate_(std::move(gate)), address_(std::move(address)) {}
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { gate_->release(address_); }

   private:
    std::shared_ptr<PreauthGate> gate_;
    std::string address_;
  };

  PreauthGate(std::size_t total = kMaxPreauthConnections,
              std::size_t per_address = kMaxPreauthPerAddress)
      : total_limit_(total), per_address_limit_(per_address) {}

  // A slot for a new connection from `address`, or null (and `why`) when a limit is reached.
  std::shared_ptr<Slot> try_acquire(const std::string& address, std::string& why);
  std::size_t active() const { return active_; }
  // The most slots held at once since the last call; for deciding when a flood ended.
  std::size_t take_peak();

 private:
  void release(const std::string& address);

  std::size_t total_limit_;
  std::size_t per_address_limit_;
  std::size_t active_ = 0;
  std::size_t peak_ = 0;
  std::map<std::string, std::size_t> by_address_;
};

// A token bucket for log lines: `burst` lines at once, then one per `interval`. What it refuses
// is counted for a summary line.
class LogRateLimit {
 public:
  using Clock = std::chrono::steady_clock;
  LogRateLimit(std::size_t burst = kPreauthLogBurst,
               std::chrono::seconds interval = kPreauthLogInterval)
      : burst_(burst), interval_(interval), tokens_(static_cast<double>(burst)) {}

  // True when this event may be logged in detail; otherwise it is counted as suppressed.
  bool admit(Clock::time_point now);
  // Events suppressed since the last call.
  std::uint64_t take_suppressed() { return std::exchange(suppressed_, 0); }
  std::uint64_t suppressed() const { return suppressed_; }

 private:
  std::size_t burst_;
  std::chrono::seconds interval_;
  double tokens_;
  Clock::time_point last_{};
  bool started_ = false;
  std::uint64_t suppressed_ = 0;
};

// True when a descriptor numbered `fd` (the lowest free one, as accept() returns) leaves fewer
// than a reserve of descriptors for the local socket, established sessions and commands:
// reserve = a quarter of RLIMIT_NOFILE, at least 16 and at most 256.
bool fd_in_reserve(int fd);
std::size_t fd_reserve();

}  // namespace automatelinux::core::peer
