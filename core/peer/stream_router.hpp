// Request streams over peer sessions: opening one to a peer, serving one here, and on the leader
// relaying one between two workers by rewriting its id, with the RelayGuard checks on every
// relayed frame. A session that dies ends every stream on it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "automatelinux/sdk/audit.hpp"
#include "automatelinux/sdk/stream.hpp"
#include "core/asio.hpp"
#include "core/command_registry.hpp"
#include "core/member_requests.hpp"
#include "core/peer/client_stream.hpp"
#include "core/peer/cluster_state.hpp"
#include "core/peer/membership.hpp"
#include "core/peer/relay_guard.hpp"
#include "core/serving_stream.hpp"

namespace automatelinux::core::peer {

// Relayed streams one member may have open through the leader at once.
inline constexpr std::size_t kMaxRelayedStreamsPerSession = 1024;

class StreamRouter {
 public:
  // `on_abuse` runs after a member was cut off for breaking a relayed stream's rules.
  // `limits`: how far the windows of streams this daemon receives may grow (one budget for all).
  StreamRouter(asio::io_context& io, std::shared_ptr<spdlog::logger> log, sdk::AuditLog* audit,
               const ClusterState& state, const CommandRegistry& registry,
               const Membership& membership, std::function<void()> on_abuse,
               WindowLimits limits = {}, MemberRequestLimits member_limits = {});

  sdk::RequestedStreamPtr open(const std::string& peer, const std::string& type,
                               nlohmann::json header, std::string body,
                               const sdk::Requester& requester, const std::string& request_id,
                               LibraryRef library = {});
  // An `open` from a session: served here, relayed, or refused.
  void on_open(const SessionPtr& session, wire::Frame& frame);
  // data, eof, credit, cancel, result.
  void on_stream_frame(const SessionPtr& session, wire::Frame& frame);
  // Fails every stream on a session that is gone.
  void on_session_lost(const SessionPtr& session);
  // Whether any stream (opened, served or relayed) still runs on `session`.
  bool carries_streams(const PeerSession& session) const;

 private:
  struct Opened {
    std::shared_ptr<ClientStream> stream;
    std::string peer;
  };
  // One session's half of a stream the leader relays: where its frames go, the stream's credit
  // state (shared by both halves) and the bytes queued on the far session for this half.
  struct Relay {
    std::weak_ptr<PeerSession> other;
    std::uint64_t other_sid = 0;
    std::shared_ptr<RelayState> state;
    QueueChargePtr queued;
  };
  struct Routes {
    std::map<std::uint64_t, Opened> opened;
    std::map<std::uint64_t, std::shared_ptr<ServingStream>> served;
    std::map<std::uint64_t, Relay> relayed;
    // Bytes queued on other sessions on behalf of this one (relayed frames).
    QueueChargePtr sent = std::make_shared<QueueCharge>();
  };

  void relay_open(const SessionPtr& session, std::uint64_t sid, const SessionPtr& other,
                  wire::Frame& frame);
  void relay_frame(const SessionPtr& session, std::uint64_t sid, bool from_requester,
                   wire::Frame& frame);
  void deliver_opened(const SessionPtr& session, std::uint64_t sid, wire::Frame& frame);
  void deliver_served(const SessionPtr& session, std::uint64_t sid, wire::Frame& frame);
  void serve_locally(const SessionPtr& session, std::uint64_t sid, const std::string& from,
                     const wire::Frame& frame);
  void start_service(const std::shared_ptr<ServingStream>& stream, const PeerServiceEntry& service,
                     const std::string& type, const wire::Frame& frame);
  void refuse_stream(const SessionPtr& session, std::uint64_t sid, const std::string& reason);
  // Removes both halves of a relayed stream from the tables; returns this session's half.
  Relay unlink_relay(Routes& routes, std::uint64_t sid);
  // A member broke the rules of a relayed stream: the stream ends on the far side and the
  // sender's session is cut — never the receiver's.
  void cut_relay_sender(const SessionPtr& sender, std::uint64_t sid, const std::string& why);
  // Ends the far half of a relayed stream: its opener gets an error, its server a cancel.
  void end_far_half(const SessionPtr& other, std::uint64_t other_sid, const std::string& reason);

  asio::io_context& io_;
  std::shared_ptr<spdlog::logger> log_;
  sdk::AuditLog* audit_;
  const ClusterState& state_;
  const CommandRegistry& registry_;
  const Membership& membership_;
  std::function<void()> on_abuse_;
  WindowLimits limits_;
  std::shared_ptr<MemberRequests> member_requests_;
  std::map<const PeerSession*, Routes> routes_;
};

// Who may send a stream frame which way: the requester sends input (ch 0), credit and cancel;
// the server sends output (ch 1, 2), credit and the result.
bool stream_frame_allowed(const std::string& type, int ch, bool from_requester);

}  // namespace automatelinux::core::peer
