// Who is in the cluster: the authenticated sessions (workers on the leader, the leader on a
// worker), what each member said in its hello, last seen and round-trip times, and the member
// list the leader pushes and a worker caches and shows.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "automatelinux/sdk/host.hpp"
#include "core/asio.hpp"
#include "core/command_registry.hpp"
#include "core/peer/cluster_state.hpp"
#include "core/peer/peer_session.hpp"
#include "core/peer/roster_book.hpp"

namespace automatelinux::core::peer {

using SessionPtr = std::shared_ptr<PeerSession>;

// Empty when a member's hello speaks a protocol this daemon understands (wire::kProtocolVersion),
// else the one-line reason naming both versions.
std::string protocol_mismatch(const nlohmann::json& hello);

// The address a member takes direct sessions on, from its hello's "listen" (HOST:PORT, an IPv4
// address) and the address its connection came from (`remote`, HOST:PORT): an unspecified host
// (0.0.0.0) is that address, and any other host must be it, so no member can have the others
// dial somewhere else. Empty when it told none, another address, or something of another shape.
std::string direct_address(const nlohmann::json& hello, const std::string& remote);

class Membership {
 public:
  Membership(asio::io_context& io, std::shared_ptr<spdlog::logger> log, const ClusterState& state,
             const CommandRegistry& registry, std::chrono::milliseconds heartbeat);

  // Worker: the session to the leader once it welcomed us (null otherwise).
  const SessionPtr& leader() const { return leader_; }
  void set_leader(SessionPtr session) { leader_ = std::move(session); }

  // Leader: the authenticated session of worker `id`, or null.
  SessionPtr worker(const std::string& id) const;
  // Records an admitted worker (its id already set) and the address it came from.
  void add_worker(const SessionPtr& session);
  // Removes worker `id`'s session from the table and returns it (null when offline).
  SessionPtr take_worker(const std::string& id);
  // A session closed: true when it was worker's current one (then it goes offline).
  bool worker_closed(const SessionPtr& session);
  // removePeer: forget what was remembered about `id`.
  void forget(const std::string& id);
  // Every session, for closing them all (then clear_sessions).
  std::vector<SessionPtr> sessions() const;
  void clear_sessions() {
    workers_.clear();
    synced_.clear();
    directs_.clear();
    leader_.reset();
  }

  // Worker: direct sessions to other workers (core/peer/direct_paths.hpp), by peer id.
  SessionPtr direct(const std::string& id) const;
  const std::map<std::string, SessionPtr>& directs() const { return directs_; }
  // Records an authenticated direct session. When there is one already: a new one from the same
  // dialer replaces it; of two dialed by each end, the one the lower id dialed is kept (both
  // ends decide alike). Returns the one to retire, or null.
  SessionPtr add_direct(const SessionPtr& session);
  // A direct session closed: true when it was the current one to its peer.
  bool direct_closed(const SessionPtr& session);
  // A direct session's hello: the dialer's version, protocol and commands.
  void on_direct_hello(const SessionPtr& session, const wire::Frame& frame);

  // Worker: when the leader was last heard from (unix seconds; 0 when never), kept in the state
  // dir so that it survives a restart; note_leader_heard() records now.
  std::int64_t leader_heard_at() const;
  void note_leader_heard();

  // The session that carries a stream to `peer`, or null with `reason` set.
  SessionPtr route_to(const std::string& peer, std::string& reason) const;

  void on_hello(const SessionPtr& session, const wire::Frame& frame);
  void on_members(const SessionPtr& session, const wire::Frame& frame);
  void on_members_delta(const SessionPtr& session, const wire::Frame& frame);
  // Worker: the signed roster from the leader (protocol 4).
  void on_roster(const SessionPtr& session, const wire::Frame& frame);

  // The roster this member holds: load_roster() reads roster.json at start (a bad one is
  // dropped with a warning), forget_roster() drops it for a new role or cluster.
  void load_roster();
  void forget_roster() { roster_.forget(); }
  const std::optional<Roster>& roster() const { return roster_.roster(); }
  // Runs after a worker took a new roster version (direct sessions are checked against it).
  void on_roster_changed(std::function<void()> hook) { roster_changed_ = std::move(hook); }
  void clear_cache() { cached_ = nlohmann::json::array(); }

  std::vector<sdk::PeerInfo> peers() const;
  nlohmann::json members_json() const;
  // Leader, after an event (a join, a hello, a member going offline, a removal): a new roster
  // version if the roster changed, then push_list.
  void push_members();
  // Leader: the first periodic push, one interval from now.
  void start_pushing();
  void stop_pushing() { push_timer_.cancel(); }

 private:
  // A hello's version, protocol and commands onto `session`; false (and the session refused)
  // when the two cannot talk. Throws wire::FrameError for a second or malformed hello.
  bool take_hello(const SessionPtr& session, const wire::Frame& frame);
  sdk::PeerInfo self_info() const;
  std::vector<sdk::PeerInfo> leader_view() const;
  std::vector<sdk::PeerInfo> worker_view() const;
  sdk::PeerInfo cached_entry(const nlohmann::json& j) const;
  // Leader: brings published_ up to date with the member list; returns the delta frame, or
  // null when nothing changed enough to be told.
  nlohmann::json publish(const nlohmann::json& members);
  // Leader: a new roster version when anything in it changed, sent to every worker that speaks
  // protocol 4. True when one was issued.
  bool publish_roster();
  void send_roster(const SessionPtr& session) const;
  std::string roster_frame() const;  // the signed roster as a frame ("" before the first)
  // Leader: tells every worker what changed in the member list (protocol 3: a delta of the
  // entries that changed, when any did; older workers: the whole list), now and again every
  // heartbeat interval (round-trip times and last seen change with time).
  void push_list();

  std::shared_ptr<spdlog::logger> log_;
  const ClusterState& state_;
  const CommandRegistry& registry_;
  std::chrono::milliseconds heartbeat_;
  asio::steady_timer push_timer_;
  SessionPtr leader_;
  std::map<std::string, SessionPtr> workers_;
  std::map<std::string, std::int64_t> last_seen_;
  std::map<std::string, std::string> last_address_;
  // Leader: the direct-session address each member told in its hello (HOST:PORT).
  std::map<std::string, std::string> advertised_;
  std::map<std::string, SessionPtr> directs_;
  mutable std::optional<std::int64_t> leader_heard_at_;  // read from the state dir once
  std::function<void()> roster_changed_;
  nlohmann::json cached_ = nlohmann::json::array();
  // Leader: the member list as the workers that take deltas hold it (entries by id), and those
  // workers. Round-trip times are told again only when they change by more than a quarter (and
  // a millisecond), last seen only when a member goes offline: an idle cluster sends nothing.
  std::map<std::string, nlohmann::json> published_;
  std::set<const PeerSession*> synced_;
  RosterBook roster_;
};

}  // namespace automatelinux::core::peer
