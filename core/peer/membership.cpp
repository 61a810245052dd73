#include "core/peer/membership.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/peer/peer_fields.hpp"
#include "wire/frame.hpp"
#include "wire/messages.hpp"

namespace automatelinux::core::peer {
namespace {

// A string member of a JSON object, or "" when absent or of another type.
std::string text(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

// The leader first, then the workers by id: the order of the leader's own list.
void sort_cache(nlohmann::json& cached) {
  std::stable_sort(cached.begin(), cached.end(), [](const auto& a, const auto& b) {
    const bool a_leader = text(a, "role") == "leader", b_leader = text(b, "role") == "leader";
    if (a_leader != b_leader) return a_leader;
    return text(a, "id") < text(b, "id");
  });
}

// Whether a worker must be told `now` in place of `told`: anything but the round-trip time and
// an online member's last seen, or a round-trip time that moved by more than a quarter (and
// more than a millisecond).
bool worth_telling(const nlohmann::json& told, const nlohmann::json& now) {
  auto stable = [](nlohmann::json e) {
    e.erase("rtt_ms");
    if (text(e, "status") == "online") e.erase("last_seen");
    return e;
  };
  if (stable(told) != stable(now)) return true;
  const auto rtt = [](const nlohmann::json& e) {
    auto it = e.find("rtt_ms");
    return it != e.end() && it->is_number() ? it->get<double>() : -1.0;
  };
  const double a = rtt(told), b = rtt(now);
  if ((a < 0) != (b < 0)) return true;
  return std::abs(a - b) > std::max(1.0, 0.25 * a);
}

}  // namespace

Membership::Membership(asio::io_context& io, std::shared_ptr<spdlog::logger> log,
                       const ClusterState& state, const CommandRegistry& registry,
                       std::chrono::milliseconds heartbeat)
    : log_(std::move(log)),
      state_(state),
      registry_(registry),
      heartbeat_(heartbeat),
      push_timer_(io),
      roster_(state) {}

SessionPtr Membership::worker(const std::string& id) const {
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : it->second;
}

void Membership::add_worker(const SessionPtr& session) {
  workers_[session->id] = session;
  last_address_[session->id] = session->remote().substr(0, session->remote().rfind(':'));
}

SessionPtr Membership::take_worker(const std::string& id) {
  auto node = workers_.extract(id);
  if (!node.empty()) synced_.erase(node.mapped().get());
  return node.empty() ? nullptr : node.mapped();
}

bool Membership::worker_closed(const SessionPtr& session) {
  synced_.erase(session.get());
  auto it = workers_.find(session->id);
  if (it == workers_.end() || it->second != session) return false;
  workers_.erase(it);
  last_seen_[session->id] = session->last_seen;
  return true;
}

void Membership::forget(const std::string& id) {
  last_seen_.erase(id);
  last_address_.erase(id);
  advertised_.erase(id);
}

std::vector<SessionPtr> Membership::sessions() const {
  std::vector<SessionPtr> sessions;
  for (auto& [id, s] : workers_) sessions.push_back(s);
  for (auto& [id, s] : directs_) sessions.push_back(s);
  if (leader_) sessions.push_back(leader_);
  return sessions;
}

SessionPtr Membership::direct(const std::string& id) const {
  auto it = directs_.find(id);
  return it == directs_.end() ? nullptr : it->second;
}

SessionPtr Membership::add_direct(const SessionPtr& session) {
  auto [it, added] = directs_.try_emplace(session->id, session);
  if (added || it->second == session) return nullptr;
  // The same member dialed again (its end of the old one is gone): the new one replaces it.
  // Each end dialed the other at once: both keep the session the lower id dialed.
  const auto& self = state_.self_id();
  auto dialer = [&](const SessionPtr& s) { return s->is_tls_client() ? self : s->id; };
  const bool same_dialer = dialer(it->second) == dialer(session);
  if (!same_dialer && dialer(it->second) == std::min(self, session->id)) return session;
  return std::exchange(it->second, session);
}

bool Membership::direct_closed(const SessionPtr& session) {
  auto it = directs_.find(session->id);
  if (it == directs_.end() || it->second != session) return false;
  directs_.erase(it);
  return true;
}

void Membership::on_direct_hello(const SessionPtr& session, const wire::Frame& frame) {
  take_hello(session, frame);
}

bool Membership::take_hello(const SessionPtr& session, const wire::Frame& frame) {
  if (!session->version.empty()) throw wire::FrameError("hello sent twice");
  // Checked, not just cut: this goes into every member list and onto other members' screens.
  const std::string version = wire::string_field(frame.header, "version", "");
  if (!valid_version(version)) throw wire::FrameError("hello: invalid version");
  if (auto why = protocol_mismatch(frame.header); !why.empty()) {
    log_->error("peer {} refused: {}", session->id, why);
    session->send({{"t", wire::msg::kRefused}, {"reason", why}});
    session->close_after_flush(why);
    return false;
  }
  session->version = version;
  session->protocol = wire::int_field(frame.header, "protocol", 1);
  session->commands = checked_command_names(frame.header);  // names of another shape: left out
  return true;
}

std::int64_t Membership::leader_heard_at() const {
  if (leader_) return unix_now();
  if (!leader_heard_at_) {  // read once: trust() asks on every direct connection and refresh
    leader_heard_at_ = 0;
    try {
      if (const auto text = read_file(state_.dir() / "leader_heard"))
        leader_heard_at_ = std::stoll(*text);
    } catch (const std::exception&) {
    }
  }
  return *leader_heard_at_;
}

void Membership::note_leader_heard() {
  leader_heard_at_ = unix_now();
  try {
    write_file_atomic(state_.dir() / "leader_heard", std::to_string(*leader_heard_at_) + "\n",
                      0640);
  } catch (const std::exception& e) {
    log_->warn("cannot record when the leader was last heard: {}", e.what());
  }
}

SessionPtr Membership::route_to(const std::string& peer, std::string& reason) const {
  reason.clear();
  if (state_.is_leader()) {
    if (auto s = worker(peer)) return s;
    reason = (state_.members.contains(peer) ? "Peer is offline: " : "Peer not found: ") + peer;
    return nullptr;
  }
  if (auto s = direct(peer)) return s;
  bool known = false, online = false;
  for (const auto& p : cached_) {
    if (text(p, "id") == peer) {
      known = true;
      online = text(p, "status") == "online";
    }
  }
  if (!known && roster_.roster()) known = roster_.roster()->find(peer) != nullptr;
  if (!known)
    reason = "Peer not found: " + peer;
  else if (!leader_)
    reason =
        "Failed to send command to peer: not connected to the leader, and no direct "
        "session to " +
        peer;
  else if (!online)
    reason = "Peer is offline: " + peer;
  return reason.empty() ? leader_ : nullptr;
}

std::string protocol_mismatch(const nlohmann::json& hello) {
  const auto theirs = wire::int_field(hello, "protocol", 1);
  const auto oldest = wire::int_field(hello, "min_protocol", theirs);
  if (oldest <= wire::kProtocolVersion && wire::kOldestProtocolVersion <= theirs) return {};
  return fmt::format(
      "peer protocol version {} (understands {} to {}) cannot talk to this leader's version {} "
      "(understands {} to {}): upgrade the older one",
      theirs, oldest, theirs, wire::kProtocolVersion, wire::kOldestProtocolVersion,
      wire::kProtocolVersion);
}

std::string direct_address(const nlohmann::json& hello, const std::string& remote) {
  const std::string listen = text(hello, "listen");
  if (listen.empty() || listen.size() > 64) return {};
  try {
    auto [host, port] = split_host_port(listen);
    boost::system::error_code told_ec, seen_ec;
    const auto told = asio::ip::make_address_v4(host, told_ec);
    const auto seen = asio::ip::make_address_v4(remote.substr(0, remote.rfind(':')), seen_ec);
    // Only the address it connects from: a member cannot have the others dial somewhere else.
    if (told_ec || seen_ec || (!told.is_unspecified() && told != seen)) return {};
    return fmt::format("{}:{}", seen.to_string(), port);
  } catch (const std::exception&) {
    return {};
  }
}

void Membership::on_hello(const SessionPtr& session, const wire::Frame& frame) {
  if (!take_hello(session, frame)) return;
  advertised_[session->id] = direct_address(frame.header, session->remote());
  // The roster first (a new version goes to every protocol-4 worker, this one included), then
  // the member list: this push gives the worker the whole list; from then on a protocol-3
  // worker takes deltas.
  if (!publish_roster() && session->protocol >= wire::kRosterProtocol) send_roster(session);
  push_list();
  if (session->protocol >= wire::kMembersDeltaProtocol && workers_.contains(session->id))
    synced_.insert(session.get());
}

void Membership::on_members(const SessionPtr&, const wire::Frame& frame) {
  auto peers = frame.header.find("peers");
  if (peers == frame.header.end() || !peers->is_array())
    throw wire::FrameError("'peers' must be a list");
  cached_ = nlohmann::json::array();
  for (const auto& p : *peers)
    if (auto entry = checked_member_entry(p)) cached_.push_back(std::move(*entry));
  sort_cache(cached_);
}

void Membership::on_members_delta(const SessionPtr&, const wire::Frame& frame) {
  const auto set = frame.header.find("set");
  const auto gone = frame.header.find("gone");
  if (set == frame.header.end() || !set->is_array() || gone == frame.header.end() ||
      !gone->is_array())
    throw wire::FrameError("members_delta: 'set' and 'gone' must be lists");
  // (The id is read before the entry is moved: json's assignment takes its operand by value.)
  std::map<std::string, nlohmann::json> by_id;
  for (auto& entry : cached_) {
    const std::string id = text(entry, "id");
    by_id[id] = std::move(entry);
  }
  for (const auto& p : *set) {
    auto entry = checked_member_entry(p);
    if (!entry) continue;
    const std::string id = text(*entry, "id");
    by_id[id] = std::move(*entry);
  }
  for (const auto& id : *gone)
    if (id.is_string()) by_id.erase(id.get<std::string>());
  cached_ = nlohmann::json::array();
  for (auto& [id, entry] : by_id) cached_.push_back(std::move(entry));
  sort_cache(cached_);
}

void Membership::on_roster(const SessionPtr& session, const wire::Frame& frame) {
  auto signed_roster = nlohmann::json::parse(frame.body, nullptr, false);
  if (auto why = roster_.accept(signed_roster); !why.empty())
    return log_->warn("roster from the leader {} not taken: {}", session->id, why);
  if (roster_changed_) roster_changed_();
}

void Membership::load_roster() {
  if (auto why = roster_.load(); !why.empty()) log_->warn("{}", why);
}

bool Membership::publish_roster() {
  if (!state_.is_leader()) return false;
  try {
    if (!roster_.reissue(advertised_)) return false;
  } catch (const std::exception& e) {
    log_->error("cannot issue the roster: {}", e.what());
    return false;
  }
  log_->info("roster version {} issued ({} members, {} revoked)", roster_.roster()->version,
             roster_.roster()->members.size(), roster_.roster()->revoked.size());
  // Serialized once, copied to each session (a serialization per session cost N times as much).
  const std::string frame = roster_frame();
  const auto sessions = workers_;  // a send may close a session, which edits workers_
  for (const auto& [id, session] : sessions)
    if (session->protocol >= wire::kRosterProtocol) session->send_encoded(frame);
  return true;
}

std::string Membership::roster_frame() const {
  if (roster_.signed_roster().is_null()) return {};
  return wire::encode({{"t", wire::msg::kRoster}}, roster_.signed_roster().dump());
}

void Membership::send_roster(const SessionPtr& session) const {
  if (auto frame = roster_frame(); !frame.empty()) session->send_encoded(std::move(frame));
}

nlohmann::json Membership::publish(const nlohmann::json& members) {
  auto set = nlohmann::json::array(), gone = nlohmann::json::array();
  std::set<std::string> present;
  for (const auto& entry : members) {
    const std::string id = text(entry, "id");
    present.insert(id);
    auto told = published_.find(id);
    if (told != published_.end() && !worth_telling(told->second, entry)) continue;
    published_[id] = entry;
    set.push_back(entry);
  }
  for (auto it = published_.begin(); it != published_.end();) {
    if (present.contains(it->first)) {
      ++it;
      continue;
    }
    gone.push_back(it->first);
    it = published_.erase(it);
  }
  if (set.empty() && gone.empty()) return nullptr;
  return {{"t", wire::msg::kMembersDelta}, {"set", std::move(set)}, {"gone", std::move(gone)}};
}

void Membership::push_members() {
  if (!state_.is_leader()) return;
  publish_roster();
  push_list();
}

void Membership::push_list() {
  if (!state_.is_leader()) return;
  try {
    const auto members = members_json();
    const auto delta = publish(members);
    // Each list is serialized once, the first time a session needs it: a serialization per
    // session was the idle leader's main cost at 200 members (every heartbeat's delta, 200 times).
    std::string delta_frame, full_frame;
    // A copy: a send may close a session (write queue full), and closing edits workers_.
    const auto sessions = workers_;
    for (auto& [id, session] : sessions) {
      if (!synced_.contains(session.get())) {  // older protocol, or no hello yet
        if (full_frame.empty())
          full_frame = wire::encode({{"t", wire::msg::kMembers}, {"peers", members}});
        session->send_encoded(full_frame);
      } else if (!delta.is_null()) {
        if (delta_frame.empty()) delta_frame = wire::encode(delta);
        session->send_encoded(delta_frame);
      }
    }
  } catch (const std::exception& e) {
    log_->error("cannot push the member list: {}", e.what());
  }
  // Periodic push too, so round-trip times and last-seen stay fresh everywhere.
  start_pushing();
}

void Membership::start_pushing() {
  push_timer_.expires_after(heartbeat_);
  push_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) push_list();  // the roster changes only with events, never with time
  });
}

}  // namespace automatelinux::core::peer
