// What the leader checks on every frame it relays between two members, so that one member cannot
// make the leader buffer for it or cut another member off: per relayed stream and direction, the
// bytes relayed minus the credit relayed back stay within a window plus one chunk, and control
// frames carry no body. O(1) per frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/credit_window.hpp"
#include "wire/frame.hpp"
#include "wire/messages.hpp"

namespace automatelinux::core::peer {

// Bytes one side may have in flight on a relayed stream without credit (the receiver may see up
// to one chunk more than the window), and how much credit granted ahead of data is remembered:
// the credit actually granted, up to the largest window the protocol allows (grown windows,
// protocol 2, are credit granted ahead of data).
inline constexpr std::int64_t kRelayMaxInFlight =
    static_cast<std::int64_t>(kStreamWindow + wire::kMaxChunk);
inline constexpr std::int64_t kRelayMaxPrepaid = static_cast<std::int64_t>(kMaxStreamWindow);
// A result's reason is relayed up to this many bytes (requesters show at most 1 KiB).
inline constexpr std::size_t kRelayMaxReason = 4096;
// Bytes the leader queues towards one member on behalf of one relayed stream direction, and on
// behalf of one sending member in total. Credit keeps honest traffic below both: a window (at
// most the protocol's largest) plus one chunk of data and a few control frames per stream, plus
// the opening request; in all, what the receivers granted (a daemon's default window budget).
inline constexpr std::size_t kRelayMaxQueuedPerStream =
    2 * wire::kMaxFrameSize + kStreamWindow + kMaxStreamWindow;
inline constexpr std::size_t kRelayMaxQueuedPerSender = kDefaultWindowBudget;

// One direction of a relayed stream.
class RelayWindow {
 public:
  // Data of `n` bytes relayed; false when the sender went beyond the window plus one chunk.
  bool on_data(std::size_t n) {
    in_flight_ += static_cast<std::int64_t>(n);
    return in_flight_ <= kRelayMaxInFlight;
  }
  // Credit of `n` bytes relayed back by the receiver. Credit granted ahead of data (a server
  // opening its input window, a window growing) counts up to the largest window.
  void on_credit(std::uint64_t n) {
    constexpr std::int64_t cap = kRelayMaxInFlight + kRelayMaxPrepaid;
    const auto c = static_cast<std::int64_t>(n < static_cast<std::uint64_t>(cap) ? n : cap);
    in_flight_ -= c;
    if (in_flight_ < -kRelayMaxPrepaid) in_flight_ = -kRelayMaxPrepaid;
  }
  std::int64_t in_flight() const { return in_flight_; }

 private:
  std::int64_t in_flight_ = 0;
};

// Both directions of one relayed stream, shared by the two route entries (one per session).
struct RelayState {
  RelayWindow to_server;     // input: data from the requester (ch 0), credit from the server
  RelayWindow to_requester;  // output: data from the server (ch 1, 2), credit from the requester
};

// Checks one frame arriving from one side of a relayed stream before it is relayed; returns why
// the sender broke the stream's rules, or nothing. `from_requester` says which side sent it. The
// caller has already checked that the frame type may flow that way. A result's reason longer
// than kRelayMaxReason is the caller's to truncate, not an offence.
inline std::optional<std::string> check_relayed(RelayState& state, bool from_requester,
                                                std::string_view type, std::size_t body_size,
                                                std::uint64_t credit_n) {
  if (type == wire::msg::kData) {
    if (body_size > wire::kMaxChunk) return "a data frame larger than a chunk";
    RelayWindow& w = from_requester ? state.to_server : state.to_requester;
    if (!w.on_data(body_size)) return "data beyond the stream's credit window";
    return std::nullopt;
  }
  if (type == wire::msg::kResult) return std::nullopt;
  if (body_size != 0) return "a '" + std::string(type) + "' frame with a body";
  if (type == wire::msg::kCredit)
    (from_requester ? state.to_requester : state.to_server).on_credit(credit_n);
  return std::nullopt;
}

}  // namespace automatelinux::core::peer
