#include "core/peer/relay_guard.hpp"

#include <gtest/gtest.h>

using namespace automatelinux::core::peer;
namespace core = automatelinux::core;
namespace wire = automatelinux::wire;

TEST(RelayGuard, OutputWithinTheWindowPlusOneChunkPassesWithoutCredit) {
  RelayState s;
  // A server sends while less than a window is unacknowledged: up to window + chunk - 1 bytes.
  std::size_t sent = 0;
  while (sent < core::kStreamWindow) {
    EXPECT_FALSE(check_relayed(s, false, "data", wire::kMaxChunk, 0));
    sent += wire::kMaxChunk;
  }
  EXPECT_FALSE(check_relayed(s, false, "data", wire::kMaxChunk, 0));  // the one chunk more
  EXPECT_TRUE(check_relayed(s, false, "data", 1, 0));                 // beyond: an offence
}

TEST(RelayGuard, CreditFromTheRequesterReopensTheOutputWindow) {
  RelayState s;
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < 8; ++i) ASSERT_FALSE(check_relayed(s, false, "data", wire::kMaxChunk, 0));
    ASSERT_FALSE(check_relayed(s, true, "credit", 0, 8 * wire::kMaxChunk));
  }
  EXPECT_EQ(s.to_requester.in_flight(), 0);
}

TEST(RelayGuard, InputNeedsTheServersCreditAndPrepaidCreditIsBounded) {
  RelayState s;
  // The server opens its input window, then the requester sends within it, chunk by chunk.
  EXPECT_FALSE(check_relayed(s, false, "credit", 0, core::kStreamWindow));
  for (int i = 0; i < 8; ++i) EXPECT_FALSE(check_relayed(s, true, "data", wire::kMaxChunk, 0));
  // A server that grants absurd credit does not let its requester flood the leader: credit
  // ahead of data counts up to the largest window the protocol allows.
  EXPECT_FALSE(check_relayed(s, false, "credit", 0, std::uint64_t{1} << 62));
  std::size_t sent = 0;
  while (!check_relayed(s, true, "data", wire::kMaxChunk, 0)) {
    sent += wire::kMaxChunk;
    ASSERT_LE(sent, core::kMaxStreamWindow + core::kStreamWindow + wire::kMaxChunk);
  }
}

TEST(RelayGuard, AGrownWindowIsTheCreditActuallyGranted) {
  RelayState s;
  // The requester grows the output window to 4 MiB: credit for what it read, plus the growth.
  const std::size_t grown = 4 * 1024 * 1024;
  EXPECT_FALSE(check_relayed(s, true, "credit", 0, grown - core::kStreamWindow));
  std::size_t sent = 0;
  while (sent < grown) {
    ASSERT_FALSE(check_relayed(s, false, "data", wire::kMaxChunk, 0)) << sent;
    sent += wire::kMaxChunk;
  }
  EXPECT_FALSE(check_relayed(s, false, "data", wire::kMaxChunk, 0));  // the one chunk more
  EXPECT_TRUE(check_relayed(s, false, "data", 1, 0));  // past what was granted: an offence
}

TEST(RelayGuard, ControlFramesCarryNoBodyAndChunksAreCapped) {
  RelayState s;
  for (const char* type : {"credit", "cancel", "eof"}) {
    EXPECT_FALSE(check_relayed(s, true, type, 0, 0)) << type;
    EXPECT_TRUE(check_relayed(s, true, type, 1024 * 1024, 0)) << type;
  }
  EXPECT_FALSE(check_relayed(s, false, "result", 100, 0));  // a result carries its reason
  EXPECT_TRUE(check_relayed(s, true, "data", wire::kMaxChunk + 1, 0));
}

TEST(RelayGuard, DirectionsAreIndependent) {
  RelayState s;
  for (int i = 0; i < 9; ++i) EXPECT_FALSE(check_relayed(s, false, "data", wire::kMaxChunk, 0));
  // Output is full; input still has its own window.
  EXPECT_FALSE(check_relayed(s, true, "data", wire::kMaxChunk, 0));
  EXPECT_TRUE(check_relayed(s, false, "data", wire::kMaxChunk, 0));
}
