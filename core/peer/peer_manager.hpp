// The peer network: wires the parts together (the leader's listener, a worker's link to its
// leader, membership and stream routing), dispatches established sessions' frames by role, and
// handles role changes, join tokens and removal (peer_removal.cpp).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ssl.hpp>

#include "automatelinux/sdk/audit.hpp"
#include "automatelinux/sdk/host.hpp"
#include "core/asio.hpp"
#include "core/command_registry.hpp"
#include "core/config.hpp"
#include "core/peer/cluster_state.hpp"
#include "core/peer/direct_paths.hpp"
#include "core/peer/leader_link.hpp"
#include "core/peer/leader_listener.hpp"
#include "core/peer/membership.hpp"
#include "core/peer/peer_session.hpp"
#include "core/peer/stream_router.hpp"

namespace automatelinux::core::peer {

class PeerManager final : public sdk::PeerNetwork {
 public:
  // `audit` (may be null in tests) is where requests served for peers are audited.
  PeerManager(asio::io_context& io, std::shared_ptr<spdlog::logger> log, sdk::AuditLog* audit,
              const DaemonConfig& config, const CommandRegistry& registry);
  ~PeerManager() override;

  // Resumes the persisted role: a leader listens, a worker connects.
  void start();
  void stop();

  // `library`: the plugin opening it, kept loaded by the stream (see core/library_ref.hpp).
  sdk::RequestedStreamPtr open_stream(const std::string& peer, const std::string& type,
                                      nlohmann::json header, std::string body,
                                      const sdk::Requester& requester,
                                      const std::string& request_id, LibraryRef library = {});

  // sdk::PeerNetwork
  sdk::LocalPeerStatus local() const override;
  std::vector<sdk::PeerInfo> peers() const override;
  void become_leader(const std::string& id, const std::string& listen, Done done) override;
  void become_worker(const std::string& id, const std::string& leader, const std::string& listen,
                     const std::optional<std::string>& token, Done done) override;
  sdk::NewJoinToken create_join_token(std::chrono::seconds ttl,
                                      std::optional<std::uint32_t> uses) override;
  std::vector<sdk::JoinTokenInfo> join_tokens() const override;
  void revoke_token(const std::string& id) override;
  std::vector<std::string> remove_peer(const std::string& id) override;

 private:
  using Handler = std::function<void(const SessionPtr&, wire::Frame&)>;
  using DispatchTable = std::map<std::string, Handler, std::less<>>;

  void start_listening();
  void stop_listening();
  void drop_all_sessions(const std::string& why);
  void make_leader_ca(const std::string& id, bool keep_ca, bool new_node_cert);
  DispatchTable stream_handlers();
  PeerSession::Events established_events();
  LeaderConnector::Hooks connector_hooks();

  // Established sessions: one table per side of the TLS connection; anything else closes it.
  void on_frame(const SessionPtr& session, wire::Frame& frame);
  void on_closed(const SessionPtr& session, const std::string& why);
  void on_welcome(const SessionPtr& session);

  nlohmann::json hello() const;
  // Worker: direct sessions on its listen address (default 0.0.0.0:3600), unless peer.direct
  // is off.
  void start_direct();
  void mark_connection_change(bool connected);
  // The leader refused this daemon after its welcome (a protocol it cannot talk to, a removal).
  void on_leader_refused(const SessionPtr& session, wire::Frame& frame);
  // This worker learned that it was removed (`how`): it stops dialing anyone, the leader
  // included, says so once, and keeps that across restarts until a join with a token.
  void on_removed(const std::string& how);
  // A worker whose own certificate the roster it took revokes has been removed.
  void check_roster_for_self();

  asio::io_context& io_;
  std::shared_ptr<spdlog::logger> log_;
  const CommandRegistry& registry_;
  ClusterState state_;
  std::chrono::milliseconds heartbeat_;
  Membership membership_;
  LeaderListener listener_;
  StreamRouter router_;
  LeaderConnector connector_;
  bool direct_enabled_;
  DirectPaths direct_;
  DispatchTable leader_table_;  // frames from workers (we are the TLS server)
  DispatchTable worker_table_;  // frames from the leader (we are the TLS client)
  DispatchTable direct_table_;  // frames from another worker on a direct session
  bool connected_ = false;
  std::int64_t since_ = 0;
  bool stopped_ = false;
};

}  // namespace automatelinux::core::peer
