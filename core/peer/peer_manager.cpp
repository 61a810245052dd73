#include "core/peer/peer_manager.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/peer/enrollment.hpp"
#include "core/peer/join_tokens.hpp"
#include "core/peer/node_tls.hpp"
#include "core/peer/peer_fields.hpp"
#include "core/peer/tls_identity.hpp"
#include "core/untrusted_text.hpp"
#include "wire/messages.hpp"

namespace automatelinux::core::peer {
namespace msg = wire::msg;
namespace {

std::string invalid_id_reason(const std::string& id) {
  if (id == "all") return "invalid id 'all': it is reserved (--peer all means every member)";
  return "invalid id '" + escape_untrusted(id) + "' (letters, digits, '.', '_', '-')";
}

}  // namespace

PeerManager::PeerManager(asio::io_context& io, std::shared_ptr<spdlog::logger> log,
                         sdk::AuditLog* audit, const DaemonConfig& config,
                         const CommandRegistry& registry)
    : io_(io),
      log_(std::move(log)),
      registry_(registry),
      state_(config.state_dir),
      heartbeat_(config.heartbeat_ms),
      membership_(io, log_, state_, registry, heartbeat_),
      listener_(io, log_, state_, membership_, heartbeat_, established_events()),
      router_(io, log_, audit, state_, registry, membership_,
              [this] { listener_.trim_memory_soon(); },
              {config.max_window_bytes, std::make_shared<WindowBudget>(config.window_budget_bytes)},
              {config.max_requests_per_s, config.max_requests_burst > 0
                                              ? config.max_requests_burst
                                              : 2 * config.max_requests_per_s}),
      connector_(io, log_, heartbeat_, connector_hooks()),
      direct_enabled_(config.peer_direct),
      direct_(io, log_, state_, membership_, heartbeat_, config.trust_unseen_for,
              {[this](bool server) {
                 return node_tls_context(state_,
                                         server ? TlsRole::direct_server : TlsRole::direct_client);
               },
               [this] { return hello(); }, established_events(),
               [this](const PeerSession& s) { return router_.carries_streams(s); }}) {
  membership_.on_roster_changed([this] {
    check_roster_for_self();
    direct_.refresh();
  });
  const auto streams = stream_handlers();
  leader_table_ = streams;
  leader_table_[msg::kHello] = [this](const SessionPtr& s, wire::Frame& f) {
    membership_.on_hello(s, f);
  };
  worker_table_ = streams;
  worker_table_[msg::kMembers] = [this](const SessionPtr& s, wire::Frame& f) {
    membership_.on_members(s, f);
  };
  worker_table_[msg::kMembersDelta] = [this](const SessionPtr& s, wire::Frame& f) {
    membership_.on_members_delta(s, f);
  };
  worker_table_[msg::kRoster] = [this](const SessionPtr& s, wire::Frame& f) {
    membership_.on_roster(s, f);
  };
  worker_table_[msg::kWelcome] = [](const SessionPtr&, wire::Frame&) {};
  direct_table_ = streams;
  direct_table_[msg::kHello] = [this](const SessionPtr& s, wire::Frame& f) {
    membership_.on_direct_hello(s, f);
  };
  // The other worker ends the session (a protocol it cannot talk to): backed off as a failure.
  direct_table_[msg::kRefused] = [this](const SessionPtr& s, wire::Frame& f) {
    const auto why = escape_untrusted(wire::string_field(f.header, "reason", "?"), 300);
    log_->warn("peer {} refused the direct session: {}", s->id, why);
    s->close("refused: " + why);
  };
  // The leader refuses what it cannot talk to (a protocol version) after the welcome, too.
  worker_table_[msg::kRefused] = [this](const SessionPtr& s, wire::Frame& f) {
    on_leader_refused(s, f);
  };
}

PeerManager::~PeerManager() {
  stop();
}

PeerManager::DispatchTable PeerManager::stream_handlers() {
  DispatchTable table;
  table[msg::kOpen] = [this](const SessionPtr& s, wire::Frame& f) { router_.on_open(s, f); };
  for (const char* type :
       {msg::kData, msg::kEof, msg::kCredit, msg::kCancel, msg::kWinsize, msg::kResult})
    table[type] = [this](const SessionPtr& s, wire::Frame& f) { router_.on_stream_frame(s, f); };
  return table;
}

PeerSession::Events PeerManager::established_events() {
  return {[this](const SessionPtr& s, wire::Frame& f) { on_frame(s, f); },
          [this](const SessionPtr& s, const std::string& why) { on_closed(s, why); }};
}

LeaderConnector::Hooks PeerManager::connector_hooks() {
  return {[this] { return !stopped_ && state_.is_worker() && state_.config->removed_at == 0; },
          [this] { return state_.config->leader; },
          [this] { return node_tls_context(state_, TlsRole::worker_to_leader); },
          [this] { return hello(); },
          [this](const SessionPtr& s) { on_welcome(s); },
          established_events(),
          [this] { on_removed("the leader refused its certificate as revoked"); }};
}

// ---------------------------------------------------------------------------------------------
// Start, stop, roles

void PeerManager::start() {
  state_.load();
  membership_.load_roster();
  if (state_.is_leader()) {
    try {
      start_listening();
    } catch (const std::exception& e) {
      log_->error("cannot listen as leader on {}: {}", state_.config->listen, e.what());
    }
  } else if (state_.is_worker()) {
    if (state_.config->removed_at != 0) {
      log_->warn(
          "this daemon was removed from the cluster (at {}); it dials no one until it is joined "
          "again with 'd setPeerConfig --role worker … --token TOKEN'",
          iso8601_utc(state_.config->removed_at));
      return;
    }
    start_direct();  // first: the hello to the leader tells whether it listens
    connector_.reset();
    connector_.connect();
    check_roster_for_self();
  }
}

void PeerManager::start_direct() {
  if (!direct_enabled_ || !state_.is_worker()) return;
  direct_.start(state_.config->listen_or_default());
}

nlohmann::json PeerManager::hello() const {
  nlohmann::json hello = {{"t", msg::kHello},
                          {"version", AL_VERSION},
                          {"protocol", wire::kProtocolVersion},
                          {"min_protocol", wire::kOldestProtocolVersion},
                          {"commands", registry_.names()}};
  // Where other workers reach this one directly (the leader fills in an unspecified host).
  // Only while it listens: a worker whose address was taken must not send the others there.
  if (direct_.listening()) hello["listen"] = state_.config->listen_or_default();
  return hello;
}

void PeerManager::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (membership_.leader()) membership_.note_leader_heard();
  direct_.stop();
  connector_.stop();
  membership_.stop_pushing();
  listener_.shutdown();
  drop_all_sessions("daemon shutting down");
}

void PeerManager::drop_all_sessions(const std::string& why) {
  connector_.stop();
  for (auto& s : membership_.sessions()) s->close(why);
  membership_.clear_sessions();
}

void PeerManager::mark_connection_change(bool connected) {
  connected_ = connected;
  since_ = unix_now();
}

void PeerManager::start_listening() {
  stop_listening();
  listener_.start(state_.config->listen, node_tls_context(state_, TlsRole::leader));
  mark_connection_change(true);
  membership_.start_pushing();
}

void PeerManager::stop_listening() {
  listener_.stop();
  membership_.stop_pushing();
}

// ---------------------------------------------------------------------------------------------
// Established sessions

void PeerManager::on_frame(const SessionPtr& session, wire::Frame& frame) {
  const auto& table = session->direct            ? direct_table_
                      : session->is_tls_client() ? worker_table_
                                                 : leader_table_;
  const std::string& type = frame.type();
  if (auto handler = table.find(type); handler != table.end())
    return handler->second(session, frame);
  log_->warn("peer {} sent unknown message type '{}': closing", session->id,
             escape_untrusted(type));
  session->close("unknown message type '" + type + "'");
}

void PeerManager::on_welcome(const SessionPtr& session) {
  log_->info("connected to leader {} at {}", session->id, session->remote());
  membership_.set_leader(session);
  membership_.note_leader_heard();
  connector_.connected();
  mark_connection_change(true);
}

void PeerManager::on_closed(const SessionPtr& session, const std::string& why) {
  router_.on_session_lost(session);
  if (session->direct) {
    if (!membership_.direct_closed(session)) return;
    log_->warn("direct session with {} closed: {}", session->id, escape_untrusted(why));
    return direct_.lost(session->id);
  }
  if (session == membership_.leader()) {
    membership_.note_leader_heard();
    membership_.set_leader(nullptr);
    mark_connection_change(false);
    log_->warn("lost the leader: {}", escape_untrusted(why));
    return connector_.retry();
  }
  if (membership_.worker_closed(session)) {
    log_->warn("peer {} offline: {}", session->id, escape_untrusted(why));
    membership_.push_members();
  }
}

sdk::RequestedStreamPtr PeerManager::open_stream(const std::string& peer, const std::string& type,
                                                 nlohmann::json header, std::string body,
                                                 const sdk::Requester& requester,
                                                 const std::string& request_id,
                                                 LibraryRef library) {
  return router_.open(peer, type, std::move(header), std::move(body), requester, request_id,
                      std::move(library));
}

std::vector<sdk::PeerInfo> PeerManager::peers() const {
  return membership_.peers();
}

// ---------------------------------------------------------------------------------------------
// sdk::PeerNetwork

sdk::LocalPeerStatus PeerManager::local() const {
  sdk::LocalPeerStatus s;
  if (!state_.config) return s;
  s.id = state_.config->id;
  s.role = state_.config->role;
  if (!state_.config->leader.empty()) s.leader = state_.config->leader;
  // A worker's address only while it takes direct sessions there (its port may be taken).
  if (state_.is_leader() || (state_.is_worker() && direct_.listening()))
    s.listen = state_.config->listen_or_default();
  s.connected = connected_;
  if (since_ != 0) s.since = iso8601_utc(since_);
  if (state_.is_worker() && state_.config->removed_at != 0)
    s.notice = "removed from the cluster; join again with a new token";
  return s;
}

void PeerManager::make_leader_ca(const std::string& id, bool keep_ca, bool new_node_cert) {
  if (!keep_ca) {
    auto ca_key = generate_key();
    auto ca_cert = make_ca_certificate(ca_key.get(), "automatelinux cluster " + id);
    state_.write_tls("ca.key", key_to_pem(ca_key.get()), true);
    state_.write_tls("ca.crt", cert_to_pem(ca_cert.get()), false);
    state_.members.clear();
    state_.revoked.clear();
    state_.removed_at.clear();
    state_.tokens.clear();
    membership_.forget_roster();
    state_.save_members();
    state_.save_tokens();
  }
  if (new_node_cert) {
    auto ca_key = key_from_pem(state_.read_tls("ca.key").value());
    auto ca_cert = cert_from_pem(state_.read_tls("ca.crt").value());
    auto key = generate_key();
    auto cert = sign_key(key.get(), id, ca_cert.get(), ca_key.get());
    state_.write_tls("node.key", key_to_pem(key.get()), true);
    state_.write_tls("node.crt", cert_to_pem(cert.get()), false);
  }
}

void PeerManager::become_leader(const std::string& id, const std::string& listen, Done done) {
  if (!valid_peer_id(id)) return done(sdk::Outcome::failure(invalid_id_reason(id)));
  std::string listen_address;
  if (auto why = listen_refusal(listen.empty() ? LocalConfig{}.listen_or_default() : listen,
                                listen_address))
    return done(sdk::Outcome::failure(*why));
  const auto previous = state_.config;
  try {
    // A new leader (or a worker turning leader) makes a fresh cluster CA; the same leader keeps it.
    const bool keep_ca = previous && previous->role == "leader" && state_.read_tls("ca.key");
    make_leader_ca(id, keep_ca, !keep_ca || previous->id != id);
    direct_.stop();
    drop_all_sessions("role changed");
    state_.config = LocalConfig{id, "leader", "", listen_address, unix_now()};
    membership_.clear_cache();
    start_listening();
  } catch (const std::exception& e) {
    state_.config = previous;
    return done(sdk::Outcome::failure(std::string("cannot become leader: ") + e.what()));
  }
  state_.save_config();
  done(sdk::Outcome::success());
}

void PeerManager::become_worker(const std::string& id, const std::string& leader,
                                const std::string& listen, const std::optional<std::string>& token,
                                Done done) {
  if (!valid_peer_id(id)) return done(sdk::Outcome::failure(invalid_id_reason(id)));
  // No --listen: a worker keeps the address it had (stored empty when it is the default).
  std::string listen_address = state_.is_worker() ? state_.config->listen : "";
  if (!listen.empty())
    if (auto why = listen_refusal(listen, listen_address)) return done(sdk::Outcome::failure(*why));
  std::string leader_address;
  try {
    const auto [host, port] = split_host_port(leader);
    leader_address = fmt::format("{}:{}", host, port);
  } catch (const std::exception& e) {
    return done(sdk::Outcome::failure(std::string("--leader: ") + e.what()));
  }
  // A removed worker stays removed through changes without a token: only a new join ends it.
  const std::int64_t removed_at = !token && state_.is_worker() ? state_.config->removed_at : 0;
  auto commit = [this, id, leader_address, listen_address, removed_at, done] {
    connector_.reset();
    stop_listening();
    direct_.stop();
    drop_all_sessions("role changed");
    state_.config = LocalConfig{id, "worker", leader_address, listen_address, unix_now()};
    state_.config->removed_at = removed_at;
    state_.save_config();
    mark_connection_change(false);
    if (removed_at == 0) {
      start_direct();  // first: the hello to the leader tells whether it listens
      connector_.reset();
      connector_.connect();
    }
    done(sdk::Outcome::success());
  };
  if (!token) {
    const auto cert_pem = state_.read_tls("node.crt");
    if (!cert_pem || !state_.is_worker() || common_name(cert_from_pem(*cert_pem).get()) != id)
      return done(sdk::Outcome::failure("this daemon is not enrolled as '" + id +
                                        "': the first join needs --token"));
    return commit();
  }
  const auto parsed = parse_token(*token);
  if (!parsed) return done(sdk::Outcome::failure("bad token: not a join token from 'd joinToken'"));
  enroll_with_leader(io_, log_, state_, id, leader_address, *parsed,
                     [this, commit, done](const std::string& error) {
                       if (!error.empty()) return done(sdk::Outcome::failure(error));
                       membership_.forget_roster();  // a new enrollment: the old roster is void
                       commit();
                     });
}

sdk::NewJoinToken PeerManager::create_join_token(std::chrono::seconds ttl,
                                                 std::optional<std::uint32_t> uses) {
  return peer::create_join_token(state_, *log_, ttl, uses);
}

std::vector<sdk::JoinTokenInfo> PeerManager::join_tokens() const {
  return list_join_tokens(state_);
}

void PeerManager::revoke_token(const std::string& id) {
  peer::revoke_token(state_, *log_, id);
}

}  // namespace automatelinux::core::peer
