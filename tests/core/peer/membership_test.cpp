// Membership: what a hello may put into the peer table, and the member list a worker caches.
#include "core/peer/membership.hpp"

#include <map>
#include <vector>

#include <gtest/gtest.h>

#include "tests/core/peer/session_pair.hpp"
#include "wire/messages.hpp"

using namespace automatelinux::core;
using namespace automatelinux::core::peer;
using namespace automatelinux::core::peer::test;
namespace msg = automatelinux::wire::msg;
namespace asio = boost::asio;
namespace wire = automatelinux::wire;

namespace {

struct Node {
  asio::io_context io;
  TlsContexts contexts;
  ClusterState state{"/nonexistent-al-membership-test"};
  CommandRegistry registry;
  Membership membership;
  explicit Node(const std::string& id, const std::string& role)
      : membership(io, null_logger(), state, registry, std::chrono::seconds(60)) {
    state.config = LocalConfig{id, role, "", "127.0.0.1:3600", 0};
  }
};

const automatelinux::sdk::PeerInfo* find(const std::vector<automatelinux::sdk::PeerInfo>& peers,
                                         const std::string& id) {
  for (const auto& p : peers)
    if (p.id == id) return &p;
  return nullptr;
}

TEST(Membership, AValidHelloFillsThePeerTableWithCheckedFieldsOnly) {
  Node leader("leader", "leader");
  SessionPair pair(leader.io, leader.contexts);
  leader.state.members["a"] = Member{"fp", 0, ""};
  pair.server->id = "a";
  leader.membership.add_worker(pair.server);
  wire::Frame hello{{{"t", msg::kHello},
                     {"version", "1.2.3"},
                     {"commands", {"execOnPeer", "\x1b[31mfake", 7, "gitOnPeer"}}},
                    ""};
  leader.membership.on_hello(pair.server, hello);
  const auto peers = leader.membership.peers();
  const auto* a = find(peers, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->online);
  EXPECT_EQ(a->version, "1.2.3");
  EXPECT_EQ(a->commands, (std::vector<std::string>{"execOnPeer", "gitOnPeer"}));
  EXPECT_EQ(a->address, "127.0.0.1");
  ASSERT_NE(find(peers, "leader"), nullptr);
  // Once only.
  EXPECT_THROW(leader.membership.on_hello(pair.server, hello), wire::FrameError);
}

TEST(Membership, AHelloWithABadVersionIsRefusedAndLeavesTheTableAlone) {
  Node leader("leader", "leader");
  SessionPair pair(leader.io, leader.contexts);
  leader.state.members["a"] = Member{"fp", 0, ""};
  pair.server->id = "a";
  leader.membership.add_worker(pair.server);
  wire::Frame hello{{{"t", msg::kHello}, {"version", "1.0\n| fake | row"}}, ""};
  EXPECT_THROW(leader.membership.on_hello(pair.server, hello), wire::FrameError);
  EXPECT_EQ(find(leader.membership.peers(), "a")->version, "");
}

TEST(Membership, AWorkerCachesTheLeadersListAndShowsItOnlineOnlyWhileConnected) {
  Node worker("w", "worker");
  SessionPair pair(worker.io, worker.contexts);
  wire::Frame members{{{"t", msg::kMembers},
                       {"peers",
                        {{{"id", "leader"}, {"role", "leader"}, {"status", "online"}},
                         {{"id", "x"}, {"role", "worker"}, {"status", "online"}},
                         {{"id", "bad id!"}, {"role", "worker"}, {"status", "online"}}}}},
                      ""};
  worker.membership.on_members(pair.client, members);
  auto peers = worker.membership.peers();
  EXPECT_EQ(peers.size(), 3u);  // leader, x and ourselves; never the malformed entry
  EXPECT_FALSE(find(peers, "x")->online);
  EXPECT_TRUE(find(peers, "w")->online);
  std::string reason;
  EXPECT_EQ(worker.membership.route_to("x", reason), nullptr);
  EXPECT_EQ(reason,
            "Failed to send command to peer: not connected to the leader, and no direct "
            "session to x");

  worker.membership.set_leader(pair.client);
  peers = worker.membership.peers();
  EXPECT_TRUE(find(peers, "x")->online);
  reason.clear();
  EXPECT_EQ(worker.membership.route_to("x", reason), pair.client);
  EXPECT_EQ(worker.membership.route_to("nobody", reason), nullptr);
  EXPECT_EQ(reason, "Peer not found: nobody");
}

TEST(Membership, AMembersFrameWithoutAListIsAProtocolError) {
  Node worker("w", "worker");
  SessionPair pair(worker.io, worker.contexts);
  wire::Frame members{{{"t", msg::kMembers}, {"peers", "everyone"}}, ""};
  EXPECT_THROW(worker.membership.on_members(pair.client, members), wire::FrameError);
}

}  // namespace

namespace {

wire::Frame hello_frame(int protocol) {
  return {{{"t", msg::kHello}, {"version", "1.0"}, {"protocol", protocol}, {"min_protocol", 1}},
          ""};
}

// The frames of each type a worker's end of a session received.
std::map<std::string, std::vector<wire::Frame>> by_type(const Received& r) {
  std::map<std::string, std::vector<wire::Frame>> out;
  for (const auto& f : r.frames) out[f.header.value("t", "")].push_back(f);
  return out;
}

}  // namespace

// Protocol 3: the whole list once, then only what changed; an idle cluster sends nothing. An
// older worker still gets the whole list on every push.
TEST(Membership, ProtocolThreeWorkersGetTheListOnceThenOnlyWhatChanged) {
  Node leader("leader", "leader");
  SessionPair new_pair(leader.io, leader.contexts), old_pair(leader.io, leader.contexts);
  Received at_new, at_old;
  new_pair.client->start(at_new.events());
  old_pair.client->start(at_old.events());
  for (auto& [id, pair] : {std::pair{"a", &new_pair}, std::pair{"b", &old_pair}}) {
    leader.state.members[id] = Member{"fp", 0, ""};
    pair->server->id = id;
    pair->server->start({[](const SessionPtr&, wire::Frame&) {}, [](const SessionPtr&, auto&) {}});
    leader.membership.add_worker(pair->server);
  }
  leader.membership.on_hello(new_pair.server, hello_frame(3));
  leader.membership.on_hello(old_pair.server, hello_frame(2));
  leader.io.run_for(std::chrono::milliseconds(100));
  // a: the whole list at its hello, then b's hello as a delta with b's entry only.
  ASSERT_EQ(by_type(at_new)[msg::kMembers].size(), 1u);
  EXPECT_EQ(by_type(at_new)[msg::kMembers][0].header["peers"].size(), 3u);
  ASSERT_EQ(by_type(at_new)[msg::kMembersDelta].size(), 1u);
  const auto b_hello = by_type(at_new)[msg::kMembersDelta][0].header;
  ASSERT_EQ(b_hello["set"].size(), 1u);
  EXPECT_EQ(b_hello["set"][0]["id"], "b");
  EXPECT_EQ(b_hello["set"][0]["version"], "1.0");

  // Nothing changed: the new worker hears nothing, the old one the whole list again.
  at_new.frames.clear();
  at_old.frames.clear();
  leader.membership.push_members();
  leader.membership.push_members();
  leader.io.run_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(at_new.frames.empty());
  EXPECT_EQ(by_type(at_old)[msg::kMembers].size(), 2u);

  // A member joins (offline so far), then is removed: one delta each, with just that entry.
  leader.state.members["c"] = Member{"fp", 0, ""};
  leader.membership.push_members();
  leader.state.members.erase("c");
  leader.membership.push_members();
  leader.io.run_for(std::chrono::milliseconds(100));
  const auto deltas = by_type(at_new)[msg::kMembersDelta];
  ASSERT_EQ(deltas.size(), 2u);
  ASSERT_EQ(deltas[0].header["set"].size(), 1u);
  EXPECT_EQ(deltas[0].header["set"][0]["id"], "c");
  EXPECT_EQ(deltas[0].header["set"][0]["status"], "offline");
  EXPECT_TRUE(deltas[0].header["gone"].empty());
  EXPECT_TRUE(deltas[1].header["set"].empty());
  EXPECT_EQ(deltas[1].header["gone"], nlohmann::json::array({"c"}));

  // b goes offline: a hears that b's entry changed.
  at_new.frames.clear();
  ASSERT_TRUE(leader.membership.worker_closed(old_pair.server));
  leader.membership.push_members();
  leader.io.run_for(std::chrono::milliseconds(100));
  const auto offline = by_type(at_new)[msg::kMembersDelta];
  ASSERT_EQ(offline.size(), 1u);
  ASSERT_EQ(offline[0].header["set"].size(), 1u);
  EXPECT_EQ(offline[0].header["set"][0]["id"], "b");
  EXPECT_EQ(offline[0].header["set"][0]["status"], "offline");
}

// A worker applies deltas to the list it holds: entries replaced or added, ids gone removed,
// malformed entries ignored, and the leader's order kept (the leader first, then by id).
TEST(Membership, AWorkerAppliesDeltasToItsList) {
  Node worker("w", "worker");
  SessionPair pair(worker.io, worker.contexts);
  Received received;
  pair.client->start(received.events());  // sets its last seen
  worker.membership.set_leader(pair.client);
  wire::Frame members{{{"t", msg::kMembers},
                       {"peers",
                        {{{"id", "leader"}, {"role", "leader"}, {"status", "online"}},
                         {{"id", "m"}, {"role", "worker"}, {"status", "online"}},
                         {{"id", "x"}, {"role", "worker"}, {"status", "online"}}}}},
                      ""};
  worker.membership.on_members(pair.client, members);
  wire::Frame delta{{{"t", msg::kMembersDelta},
                     {"set",
                      {{{"id", "x"}, {"role", "worker"}, {"status", "offline"}},
                       {{"id", "b"}, {"role", "worker"}, {"status", "online"}},
                       {{"id", "bad id!"}, {"role", "worker"}, {"status", "online"}}}},
                     {"gone", {"m"}}},
                    ""};
  worker.membership.on_members_delta(pair.client, delta);
  const auto peers = worker.membership.peers();
  std::vector<std::string> ids;
  for (const auto& p : peers) ids.push_back(p.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"leader", "b", "x", "w"}));
  EXPECT_FALSE(find(peers, "x")->online);
  EXPECT_TRUE(find(peers, "b")->online);
  // Vouched for by the leader as recently as we heard from it.
  EXPECT_EQ(find(peers, "b")->last_seen, iso8601_utc(pair.client->last_seen));
  wire::Frame broken{{{"t", msg::kMembersDelta}, {"set", "x"}}, ""};
  EXPECT_THROW(worker.membership.on_members_delta(pair.client, broken), wire::FrameError);
}

// Both workers dialed each other at once: each end keeps the session the lower id dialed, so both
// keep the same one whichever arrived first.
TEST(Membership, OfTwoDirectSessionsToOnePeerTheOneTheLowerIdDialedIsKept) {
  for (const bool dialed_first : {true, false}) {
    Node laptop("laptop", "worker");  // "laptop" < "vps"
    // laptop's view: a.client is the session it dialed, b.server the one vps dialed.
    SessionPair a(laptop.io, laptop.contexts), b(laptop.io, laptop.contexts);
    const auto mine = a.client, theirs = b.server;
    mine->id = theirs->id = "vps";
    const auto first = dialed_first ? mine : theirs, second = dialed_first ? theirs : mine;
    EXPECT_EQ(laptop.membership.add_direct(first), nullptr);
    EXPECT_EQ(laptop.membership.add_direct(second), theirs) << "dialed_first " << dialed_first;
    EXPECT_EQ(laptop.membership.direct("vps"), mine);
  }
  Node vps("vps", "worker");  // the higher id keeps the session laptop dialed: its server end
  SessionPair a(vps.io, vps.contexts), b(vps.io, vps.contexts);
  const auto mine = a.client, theirs = b.server;
  mine->id = theirs->id = "laptop";
  EXPECT_EQ(vps.membership.add_direct(theirs), nullptr);
  EXPECT_EQ(vps.membership.add_direct(mine), mine);
  EXPECT_EQ(vps.membership.direct("laptop"), theirs);
  // A closed session that is no longer the current one changes nothing.
  EXPECT_FALSE(vps.membership.direct_closed(mine));
  EXPECT_TRUE(vps.membership.direct_closed(theirs));
  EXPECT_EQ(vps.membership.direct("laptop"), nullptr);
}

// With the leader gone, a peer reached over a direct session is online with path direct, and one
// that is not is unreachable; requests go over the direct session.
TEST(Membership, AWorkerCutOffFromTheLeaderShowsAndRoutesItsDirectPeers) {
  Node laptop("laptop", "worker");
  SessionPair pair(laptop.io, laptop.contexts);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [id, role] :
       {std::pair{"desktop", "leader"}, std::pair{"vps", "worker"}, std::pair{"nas", "worker"}})
    list.push_back({{"id", id}, {"role", role}, {"status", "online"}});
  const wire::Frame members{{{"t", msg::kMembers}, {"peers", list}}, ""};
  laptop.membership.on_members(pair.client, members);
  SessionPair direct(laptop.io, laptop.contexts);
  direct.client->id = "vps";
  direct.client->direct = true;
  EXPECT_EQ(laptop.membership.add_direct(direct.client), nullptr);
  const wire::Frame hello{{{"t", msg::kHello}, {"version", "9.9.9"}, {"commands", {"execOnPeer"}}},
                          ""};
  laptop.membership.on_direct_hello(direct.client, hello);
  const auto peers = laptop.membership.peers();  // no leader session
  EXPECT_TRUE(find(peers, "vps")->online);
  EXPECT_EQ(find(peers, "vps")->path, "direct");
  EXPECT_EQ(find(peers, "vps")->version, "9.9.9");
  EXPECT_FALSE(find(peers, "nas")->online);
  EXPECT_EQ(find(peers, "nas")->path, "unreachable");
  EXPECT_EQ(find(peers, "desktop")->path, "unreachable");
  EXPECT_EQ(find(peers, "laptop")->path, "local");
  std::string reason;
  EXPECT_EQ(laptop.membership.route_to("vps", reason), direct.client);
  EXPECT_EQ(laptop.membership.route_to("nas", reason), nullptr);
  // With the leader back, nas is relayed and vps stays direct.
  laptop.membership.set_leader(pair.client);
  const auto again = laptop.membership.peers();
  EXPECT_EQ(find(again, "nas")->path, "relayed");
  EXPECT_EQ(find(again, "vps")->path, "direct");
  EXPECT_EQ(laptop.membership.route_to("nas", reason), pair.client);
}

TEST(Membership, AWorkerRedialingReplacesItsOwnOlderDirectSession) {
  Node laptop("laptop", "worker");
  SessionPair a(laptop.io, laptop.contexts), b(laptop.io, laptop.contexts);
  // vps (the higher id) dialed twice: its end of the first is gone, so the second replaces it.
  a.server->id = b.server->id = "vps";
  EXPECT_EQ(laptop.membership.add_direct(a.server), nullptr);
  EXPECT_EQ(laptop.membership.add_direct(b.server), a.server);
  EXPECT_EQ(laptop.membership.direct("vps"), b.server);
}

TEST(Membership, AMemberIsDialedOnlyWhereItConnectsFrom) {
  const auto told = [](const char* listen) { return nlohmann::json{{"listen", listen}}; };
  EXPECT_EQ(direct_address(told("0.0.0.0:3600"), "10.0.0.1:51234"), "10.0.0.1:3600");
  EXPECT_EQ(direct_address(told("10.0.0.1:4000"), "10.0.0.1:51234"), "10.0.0.1:4000");
  // Another address: the others would dial wherever a member says.
  EXPECT_EQ(direct_address(told("192.168.1.1:22"), "10.0.0.1:51234"), "");
  EXPECT_EQ(direct_address(told("vps.example:3600"), "10.0.0.1:51234"), "");
  EXPECT_EQ(direct_address(told("0.0.0.0:0"), "10.0.0.1:51234"), "");
  EXPECT_EQ(direct_address(nlohmann::json::object(), "10.0.0.1:51234"), "");
  EXPECT_EQ(direct_address(nlohmann::json{{"listen", 7}}, "10.0.0.1:51234"), "");
}
