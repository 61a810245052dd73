// The receiving side of a stream's credit window, with growth: a window starts at kStreamWindow
// and doubles every round trip while the stream is throughput-bound (the sender ran out of credit
// while our reader kept up and the round trip stayed near its minimum: a longer one means bytes
// are queueing somewhere, and a larger window would add delay, not throughput), as TCP auto-tuning
// and HPN-SSH grow theirs, up to a per-stream maximum and within a per-daemon budget; it shrinks
// to about twice the link's bandwidth-delay product once a queue as large as that shows, and back
// to the start when the stream has been idle. Growth is only ever granted as credit, so every
// hop that checks credit sees it. No Asio: the clock is passed in.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace automatelinux::core {

// Bytes a writer may have in flight per stream before it must wait for credit (per direction),
// at the start of every stream; a receiver may see up to one chunk more than its window.
inline constexpr std::size_t kStreamWindow = 512 * 1024;
// The largest window the protocol allows (what a relay accepts); config maxima stay below it.
inline constexpr std::size_t kMaxStreamWindow = 64 * 1024 * 1024;
// Defaults of `streams.max_window_bytes` and `streams.budget_bytes`. A stream carries at most one
// window per round trip: 64 MiB is 1.3 GB/s at 50 ms. Growth stops at the link's own
// bandwidth-delay product (the round-trip rule below), so a slower link never queues that much.
inline constexpr std::size_t kDefaultMaxWindow = 64 * 1024 * 1024;
inline constexpr std::size_t kDefaultWindowBudget = 256 * 1024 * 1024;
// A stream that consumed nothing for this long is idle: its window shrinks back to the start.
inline constexpr std::chrono::milliseconds kWindowIdle{1000};
// A queue that adds less than this to a round trip is not worth shrinking a window for.
inline constexpr std::chrono::milliseconds kQueueTolerance{10};

// Bytes of grown windows all streams of a daemon hold together. The first kStreamWindow of
// every stream is not counted, so a new stream never waits for the budget.
class WindowBudget {
 public:
  explicit WindowBudget(std::size_t limit) : limit_(limit) {}
  // Takes up to `wanted` bytes; returns how many it got.
  std::size_t take(std::size_t wanted) {
    const std::size_t got = wanted < limit_ - used_ ? wanted : limit_ - used_;
    used_ += got;
    return got;
  }
  void give_back(std::size_t n) { used_ -= n < used_ ? n : used_; }
  std::size_t used() const { return used_; }
  std::size_t limit() const { return limit_; }

 private:
  std::size_t limit_;
  std::size_t used_ = 0;
};

struct WindowLimits {
  std::size_t max_window = kDefaultMaxWindow;
  std::shared_ptr<WindowBudget> budget;  // null: never grows
};

// What the receiver sends back: `n` bytes of credit, and a round-trip mark (0: none) that the
// sender echoes on its next data frame.
struct Credit {
  std::uint64_t n = 0;
  std::uint64_t mark = 0;
};

class CreditWindow {
 public:
  using Clock = std::chrono::steady_clock;

  // Until enable_growth, the window stays at kStreamWindow (the sender may not understand more).
  CreditWindow() = default;
  ~CreditWindow() { release(); }
  CreditWindow(const CreditWindow&) = delete;
  CreditWindow& operator=(const CreditWindow&) = delete;

  // Data arrived at `now`, carrying `mark` (0: none) if the sender echoed one; false when the
  // sender went past its window plus one chunk.
  bool on_received(std::size_t n, std::uint64_t mark, Clock::time_point now);
  // The reader took `n` bytes, leaving `buffered` received bytes it has not taken yet. Returns
  // the credit to send now (n = 0: keep batching): the bytes taken, plus a growth, minus a shrink.
  Credit on_consumed(std::size_t n, std::size_t buffered, Clock::time_point now);
  // The sender understands credit granted ahead of data (protocol 2): grow within `limits`.
  void enable_growth(WindowLimits limits);
  // The stream ended: the grown part goes back to the budget.
  void release();

  std::size_t window() const { return window_; }

 private:
  std::size_t growth(std::size_t buffered);
  void shrink_if_idle(Clock::time_point now);

  WindowLimits limits_;                  // no budget: never grows
  std::size_t window_ = kStreamWindow;   // what the sender may have unconsumed in all
  std::size_t target_ = kStreamWindow;   // smaller than window_ while shrinking
  std::int64_t unused_ = kStreamWindow;  // credit the sender still has (negative: one chunk over)
  std::size_t owed_ = 0;                 // consumed, not yet credited
  Clock::time_point last_consumed_{};
  // Round trips, measured with marks (as TCP timestamps): the bytes that arrived between sending
  // a mark and its echo are what the sender managed in one round trip.
  std::uint64_t received_ = 0;
  std::uint64_t mark_ = 0;  // the mark in flight (0: none)
  std::uint64_t last_mark_ = 0;
  std::uint64_t received_at_mark_ = 0;
  std::size_t window_at_mark_ = kStreamWindow;  // what the sender had while the mark travelled
  Clock::time_point mark_sent_at_{};
  Clock::duration min_round_trip_ = Clock::duration::max();
  bool window_bound_ = false;  // the last round trip carried (nearly) a whole window, unqueued
};

}  // namespace automatelinux::core
