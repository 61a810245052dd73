// Membership: what a hello may put into the peer table, and the member list a worker caches.
#include "core/peer/membership.hpp"

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
  EXPECT_EQ(reason, "Failed to send command to peer: not connected to the leader");

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
