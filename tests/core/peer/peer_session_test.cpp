// PeerSession over a real TLS connection on loopback, in one io_context.
#include "core/peer/peer_session.hpp"

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "core/peer/tls_identity.hpp"

using namespace automatelinux::core::peer;
namespace asio = boost::asio;
namespace wire = automatelinux::wire;

namespace {

struct TlsPair {
  asio::io_context io;
  asio::ssl::context server_ctx{asio::ssl::context::tls_server};
  asio::ssl::context client_ctx{asio::ssl::context::tls_client};
  std::shared_ptr<PeerSession> server, client;

  TlsPair() {
    auto ca_key = generate_key();
    auto ca = make_ca_certificate(ca_key.get(), "test");
    auto key = generate_key();
    auto cert = sign_key(key.get(), "leader", ca.get(), ca_key.get());
    const std::string cert_pem = cert_to_pem(cert.get()), key_pem = key_to_pem(key.get());
    server_ctx.use_certificate(asio::buffer(cert_pem), asio::ssl::context::pem);
    server_ctx.use_private_key(asio::buffer(key_pem), asio::ssl::context::pem);
    client_ctx.set_verify_mode(asio::ssl::verify_none);
    auto log =
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
    Tcp::acceptor acceptor(io, Tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    Tcp::socket a(io), b(io);
    b.connect(acceptor.local_endpoint());
    acceptor.accept(a);
    server = std::make_shared<PeerSession>(std::move(a), server_ctx, log, false);
    client = std::make_shared<PeerSession>(std::move(b), client_ctx, log, true);
    int done = 0;
    std::string errors;
    for (auto& s : {server, client})
      s->handshake([&](const std::string& e) {
        errors += e;
        ++done;
      });
    while (done < 2 && io.run_one() > 0) {
    }
    EXPECT_EQ(errors, "");
  }
};

}  // namespace

// The leader cuts a session off while a large frame is being written to it (e.g. "peer is not
// reading"). A write step that already completed goes on with the rest of that frame: its bytes
// must still be alive then (under AddressSanitizer this was a heap-use-after-free; with 1 MiB
// frames in mmap'd memory, a SIGSEGV).
TEST(PeerSession, ClosingWithAFrameBeingWrittenKeepsItsBytesUntilTheWriteEnds) {
  TlsPair pair;
  std::size_t received = 0;
  pair.server->start(
      {[&](const std::shared_ptr<PeerSession>&, wire::Frame& f) { received += f.body.size(); },
       [](const std::shared_ptr<PeerSession>&, const std::string&) {}});
  pair.client->start({[](const std::shared_ptr<PeerSession>&, wire::Frame&) {},
                      [](const std::shared_ptr<PeerSession>&, const std::string&) {}});
  // The write starts when the handler that queued the frame returns (one turn of the loop): the
  // first records go to the socket at once, the completion is queued, not yet run.
  pair.client->send({{"t", "data"}}, std::string(wire::kMaxFrameSize - 64, 'x'));
  ASSERT_EQ(pair.io.poll_one(), 1u);
  pair.client->send({{"t", "data"}}, std::string(1000, 'y'));
  pair.client->close("cut off");
  pair.io.run_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(pair.client->closed());
  EXPECT_EQ(received, 0u);  // the frame was never completed
}

// What a handler sends goes out when it returns, all in one write; a close after flush right
// after a send (a refusal, then the end) still delivers the frame.
TEST(PeerSession, AFrameQueuedJustBeforeACloseAfterFlushStillArrives) {
  TlsPair pair;
  std::vector<std::string> types;
  std::string why;
  pair.server->start(
      {[&](const std::shared_ptr<PeerSession>&, wire::Frame& f) { types.push_back(f.type()); },
       [&](const std::shared_ptr<PeerSession>&, const std::string& w) { why = w; }});
  pair.client->start({[](const std::shared_ptr<PeerSession>&, wire::Frame&) {},
                      [](const std::shared_ptr<PeerSession>&, const std::string&) {}});
  pair.client->send({{"t", "credit"}});
  pair.client->send({{"t", "refused"}});
  pair.client->close_after_flush("refused");
  EXPECT_FALSE(pair.client->closed());  // not before its frames are out
  pair.io.run_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(pair.client->closed());
  EXPECT_EQ(types, (std::vector<std::string>{"credit", "refused"}));
  EXPECT_FALSE(why.empty());
}

// Before authentication the leader accepts only small frames: a frame announced larger than the
// cap closes the session as soon as its length arrives, before its bytes are buffered.
TEST(PeerSession, ASmallFrameCapRefusesLargeFramesFromTheirLengthAlone) {
  TlsPair pair;
  pair.server->set_max_frame(16 * 1024);
  std::string why;
  std::size_t frames = 0;
  pair.server->start({[&](const std::shared_ptr<PeerSession>&, wire::Frame&) { ++frames; },
                      [&](const std::shared_ptr<PeerSession>&, const std::string& w) { why = w; }});
  pair.client->start({[](const std::shared_ptr<PeerSession>&, wire::Frame&) {},
                      [](const std::shared_ptr<PeerSession>&, const std::string&) {}});
  pair.client->send({{"t", "enroll"}}, std::string(8000, 'c'));
  pair.client->send({{"t", "enroll"}}, std::string(100 * 1024, 'c'));
  pair.io.run_for(std::chrono::milliseconds(500));
  EXPECT_EQ(frames, 1u);
  EXPECT_NE(why.find("exceeds the limit of 16384"), std::string::npos) << why;
}

// Bytes queued on someone's behalf are counted while queued and released when written or
// dropped, so the relay can hold each stream and each sender to a bound.
TEST(PeerSession, QueueChargesFollowTheBytesUntilWrittenOrDropped) {
  TlsPair pair;
  pair.server->start({[](const std::shared_ptr<PeerSession>&, wire::Frame&) {},
                      [](const std::shared_ptr<PeerSession>&, const std::string&) {}});
  pair.client->start({[](const std::shared_ptr<PeerSession>&, wire::Frame&) {},
                      [](const std::shared_ptr<PeerSession>&, const std::string&) {}});
  auto stream = std::make_shared<QueueCharge>();
  auto sender = std::make_shared<QueueCharge>();
  for (int i = 0; i < 4; ++i)
    pair.client->send_charged({{"t", "data"}}, std::string(64 * 1024, 'z'), stream, sender);
  EXPECT_GE(stream->bytes, 3u * 64 * 1024);
  EXPECT_EQ(stream->bytes, sender->bytes);
  pair.io.run_for(std::chrono::milliseconds(300));
  EXPECT_EQ(stream->bytes, 0u);
  for (int i = 0; i < 4; ++i)
    pair.client->send_charged({{"t", "data"}}, std::string(64 * 1024, 'z'), stream, nullptr);
  pair.client->close("gone");
  EXPECT_EQ(stream->bytes, 0u);
  EXPECT_EQ(sender->bytes, 0u);
  pair.io.run_for(std::chrono::milliseconds(100));
}

// One read can carry many frames that are slow to handle (stream opens, each starting a process
// on a loaded host). The session handles them a turn at a time, so timers run in between, and it
// does not take its peer for silent while it is still working through what the peer sent.
TEST(PeerSession, ABacklogOfSlowFramesNeitherStarvesTimersNorLooksLikeSilence) {
  TlsPair pair;
  const auto heartbeat = std::chrono::milliseconds(100);
  constexpr int kFrames = 20;
  constexpr auto kHandling = std::chrono::milliseconds(40);  // 20 x 40 ms > 3 heartbeats
  int handled = 0, ticks = 0, ticks_at_last_frame = 0;
  std::string client_closed, server_closed;
  pair.client->start({[&](const std::shared_ptr<PeerSession>&, wire::Frame& f) {
                        if (f.type() != "slow") return;
                        std::this_thread::sleep_for(kHandling);
                        if (++handled == kFrames) ticks_at_last_frame = ticks;
                      },
                      [&](const std::shared_ptr<PeerSession>&, const std::string& why) {
                        client_closed = why;
                      }});
  pair.server->start({[](const std::shared_ptr<PeerSession>&, wire::Frame&) {},
                      [&](const std::shared_ptr<PeerSession>&, const std::string& why) {
                        server_closed = why;
                      }});
  pair.client->start_heartbeat(heartbeat);
  pair.server->start_heartbeat(heartbeat);
  // All in one write, so they arrive in one read.
  for (int i = 0; i < kFrames; ++i) pair.server->send({{"t", "slow"}});
  asio::steady_timer ticker(pair.io);
  std::function<void()> tick = [&] {
    ticker.expires_after(std::chrono::milliseconds(10));
    ticker.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      ++ticks;
      tick();
    });
  };
  tick();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (handled < kFrames && client_closed.empty() &&
         std::chrono::steady_clock::now() < deadline)
    pair.io.run_for(std::chrono::milliseconds(5));
  pair.io.run_for(heartbeat * 2);  // the heartbeats go on after the backlog
  EXPECT_EQ(handled, kFrames);
  EXPECT_EQ(client_closed, "");
  EXPECT_EQ(server_closed, "");
  // Asio runs a timer that came due during a frame after the next frame: a tick every two frames.
  EXPECT_GE(ticks_at_last_frame, kFrames / 3);
  ticker.cancel();
  pair.client->close("done");
  pair.server->close("done");
  pair.io.run_for(std::chrono::milliseconds(50));
}
