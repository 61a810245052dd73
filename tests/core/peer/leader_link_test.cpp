// LeaderLink against a stand-in leader on loopback: the welcome hands the session over, a
// revoked certificate stops retries, and a stopped attempt does nothing more.
#include "core/peer/leader_link.hpp"

#include <gtest/gtest.h>

#include "tests/core/peer/session_pair.hpp"
#include "wire/messages.hpp"

using namespace automatelinux::core::peer;
using namespace automatelinux::core::peer::test;
namespace msg = automatelinux::wire::msg;
namespace asio = boost::asio;

namespace {

struct Attempt {
  asio::io_context io;
  TlsContexts contexts;
  Tcp::acceptor acceptor{io, Tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  SessionPtr leader;  // the stand-in leader's end
  Received at_leader, established;
  SessionPtr welcomed;
  int failed = 0, revoked = 0;
  std::shared_ptr<LeaderLink> link;

  Attempt() {
    auto client = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    client->set_verify_mode(asio::ssl::verify_none);
    LeaderLink::Hooks hooks{[this](const SessionPtr& s) { welcomed = s; }, [this] { ++failed; },
                            [this] { ++revoked; }, established.events(), {}};
    link = std::make_shared<LeaderLink>(
        io, null_logger(), "leader", "127.0.0.1", acceptor.local_endpoint().port(), client,
        std::chrono::seconds(60),
        nlohmann::json{{"t", msg::kHello}, {"commands", {"execOnPeer"}}}, hooks);
    link->start();
    Tcp::socket socket(io);
    acceptor.async_accept(socket, [](boost::system::error_code) {});
    EXPECT_TRUE(run_until(io, [&] { return socket.is_open(); }));
    leader = std::make_shared<PeerSession>(std::move(socket), contexts.server,
                                           null_logger(), false);
    bool done = false;
    leader->handshake([&](const std::string& error) {
      EXPECT_EQ(error, "");
      done = true;
    });
    EXPECT_TRUE(run_until(io, [&] { return done; }));
    leader->start(at_leader.events());
  }
  // A session's handlers and the link hold each other until the session closes, as in the
  // daemon, which closes every session when it stops.
  ~Attempt() {
    link->stop();
    for (const auto& s : {welcomed, leader})
      if (s) s->close("test over");
  }
};

TEST(LeaderLink, AWelcomeHandsTheSessionOverAndTheWorkerSaysHello) {
  Attempt a;
  a.leader->send({{"t", msg::kWelcome}, {"leader", "leader"}, {"id", "w"}});
  // The worker's heartbeats start at the handshake (pings pass through: no heartbeat here).
  auto hello = [&]() -> const automatelinux::wire::Frame* {
    for (const auto& f : a.at_leader.frames)
      if (f.type() == msg::kHello) return &f;
    return nullptr;
  };
  ASSERT_TRUE(run_until(a.io, [&] { return a.welcomed && hello(); }));
  EXPECT_EQ(a.welcomed->id, "leader");  // from the certificate
  EXPECT_EQ(hello()->header.at("commands"), nlohmann::json({"execOnPeer"}));
  // Later frames go to the established handlers.
  a.leader->send({{"t", msg::kMembers}, {"peers", nlohmann::json::array()}});
  ASSERT_TRUE(run_until(a.io, [&] { return !a.established.frames.empty(); }));
  EXPECT_EQ(a.established.frames[0].type(), msg::kMembers);
  EXPECT_EQ(a.failed, 0);
}

TEST(LeaderLink, ARevokedCertificateIsReportedAndTheAttemptFails) {
  Attempt a;
  a.leader->send({{"t", msg::kRefused}, {"reason", "certificate revoked"}});
  ASSERT_TRUE(run_until(a.io, [&] { return a.failed == 1; }));
  EXPECT_EQ(a.revoked, 1);
  EXPECT_EQ(a.welcomed, nullptr);
}

TEST(LeaderLink, AnythingButAWelcomeFirstEndsTheAttempt) {
  Attempt a;
  a.leader->send({{"t", msg::kMembers}, {"peers", nlohmann::json::array()}});
  ASSERT_TRUE(run_until(a.io, [&] { return a.failed == 1; }));
  EXPECT_EQ(a.revoked, 0);
  EXPECT_TRUE(a.established.frames.empty());
}

TEST(LeaderLink, AStoppedAttemptIgnoresALateWelcome) {
  Attempt a;
  a.link->stop();
  a.leader->send({{"t", msg::kWelcome}, {"leader", "leader"}, {"id", "w"}});
  run_until(a.io, [&] { return a.leader->closed(); });
  EXPECT_EQ(a.welcomed, nullptr);
  EXPECT_EQ(a.failed, 0);
}

}  // namespace
