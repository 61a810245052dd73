#include "core/peer/direct_paths.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/peer/tls_identity.hpp"
#include "core/untrusted_text.hpp"
#include "wire/messages.hpp"

namespace automatelinux::core::peer {
namespace msg = wire::msg;
namespace {

constexpr std::chrono::seconds kRefreshInterval{1};
constexpr std::chrono::seconds kRetryBase{1};
constexpr std::chrono::seconds kRetryCap{30};

}  // namespace

DirectPaths::DirectPaths(asio::io_context& io, std::shared_ptr<spdlog::logger> log,
                         const ClusterState& state, Membership& membership,
                         std::chrono::milliseconds heartbeat, std::chrono::seconds trust_unseen_for,
                         Hooks hooks)
    : io_(io),
      log_(std::move(log)),
      state_(state),
      membership_(membership),
      heartbeat_(heartbeat),
      trust_unseen_for_(trust_unseen_for),
      hooks_(std::move(hooks)),
      timer_(io) {}

void DirectPaths::start(const std::string& listen) {
  stop();
  running_ = true;
  try {
    server_context_ = hooks_.make_context(true);
    client_context_ = hooks_.make_context(false);
  } catch (const std::exception& e) {
    log_->error("no direct sessions: {}", e.what());
    running_ = false;
    return;
  }
  try {
    const auto [host, port] = split_host_port(listen);
    const Tcp::endpoint endpoint(asio::ip::make_address(host), port);
    auto acceptor = std::make_unique<Tcp::acceptor>(io_);
    acceptor->open(endpoint.protocol());
    acceptor->set_option(asio::socket_base::reuse_address(true));
    acceptor->bind(endpoint);
    acceptor->listen();
    acceptor_ = std::move(acceptor);
    log_->info("direct sessions: listening on {}", listen);
    do_accept();
  } catch (const std::exception& e) {
    log_->warn("direct sessions: cannot listen on {} ({}); this member only dials", listen,
               e.what());
  }
  refresh();
  arm_timer();
}

void DirectPaths::stop() {
  running_ = false;
  timer_.cancel();
  if (acceptor_) {
    boost::system::error_code ignored;
    acceptor_->close(ignored);
    acceptor_.reset();
  }
  for (auto& [id, attempt] : attempts_)
    if (auto link = std::exchange(attempt.link, nullptr)) link->stop();
  attempts_.clear();
}

DirectTrust DirectPaths::trust() const {
  return {state_.self_id(), &membership_.roster(), membership_.leader_heard_at(),
          trust_unseen_for_};
}

void DirectPaths::arm_timer() {
  timer_.expires_after(kRefreshInterval);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || !running_) return;
    refresh();
    arm_timer();
  });
}

void DirectPaths::refresh() {
  if (!running_) return;
  const auto& roster = membership_.roster();
  if (!roster) return;
  const auto now = unix_now();
  // A new roster may revoke a member this one has a session with.
  const auto sessions = membership_.directs();  // a copy: closing edits the table
  for (const auto& [id, session] : sessions)
    if (auto why = direct_refusal(session->peer_certificate(), id, trust(), now); !why.empty()) {
      log_->warn("direct session with {} closed: {}", id, why);
      session->close(why);
    }
  if (roster->members.size() > kMaxDirectMesh) return;
  const auto steady_now = std::chrono::steady_clock::now();
  for (const auto& member : roster->members) {
    if (member.id == state_.self_id() || member.id == roster->leader || member.address.empty() ||
        roster->is_revoked(member.fingerprint) || membership_.direct(member.id))
      continue;
    auto& attempt = attempts_[member.id];
    if (!attempt.link && attempt.next <= steady_now) dial(member);
  }
}

void DirectPaths::dial(const RosterMember& member) {
  std::pair<std::string, std::uint16_t> host_port;
  try {
    host_port = split_host_port(member.address);
  } catch (const std::exception&) {
    return on_dial_failed(member.id);
  }
  const std::string id = member.id;
  LeaderLink::Hooks hooks;
  hooks.on_welcome = [this, id](const SessionPtr& s) { on_dialed(id, s); };
  hooks.on_failed = [this, id] { on_dial_failed(id); };
  hooks.on_revoked = [] {};  // on_failed follows
  hooks.established = hooks_.established;
  hooks.check = [this, id](X509* cert) { return direct_refusal(cert, id, trust(), unix_now()); };
  auto link =
      std::make_shared<LeaderLink>(io_, log_, "peer " + id, host_port.first, host_port.second,
                                   client_context_, heartbeat_, hooks_.hello(), std::move(hooks));
  attempts_[id].link = link;
  link->start();
}

void DirectPaths::on_dialed(const std::string& id, const SessionPtr& session) {
  session->direct = true;
  auto& attempt = attempts_[id];
  attempt.link.reset();
  attempt.failures = 0;
  if (auto loser = membership_.add_direct(session))
    return loser->close("a direct session to this peer exists");
  log_->info("direct session to {} at {}", id, session->remote());
}

void DirectPaths::on_dial_failed(const std::string& id) {
  auto& attempt = attempts_[id];
  attempt.link.reset();
  const auto backoff =
      std::min<long long>(kRetryCap.count(), kRetryBase.count() << std::min(attempt.failures, 5));
  ++attempt.failures;
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  attempt.next = std::chrono::steady_clock::now() +
                 std::chrono::milliseconds(static_cast<long long>(backoff * 1000 * jitter(rng_)));
  if (attempt.failures == 1) log_->info("no direct path to {} yet: using the relay", id);
}

void DirectPaths::do_accept() {
  if (!acceptor_) return;
  acceptor_->async_accept(
      [this, acceptor = acceptor_.get()](boost::system::error_code ec, Tcp::socket socket) {
        on_accept(acceptor, ec, std::move(socket));
      });
}

void DirectPaths::on_accept(const Tcp::acceptor* acceptor, boost::system::error_code ec,
                            Tcp::socket socket) {
  if (acceptor != acceptor_.get() || ec == asio::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors and the like: try again on the next refresh instead of spinning.
    log_->warn("direct accept failed: {}", ec.message());
    auto pause = std::make_shared<asio::steady_timer>(io_, kRefreshInterval);
    pause->async_wait([this, pause, acceptor](boost::system::error_code e) {
      if (!e && acceptor == acceptor_.get()) do_accept();
    });
    return;
  }
  boost::system::error_code ignored;
  const auto endpoint = socket.remote_endpoint(ignored);
  const std::string address = ignored ? "?" : endpoint.address().to_string();
  std::string why;
  std::shared_ptr<PreauthGate::Slot> slot;
  if (fd_in_reserve(socket.native_handle()))
    why = "descriptors kept in reserve";
  else
    slot = preauth_->try_acquire(address, why);
  if (!slot) {
    log_->debug("direct connection from {} refused: {}", address, why);
    socket.close(ignored);
    return do_accept();
  }
  socket.set_option(Tcp::no_delay(true), ignored);
  auto session = std::make_shared<PeerSession>(std::move(socket), *server_context_, log_, false);
  session->set_max_frame(kMaxPreauthFrame);
  session->handshake([this, session, slot](const std::string& error) {
    if (running_) on_handshake(session, error);
  });
  do_accept();
}

void DirectPaths::on_handshake(const SessionPtr& session, const std::string& error) {
  if (!error.empty())
    return log_->warn("direct connection from {} refused: {}", session->remote(),
                      escape_untrusted(error, kPreauthLoggedText));
  X509* cert = session->peer_certificate();
  if (auto why = direct_refusal(cert, "", trust(), unix_now()); !why.empty()) {
    log_->warn("direct connection from {} claiming '{}' refused: {}", session->remote(),
               escape_untrusted(cert ? common_name(cert) : "", kPreauthLoggedText), why);
    session->start(
        {[](const SessionPtr&, wire::Frame&) {}, [](const SessionPtr&, const std::string&) {}});
    session->send({{"t", msg::kRefused}, {"reason", why}});
    return session->close_after_flush(why);
  }
  // Taken; it counts as this member's direct session once its hello arrives.
  session->id = common_name(cert);
  session->direct = true;
  session->set_max_frame(wire::kMaxFrameSize);
  session->start(hooks_.established);
  session->send({{"t", msg::kWelcome},
                 {"peer", state_.self_id()},
                 {"id", session->id},
                 {"protocol", wire::kProtocolVersion}});
  session->start_heartbeat(heartbeat_);
  log_->info("direct session from {} at {}", session->id, session->remote());
}

}  // namespace automatelinux::core::peer
