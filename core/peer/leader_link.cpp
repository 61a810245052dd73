#include "core/peer/leader_link.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "core/peer/backoff.hpp"
#include "core/peer/cluster_state.hpp"
#include "core/peer/peer_fields.hpp"
#include "core/peer/tls_identity.hpp"
#include "core/untrusted_text.hpp"
#include "wire/messages.hpp"

namespace automatelinux::core::peer {
namespace msg = wire::msg;
namespace {

constexpr std::chrono::milliseconds kReconnectBase{250};
constexpr std::chrono::milliseconds kReconnectCap{10000};

}  // namespace

LeaderLink::LeaderLink(asio::io_context& io, std::shared_ptr<spdlog::logger> log, std::string name,
                       std::string host, std::uint16_t port,
                       std::shared_ptr<asio::ssl::context> context,
                       std::chrono::milliseconds heartbeat, nlohmann::json hello, Hooks hooks)
    : log_(std::move(log)),
      name_(std::move(name)),
      host_(std::move(host)),
      port_(port),
      context_(std::move(context)),
      heartbeat_(heartbeat),
      hello_(std::move(hello)),
      hooks_(std::move(hooks)),
      resolver_(io),
      socket_(io),
      connect_timer_(io) {}

void LeaderLink::start() {
  resolver_.async_resolve(host_, std::to_string(port_),
                          [self = shared_from_this()](boost::system::error_code ec,
                                                      Tcp::resolver::results_type results) {
                            self->on_resolved(ec, results);
                          });
}

void LeaderLink::stop() {
  if (std::exchange(stopped_, true)) return;
  resolver_.cancel();
  connect_timer_.cancel();
  boost::system::error_code ignored;
  socket_.close(ignored);
  if (session_ && !welcomed_) session_->close("superseded");
}

void LeaderLink::on_resolved(boost::system::error_code ec,
                             const Tcp::resolver::results_type& results) {
  if (stopped_) return;
  if (ec) {
    log_->warn("cannot resolve {}: {}", target(), ec.message());
    return hooks_.on_failed();
  }
  connect_timer_.expires_after(kHandshakeTimeout);
  connect_timer_.async_wait([self = shared_from_this()](boost::system::error_code e) {
    boost::system::error_code ignored;
    if (!e) self->socket_.close(ignored);
  });
  asio::async_connect(socket_, results,
                      [self = shared_from_this()](boost::system::error_code e,
                                                  const Tcp::endpoint&) { self->on_connected(e); });
}

void LeaderLink::on_connected(boost::system::error_code ec) {
  connect_timer_.cancel();
  if (stopped_) return;
  if (ec) {
    log_->debug("{} unreachable: {}", target(), ec.message());
    return hooks_.on_failed();
  }
  socket_.set_option(Tcp::no_delay(true));
  session_ = std::make_shared<PeerSession>(std::move(socket_), *context_, log_, true);
  session_->handshake(
      [self = shared_from_this()](const std::string& error) { self->on_handshake(error); });
}

void LeaderLink::on_handshake(const std::string& error) {
  if (stopped_) return session_->close("superseded");
  if (!error.empty()) {
    log_->warn("{}: {}", target(), escape_untrusted(error));
    return hooks_.on_failed();
  }
  // Wait for the explicit welcome: TLS 1.3 cannot tell us otherwise that we were accepted.
  // Heartbeats start now, so a connection that goes silent before the welcome is dropped.
  session_->id = common_name(session_->peer_certificate());
  if (hooks_.check)
    if (auto why = hooks_.check(session_->peer_certificate()); !why.empty()) {
      log_->warn("{} refused: {}", target(), why);
      session_->close(why);
      return hooks_.on_failed();
    }
  auto self = shared_from_this();
  session_->start(
      {[self](const SessionPtr& s, wire::Frame& f) { self->on_frame(s, f); },
       [self](const SessionPtr& s, const std::string& why) { self->on_closed(s, why); }});
  session_->start_heartbeat(heartbeat_);
}

void LeaderLink::on_frame(const SessionPtr& session, wire::Frame& frame) {
  if (stopped_) return session->close("superseded");
  if (welcomed_) return hooks_.established.on_frame(session, frame);
  if (frame.type() != msg::kRefused) return on_welcome(session, frame);
  const std::string reason = wire::string_field(frame.header, "reason", "?");
  log_->error("{} refused this daemon: {}", target(), escape_untrusted(reason, 200));
  // Removed from the cluster: retrying cannot help until a new join (the hook says so).
  if (reason == "certificate revoked") hooks_.on_revoked();
  session->close("refused");
}

void LeaderLink::on_welcome(const SessionPtr& session, wire::Frame& frame) {
  if (frame.type() != msg::kWelcome) return session->close("expected a welcome");
  welcomed_ = true;
  session->protocol = std::max<std::int64_t>(1, wire::int_field(frame.header, "protocol", 1));
  // A worker's welcome on a direct session also says what it runs and offers.
  if (const auto version = wire::string_field(frame.header, "version", ""); valid_version(version))
    session->version = version;
  session->commands = checked_command_names(frame.header);
  hooks_.on_welcome(session);
  session->send(hello_);
}

void LeaderLink::on_closed(const SessionPtr& session, const std::string& why) {
  if (welcomed_) return hooks_.established.on_closed(session, why);
  if (stopped_) return;
  log_->warn("{} closed the connection before the welcome: {}", target(), escape_untrusted(why));
  hooks_.on_failed();
}

LeaderConnector::LeaderConnector(asio::io_context& io, std::shared_ptr<spdlog::logger> log,
                                 std::chrono::milliseconds heartbeat, Hooks hooks)
    : io_(io),
      log_(std::move(log)),
      heartbeat_(heartbeat),
      hooks_(std::move(hooks)),
      retry_timer_(io) {}

void LeaderConnector::connect() {
  if (!hooks_.wanted()) return;
  stop();
  std::pair<std::string, std::uint16_t> host_port;
  std::shared_ptr<asio::ssl::context> context;
  try {
    host_port = split_host_port(hooks_.leader());
    context = hooks_.make_context();
  } catch (const std::exception& e) {
    log_->error("cannot connect to the leader: {}", e.what());
    return retry();
  }
  LeaderLink::Hooks hooks{hooks_.on_welcome,
                          [this] { retry(); },
                          [this] {
                            revoked_ = true;
                            if (hooks_.on_revoked) hooks_.on_revoked();
                          },
                          hooks_.established,
                          {}};
  link_ = std::make_shared<LeaderLink>(io_, log_, "leader", host_port.first, host_port.second,
                                       std::move(context), heartbeat_, hooks_.hello(),
                                       std::move(hooks));
  link_->start();
}

void LeaderConnector::retry() {
  if (!hooks_.wanted() || revoked_) return;
  retry_pending_ = true;
  retry_timer_.expires_after(next_delay());
  retry_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec && std::exchange(retry_pending_, false)) connect();
  });
}

std::chrono::milliseconds LeaderConnector::next_delay() {
  return backoff_delay(kReconnectBase, kReconnectCap, attempt_++, rng_);
}

void LeaderConnector::stop() {
  retry_pending_ = false;
  retry_timer_.cancel();
  if (auto link = std::exchange(link_, nullptr)) link->stop();
}

void LeaderConnector::reset() {
  attempt_ = 0;
  revoked_ = false;
}

}  // namespace automatelinux::core::peer
