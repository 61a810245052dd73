#include "core/peer/direct_paths.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/peer/backoff.hpp"
#include "core/peer/tls_identity.hpp"
#include "core/untrusted_text.hpp"
#include "wire/messages.hpp"

namespace automatelinux::core::peer {
namespace msg = wire::msg;
namespace {

constexpr std::chrono::seconds kRefreshInterval{1};
constexpr std::chrono::seconds kRetryBase{1};
constexpr std::chrono::seconds kRetryCap{30};
// A session that lived less than this counts as a failed attempt (backoff), not a lost path.
constexpr std::chrono::seconds kShortLived{10};
// Of two sessions to one peer, the one not kept still carries its streams this long.
constexpr std::chrono::seconds kRetireGrace{10};

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
      acceptor_(
          io, preauth_,
          [this](Tcp::socket socket, std::shared_ptr<PreauthGate::Slot> slot) {
            on_connection(std::move(socket), slot);
          },
          [this](const std::string& line) { log_preauth("direct sessions: " + line); }),
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
    acceptor_.start(listen);
    log_->info("direct sessions: listening on {}", listen);
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
  acceptor_.stop();
  for (auto& [id, attempt] : attempts_)
    if (auto link = std::exchange(attempt.link, nullptr)) link->stop();
  attempts_.clear();
  // Sessions still finishing their streams go with the others (the caller closes the kept ones).
  for (const auto& weak : std::exchange(retired_, {}))
    if (auto session = weak.lock()) session->close("direct sessions stopped");
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

void DirectPaths::log_preauth(const std::string& line) {
  if (preauth_log_.admit(std::chrono::steady_clock::now())) log_->warn("{}", line);
}

void DirectPaths::refresh() {
  if (!running_) return;
  if (const auto n = preauth_log_.take_suppressed(); n > 0)
    log_->warn("{} more failed direct connections not logged in detail", n);
  const auto& roster = membership_.roster();
  if (!roster) return;
  const auto now = unix_now();
  // A new roster may revoke a member this one has a session with (also one being retired).
  std::erase_if(retired_, [](const auto& weak) { return weak.expired() || weak.lock()->closed(); });
  std::vector<SessionPtr> sessions;
  for (const auto& [id, session] : membership_.directs()) sessions.push_back(session);
  for (const auto& weak : retired_) sessions.push_back(weak.lock());
  for (const auto& session : sessions)  // a copy: closing edits the table
    if (auto why = direct_refusal(session->peer_certificate(), session->id, trust(), now);
        !why.empty()) {
      log_->warn("direct session with {} closed: {}", session->id, why);
      session->close(why);
    }
  std::erase_if(attempts_, [&](const auto& entry) {  // members gone from the roster
    return !entry.second.link && !roster->find(entry.first);
  });
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
  attempts_[id].link.reset();
  log_->info("direct session to {} at {}", id, session->remote());
  add(session);
}

void DirectPaths::add(const SessionPtr& session) {
  attempts_[session->id].connected_at = std::chrono::steady_clock::now();
  if (auto loser = membership_.add_direct(session)) retire(loser);
}

// The session not kept is no longer chosen for new streams; it closes once the streams on it
// have ended (a long rsync is not cut), checked every kRetireGrace. Its heartbeats still run, so
// a peer that is gone ends it as any other.
void DirectPaths::retire(const SessionPtr& session) {
  retired_.push_back(session);
  close_when_idle(session);
}

void DirectPaths::close_when_idle(const std::weak_ptr<PeerSession>& session) {
  auto timer = std::make_shared<asio::steady_timer>(io_, kRetireGrace);
  timer->async_wait([this, timer, session](boost::system::error_code) {
    auto s = session.lock();
    if (!s || s->closed()) return;
    if (hooks_.carries_streams && hooks_.carries_streams(*s)) return close_when_idle(session);
    log_->info("direct session with {} closed: another direct session to it is kept", s->id);
    // After what is queued: a served stream leaves the routes once its result is queued.
    s->close_after_flush("another direct session to this peer is kept");
  });
}

void DirectPaths::lost(const std::string& id) {
  auto& attempt = attempts_[id];
  const bool short_lived = std::chrono::steady_clock::now() - attempt.connected_at < kShortLived;
  // A session that ends at once (refused after the welcome, replaced, a peer that crashes on
  // start) must not be dialed again every second; one that lived is dialed again soon.
  if (short_lived) return on_dial_failed(id);
  attempt.failures = 0;
  attempt.next = std::chrono::steady_clock::now() + kRetryBase;
}

void DirectPaths::on_dial_failed(const std::string& id) {
  auto& attempt = attempts_[id];
  attempt.link.reset();
  attempt.next = std::chrono::steady_clock::now() +
                 backoff_delay(kRetryBase, kRetryCap, attempt.failures++, rng_);
  if (attempt.failures == 1) log_->info("no direct path to {} yet: using the relay", id);
}

void DirectPaths::on_connection(Tcp::socket socket,
                                const std::shared_ptr<PreauthGate::Slot>& slot) {
  auto session = std::make_shared<PeerSession>(std::move(socket), *server_context_, log_, false);
  session->set_max_frame(kMaxPreauthFrame);
  // The slot is held until the connection is authenticated or gone (the callback owns it).
  session->handshake([this, session, slot](const std::string& error) {
    if (running_) on_handshake(session, error);
  });
}

void DirectPaths::on_handshake(const SessionPtr& session, const std::string& error) {
  if (!error.empty())
    return log_preauth(fmt::format("direct connection from {} refused: {}", session->remote(),
                                   escape_untrusted(error, kPreauthLoggedText)));
  X509* cert = session->peer_certificate();
  if (auto why = direct_refusal(cert, "", trust(), unix_now()); !why.empty()) {
    log_preauth(
        fmt::format("direct connection from {} claiming '{}' refused: {}", session->remote(),
                    escape_untrusted(cert ? common_name(cert) : "", kPreauthLoggedText), why));
    session->start(
        {[](const SessionPtr&, wire::Frame&) {}, [](const SessionPtr&, const std::string&) {}});
    session->send({{"t", msg::kRefused}, {"reason", why}});
    return session->close_after_flush(why);
  }
  // Taken: this member's direct session to that peer from now on (its hello, which follows,
  // tells its version and commands).
  session->id = common_name(cert);
  session->direct = true;
  session->set_max_frame(wire::kMaxFrameSize);
  session->start(hooks_.established);
  auto welcome = hooks_.hello();  // our version and commands, as a hello has them
  welcome["t"] = msg::kWelcome;
  welcome["peer"] = state_.self_id();
  welcome["id"] = session->id;
  welcome.erase("listen");
  session->send(welcome);
  session->start_heartbeat(heartbeat_);
  log_->info("direct session from {} at {}", session->id, session->remote());
  add(session);
}

}  // namespace automatelinux::core::peer
