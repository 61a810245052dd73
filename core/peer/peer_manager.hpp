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
  struct Routes {
    std::map<std::uint64_t, std::pair<std::shared_ptr<ClientStream>, std::string>> opened;
    std::map<std::uint64_t, std::shared_ptr<ServingStream>> served;
    std::map<std::uint64_t, std::pair<std::weak_ptr<PeerSession>, std::uint64_t>> relayed;
  };
  using SessionPtr = std::shared_ptr<PeerSession>;

  // Roles.
  void start_listening();
  void stop_listening();
  void do_accept();
  void on_accepted(SessionPtr session);
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
