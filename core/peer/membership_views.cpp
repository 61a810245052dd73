// How members are shown (listPeers): the leader's own view, and a worker's view built from the
// leader's list, its direct sessions and the roster it holds.
#include <fmt/format.h>

#include "automatelinux/sdk/peer_json.hpp"
#include "core/peer/membership.hpp"

namespace automatelinux::core::peer {
namespace {

// A string member of a JSON object, or "" when absent or of another type.
std::string text(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

}  // namespace

sdk::PeerInfo Membership::self_info() const {
  sdk::PeerInfo self;
  self.id = state_.self_id();
  self.role = state_.config ? state_.config->role : "";
  self.online = true;
  self.path = "local";
  self.address = state_.is_leader() ? state_.config->listen : "";
  self.last_seen = iso8601_utc(unix_now());
  self.version = AL_VERSION;
  self.commands = registry_.names();
  return self;
}

nlohmann::json Membership::members_json() const {
  auto out = nlohmann::json::array();
  for (const auto& p : peers()) out.push_back(sdk::peer_json(p));
  return out;
}

std::vector<sdk::PeerInfo> Membership::peers() const {
  if (!state_.config) return {};
  return state_.is_leader() ? leader_view() : worker_view();
}

std::vector<sdk::PeerInfo> Membership::leader_view() const {
  std::vector<sdk::PeerInfo> out{self_info()};
  for (const auto& [id, member] : state_.members) {
    sdk::PeerInfo p;
    p.id = id;
    p.role = "worker";
    if (auto s = worker(id)) {
      p.online = true;
      p.last_seen = iso8601_utc(s->last_seen);
      p.rtt_ms = s->rtt_ms;
      p.version = s->version;
      p.commands = s->commands;
      p.path = "direct";
    } else if (auto seen = last_seen_.find(id); seen != last_seen_.end()) {
      p.last_seen = iso8601_utc(seen->second);
    }
    if (auto a = last_address_.find(id); a != last_address_.end()) p.address = a->second;
    if (p.path.empty()) p.path = "unreachable";
    out.push_back(std::move(p));
  }
  return out;
}

// Worker: the leader's view, then what this member sees itself: its direct sessions, and members
// known only from the roster (cut off from the leader since a restart).
std::vector<sdk::PeerInfo> Membership::worker_view() const {
  std::vector<sdk::PeerInfo> out;
  bool self_listed = false;
  for (const auto& j : cached_) {
    sdk::PeerInfo p = cached_entry(j);
    if (p.id == state_.self_id()) {
      self_listed = true;
      p.online = true;
      p.path = "local";
      p.last_seen = iso8601_utc(unix_now());
      if (leader_) p.rtt_ms = leader_->rtt_ms;
    } else if (p.role == "leader" && leader_) {
      p.path = "direct";
      p.rtt_ms = leader_->rtt_ms;
      p.last_seen = iso8601_utc(leader_->last_seen);
    } else if (p.online) {
      // Online in the leader's list: seen by the leader as recently as we heard from it (the
      // leader tells only changes, not every heartbeat's last seen).
      p.path = "relayed";
      p.last_seen = iso8601_utc(leader_->last_seen);
    }
    out.push_back(std::move(p));
  }
  if (!self_listed) out.push_back(self_info());
  if (const auto& roster = roster_.roster()) {
    std::set<std::string> listed;
    for (const auto& p : out) listed.insert(p.id);
    for (const auto& m : roster->members) {
      if (listed.contains(m.id)) continue;
      sdk::PeerInfo p;
      p.id = m.id;
      p.role = m.id == roster->leader ? "leader" : "worker";
      p.address = m.address.substr(0, m.address.rfind(':'));
      out.push_back(std::move(p));
    }
  }
  for (auto& p : out) {
    if (auto s = direct(p.id)) {
      p.online = true;
      p.path = "direct";
      p.rtt_ms = s->rtt_ms;
      p.last_seen = iso8601_utc(s->last_seen);
      if (!s->version.empty()) p.version = s->version;
      if (!s->commands.empty()) p.commands = s->commands;
    } else if (p.path.empty() || (p.path == "relayed" && !leader_)) {
      p.online = false;
      p.path = "unreachable";
    }
  }
  return out;
}

sdk::PeerInfo Membership::cached_entry(const nlohmann::json& j) const {
  sdk::PeerInfo p;
  p.id = text(j, "id");
  p.role = text(j, "role");
  p.online = leader_ && text(j, "status") == "online";
  p.address = text(j, "address");
  if (j.contains("last_seen") && j["last_seen"].is_string())
    p.last_seen = j["last_seen"].get<std::string>();
  if (j.contains("rtt_ms") && j["rtt_ms"].is_number()) p.rtt_ms = j["rtt_ms"].get<double>();
  p.version = text(j, "version");
  if (auto c = j.find("commands"); c != j.end() && c->is_array())
    for (const auto& name : *c)
      if (name.is_string()) p.commands.push_back(name.get<std::string>());
  return p;
}

}  // namespace automatelinux::core::peer
