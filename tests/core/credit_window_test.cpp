// CreditWindow: the receiver's window grows every round trip while the stream is throughput-bound,
// up to its maximum and within the daemon's budget (the first kStreamWindow of each stream outside
// it), stops at a bottleneck's bandwidth-delay product, and shrinks back once the stream was idle.
// Behaviour only: a fake clock, no timing.
#include "core/credit_window.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <vector>

#include "wire/frame.hpp"

using namespace automatelinux::core;
namespace wire = automatelinux::wire;

namespace {

constexpr std::size_t kMiB = 1024 * 1024;
using Clock = CreditWindow::Clock;

// A stream over a link with a round trip, in rounds of one round trip each: the sender spends
// the credit it has (at most `per_round` bytes: what its source produces), echoing the last mark
// it got on its first chunk; the reader takes every chunk as it arrives, and the credit it
// returns reaches the sender in the next round.
struct Link {
  CreditWindow& w;
  Clock::time_point now = Clock::now();
  std::uint64_t credit = kStreamWindow;  // what the sender holds
  std::uint64_t mark = 0;                // the mark it will echo
  std::vector<std::chrono::milliseconds> round_trips{std::chrono::milliseconds(50)};  // in turn
  std::size_t round = 0;

  // Runs until `bytes` went through; returns the window.
  std::size_t stream(std::size_t bytes, std::size_t per_round = SIZE_MAX) {
    for (std::size_t moved = 0; moved < bytes;) {
      std::uint64_t returned = 0, next_mark = 0;
      for (std::size_t sent = 0; credit > 0 && sent < per_round;) {
        const std::size_t n = std::min<std::uint64_t>(credit, wire::kMaxChunk);
        EXPECT_TRUE(w.on_received(n, std::exchange(mark, 0), now));
        credit -= n;
        sent += n;
        moved += n;
        const Credit back = w.on_consumed(n, 0, now);
        returned += back.n;
        if (back.mark != 0) next_mark = back.mark;
      }
      credit += returned;
      mark = next_mark;
      now += round_trips[round++ % round_trips.size()];
    }
    return w.window();
  }
  std::size_t rounds(int n) {
    for (int i = 0; i < n; ++i) stream(1);  // one round: the sender spends all its credit
    return w.window();
  }
};

WindowLimits limits(std::size_t max, std::size_t budget) {
  return {max, std::make_shared<WindowBudget>(budget)};
}

TEST(CreditWindow, StaysAtTheStartWithoutGrowthAllowed) {
  CreditWindow w;
  EXPECT_EQ(Link{w}.stream(64 * kMiB), kStreamWindow);
}

TEST(CreditWindow, GrowsByDoublingWhileThroughputBoundAndStopsAtTheMaximum) {
  CreditWindow w;
  const auto l = limits(4 * kMiB, 256 * kMiB);
  w.enable_growth(l);
  Link link{w};
  // Two round trips: the first sends a mark, its echo shows a whole window per round trip.
  EXPECT_EQ(link.stream(2 * kStreamWindow), 2 * kStreamWindow);
  EXPECT_EQ(link.stream(64 * kMiB), 4 * kMiB);            // capped at the maximum
  EXPECT_EQ(l.budget->used(), 4 * kMiB - kStreamWindow);  // the first window is not counted
}

TEST(CreditWindow, DoublesEveryRoundTrip) {
  CreditWindow w;
  w.enable_growth(limits(64 * kMiB, 256 * kMiB));
  Link link{w};
  // The first round trip carries the first mark; each later one echoes a mark and doubles (the
  // bytes of a round trip are measured against the window the sender had, not the grown one).
  EXPECT_EQ(link.rounds(1), kStreamWindow);
  EXPECT_EQ(link.rounds(1), 2 * kStreamWindow);
  EXPECT_EQ(link.rounds(1), 4 * kStreamWindow);
  EXPECT_EQ(link.rounds(1), 8 * kStreamWindow);
}

// A link whose bottleneck carries `rate` bytes per millisecond, 25 ms each way: what the sender
// sends beyond that queues in front of the bottleneck (as in a socket buffer, or before a busy
// hop), so the round trip grows with the queue. Simulated in steps of one millisecond.
struct Bottleneck {
  struct Chunk {
    int at;  // the millisecond it arrives
    std::size_t n;
    std::uint64_t mark;
  };
  CreditWindow& w;
  std::size_t rate;
  Clock::time_point start = Clock::now();
  std::uint64_t credit = kStreamWindow, mark = 0;
  std::deque<Chunk> queued{}, on_link{}, credits{};  // credits: n and mark on their way back
  std::size_t queued_bytes = 0, drained_in_step = 0;

  // Runs `ms` milliseconds; returns the bytes that reached the receiver.
  std::size_t run(int from, int ms) {
    std::size_t delivered = 0;
    for (int t = from; t < from + ms; ++t) {
      const auto now = start + std::chrono::milliseconds(t);
      for (; !credits.empty() && credits.front().at <= t; credits.pop_front()) {
        credit += credits.front().n;
        if (credits.front().mark != 0) mark = credits.front().mark;
      }
      for (; credit > 0; credit -= std::min<std::uint64_t>(credit, wire::kMaxChunk)) {
        const std::size_t n = std::min<std::uint64_t>(credit, wire::kMaxChunk);
        queued.push_back({0, n, std::exchange(mark, 0)});
        queued_bytes += n;
      }
      // The bottleneck passes `rate` bytes a millisecond (whole chunks, carrying the remainder).
      drained_in_step += rate;
      while (!queued.empty() && queued.front().n <= drained_in_step) {
        drained_in_step -= queued.front().n;
        queued_bytes -= queued.front().n;
        on_link.push_back({t + 25, queued.front().n, queued.front().mark});
        queued.pop_front();
      }
      if (queued.empty()) drained_in_step = 0;
      for (; !on_link.empty() && on_link.front().at <= t; on_link.pop_front()) {
        EXPECT_TRUE(w.on_received(on_link.front().n, on_link.front().mark, now));
        delivered += on_link.front().n;
        const Credit back = w.on_consumed(on_link.front().n, 0, now);
        if (back.n > 0) credits.push_back({t + 25, back.n, back.mark});
      }
    }
    return delivered;
  }
};

TEST(CreditWindow, StopsGrowingOnceBytesQueueAtABottleneck) {
  CreditWindow w;
  w.enable_growth(limits(64 * kMiB, 256 * kMiB));
  constexpr std::size_t kRate = 100 * 1024;  // bytes per ms: ~100 MB/s
  constexpr std::size_t kBdp = kRate * 50;   // 5000 KiB in flight per 50 ms round trip
  Bottleneck link{w, kRate};
  link.run(0, 10'000);
  // Large enough to fill the link, but nowhere near the maximum: it settles at about twice the
  // bandwidth-delay product (past that, the extra would only wait in the queue).
  EXPECT_GE(w.window(), kBdp);
  EXPECT_LE(w.window(), 3 * kBdp);
  EXPECT_GE(link.run(10'000, 1000), kRate * 1000 * 95 / 100);  // the link stays full
}

TEST(CreditWindow, AQueueBuiltOnTheWayToTheMaximumStillShrinksTheWindow) {
  CreditWindow w;
  // The doublings that overshoot the link's bandwidth-delay product reach the maximum before
  // their queue shows: the round trips are still measured there, and the queue shrinks it.
  w.enable_growth(limits(16 * kMiB, 256 * kMiB));
  constexpr std::size_t kRate = 100 * 1024;
  constexpr std::size_t kBdp = kRate * 50;
  Bottleneck link{w, kRate};
  link.run(0, 10'000);
  EXPECT_LE(w.window(), 3 * kBdp);
  EXPECT_GE(w.window(), kBdp);
  EXPECT_GE(link.run(10'000, 1000), kRate * 1000 * 95 / 100);
}

TEST(CreditWindow, APauseOfTheSendersSourceIsNotTakenForAQueue) {
  CreditWindow w;
  w.enable_growth(limits(64 * kMiB, 256 * kMiB));
  Link link{w};
  const std::size_t before = link.rounds(5);
  ASSERT_EQ(before, 16 * kStreamWindow);
  // The source pauses 200 ms on a 50 ms link: the mark comes back with the next (small) data,
  // 250 ms after it went out. Little arrived in that round trip, so it says nothing of a queue.
  link.round_trips = {std::chrono::milliseconds(250)};
  link.stream(1, wire::kMaxChunk);
  link.round_trips = {std::chrono::milliseconds(50)};
  link.stream(1, wire::kMaxChunk);
  EXPECT_GE(link.rounds(2), before);
}

TEST(CreditWindow, GrowsOnAShortLinkWhoseRoundTripJitters) {
  CreditWindow w;
  w.enable_growth(limits(4 * kMiB, 256 * kMiB));
  Link link{w};
  // 1 ms, then 4 ms: four times the shortest, but a few milliseconds are scheduling, not a queue
  // worth a smaller window.
  link.round_trips = {std::chrono::milliseconds(1), std::chrono::milliseconds(4)};
  EXPECT_EQ(link.stream(64 * kMiB), 4 * kMiB);
}

TEST(CreditWindow, DoesNotGrowWhenTheSenderHasLessThanAWindowPerRoundTrip) {
  CreditWindow w;
  w.enable_growth(limits(16 * kMiB, 256 * kMiB));
  EXPECT_EQ(Link{w}.stream(64 * kMiB, kStreamWindow / 2), kStreamWindow);
}

TEST(CreditWindow, DoesNotGrowWhenTheReaderIsTheBottleneck) {
  CreditWindow w;
  w.enable_growth(limits(16 * kMiB, 256 * kMiB));
  auto now = Clock::now();
  // The whole window arrives at once, every round trip, with the mark echoed; the reader takes
  // it slowly and holds most of it meanwhile.
  std::size_t buffered = 0;
  std::uint64_t mark = 0, credit = kStreamWindow;
  for (int round = 0; round < 100; ++round) {
    for (std::uint64_t c = credit; c > 0; c -= wire::kMaxChunk) {
      ASSERT_TRUE(w.on_received(wire::kMaxChunk, std::exchange(mark, 0), now));
      buffered += wire::kMaxChunk;
    }
    credit = 0;
    while (buffered > kStreamWindow / 2) {
      buffered -= wire::kMaxChunk;
      const Credit back = w.on_consumed(wire::kMaxChunk, buffered, now);
      credit += back.n;
      if (back.mark != 0) mark = back.mark;
    }
    now += std::chrono::milliseconds(50);
  }
  EXPECT_EQ(w.window(), kStreamWindow);
}

TEST(CreditWindow, TheBudgetIsSharedAndANewStreamStillGetsItsFirstWindow) {
  const auto l = limits(16 * kMiB, 3 * kMiB);
  CreditWindow a, b, c;
  a.enable_growth(l);
  b.enable_growth(l);
  c.enable_growth(l);
  Link{a}.stream(64 * kMiB);
  Link{b}.stream(64 * kMiB);
  EXPECT_EQ(l.budget->used(), 3 * kMiB);  // never past the budget
  EXPECT_EQ(a.window() + b.window(), 3 * kMiB + 2 * kStreamWindow);
  // The budget is spent, yet a third stream runs at its first window.
  EXPECT_EQ(Link{c}.stream(8 * kMiB), kStreamWindow);
  a.release();
  EXPECT_EQ(l.budget->used(), b.window() - kStreamWindow);  // a's growth went back
}

TEST(CreditWindow, ShrinksBackToTheStartAfterIdlingAndReturnsTheBudget) {
  const auto l = limits(16 * kMiB, 256 * kMiB);
  CreditWindow w;
  w.enable_growth(l);
  Link link{w};
  ASSERT_EQ(link.stream(64 * kMiB), 16 * kMiB);
  const auto later = link.now + kWindowIdle + std::chrono::milliseconds(1);
  // What the reader takes now is kept back until the window is down to the start again.
  std::uint64_t credited = 0;
  for (int i = 0; i < 16 * 16; ++i) {
    ASSERT_TRUE(w.on_received(wire::kMaxChunk, 0, later));
    credited += w.on_consumed(wire::kMaxChunk, 0, later).n;
  }
  EXPECT_EQ(w.window(), kStreamWindow);
  EXPECT_EQ(l.budget->used(), 0U);
  EXPECT_EQ(credited, 16 * 16 * wire::kMaxChunk - (16 * kMiB - kStreamWindow));
}

TEST(CreditWindow, DataPastTheWindowPlusOneChunkIsRefused) {
  CreditWindow w;
  for (std::size_t sent = 0; sent < kStreamWindow; sent += wire::kMaxChunk)
    ASSERT_TRUE(w.on_received(wire::kMaxChunk, 0, Clock::now()));
  EXPECT_TRUE(w.on_received(wire::kMaxChunk, 0, Clock::now()));  // the one a sender may overshoot
  EXPECT_FALSE(w.on_received(1, 0, Clock::now()));
}

}  // namespace
