// Worker-to-worker sessions without the leader. Each worker listens on an address of its own and
// dials every other worker the roster lists with an address, retrying in the background with
// capped backoff while it has no session to it. Both ends check the other's certificate against
// the roster (direct_trust.hpp) on top of the cluster CA; when both dialed at once, the session
// the lower id dialed is kept (Membership::add_direct). Streams prefer a direct session and use
// the leader's relay only when there is none (Membership::route_to).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/ssl.hpp>
#include <nlohmann/json.hpp>

#include "core/asio.hpp"
#include "core/peer/cluster_state.hpp"
#include "core/peer/direct_trust.hpp"
#include "core/peer/gated_acceptor.hpp"
#include "core/peer/leader_link.hpp"
#include "core/peer/membership.hpp"
#include "core/peer/preauth_limits.hpp"

namespace automatelinux::core::peer {

// Beyond this many members a worker dials no one (it still accepts): a full mesh of sessions
// and heartbeats grows with the square of the members (docs/scaling.md).
inline constexpr std::size_t kMaxDirectMesh = 64;

class DirectPaths {
 public:
  struct Hooks {
    // The TLS context for accepting (server) or dialing; may throw.
    std::function<std::shared_ptr<asio::ssl::context>(bool server)> make_context;
    std::function<nlohmann::json()> hello;  // sent on a session this worker dialed
    PeerSession::Events established;        // frames and close of every direct session
    std::function<bool(const PeerSession&)> carries_streams;  // a session not kept waits for them
  };

  DirectPaths(asio::io_context& io, std::shared_ptr<spdlog::logger> log, const ClusterState& state,
              Membership& membership, std::chrono::milliseconds heartbeat,
              std::chrono::seconds trust_unseen_for, Hooks hooks);

  // Listens on `listen` (HOST:PORT; a failure is logged and the worker only dials) and dials.
  void start(const std::string& listen);
  // Stops listening, dialing and retrying (sessions are closed by their owner).
  void stop();
  bool running() const { return running_; }
  // Whether it takes direct sessions (its listen address was free).
  bool listening() const { return acceptor_.listening(); }
  // Dials members without a session whose retry is due; closes sessions the roster no longer
  // allows (a revoked certificate). Runs on every new roster and once a second.
  void refresh();
  // The current direct session to `id` closed: dialed again soon, or after a backoff when it
  // lived only briefly.
  void lost(const std::string& id);

 private:
  struct Attempt {
    std::shared_ptr<LeaderLink> link;  // the dial under way
    int failures = 0;
    std::chrono::steady_clock::time_point next{};
    std::chrono::steady_clock::time_point connected_at{};  // of the last session, either way
  };

  DirectTrust trust() const;
  void on_connection(Tcp::socket socket, const std::shared_ptr<PreauthGate::Slot>& slot);
  // Failures before authentication: a few lines in detail, the rest counted (refresh says how
  // many), as on the leader's port.
  void log_preauth(const std::string& line);
  void on_handshake(const SessionPtr& session, const std::string& error);
  void dial(const RosterMember& member);
  void on_dialed(const std::string& id, const SessionPtr& session);
  // A session taken or dialed becomes this member's direct session to its peer.
  void add(const SessionPtr& session);
  void retire(const SessionPtr& session);
  void close_when_idle(const std::weak_ptr<PeerSession>& session);
  void on_dial_failed(const std::string& id);
  void arm_timer();

  asio::io_context& io_;
  std::shared_ptr<spdlog::logger> log_;
  const ClusterState& state_;
  Membership& membership_;
  std::chrono::milliseconds heartbeat_;
  std::chrono::seconds trust_unseen_for_;
  Hooks hooks_;
  std::shared_ptr<PreauthGate> preauth_ = std::make_shared<PreauthGate>();
  GatedAcceptor acceptor_;
  std::shared_ptr<asio::ssl::context> server_context_;
  std::shared_ptr<asio::ssl::context> client_context_;
  LogRateLimit preauth_log_;
  std::vector<std::weak_ptr<PeerSession>> retired_;  // not kept, closing once their streams end
  std::map<std::string, Attempt> attempts_;
  asio::steady_timer timer_;
  std::mt19937 rng_{std::random_device{}()};
  bool running_ = false;
};

}  // namespace automatelinux::core::peer
