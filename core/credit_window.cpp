#include "core/credit_window.hpp"

#include <algorithm>

#include "wire/frame.hpp"

namespace automatelinux::core {

void CreditWindow::enable_growth(WindowLimits limits) {
  release();
  limits_ = std::move(limits);
  limits_.max_window = std::clamp(limits_.max_window, kStreamWindow, kMaxStreamWindow);
}

bool CreditWindow::on_received(std::size_t n, std::uint64_t mark, Clock::time_point now) {
  unused_ -= static_cast<std::int64_t>(n);
  received_ += n;
  if (mark != 0 && mark == mark_) {
    // Bytes that arrived within one round trip; near a whole window means the window, not the
    // sender's source, limited the stream — unless the round trip grew, which means the bytes
    // were waiting in a queue on the way, so the link (or a hop's CPU) is already full.
    const auto round_trip = now - mark_sent_at_;
    min_round_trip_ = std::min(min_round_trip_, round_trip);
    const std::uint64_t bytes = received_ - received_at_mark_;
    // Bytes queueing on the way add to the round trip. Grow only while little queues; hold the
    // window until the queue is as large as what the link itself holds (a round trip of twice
    // the shortest). A queue that delays by less than kQueueTolerance is never counted: on a
    // short link it is scheduling jitter, and a larger window there saves wake-ups.
    const auto queued_for = round_trip - min_round_trip_;
    window_bound_ = queued_for <= std::max<Clock::duration>(min_round_trip_ / 4, kQueueTolerance) &&
                    bytes >= window_at_mark_ - window_at_mark_ / 4;
    // Growth acts a round trip after it is granted, so it overshoots by a doubling or two before
    // the queue shows: then shrink to twice what the link carries per unqueued round trip.
    // Only a round trip that carried at least half a window counts: one that carried less
    // includes a pause of the sender's own source (it echoes the mark with its next data).
    if (queued_for > std::max<Clock::duration>(min_round_trip_, kQueueTolerance) &&
        bytes >= window_at_mark_ / 2) {
      const auto carried = static_cast<std::size_t>(static_cast<double>(bytes) *
                                                    static_cast<double>(min_round_trip_.count()) /
                                                    static_cast<double>(round_trip.count()));
      target_ = std::clamp(2 * carried, kStreamWindow, target_);
    }
    mark_ = 0;
  }
  return unused_ >= -static_cast<std::int64_t>(wire::kMaxChunk);
}

Credit CreditWindow::on_consumed(std::size_t n, std::size_t buffered, Clock::time_point now) {
  shrink_if_idle(now);
  last_consumed_ = now;
  owed_ += n;
  const std::size_t grown = growth(buffered);
  // Batched (a quarter window, or whenever the reader holds nothing more) to save the sender
  // wake-ups; a growth goes out at once, since the sender is waiting for it.
  if (grown == 0 && buffered > 0 && owed_ < window_ / 4) return {};
  // Shrinking: what the reader took is kept back until the window is down to its target.
  const std::size_t withheld = std::min(owed_, window_ - target_);
  window_ -= withheld;
  if (limits_.budget) limits_.budget->give_back(withheld);
  Credit credit{std::exchange(owed_, 0) - withheld + grown, 0};
  unused_ += static_cast<std::int64_t>(credit.n);
  // A new round-trip measurement rides on this credit; also at the maximum, where a queue the
  // last doublings built must still show.
  if (limits_.budget && mark_ == 0 && credit.n > 0) {
    mark_ = credit.mark = ++last_mark_;
    mark_sent_at_ = now;
    received_at_mark_ = received_;
    // The bytes that arrive before the echo were sent under the window the sender had before
    // this credit: a growth riding on it cannot show yet (so growth can follow every round trip).
    window_at_mark_ = window_ - grown;
  }
  return credit;
}

// Doubles the window (as far as the maximum and the budget allow) after a round trip that
// carried nearly a whole window, if the reader keeps up (it holds little): the stream is
// throughput-bound on the link, so a larger window means more bytes per round trip.
std::size_t CreditWindow::growth(std::size_t buffered) {
  if (!window_bound_ || !limits_.budget || target_ != window_) return 0;
  window_bound_ = false;
  if (buffered > window_ / 4 || window_ >= limits_.max_window) return 0;
  const std::size_t got = limits_.budget->take(std::min(window_, limits_.max_window - window_));
  window_ += got;
  target_ = window_;
  return got;
}

void CreditWindow::shrink_if_idle(Clock::time_point now) {
  if (last_consumed_ == Clock::time_point{} || now - last_consumed_ < kWindowIdle) return;
  target_ = kStreamWindow;
  window_bound_ = false;
}

void CreditWindow::release() {
  if (limits_.budget) limits_.budget->give_back(window_ - kStreamWindow);
  limits_.budget.reset();
  window_ = target_ = kStreamWindow;
}

}  // namespace automatelinux::core
