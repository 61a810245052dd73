// LeaderListener on loopback: before authentication a connection without a certificate gets
// exactly one enroll request, and anything else is refused.
#include "core/peer/leader_listener.hpp"

#include <gtest/gtest.h>

#include "tests/core/peer/session_pair.hpp"
#include "wire/messages.hpp"

using namespace automatelinux::core;
using namespace automatelinux::core::peer;
using namespace automatelinux::core::peer::test;
namespace msg = automatelinux::wire::msg;
namespace asio = boost::asio;

namespace {

struct Leader {
  asio::io_context io;
  ClusterState state{"/nonexistent-al-listener-test"};
  CommandRegistry registry;
  Membership membership;
  Received established;
  LeaderListener listener;
  std::uint16_t port = 0;

  Leader()
      : membership(io, null_logger(), state, registry, std::chrono::seconds(60)),
        listener(io, null_logger(), state, membership, std::chrono::seconds(60),
                 established.events()) {
    {
      Tcp::acceptor probe(io, Tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
      port = probe.local_endpoint().port();
    }
    const std::string listen = "127.0.0.1:" + std::to_string(port);
    state.config = LocalConfig{"leader", "leader", "", listen, 0};
    auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    use_test_certificate(*context);
    listener.start(listen, context);
  }
  ~Leader() { listener.shutdown(); }

  // A connection without a client certificate, handshaken and reading into `received`.
  std::shared_ptr<PeerSession> connect(asio::ssl::context& client, Received& received) {
    Tcp::socket socket(io);
    socket.connect(Tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    auto session =
        std::make_shared<PeerSession>(std::move(socket), client, null_logger(), true);
    bool done = false;
    session->handshake([&](const std::string& error) {
      EXPECT_EQ(error, "");
      done = true;
    });
    EXPECT_TRUE(run_until(io, [&] { return done; }));
    session->start(received.events());
    return session;
  }
};

TEST(LeaderListener, AnUnauthenticatedConnectionMaySendOnlyAnEnrollRequest) {
  Leader leader;
  TlsContexts contexts;
  Received received;
  auto session = leader.connect(contexts.client, received);
  session->send({{"t", msg::kHello}, {"version", "1.0"}});
  ASSERT_TRUE(run_until(leader.io, [&] { return !received.closed.empty(); }));
  ASSERT_EQ(received.frames.size(), 1u);
  EXPECT_EQ(received.frames[0].type(), msg::kRefused);
  EXPECT_EQ(received.frames[0].header.at("reason"), "authenticate first");
  EXPECT_TRUE(leader.established.frames.empty());
}

TEST(LeaderListener, AnEnrollRequestWithAnUnknownTokenIsRefused) {
  Leader leader;
  TlsContexts contexts;
  Received received;
  auto session = leader.connect(contexts.client, received);
  session->send({{"t", msg::kEnroll}, {"id", "w1"}, {"token", "not-a-token"}}, "csr");
  ASSERT_TRUE(run_until(leader.io, [&] { return !received.closed.empty(); }));
  ASSERT_EQ(received.frames.size(), 1u);
  EXPECT_EQ(received.frames[0].type(), msg::kRefused);
  EXPECT_EQ(received.frames[0].header.at("reason"), "bad token");
  EXPECT_TRUE(leader.state.members.empty());
}

}  // namespace
