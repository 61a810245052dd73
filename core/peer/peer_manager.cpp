#include "core/peer/peer_manager.hpp"

#include <malloc.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "automatelinux/sdk/duration.hpp"
#include "core/dispatcher.hpp"
#include "core/exit_status.hpp"
#include "core/failed_stream.hpp"
#include "core/peer/enrollment.hpp"
#include "core/peer/peer_fields.hpp"
#include "core/peer/tls_identity.hpp"
#include "core/untrusted_text.hpp"

namespace automatelinux::core::peer {
namespace {

constexpr std::chrono::seconds kEnrollRequestTimeout{10};
constexpr std::chrono::milliseconds kReconnectBase{250};
constexpr std::chrono::milliseconds kReconnectCap{10000};
// Relayed streams one member may have open through the leader at once.
constexpr std::size_t kMaxRelayedStreamsPerSession = 1024;
// Unauthenticated connections held at once that count as a flood (memory is trimmed after it).
constexpr std::size_t kFloodPeak = 8;

// Carries a served stream's frames over a peer session, tagged with its stream id.
class PeerStreamTransport final : public StreamTransport {
 public:
  PeerStreamTransport(std::weak_ptr<PeerSession> session, std::uint64_t sid,
                      std::function<void()> on_result)
      : session_(std::move(session)), sid_(sid), on_result_(std::move(on_result)) {}

  void send(nlohmann::json header, std::string_view body) override {
    if (auto s = session_.lock()) {
      header["sid"] = sid_;
      s->send(header, body);
    }
  }
  void send_result(const sdk::Result& result) override {
    if (auto s = session_.lock())
      s->send({{"t", "result"},
               {"sid", sid_},
               {"kind", result_kind_name(result.kind)},
               {"code", result.code}},
              result.reason);
    if (auto done = std::exchange(on_result_, {})) done();
  }

 private:
  std::weak_ptr<PeerSession> session_;
  std::uint64_t sid_;
  std::function<void()> on_result_;
};

// A string member of a JSON object, or "" when absent or of another type.
std::string text(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

std::string invalid_id_reason(const std::string& id) {
  if (id == "all") return "invalid id 'all': it is reserved (--peer all means every member)";
  return "invalid id '" + escape_untrusted(id) + "' (letters, digits, '.', '_', '-')";
}

nlohmann::json or_null(const std::optional<std::string>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json();
}

}  // namespace

PeerManager::PeerManager(asio::io_context& io, std::shared_ptr<spdlog::logger> log,
                         const DaemonConfig& config, const CommandRegistry& registry)
    : io_(io),
      log_(std::move(log)),
      config_(config),
      registry_(registry),
      state_(config.state_dir),
      heartbeat_(config.heartbeat_ms),
      members_timer_(io),
      preauth_summary_timer_(io),
      trim_timer_(io),
      reconnect_timer_(io) {}

PeerManager::~PeerManager() {
  stop();
}

// ---------------------------------------------------------------------------------------------
// Start, stop, roles

void PeerManager::start() {
  state_.load();
  if (is_leader()) {
    try {
      start_listening();
    } catch (const std::exception& e) {
      log_->error("cannot listen as leader on {}: {}", state_.config->listen, e.what());
    }
  } else if (is_worker()) {
    connect_to_leader();
  }
}

void PeerManager::stop() {
  if (stopped_) return;
  stopped_ = true;
  reconnect_timer_.cancel();
  members_timer_.cancel();
  preauth_summary_timer_.cancel();
  trim_timer_.cancel();
  stop_listening();
  drop_all_sessions("daemon shutting down");
}

void PeerManager::drop_all_sessions(const std::string& why) {
  ++connect_generation_;
  std::vector<SessionPtr> sessions;
  for (auto& [id, s] : workers_) sessions.push_back(s);
  if (leader_session_) sessions.push_back(leader_session_);
  for (auto& s : sessions) s->close(why);
  workers_.clear();
  leader_session_.reset();
}

std::shared_ptr<asio::ssl::context> PeerManager::node_context(bool server) const {
  auto ctx = std::make_shared<asio::ssl::context>(server ? asio::ssl::context::tls_server
                                                         : asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_3_VERSION);
  const auto key = state_.read_tls("node.key");
  const auto cert = state_.read_tls("node.crt");
  const auto ca = state_.read_tls("ca.crt");
  if (!key || !cert || !ca) throw std::runtime_error("this daemon has no cluster certificate");
  ctx->use_certificate(asio::buffer(*cert), asio::ssl::context::pem);
  ctx->use_private_key(asio::buffer(*key), asio::ssl::context::pem);
  ctx->add_certificate_authority(asio::buffer(*ca));
  auto ca_cert = cert_from_pem(*ca);
  SSL_CTX_add1_chain_cert(ctx->native_handle(), ca_cert.get());  // send the CA for pinning
  // A leader asks for a certificate but accepts none (enrollment); a worker requires the CA's.
  ctx->set_verify_mode(server ? asio::ssl::verify_peer
                              : asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  return ctx;
}

void PeerManager::mark_connection_change(bool connected) {
  connected_ = connected;
  since_ = unix_now();
}

void PeerManager::start_listening() {
  stop_listening();
  const auto [host, port] = split_host_port(state_.config->listen);
  server_context_ = node_context(true);
  auto acceptor = std::make_unique<Tcp::acceptor>(io_);
  const Tcp::endpoint endpoint(asio::ip::make_address(host), port);
  acceptor->open(endpoint.protocol());
  acceptor->set_option(asio::socket_base::reuse_address(true));
  acceptor->bind(endpoint);
  acceptor->listen();
  acceptor_ = std::move(acceptor);
  log_->info("leader {} listening on {}:{}", self_id(), host, port);
  mark_connection_change(true);
  do_accept();
  members_timer_.expires_after(heartbeat_);
  members_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) push_members();
  });
}

void PeerManager::stop_listening() {
  if (!acceptor_) return;
  boost::system::error_code ignored;
  acceptor_->close(ignored);
  acceptor_.reset();
  members_timer_.cancel();
}

void PeerManager::do_accept() {
  if (!acceptor_) return;
  acceptor_->async_accept(
      [this, acceptor = acceptor_.get()](boost::system::error_code ec, Tcp::socket socket) {
        if (acceptor != acceptor_.get() || ec == asio::error::operation_aborted) return;
        if (ec) {
          // Out of descriptors and the like: pause instead of spinning.
          log_preauth(fmt::format("peer accept failed: {}", ec.message()));
          auto pause = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(200));
          pause->async_wait([this, pause, acceptor](boost::system::error_code e) {
            if (!e && acceptor == acceptor_.get()) do_accept();
          });
          return;
        }
        on_tcp_accepted(std::move(socket));
        do_accept();
      });
}

// Leader: a new TCP connection. Descriptors near the limit stay for the local socket, established
// sessions and commands; unauthenticated connections are limited in total and per address.
void PeerManager::on_tcp_accepted(Tcp::socket socket) {
  boost::system::error_code ignored;
  const auto endpoint = socket.remote_endpoint(ignored);
  const std::string address = ignored ? "?" : endpoint.address().to_string();
  std::string why;
  std::shared_ptr<PreauthGate::Slot> slot;
  if (fd_in_reserve(socket.native_handle()))
    why = fmt::format("descriptors kept in reserve ({} below the limit)", fd_reserve());
  else
    slot = preauth_->try_acquire(address, why);
  if (!slot) {
    log_preauth(fmt::format("peer connection from {} refused: {}", address, why));
    socket.close(ignored);
    return trim_memory_soon();
  }
  socket.set_option(Tcp::no_delay(true), ignored);
  auto session =
      std::make_shared<PeerSession>(TlsStream(std::move(socket), *server_context_), log_, false);
  session->set_max_frame(kMaxPreauthFrame);
  on_accepted(std::move(session), std::move(slot));
  if (preauth_->active() >= kFloodPeak) trim_memory_soon();
}

void PeerManager::log_preauth(const std::string& line) {
  if (preauth_log_.admit(std::chrono::steady_clock::now())) return log_->warn("{}", line);
  if (std::exchange(preauth_summary_armed_, true)) return;
  preauth_summary_timer_.expires_after(kPreauthLogInterval);
  preauth_summary_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    preauth_summary_armed_ = false;
    if (const auto n = preauth_log_.take_suppressed(); n > 0)
      log_->warn("{} more pre-authentication failures suppressed in the last {} s", n,
                 kPreauthLogInterval.count());
  });
}

void PeerManager::trim_memory_soon() {
  flood_seen_ = true;
  if (std::exchange(trim_armed_, true)) return;
  trim_timer_.expires_after(std::chrono::seconds(2));
  trim_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    trim_armed_ = false;
    // Still under way: look again later. Over: give the freed buffers back to the system.
    if (preauth_->take_peak() >= kFloodPeak) return trim_memory_soon();
    if (std::exchange(flood_seen_, false)) ::malloc_trim(0);
  });
}

// Leader: a new TCP connection. Only the handshake runs before authentication; then either a
// verified certificate (admit) or, without one, exactly one enroll request.
void PeerManager::on_accepted(SessionPtr session, std::shared_ptr<PreauthGate::Slot> slot) {
  // The slot is held until the connection is authenticated or gone (the callbacks own it).
  session->handshake([this, session, slot](const std::string& error) {
    if (!error.empty()) {
      log_preauth(fmt::format("peer connection from {} refused: {}", session->remote(),
                              escape_untrusted(error, kPreauthLoggedText)));
      return;
    }
    if (session->peer_certificate() != nullptr) return admit(session);
    // No certificate: one enroll request within the deadline, then the connection closes.
    auto timer = std::make_shared<asio::steady_timer>(io_, kEnrollRequestTimeout);
    timer->async_wait([session](boost::system::error_code ec) {
      if (!ec) session->close("no enroll request within 10 s");
    });
    auto handled = std::make_shared<bool>(false);
    session->start({[this, timer, handled, slot](const SessionPtr& s, wire::Frame& frame) {
                      timer->cancel();
                      if (std::exchange(*handled, true)) return;  // exactly one request
                      if (frame.type() != "enroll") {
                        log_preauth(fmt::format(
                            "peer connection from {} without certificate sent '{}': refused",
                            s->remote(), escape_untrusted(frame.type(), kPreauthLoggedText)));
                        s->send({{"t", "refused"}, {"reason", "authenticate first"}});
                        return s->close_after_flush("unauthenticated");
                      }
                      handle_enroll(s, frame);
                    },
                    [this, timer, slot](const SessionPtr& s, const std::string& why) {
                      timer->cancel();
                      // Bad frames before authentication (oversized, malformed) end here.
                      if (why.rfind("bad ", 0) == 0)
                        log_preauth(fmt::format("enroll connection from {} closed: {}", s->remote(),
                                                escape_untrusted(why, kPreauthLoggedText)));
                      else
                        log_->debug("enroll connection from {} closed: {}", s->remote(),
                                    escape_untrusted(why, kPreauthLoggedText));
                    }});
  });
}

void PeerManager::handle_enroll(const SessionPtr& session, wire::Frame& frame) {
  auto refuse = [&](const std::string& reason) {
    log_preauth(fmt::format("enroll from {} refused: {}", session->remote(),
                            escape_untrusted(reason, kPreauthLoggedText)));
    session->send({{"t", "refused"}, {"reason", reason}});
    session->close_after_flush("enroll refused");
  };
  if (!is_leader()) return refuse("this daemon is not the leader");
  std::string id, secret;
  try {
    id = wire::string_field(frame.header, "id", "");
    secret = wire::string_field(frame.header, "token", "");
  } catch (const wire::FrameError& e) {
    return refuse(e.what());
  }
  if (!valid_peer_id(id)) return refuse("invalid peer id");
  const auto now = unix_now();
  const std::string hash = sha256_hex(secret);
  JoinToken* token = nullptr;
  for (auto& t : state_.tokens)
    if (t.secret_sha256 == hash) token = &t;
  if (token == nullptr) return refuse("bad token");
  if (token->expires <= now) return refuse("expired token");
  if (id == self_id() || state_.members.contains(id)) return refuse("id taken: " + id);
  if (auto r = state_.revoked.find(id); r != state_.revoked.end() && token->created <= r->second.at)
    return refuse("token was made before " + id + " was removed; make a new one");
  if (token->revoked())
    return refuse(token->revoked_reason.empty() ? "token revoked"
                                                : "token revoked (" + token->revoked_reason + ")");
  if (token->used_up())
    return refuse(fmt::format("token used up (it allowed {} enrollment{})", token->uses,
                              token->uses == 1 ? "" : "s"));
  try {
    auto ca_key = key_from_pem(state_.read_tls("ca.key").value());
    auto ca_cert = cert_from_pem(state_.read_tls("ca.crt").value());
    auto cert = sign_csr(frame.body, id, ca_cert.get(), ca_key.get());
    // The token is charged before the answer goes out: a use is never given back.
    ++token->used;
    token->enrolled.push_back(id);
    state_.save_tokens();
    state_.members[id] = Member{fingerprint(cert.get()), now, token->id};
    state_.save_members();
    session->send({{"t", "enrolled"}, {"cert", cert_to_pem(cert.get())}});
    session->close_after_flush("enrolled");
    log_->info("enrolled peer {} from {} with join token {}", id, session->remote(), token->id);
    push_members();
  } catch (const std::exception& e) {
    refuse(std::string("cannot sign: ") + e.what());
  }
}

void PeerManager::admit(const SessionPtr& session) {
  X509* cert = session->peer_certificate();
  const std::string id = common_name(cert);
  const std::string fp = fingerprint(cert);
  auto member = state_.members.find(id);
  if (member == state_.members.end() || member->second.fingerprint != fp) {
    const std::string reason =
        state_.revoked.contains(id) ? "certificate revoked" : "unknown certificate";
    log_preauth(fmt::format("peer connection from {} claiming '{}' refused: {}", session->remote(),
                            escape_untrusted(id, kPreauthLoggedText), reason));
    session->start(
        {[](const SessionPtr&, wire::Frame&) {}, [](const SessionPtr&, const std::string&) {}});
    session->send({{"t", "refused"}, {"reason", reason}});
    return session->close_after_flush(reason);
  }
  if (auto old = workers_.find(id); old != workers_.end()) {
    log_->info("peer {} reconnected from {}; replacing its old session", id, session->remote());
    auto previous = old->second;
    workers_.erase(old);
    previous->close("replaced by a new connection");
  }
  session->id = id;
  session->set_max_frame(wire::kMaxFrameSize);
  workers_[id] = session;
  last_address_[id] = session->remote().substr(0, session->remote().rfind(':'));
  session->start({[this](const SessionPtr& s, wire::Frame& f) { on_frame(s, f); },
                  [this](const SessionPtr& s, const std::string& why) { on_closed(s, why); }});
  session->send({{"t", "welcome"}, {"leader", self_id()}, {"id", id}});
  session->start_heartbeat(heartbeat_);
  log_->info("peer {} online from {}", id, session->remote());
  push_members();
}

// Worker: connect to the leader with our certificate; reconnect with backoff and jitter.
void PeerManager::connect_to_leader() {
  if (stopped_ || !is_worker()) return;
  const auto generation = ++connect_generation_;
  std::pair<std::string, std::uint16_t> hp;
  try {
    hp = split_host_port(state_.config->leader);
    client_context_ = node_context(false);
  } catch (const std::exception& e) {
    log_->error("cannot connect to the leader: {}", e.what());
    return schedule_reconnect();
  }
  auto resolver = std::make_shared<Tcp::resolver>(io_);
  resolver->async_resolve(
      hp.first, std::to_string(hp.second),
      [this, resolver, generation](boost::system::error_code ec,
                                   Tcp::resolver::results_type results) {
        if (generation != connect_generation_) return;
        if (ec) {
          log_->warn("cannot resolve leader {}: {}", state_.config->leader, ec.message());
          return schedule_reconnect();
        }
        auto socket = std::make_shared<Tcp::socket>(io_);
        auto timer = std::make_shared<asio::steady_timer>(io_, kHandshakeTimeout);
        timer->async_wait([socket](boost::system::error_code e) {
          if (!e) socket->close();
        });
        asio::async_connect(
            *socket, results,
            [this, socket, timer, generation](boost::system::error_code ec2, const Tcp::endpoint&) {
              timer->cancel();
              if (generation != connect_generation_) return;
              if (ec2) {
                log_->debug("leader {} unreachable: {}", state_.config->leader, ec2.message());
                return schedule_reconnect();
              }
              socket->set_option(Tcp::no_delay(true));
              auto session = std::make_shared<PeerSession>(
                  TlsStream(std::move(*socket), *client_context_), log_, true);
              session->handshake([this, session, generation](const std::string& error) {
                if (generation != connect_generation_) return session->close("superseded");
                if (!error.empty()) {
                  log_->warn("leader {}: {}", state_.config->leader, escape_untrusted(error));
                  return schedule_reconnect();
                }
                // Wait for the explicit welcome: TLS 1.3 cannot tell us otherwise that we were
                // accepted. Heartbeats start now, so a connection that goes silent before the
                // welcome is dropped.
                session->id = common_name(session->peer_certificate());
                session->start(
                    {[this, generation](const SessionPtr& s, wire::Frame& f) {
                       if (generation != connect_generation_) return s->close("superseded");
                       if (leader_session_ == s) return on_frame(s, f);
                       if (f.type() == "refused") {
                         log_->error(
                             "the leader refused this daemon: {}",
                             escape_untrusted(wire::string_field(f.header, "reason", "?"), 200));
                         // Removed from the cluster: retrying cannot help until a new join.
                         if (wire::string_field(f.header, "reason", "") == "certificate revoked") {
                           revoked_ = true;
                           log_->error(
                               "this daemon was removed from the cluster; join again with "
                               "'d setPeerConfig --role worker … --token TOKEN'");
                         }
                         return s->close("refused");
                       }
                       if (f.type() != "welcome") return s->close("expected a welcome");
                       leader_session_ = s;
                       reconnect_attempt_ = 0;
                       mark_connection_change(true);
                       s->send({{"t", "hello"},
                                {"version", AL_VERSION},
                                {"commands", registry_.names()}});
                       log_->info("connected to leader {} at {}", s->id, s->remote());
                     },
                     [this, generation](const SessionPtr& s, const std::string& why) {
                       if (leader_session_ == s) return on_closed(s, why);
                       if (generation == connect_generation_) {
                         log_->warn("leader connection closed before welcome: {}",
                                    escape_untrusted(why));
                         schedule_reconnect();
                       }
                     }});
                session->start_heartbeat(heartbeat_);
              });
            });
      });
}

void PeerManager::schedule_reconnect() {
  if (stopped_ || !is_worker() || revoked_) return;
  const auto exp = std::min<long long>(kReconnectCap.count(),
                                       kReconnectBase.count() << std::min(reconnect_attempt_, 10));
  ++reconnect_attempt_;
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  const auto delay = std::chrono::milliseconds(static_cast<long long>(exp * jitter(rng_)));
  const auto generation = connect_generation_;
  reconnect_timer_.expires_after(delay);
  reconnect_timer_.async_wait([this, generation](boost::system::error_code ec) {
    if (!ec && generation == connect_generation_) connect_to_leader();
  });
}

// ---------------------------------------------------------------------------------------------
// Established sessions: an explicit dispatch table; anything else closes the session.

void PeerManager::on_frame(const SessionPtr& session, wire::Frame& frame) {
  const std::string& type = frame.type();
  if (type == "open") return serve_open(session, frame);
  if (type == "data" || type == "eof" || type == "credit" || type == "cancel" || type == "result")
    return route(session, frame);
  if (type == "members" && session->is_tls_client()) {
    auto peers = frame.header.find("peers");
    if (peers == frame.header.end() || !peers->is_array())
      throw wire::FrameError("'peers' must be a list");
    cached_members_.clear();
    for (const auto& p : *peers)
      if (auto entry = checked_member_entry(p)) cached_members_.push_back(std::move(*entry));
    return;
  }
  if (type == "hello" && !session->is_tls_client()) {
    if (!session->version.empty()) throw wire::FrameError("hello sent twice");
    // Checked, not just cut: this goes into every member list and onto other members' screens.
    const std::string version = wire::string_field(frame.header, "version", "");
    if (!valid_version(version)) throw wire::FrameError("hello: invalid version");
    // Names of another shape are left out (never shown); so is anything past 128 names.
    std::vector<std::string> commands;
    if (auto cmds = frame.header.find("commands"); cmds != frame.header.end() && cmds->is_array())
      for (const auto& c : *cmds)
        if (c.is_string() && valid_command_name(c.get_ref<const std::string&>()) &&
            commands.size() < 128)
          commands.push_back(c.get<std::string>());
    session->version = version;
    session->commands = std::move(commands);
    return push_members();
  }
  if (type == "welcome" && session->is_tls_client()) return;
  log_->warn("peer {} sent unknown message type '{}': closing", session->id,
             escape_untrusted(type));
  session->close("unknown message type '" + type + "'");
}

void PeerManager::on_closed(const SessionPtr& session, const std::string& why) {
  const std::string id = session->id;
  auto node = routes_.extract(session.get());
  if (!node.empty()) {
    Routes& r = node.mapped();
    for (auto& [sid, entry] : r.opened)
      entry.first->on_lost("Connection to peer lost: " + entry.second);
    for (auto& [sid, stream] : r.served) stream->on_transport_lost();
    for (auto& [sid, target] : r.relayed) {
      auto other = target.other.lock();
      if (!other) continue;
      // find, not []: `other` may itself be closing (a send below can close it), and an entry
      // made for it now would outlive it, keyed by a dangling address.
      if (auto o = routes_.find(other.get()); o != routes_.end())
        o->second.relayed.erase(target.other_sid);
      end_far_half(other, target.other_sid, "Connection to peer lost: " + id);
    }
  }
  if (session == leader_session_) {
    leader_session_.reset();
    mark_connection_change(false);
    log_->warn("lost the leader: {}", escape_untrusted(why));
    schedule_reconnect();
    return;
  }
  if (auto it = workers_.find(id); it != workers_.end() && it->second == session) {
    workers_.erase(it);
    last_seen_[id] = session->last_seen;
    log_->warn("peer {} offline: {}", id, escape_untrusted(why));
    push_members();
  }
}

void PeerManager::route(const SessionPtr& session, wire::Frame& frame) {
  const auto sid = wire::uint_field(frame.header, "sid", 0);
  auto& r = routes_[session.get()];
  const std::string& type = frame.type();
  // Who opened the stream decides what may flow which way; the leader checks relayed frames so
  // one worker cannot feed another anything its own side of the stream could not send.
  const bool opened_here = (sid % 2 == 1) == session->is_tls_client();
  const bool from_requester = !opened_here;
  const auto ch = wire::int_field(frame.header, "ch", -1);
  const bool allowed =
      from_requester
          ? (type == "credit" || type == "cancel" || ((type == "data" || type == "eof") && ch == 0))
          : (type == "credit" || type == "result" ||
             ((type == "data" || type == "eof") && (ch == 1 || ch == 2)));
  if (!allowed) {
    // A member that feeds a stream what its side may not send is abusing it: cut it off (one log
    // line, not one per frame).
    log_->warn("peer {} sent '{}' the wrong way on stream {}: closing its session", session->id,
               escape_untrusted(type), sid);
    return session->close("sent '" + type + "' the wrong way on stream " + std::to_string(sid));
  }
  if (auto relay = r.relayed.find(sid); relay != r.relayed.end()) {
    // Copies: a send below may close a session, and on_closed edits these routes.
    const auto other = relay->second.other.lock();
    const auto other_sid = relay->second.other_sid;
    const auto queued = relay->second.queued;
    const auto sent = r.sent;
    // Credit is checked here, on every relayed frame: a member may not make the leader buffer
    // more than a window per stream, nor fill another member's connection.
    const std::uint64_t credit = type == "credit" ? wire::uint_field(frame.header, "n", 0) : 0;
    if (auto offence =
            check_relayed(*relay->second.state, from_requester, type, frame.body.size(), credit))
      return cut_relay_sender(session, sid, *offence);
    if (queued->bytes > kRelayMaxQueuedPerStream || sent->bytes > kRelayMaxQueuedPerSender)
      return cut_relay_sender(session, sid, "more than its receiver reads");
    if (type == "result") {
      r.relayed.erase(relay);
      if (other)
        if (auto o = routes_.find(other.get()); o != routes_.end())
          o->second.relayed.erase(other_sid);
      if (frame.body.size() > kRelayMaxReason) frame.body.resize(kRelayMaxReason);
    }
    if (other) {
      frame.header["sid"] = other_sid;
      other->send_charged(frame.header, frame.body, queued, sent);
    }
    return;
  }
  if (opened_here) {
    auto it = r.opened.find(sid);
    if (it == r.opened.end()) return;  // late frame for a finished stream
    auto stream = it->second.first;
    if (type == "result") r.opened.erase(it);
    try {
      stream->on_frame(frame);
    } catch (const std::exception& e) {
      // A misbehaving server ends only this stream.
      r.opened.erase(sid);
      session->send({{"t", "cancel"}, {"sid", sid}, {"signal", SIGTERM}});
      stream->on_lost(std::string("bad reply from peer: ") + e.what());
    }
    return;
  }
  auto it = r.served.find(sid);
  if (it == r.served.end()) return;
  auto stream = it->second;
  try {
    stream->on_frame(frame);
  } catch (const std::exception& e) {
    stream->finish(sdk::Result::error(std::string("bad request: ") + e.what()));
  }
}

void PeerManager::refuse_stream(const SessionPtr& session, std::uint64_t sid,
                                const std::string& reason) {
  session->send({{"t", "result"}, {"sid", sid}, {"kind", "error"}, {"code", 0}}, reason);
}

void PeerManager::end_far_half(const SessionPtr& other, std::uint64_t other_sid,
                               const std::string& reason) {
  // Opened by the far side of `other` when its id has that side's parity.
  const bool other_opened = (other_sid % 2 == 1) != other->is_tls_client();
  if (other_opened)
    other->send({{"t", "result"}, {"sid", other_sid}, {"kind", "error"}, {"code", 0}}, reason);
  else
    other->send({{"t", "cancel"}, {"sid", other_sid}, {"signal", SIGHUP}});
}

void PeerManager::cut_relay_sender(const SessionPtr& sender, std::uint64_t sid,
                                   const std::string& why) {
  log_->warn("peer {} sent {} on relayed stream {}: ending the stream and cutting {} off",
             sender->id, why, sid, sender->id);
  if (auto it = routes_.find(sender.get()); it != routes_.end()) {
    if (auto relay = it->second.relayed.find(sid); relay != it->second.relayed.end()) {
      const auto other = relay->second.other.lock();
      const auto other_sid = relay->second.other_sid;
      it->second.relayed.erase(relay);
      if (other) {
        if (auto o = routes_.find(other.get()); o != routes_.end())
          o->second.relayed.erase(other_sid);
        end_far_half(other, other_sid, "Relayed stream ended: " + sender->id + " sent " + why);
      }
    }
  }
  sender->close("relay abuse: sent " + why);
  trim_memory_soon();
}

void PeerManager::serve_open(const SessionPtr& session, wire::Frame& frame) {
  const auto sid = wire::uint_field(frame.header, "sid", 0);
  if ((sid % 2 == 1) == session->is_tls_client() || sid == 0)
    throw wire::FrameError("stream id of the wrong side");
  const auto& r = routes_[session.get()];
  if (r.served.contains(sid) || r.relayed.contains(sid)) throw wire::FrameError("stream id reused");
  const std::string to = wire::string_field(frame.header, "to", "");
  wire::string_field(frame.header, "type", "");
  if (auto req = frame.header.find("req"); req != frame.header.end() && !req->is_object())
    throw wire::FrameError("'req' must be an object");
  if (is_worker()) {
    // Our only session is to the leader, which stamps who really asked.
    const std::string from = wire::string_field(frame.header, "from", session->id);
    if (to != self_id()) return refuse_stream(session, sid, "Peer not found: " + to);
    return serve_locally(session, sid, from, frame);
  }
  // Leader: the requester is whoever this session's certificate says; never a JSON field.
  const std::string from = session->id;
  if (to == self_id()) return serve_locally(session, sid, from, frame);
  auto target = workers_.find(to);
  if (target == workers_.end())
    return refuse_stream(
        session, sid,
        (state_.members.contains(to) ? "Peer is offline: " : "Peer not found: ") + to);
  const SessionPtr other = target->second;  // a copy: the send below may close it
  auto& mine = routes_[session.get()];
  if (mine.relayed.size() >= kMaxRelayedStreamsPerSession)
    return refuse_stream(session, sid, "Too many relayed streams open");
  const auto sent = mine.sent;
  if (sent->bytes > kRelayMaxQueuedPerSender)
    return cut_relay_sender(session, sid, "more than its receivers read");
  const auto other_sid = other->next_sid();
  auto state = std::make_shared<RelayState>();
  auto queued = std::make_shared<QueueCharge>();
  mine.relayed[sid] = {other, other_sid, state, queued};
  routes_[other.get()].relayed[other_sid] = {session, sid, state, std::make_shared<QueueCharge>()};
  frame.header["sid"] = other_sid;
  frame.header["from"] = from;
  other->send_charged(frame.header, frame.body, queued, sent);
}

void PeerManager::serve_locally(const SessionPtr& session, std::uint64_t sid,
                                const std::string& from, const wire::Frame& frame) {
  const std::string type = wire::string_field(frame.header, "type", "");
  const PeerServiceEntry* service = registry_.find_service(type);
  if (service == nullptr)
    return refuse_stream(session, sid, "Peer " + self_id() + " does not offer '" + type + "'");
  std::weak_ptr<PeerSession> weak = session;
  auto transport = std::make_shared<PeerStreamTransport>(weak, sid, [this, weak, sid] {
    // Not inline: the stream is in the middle of finish().
    asio::post(io_, [this, weak, sid] {
      if (auto s = weak.lock())
        if (auto it = routes_.find(s.get()); it != routes_.end()) it->second.served.erase(sid);
    });
  });
  auto stream = std::make_shared<ServingStream>(io_, log_, transport, sdk::Requester{from, -1},
                                                wire::string_field(frame.header, "rid", ""));
  stream->set_subject(type + " " + printable_command(wire::split_nul(frame.body)));
  routes_[session.get()].served[sid] = stream;
  const nlohmann::json request = frame.header.value("req", nlohmann::json::object());
  try {
    // A timeout from a peer is checked like one typed at `d`: out of range ends the request
    // (it would overflow the clock, or with 0 or less slip past the host's default timeout).
    if (request.contains("timeout_ms")) {
      const auto ms = wire::int_field(request, "timeout_ms", 0);
      if (ms <= 0 || ms > sdk::kMaxDuration.count())
        return stream->finish(sdk::Result::error(fmt::format(
            "bad request: timeout_ms must be from 1 to {}", sdk::kMaxDuration.count())));
      stream->arm_timeout(std::chrono::milliseconds(ms));
    }
    service->handler(stream, request, frame.body);
  } catch (const std::exception& e) {
    log_->error("peer service '{}' threw: {}", escape_untrusted(type), escape_untrusted(e.what()));
    stream->finish(sdk::Result::error(std::string("peer service failed: ") + e.what()));
  }
}

sdk::StreamPtr PeerManager::open_stream(const std::string& peer, const std::string& type,
                                        nlohmann::json header, std::string body,
                                        const sdk::Requester& requester,
                                        const std::string& request_id) {
  auto fail = [&](const std::string& reason) -> sdk::StreamPtr {
    return std::make_shared<FailedStream>(io_, requester, reason);
  };
  if (!state_.config) return fail("Peer not found: " + peer);
  if (peer == self_id()) return fail("Cannot exec on self (" + peer + ")");
  SessionPtr session;
  if (is_leader()) {
    auto it = workers_.find(peer);
    if (it == workers_.end())
      return fail((state_.members.contains(peer) ? "Peer is offline: " : "Peer not found: ") +
                  peer);
    session = it->second;
  } else {
    bool known = false, online = false;
    for (const auto& p : cached_members_) {
      if (text(p, "id") == peer) {
        known = true;
        online = text(p, "status") == "online";
      }
    }
    if (!known) return fail("Peer not found: " + peer);
    if (!leader_session_)
      return fail("Failed to send command to peer: not connected to the leader");
    if (!online) return fail("Peer is offline: " + peer);
    session = leader_session_;
  }
  const auto sid = session->next_sid();
  auto stream = std::make_shared<ClientStream>(io_, session, sid, requester, request_id);
  routes_[session.get()].opened[sid] = {stream, peer};
  session->send({{"t", "open"},
                 {"sid", sid},
                 {"to", peer},
                 {"type", type},
                 {"rid", request_id},
                 {"req", std::move(header)}},
                body);
  return stream;
}

// ---------------------------------------------------------------------------------------------
// Membership

sdk::PeerInfo PeerManager::self_info() const {
  sdk::PeerInfo self;
  self.id = self_id();
  self.role = state_.config ? state_.config->role : "";
  self.online = true;
  self.address = is_leader() ? state_.config->listen : "";
  self.last_seen = iso8601_utc(unix_now());
  self.version = AL_VERSION;
  self.commands = registry_.names();
  return self;
}

nlohmann::json PeerManager::members_json() const {
  auto out = nlohmann::json::array();
  for (const auto& p : peers()) {
    out.push_back({{"id", p.id},
                   {"role", p.role},
                   {"status", p.online ? "online" : "offline"},
                   {"address", p.address},
                   {"last_seen", or_null(p.last_seen)},
                   {"rtt_ms", p.rtt_ms ? nlohmann::json(*p.rtt_ms) : nlohmann::json()},
                   {"version", p.version},
                   {"commands", p.commands}});
  }
  return out;
}

void PeerManager::push_members() {
  if (!is_leader()) return;
  try {
    const auto members = members_json();
    // A copy: a send may close a session (write queue full), and closing edits workers_.
    const auto sessions = workers_;
    for (auto& [id, session] : sessions) session->send({{"t", "members"}, {"peers", members}});
  } catch (const std::exception& e) {
    log_->error("cannot push the member list: {}", e.what());
  }
  // Periodic push too, so round-trip times and last-seen stay fresh everywhere.
  members_timer_.expires_after(heartbeat_);
  members_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) push_members();
  });
}

std::vector<sdk::PeerInfo> PeerManager::peers() const {
  std::vector<sdk::PeerInfo> out;
  if (!state_.config) return out;
  if (is_leader()) {
    out.push_back(self_info());
    for (const auto& [id, member] : state_.members) {
      sdk::PeerInfo p;
      p.id = id;
      p.role = "worker";
      if (auto it = workers_.find(id); it != workers_.end()) {
        const auto& s = it->second;
        p.online = true;
        p.last_seen = iso8601_utc(s->last_seen);
        p.rtt_ms = s->rtt_ms;
        p.version = s->version;
        p.commands = s->commands;
      } else if (auto seen = last_seen_.find(id); seen != last_seen_.end()) {
        p.last_seen = iso8601_utc(seen->second);
      }
      if (auto a = last_address_.find(id); a != last_address_.end()) p.address = a->second;
      out.push_back(std::move(p));
    }
    return out;
  }
  // Worker: the leader's view; when we are cut off, only we are known to be online.
  bool self_listed = false;
  for (const auto& j : cached_members_) {
    sdk::PeerInfo p;
    p.id = text(j, "id");
    p.role = text(j, "role");
    p.online = leader_session_ && text(j, "status") == "online";
    p.address = text(j, "address");
    if (j.contains("last_seen") && j["last_seen"].is_string())
      p.last_seen = j["last_seen"].get<std::string>();
    if (j.contains("rtt_ms") && j["rtt_ms"].is_number()) p.rtt_ms = j["rtt_ms"].get<double>();
    p.version = text(j, "version");
    if (auto c = j.find("commands"); c != j.end() && c->is_array())
      for (const auto& name : *c)
        if (name.is_string()) p.commands.push_back(name.get<std::string>());
    if (p.id == self_id()) {
      self_listed = true;
      p.online = true;
      p.last_seen = iso8601_utc(unix_now());
      if (leader_session_) p.rtt_ms = leader_session_->rtt_ms;
    }
    if (p.role == "leader" && leader_session_) {
      p.rtt_ms = leader_session_->rtt_ms;
      p.last_seen = iso8601_utc(leader_session_->last_seen);
    }
    out.push_back(std::move(p));
  }
  if (!self_listed) out.push_back(self_info());
  return out;
}

// ---------------------------------------------------------------------------------------------
// sdk::PeerNetwork

sdk::LocalPeerStatus PeerManager::local() const {
  sdk::LocalPeerStatus s;
  if (!state_.config) return s;
  s.id = state_.config->id;
  s.role = state_.config->role;
  if (!state_.config->leader.empty()) s.leader = state_.config->leader;
  if (!state_.config->listen.empty()) s.listen = state_.config->listen;
  s.connected = connected_;
  if (since_ != 0) s.since = iso8601_utc(since_);
  return s;
}

void PeerManager::become_leader(const std::string& id, const std::string& listen, Done done) {
  if (!valid_peer_id(id)) return done(invalid_id_reason(id));
  std::string listen_address = listen.empty() ? fmt::format("0.0.0.0:{}", kDefaultPort) : listen;
  try {
    const auto [host, port] = split_host_port(listen_address);
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    if (ec) return done("--listen needs an IP address, not '" + host + "'");
    listen_address = fmt::format("{}:{}", host, port);
  } catch (const std::exception& e) {
    return done(std::string("--listen: ") + e.what());
  }
  const auto previous = state_.config;
  try {
    // A new leader (or a worker turning leader) makes a fresh cluster CA; the same leader keeps it.
    const bool keep_ca = previous && previous->role == "leader" && state_.read_tls("ca.key");
    if (!keep_ca) {
      auto ca_key = generate_key();
      auto ca_cert = make_ca_certificate(ca_key.get(), "automatelinux cluster " + id);
      state_.write_tls("ca.key", key_to_pem(ca_key.get()), true);
      state_.write_tls("ca.crt", cert_to_pem(ca_cert.get()), false);
      state_.members.clear();
      state_.revoked.clear();
      state_.tokens.clear();
      state_.save_members();
      state_.save_tokens();
    }
    if (!keep_ca || previous->id != id) {
      auto ca_key = key_from_pem(state_.read_tls("ca.key").value());
      auto ca_cert = cert_from_pem(state_.read_tls("ca.crt").value());
      auto key = generate_key();
      auto cert = sign_key(key.get(), id, ca_cert.get(), ca_key.get());
      state_.write_tls("node.key", key_to_pem(key.get()), true);
      state_.write_tls("node.crt", cert_to_pem(cert.get()), false);
    }
    reconnect_timer_.cancel();
    drop_all_sessions("role changed");
    state_.config = LocalConfig{id, "leader", "", listen_address, unix_now()};
    cached_members_ = nlohmann::json::array();
    start_listening();
  } catch (const std::exception& e) {
    state_.config = previous;
    return done(std::string("cannot become leader: ") + e.what());
  }
  state_.save_config();
  done({});
}

void PeerManager::become_worker(const std::string& id, const std::string& leader,
                                const std::optional<std::string>& token, Done done) {
  if (!valid_peer_id(id)) return done(invalid_id_reason(id));
  std::string leader_address;
  try {
    const auto [host, port] = split_host_port(leader);
    leader_address = fmt::format("{}:{}", host, port);
  } catch (const std::exception& e) {
    return done(std::string("--leader: ") + e.what());
  }
  auto commit = [this, id, leader_address, done] {
    revoked_ = false;
    stop_listening();
    drop_all_sessions("role changed");
    state_.config = LocalConfig{id, "worker", leader_address, "", unix_now()};
    state_.save_config();
    mark_connection_change(false);
    reconnect_attempt_ = 0;
    connect_to_leader();
    done({});
  };
  if (!token) {
    const auto cert_pem = state_.read_tls("node.crt");
    if (!cert_pem || !is_worker() || common_name(cert_from_pem(*cert_pem).get()) != id)
      return done("this daemon is not enrolled as '" + id + "': the first join needs --token");
    return commit();
  }
  const auto parsed = parse_token(*token);
  if (!parsed) return done("bad token: not a join token from 'd joinToken'");
  enroll_with_leader(io_, log_, state_, id, leader_address, *parsed,
                     [commit, done](const std::string& error) {
                       if (!error.empty()) return done(error);
                       commit();
                     });
}

sdk::NewJoinToken PeerManager::create_join_token(std::chrono::seconds ttl,
                                                 std::optional<std::uint32_t> uses) {
  if (!is_leader()) throw std::runtime_error("joinToken works only on the leader");
  if (ttl.count() <= 0) throw std::runtime_error("--ttl must be positive");
  if (uses && *uses == 0) throw std::runtime_error("--uses must be at least 1");
  const auto now = unix_now();
  const std::string secret = random_hex(16);
  std::erase_if(state_.tokens, [now](const JoinToken& t) { return t.expires <= now; });
  JoinToken token;
  token.secret_sha256 = sha256_hex(secret);
  token.created = now;
  token.expires = now + ttl.count();
  token.uses = uses.value_or(0);
  // A short public id, random (it says nothing about the secret) and unique among live tokens.
  const auto taken = [this](const std::string& id) {
    return std::any_of(state_.tokens.begin(), state_.tokens.end(),
                       [&id](const JoinToken& t) { return t.id == id; });
  };
  do token.id = random_hex(4);
  while (taken(token.id));
  state_.tokens.push_back(token);
  state_.save_tokens();
  const auto ca = cert_from_pem(state_.read_tls("ca.crt").value());
  log_->info("join token {} created (expires {}, uses {})", token.id, iso8601_utc(token.expires),
             uses ? std::to_string(*uses) : std::string("unlimited"));
  return {token.id, make_token_text(secret, fingerprint(ca.get()))};
}

std::vector<std::string> PeerManager::remove_peer(const std::string& id) {
  if (!is_leader()) throw std::runtime_error("removePeer works only on the leader");
  if (id == self_id()) throw std::runtime_error("Cannot remove self (" + id + ")");
  auto member = state_.members.find(id);
  if (member == state_.members.end()) throw std::runtime_error("Peer not found: " + id);
  const auto now = unix_now();
  // The token that enrolled it must not enroll anyone again: a removed machine that kept the
  // token would otherwise come back under a new id. A member from before tokens had ids has no
  // record of its token: then every token that existed when it enrolled is revoked.
  std::vector<std::string> revoked_tokens;
  const Member& m = member->second;
  for (auto& token : state_.tokens) {
    const bool enrolled_it = m.token.empty() ? token.created <= m.enrolled_at : token.id == m.token;
    if (!enrolled_it || token.revoked() || token.expires <= now) continue;
    token.revoked_at = now;
    token.revoked_reason = "it enrolled " + id + ", which was removed";
    revoked_tokens.push_back(token.id);
  }
  if (!revoked_tokens.empty()) state_.save_tokens();
  state_.revoked[id] = Revocation{m.fingerprint, now};
  state_.members.erase(member);
  state_.save_members();
  last_seen_.erase(id);
  last_address_.erase(id);
  if (auto it = workers_.find(id); it != workers_.end()) {
    auto session = it->second;
    workers_.erase(it);
    session->close("removed from the cluster");
  }
  std::string tokens_note;
  for (const auto& t : revoked_tokens) tokens_note += (tokens_note.empty() ? "" : ", ") + t;
  log_->info(
      "peer {} removed; its certificate is revoked{}{}", id,
      revoked_tokens.empty() ? "" : ", and so is the join token that enrolled it: ", tokens_note);
  push_members();
  return revoked_tokens;
}

std::vector<sdk::JoinTokenInfo> PeerManager::join_tokens() const {
  if (!is_leader()) throw std::runtime_error("listTokens works only on the leader");
  const auto now = unix_now();
  std::vector<sdk::JoinTokenInfo> out;
  for (const auto& t : state_.tokens) {
    sdk::JoinTokenInfo info;
    info.id = t.id;
    info.created = iso8601_utc(t.created);
    info.expires = iso8601_utc(t.expires);
    if (t.uses != 0) info.uses = t.uses;
    info.used = t.used;
    info.status = t.revoked()        ? "revoked"
                  : t.expires <= now ? "expired"
                  : t.used_up()      ? "used up"
                                     : "valid";
    if (t.revoked()) info.revoked = iso8601_utc(t.revoked_at);
    info.enrolled = t.enrolled;
    out.push_back(std::move(info));
  }
  return out;
}

void PeerManager::revoke_token(const std::string& id) {
  if (!is_leader()) throw std::runtime_error("revokeToken works only on the leader");
  for (auto& token : state_.tokens) {
    if (token.id != id) continue;
    if (token.revoked()) return;
    token.revoked_at = unix_now();
    token.revoked_reason = "revoked with revokeToken";
    state_.save_tokens();
    log_->info("join token {} revoked", id);
    return;
  }
  throw std::runtime_error("Token not found: " + escape_untrusted(id));
}

}  // namespace automatelinux::core::peer
