// A worker's connection to its leader. One LeaderLink per attempt, in named steps (resolve,
// connect, handshake, welcome), stopped through its own flag; the LeaderConnector makes the
// attempts, retrying with capped exponential backoff and jitter, and stops for good once the
// leader said this daemon's certificate is revoked. A LeaderLink also dials another worker's
// direct sessions (core/peer/direct_paths.hpp): the same steps, with the peer's certificate
// checked against the roster.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/ssl.hpp>

#include "core/asio.hpp"
#include "core/peer/peer_session.hpp"

namespace automatelinux::core::peer {

using SessionPtr = std::shared_ptr<PeerSession>;

class LeaderLink : public std::enable_shared_from_this<LeaderLink> {
 public:
  struct Hooks {
    std::function<void(const SessionPtr&)> on_welcome;  // the leader accepted us
    std::function<void()> on_failed;                    // the attempt ended before a welcome
    std::function<void()> on_revoked;                   // the leader revoked our certificate
    PeerSession::Events established;                    // frames and close after the welcome
    // Why the other end's certificate is refused after the handshake, or "" (unset: no check
    // beyond the TLS context's).
    std::function<std::string(X509* cert)> check;
  };

  // `name`: what is dialed, for log lines ("leader", "peer vps"). `hello`: the frame sent
  // once welcomed.
  LeaderLink(asio::io_context& io, std::shared_ptr<spdlog::logger> log, std::string name,
             std::string host, std::uint16_t port, std::shared_ptr<asio::ssl::context> context,
             std::chrono::milliseconds heartbeat, nlohmann::json hello, Hooks hooks);

  void start();
  // Nothing more happens for this attempt; a session not yet welcomed is closed.
  void stop();

 private:
  void on_resolved(boost::system::error_code ec, const Tcp::resolver::results_type& results);
  void on_connected(boost::system::error_code ec);
  void on_handshake(const std::string& error);
  void on_frame(const SessionPtr& session, wire::Frame& frame);
  void on_welcome(const SessionPtr& session, wire::Frame& frame);
  void on_closed(const SessionPtr& session, const std::string& why);
  // "leader 10.0.0.2:3600", "peer vps 10.0.0.1:3600": for log lines.
  std::string target() const { return name_ + " " + host_ + ":" + std::to_string(port_); }

  std::shared_ptr<spdlog::logger> log_;
  std::string name_;
  std::string host_;
  std::uint16_t port_;
  std::shared_ptr<asio::ssl::context> context_;
  std::chrono::milliseconds heartbeat_;
  nlohmann::json hello_;
  Hooks hooks_;
  Tcp::resolver resolver_;
  Tcp::socket socket_;
  asio::steady_timer connect_timer_;
  SessionPtr session_;
  bool welcomed_ = false;
  bool stopped_ = false;
};

class LeaderConnector {
 public:
  struct Hooks {
    std::function<bool()> wanted;         // still a worker and running
    std::function<std::string()> leader;  // HOST:PORT
    std::function<std::shared_ptr<asio::ssl::context>()> make_context;  // may throw
    std::function<nlohmann::json()> hello;  // the frame sent once welcomed
    std::function<void(const SessionPtr&)> on_welcome;
    PeerSession::Events established;
    std::function<void()> on_revoked;  // the leader refused our certificate as revoked
  };

  LeaderConnector(asio::io_context& io, std::shared_ptr<spdlog::logger> log,
                  std::chrono::milliseconds heartbeat, Hooks hooks);

  // A new attempt now, replacing the current one.
  void connect();
  // Another attempt after the backoff (unless stopped or revoked).
  void retry();
  // Stops the current attempt and a pending retry.
  void stop();
  // A new role or a new join: attempts count from zero and revocation is forgotten.
  void reset();
  void connected() { attempt_ = 0; }

 private:
  std::chrono::milliseconds next_delay();

  asio::io_context& io_;
  std::shared_ptr<spdlog::logger> log_;
  std::chrono::milliseconds heartbeat_;
  Hooks hooks_;
  std::shared_ptr<LeaderLink> link_;
  asio::steady_timer retry_timer_;
  bool retry_pending_ = false;
  int attempt_ = 0;
  bool revoked_ = false;  // the leader revoked our certificate: stop until re-joined
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace automatelinux::core::peer
