// Every message type of both protocols (docs/protocol.md), spelled once for core and cli, and the
// stream-id rule both peers use to pick ids without coordinating.
#pragma once

#include <cstdint>

namespace automatelinux::wire {
namespace msg {

// `d` ↔ daemon (Unix socket).
inline constexpr char kRun[] = "run";
inline constexpr char kExit[] = "exit";
// daemon → `d`: switch to terminal mode (execOnPeer --tty).
inline constexpr char kTty[] = "tty";
// Stream frames, on both protocols.
inline constexpr char kData[] = "data";
inline constexpr char kEof[] = "eof";
inline constexpr char kCredit[] = "credit";
inline constexpr char kCancel[] = "cancel";
// Requester → server: the terminal's size (and, first from `d`, its type) for a --tty stream.
inline constexpr char kWinsize[] = "winsize";
// Daemon ↔ daemon, before authentication.
inline constexpr char kEnroll[] = "enroll";
inline constexpr char kEnrolled[] = "enrolled";
inline constexpr char kRefused[] = "refused";
inline constexpr char kWelcome[] = "welcome";
// Daemon ↔ daemon, after authentication.
inline constexpr char kHello[] = "hello";
inline constexpr char kMembers[] = "members";
// Leader → worker (protocol 3): what changed in the member list since the last full list or delta.
inline constexpr char kMembersDelta[] = "members_delta";
inline constexpr char kRoster[] = "roster";
inline constexpr char kPing[] = "ping";
inline constexpr char kPong[] = "pong";
inline constexpr char kOpen[] = "open";
inline constexpr char kResult[] = "result";

}  // namespace msg

// The peer protocol's version. A member says in `hello` which it speaks and the oldest it still
// understands; two members interoperate when each one's version is at least the other's oldest.
// A hello without them is version 1 (the first, unversioned protocol). The leader names its own
// version in `welcome` (absent: 1). Version 2 adds stream windows that grow (credit may run ahead
// of the bytes sent, up to 64 MiB), used on a session only when both ends speak it. Version 3: the
// leader sends a worker the member list once and then only what changes (members_delta).
// Version 4: the leader also sends the signed roster (ids, fingerprints, direct addresses,
// revocations) after the hello and whenever it changes.
inline constexpr std::int64_t kProtocolVersion = 4;
inline constexpr std::int64_t kOldestProtocolVersion = 1;
inline constexpr std::int64_t kGrowingWindowsProtocol = 2;
inline constexpr std::int64_t kMembersDeltaProtocol = 3;
inline constexpr std::int64_t kRosterProtocol = 4;

// A stream opened by the TLS client has an odd id, one opened by the TLS server an even one.
inline constexpr bool opened_by_tls_client(std::uint64_t sid) {
  return sid % 2 == 1;
}

}  // namespace automatelinux::wire
