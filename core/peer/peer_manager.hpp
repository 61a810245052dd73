// The peer network: leader accept and worker connect (TLS 1.3, mutual authentication), join
// tokens and enrollment, heartbeats and membership, and the routing of request streams between
// daemons — relayed through the leader between workers.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include <boost/asio/ssl.hpp>

#include "automatelinux/sdk/host.hpp"
#include "core/asio.hpp"
#include "core/command_registry.hpp"
#include "core/config.hpp"
#include "core/peer/client_stream.hpp"
#include "core/peer/cluster_state.hpp"
#include "core/peer/peer_session.hpp"
#include "core/peer/preauth_limits.hpp"
#include "core/peer/relay_guard.hpp"
#include "core/serving_stream.hpp"

namespace automatelinux::core::peer {

class PeerManager final : public sdk::PeerNetwork {
 public:
  PeerManager(asio::io_context& io, std::shared_ptr<spdlog::logger> log, const DaemonConfig& config,
              const CommandRegistry& registry);
  ~PeerManager() override;

  // Resumes the persisted role: a leader listens, a worker connects.
  void start();
  void stop();

  sdk::StreamPtr open_stream(const std::string& peer, const std::string& type,
                             nlohmann::json header, std::string body,
                             const sdk::Requester& requester, const std::string& request_id);

  // sdk::PeerNetwork
  sdk::LocalPeerStatus local() const override;
  std::vector<sdk::PeerInfo> peers() const override;
  void become_leader(const std::string& id, const std::string& listen, Done done) override;
  void become_worker(const std::string& id, const std::string& leader,
                     const std::optional<std::string>& token, Done done) override;
  sdk::NewJoinToken create_join_token(std::chrono::seconds ttl,
                                      std::optional<std::uint32_t> uses) override;
  std::vector<sdk::JoinTokenInfo> join_tokens() const override;
  void revoke_token(const std::string& id) override;
  std::vector<std::string> remove_peer(const std::string& id) override;

 private:
  // One session's half of a stream the leader relays: where its frames go, the stream's credit
  // state (shared by both halves) and the bytes queued on the far session for this half.
  struct Relay {
    std::weak_ptr<PeerSession> other;
    std::uint64_t other_sid = 0;
    std::shared_ptr<RelayState> state;
    QueueChargePtr queued;
  };
  struct Routes {
    std::map<std::uint64_t, std::pair<std::shared_ptr<ClientStream>, std::string>> opened;
    std::map<std::uint64_t, std::shared_ptr<ServingStream>> served;
    std::map<std::uint64_t, Relay> relayed;
    // Bytes queued on other sessions on behalf of this one (relayed frames).
    QueueChargePtr sent = std::make_shared<QueueCharge>();
  };
  using SessionPtr = std::shared_ptr<PeerSession>;

  // Roles.
  void start_listening();
  void stop_listening();
  void do_accept();
  void on_tcp_accepted(Tcp::socket socket);
  void on_accepted(SessionPtr session, std::shared_ptr<PreauthGate::Slot> slot);
  // Pre-authentication failures: a few lines in detail, the rest counted and summarised.
  void log_preauth(const std::string& line);
  // Gives memory back to the system once a flood has ended.
  void trim_memory_soon();
  void admit(const SessionPtr& session);
  void handle_enroll(const SessionPtr& session, wire::Frame& frame);
  void connect_to_leader();
  void schedule_reconnect();
  void drop_all_sessions(const std::string& why);

  // Established sessions.
  void on_frame(const SessionPtr& session, wire::Frame& frame);
  void on_closed(const SessionPtr& session, const std::string& why);
  void route(const SessionPtr& session, wire::Frame& frame);
  void serve_open(const SessionPtr& session, wire::Frame& frame);
  void serve_locally(const SessionPtr& session, std::uint64_t sid, const std::string& from,
                     const wire::Frame& frame);
  void refuse_stream(const SessionPtr& session, std::uint64_t sid, const std::string& reason);
  // A member broke the rules of a relayed stream: the stream ends on the far side and the
  // sender's session is cut — never the receiver's.
  void cut_relay_sender(const SessionPtr& sender, std::uint64_t sid, const std::string& why);
  // Ends the far half of a relayed stream: its opener gets an error, its server a cancel.
  void end_far_half(const SessionPtr& other, std::uint64_t other_sid, const std::string& reason);
  void push_members();
  nlohmann::json members_json() const;
  sdk::PeerInfo self_info() const;

  std::shared_ptr<asio::ssl::context> node_context(bool server) const;
  bool is_leader() const { return state_.config && state_.config->role == "leader"; }
  bool is_worker() const { return state_.config && state_.config->role == "worker"; }
  std::string self_id() const { return state_.config ? state_.config->id : std::string{}; }
  void mark_connection_change(bool connected);

  asio::io_context& io_;
  std::shared_ptr<spdlog::logger> log_;
  const DaemonConfig& config_;
  const CommandRegistry& registry_;
  ClusterState state_;
  std::chrono::milliseconds heartbeat_;

  // Leader.
  std::unique_ptr<Tcp::acceptor> acceptor_;
  std::shared_ptr<asio::ssl::context> server_context_;
  std::map<std::string, SessionPtr> workers_;  // authenticated sessions by peer id
  std::map<std::string, std::int64_t> last_seen_;
  std::map<std::string, std::string> last_address_;
  asio::steady_timer members_timer_;
  std::shared_ptr<PreauthGate> preauth_ = std::make_shared<PreauthGate>();
  LogRateLimit preauth_log_;
  asio::steady_timer preauth_summary_timer_;
  bool preauth_summary_armed_ = false;
  asio::steady_timer trim_timer_;
  bool trim_armed_ = false;
  bool flood_seen_ = false;

  // Worker.
  SessionPtr leader_session_;
  std::shared_ptr<asio::ssl::context> client_context_;
  asio::steady_timer reconnect_timer_;
  int reconnect_attempt_ = 0;
  std::uint64_t connect_generation_ = 0;
  nlohmann::json cached_members_ = nlohmann::json::array();

  std::map<const PeerSession*, Routes> routes_;
  bool connected_ = false;
  std::int64_t since_ = 0;
  bool stopped_ = false;
  bool revoked_ = false;  // the leader revoked our certificate: stop reconnecting until re-joined
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace automatelinux::core::peer
