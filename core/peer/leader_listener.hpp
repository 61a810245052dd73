// The leader's side of new connections: accept (behind the pre-authentication gate and the
// descriptor reserve, pausing when accept fails), the TLS handshake, then either admitting a
// member by its certificate or taking exactly one enroll request from a new worker.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ssl.hpp>

#include "core/asio.hpp"
#include "core/peer/cluster_state.hpp"
#include "core/peer/gated_acceptor.hpp"
#include "core/peer/membership.hpp"
#include "core/peer/peer_session.hpp"
#include "core/peer/preauth_limits.hpp"

namespace automatelinux::core::peer {

class LeaderListener {
 public:
  // `established` receives the frames and the close of every admitted session.
  LeaderListener(asio::io_context& io, std::shared_ptr<spdlog::logger> log, ClusterState& state,
                 Membership& membership, std::chrono::milliseconds heartbeat,
                 PeerSession::Events established);

  // Listens on HOST:PORT with the leader's TLS context; throws when it cannot.
  void start(const std::string& listen, std::shared_ptr<asio::ssl::context> context);
  void stop();
  // stop, and the log summary and memory trim timers too.
  void shutdown();
  // Gives memory back to the system once a flood has ended.
  void trim_memory_soon();

 private:
  void on_connection(Tcp::socket socket, const std::shared_ptr<PreauthGate::Slot>& slot);
  void on_handshake(const SessionPtr& session, const std::shared_ptr<PreauthGate::Slot>& slot,
                    const std::string& error);
  void expect_enroll(const SessionPtr& session, const std::shared_ptr<PreauthGate::Slot>& slot);
  void handle_enroll(const SessionPtr& session, wire::Frame& frame);
  // Why `id` may not enroll with the token whose secret is `secret`; sets `token` when it may.
  std::optional<std::string> enroll_refusal(const std::string& id, const std::string& secret,
                                            JoinToken*& token);
  void admit(const SessionPtr& session);
  // Pre-authentication failures: a few lines in detail, the rest counted and summarised.
  void log_preauth(const std::string& line);

  asio::io_context& io_;
  std::shared_ptr<spdlog::logger> log_;
  ClusterState& state_;
  Membership& membership_;
  std::chrono::milliseconds heartbeat_;
  PeerSession::Events established_;
  std::shared_ptr<PreauthGate> preauth_ = std::make_shared<PreauthGate>();
  GatedAcceptor acceptor_;
  std::shared_ptr<asio::ssl::context> context_;
  LogRateLimit preauth_log_;
  asio::steady_timer preauth_summary_timer_;
  bool preauth_summary_armed_ = false;
  asio::steady_timer trim_timer_;
  bool trim_armed_ = false;
  bool flood_seen_ = false;
};

}  // namespace automatelinux::core::peer
