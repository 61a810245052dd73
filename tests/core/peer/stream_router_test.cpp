// StreamRouter on real TLS sessions on loopback: the leader relays between two workers by
// rewriting stream ids, refuses frames sent the wrong way, and a lost session ends its streams.
#include "core/peer/stream_router.hpp"

#include <csignal>

#include <gtest/gtest.h>

#include "tests/core/peer/session_pair.hpp"
#include "wire/messages.hpp"

using namespace automatelinux::core;
using namespace automatelinux::core::peer;
using namespace automatelinux::core::peer::test;
namespace msg = automatelinux::wire::msg;
namespace asio = boost::asio;
namespace sdk = automatelinux::sdk;

namespace {

struct Node {
  asio::io_context io;
  TlsContexts contexts;
  ClusterState state{"/nonexistent-al-router-test"};
  CommandRegistry registry;
  Membership membership;
  int abuses = 0;
  StreamRouter router;

  explicit Node(const std::string& id, const std::string& role)
      : membership(io, null_logger(), state, registry, std::chrono::seconds(60)),
        router(io, null_logger(), nullptr, state, registry, membership, [this] { ++abuses; }) {
    state.config = LocalConfig{id, role, "", "", 0};
  }

  // A worker's session on the leader (this node), read by the router as PeerManager does.
  SessionPair worker(const std::string& id, Received& at_worker) {
    SessionPair pair(io, contexts);
    state.members[id] = Member{"fp-" + id, 0, ""};
    pair.server->id = id;
    membership.add_worker(pair.server);
    pair.server->start(
        {[this](const SessionPtr& s, automatelinux::wire::Frame& f) {
           if (f.type() == msg::kOpen) return router.on_open(s, f);
           router.on_stream_frame(s, f);
         },
         [this](const SessionPtr& s, const std::string&) { router.on_session_lost(s); }});
    pair.client->start(at_worker.events());
    return pair;
  }
};

TEST(StreamRouter, RelaysBetweenWorkersRewritingTheStreamIdAndStampingFrom) {
  Node leader("leader", "leader");
  Received at_a, at_b;
  auto a = leader.worker("a", at_a);
  auto b = leader.worker("b", at_b);
  a.client->send({{"t", msg::kOpen}, {"sid", 1}, {"to", "b"}, {"type", "exec"}, {"from", "forged"}},
                 "args");
  ASSERT_TRUE(run_until(leader.io, [&] { return !at_b.frames.empty(); }));
  const auto& open = at_b.frames[0];
  EXPECT_EQ(open.type(), msg::kOpen);
  const auto b_sid = open.header.at("sid").get<std::uint64_t>();
  EXPECT_FALSE(automatelinux::wire::opened_by_tls_client(b_sid));  // the leader's parity on b
  EXPECT_EQ(open.header.at("from"), "a");                          // from the certificate
  EXPECT_EQ(open.body, "args");

  b.client->send({{"t", msg::kData}, {"sid", b_sid}, {"ch", 1}}, "output");
  ASSERT_TRUE(run_until(leader.io, [&] { return !at_a.frames.empty(); }));
  EXPECT_EQ(at_a.frames[0].type(), msg::kData);
  EXPECT_EQ(at_a.frames[0].header.at("sid"), 1);
  EXPECT_EQ(at_a.frames[0].body, "output");
  // Both sessions carry the stream until it ends (a direct session not kept waits for this).
  EXPECT_TRUE(leader.router.carries_streams(*a.server));
  EXPECT_TRUE(leader.router.carries_streams(*b.server));
  b.client->send({{"t", msg::kResult}, {"sid", b_sid}, {"kind", "exited"}, {"code", 0}});
  ASSERT_TRUE(run_until(leader.io, [&] { return at_a.frames.size() > 1; }));
  EXPECT_EQ(at_a.frames[1].type(), msg::kResult);
  EXPECT_FALSE(leader.router.carries_streams(*a.server));
  EXPECT_FALSE(leader.router.carries_streams(*b.server));
}

TEST(StreamRouter, AFrameSentTheWrongWayClosesTheSenderAndEndsTheFarHalf) {
  Node leader("leader", "leader");
  Received at_a, at_b;
  auto a = leader.worker("a", at_a);
  auto b = leader.worker("b", at_b);
  a.client->send({{"t", msg::kOpen}, {"sid", 1}, {"to", "b"}, {"type", "exec"}});
  ASSERT_TRUE(run_until(leader.io, [&] { return !at_b.frames.empty(); }));
  const auto b_sid = at_b.frames[0].header.at("sid").get<std::uint64_t>();
  // The requester sends output (channel 1): only the server may.
  a.client->send({{"t", msg::kData}, {"sid", 1}, {"ch", 1}}, "forged output");
  ASSERT_TRUE(run_until(leader.io, [&] { return a.server->closed() && at_b.frames.size() > 1; }));
  EXPECT_FALSE(b.server->closed());
  const auto& cancel = at_b.frames[1];  // never the forged data
  EXPECT_EQ(cancel.type(), msg::kCancel);
  EXPECT_EQ(cancel.header.at("sid"), b_sid);
  EXPECT_EQ(cancel.header.at("signal"), SIGHUP);
}

TEST(StreamRouter, ALostSessionFailsEveryStreamOnIt) {
  Node worker("w", "worker");
  SessionPair pair(worker.io, worker.contexts);
  worker.membership.set_leader(pair.client);
  automatelinux::wire::Frame members{{{"t", msg::kMembers},
                                      {"peers",
                                       {{{"id", "x"}, {"role", "worker"}, {"status", "online"}},
                                        {{"id", "y"}, {"role", "worker"}, {"status", "online"}}}}},
                                     ""};
  worker.membership.on_members(pair.client, members);
  std::vector<sdk::Result> results;
  std::vector<sdk::RequestedStreamPtr> streams;
  for (const char* peer : {"x", "y"}) {
    streams.push_back(worker.router.open(
        peer, "exec", nlohmann::json::object(), "",
        sdk::Requester{.peer = "", .uid = 0, .name = "root", .root = true}, "r"));
    streams.back()->on_result([&](const sdk::Result& r) { results.push_back(r); });
  }
  EXPECT_TRUE(worker.router.carries_streams(*pair.client));
  worker.router.on_session_lost(pair.client);
  EXPECT_FALSE(worker.router.carries_streams(*pair.client));
  ASSERT_TRUE(run_until(worker.io, [&] { return results.size() == 2; }));
  EXPECT_EQ(results[0].kind, sdk::Result::Kind::error);
  EXPECT_EQ(results[0].reason, "Connection to peer lost: x");
  EXPECT_EQ(results[1].reason, "Connection to peer lost: y");
}

TEST(StreamRouter, DirectionRules) {
  EXPECT_TRUE(stream_frame_allowed(msg::kData, 0, true));
  EXPECT_FALSE(stream_frame_allowed(msg::kData, 1, true));
  EXPECT_FALSE(stream_frame_allowed(msg::kResult, -1, true));
  EXPECT_TRUE(stream_frame_allowed(msg::kResult, -1, false));
  EXPECT_FALSE(stream_frame_allowed(msg::kCancel, -1, false));
  EXPECT_FALSE(stream_frame_allowed(msg::kEof, 0, false));
  // Window sizes go from the requester to the server only.
  EXPECT_TRUE(stream_frame_allowed(msg::kWinsize, -1, true));
  EXPECT_FALSE(stream_frame_allowed(msg::kWinsize, -1, false));
  EXPECT_FALSE(stream_frame_allowed(msg::kTty, -1, true));
  EXPECT_FALSE(stream_frame_allowed(msg::kTty, -1, false));
}

}  // namespace
