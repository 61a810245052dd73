// ClientStream, the requesting side of a stream to a peer, over a real TLS session on loopback:
// input only within granted credit, output credited back as it is consumed, the result and a
// lost session each ending it once.
#include "core/peer/client_stream.hpp"

#include <csignal>

#include <gtest/gtest.h>

#include "core/serving_stream.hpp"
#include "tests/core/peer/session_pair.hpp"
#include "wire/messages.hpp"

using namespace automatelinux::core;
using namespace automatelinux::core::peer;
using namespace automatelinux::core::peer::test;
namespace msg = automatelinux::wire::msg;
namespace sdk = automatelinux::sdk;
namespace wire = automatelinux::wire;

namespace {

struct ClientStreamTest : ::testing::Test {
  automatelinux::asio::io_context io;
  TlsContexts contexts;
  SessionPair pair{io, contexts};
  Received at_server;
  std::shared_ptr<ClientStream> stream;

  ClientStreamTest() {
    pair.server->start(at_server.events());
    pair.client->start({[](const std::shared_ptr<PeerSession>&, wire::Frame&) {},
                        [](const std::shared_ptr<PeerSession>&, const std::string&) {}});
    stream = std::make_shared<ClientStream>(
        io, pair.client, 1, sdk::Requester{.peer = "", .uid = 0, .name = "root", .root = true},
        "00aa");
  }
  // Frames of `type` the server end has received so far.
  std::vector<wire::Frame> received(const char* type) const {
    std::vector<wire::Frame> out;
    for (const auto& f : at_server.frames)
      if (f.type() == type) out.push_back(f);
    return out;
  }
  static wire::Frame frame(nlohmann::json header, std::string body = {}) {
    return {std::move(header), std::move(body)};
  }
};

TEST_F(ClientStreamTest, InputIsSentOnlyWithinTheCreditTheServerGranted) {
  bool written = false;
  stream->write(sdk::Channel::in, std::string(1000, 'i'), [&](bool ok) { written = ok; });
  io.run_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(received(msg::kData).empty());  // no credit yet: nothing may leave
  EXPECT_FALSE(written);
  stream->on_frame(frame({{"t", msg::kCredit}, {"n", 600U}}));
  ASSERT_TRUE(run_until(io, [&] { return !received(msg::kData).empty(); }));
  EXPECT_EQ(received(msg::kData).front().body.size(), 600U);
  stream->on_frame(frame({{"t", msg::kCredit}, {"n", 400U}}));
  ASSERT_TRUE(run_until(io, [&] { return written && received(msg::kData).size() == 2; }));
  EXPECT_EQ(received(msg::kData).back().body.size(), 400U);
  EXPECT_THROW(stream->on_frame(frame({{"t", msg::kCredit}, {"n", kStreamWindow + 1}})),
               wire::FrameError);
}

TEST_F(ClientStreamTest, OutputIsCreditedBackOnlyAsItIsConsumed) {
  stream->on_frame(frame({{"t", msg::kData}, {"ch", 1}}, "hello"));
  io.run_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(received(msg::kCredit).empty());  // nobody has read it yet
  std::string got;
  stream->read(sdk::Channel::out, [&](std::string_view data, bool) { got = data; });
  ASSERT_TRUE(run_until(io, [&] { return !received(msg::kCredit).empty(); }));
  EXPECT_EQ(got, "hello");
  EXPECT_EQ(received(msg::kCredit).front().header["n"], 5);
  // More than a window (plus one chunk) unread is the sender's protocol error.
  for (std::size_t sent = 0; sent <= kStreamWindow; sent += wire::kMaxChunk)
    stream->on_frame(frame({{"t", msg::kData}, {"ch", 2}}, std::string(wire::kMaxChunk, 'x')));
  EXPECT_THROW(
      stream->on_frame(frame({{"t", msg::kData}, {"ch", 2}}, std::string(wire::kMaxChunk, 'x'))),
      wire::FrameError);
}

TEST_F(ClientStreamTest, TheResultEndsTheStreamOnceWithABoundedOneLineReason) {
  int results = 0;
  sdk::Result last;
  stream->on_result([&](const sdk::Result& r) {
    ++results;
    last = r;
  });
  bool eof = false;
  stream->read(sdk::Channel::out, [&](std::string_view, bool e) { eof = e; });
  stream->on_frame(frame({{"t", msg::kResult}, {"kind", "error"}, {"code", 0}},
                         "Denied\non vps" + std::string(5000, '.')));
  stream->on_lost("Connection to peer lost: vps");  // too late: already ended
  ASSERT_TRUE(run_until(io, [&] { return results == 1 && eof; }));
  io.run_for(std::chrono::milliseconds(20));
  EXPECT_EQ(results, 1);
  EXPECT_EQ(last.kind, sdk::Result::Kind::error);
  EXPECT_EQ(last.reason.substr(0, 13), "Denied on vps");
  EXPECT_EQ(last.reason.size(), 1024U);
  EXPECT_TRUE(stream->finished());
}

TEST_F(ClientStreamTest, ALostSessionEndsTheStreamAndCancelReachesTheServer) {
  stream->cancel(SIGINT);
  ASSERT_TRUE(run_until(io, [&] { return !received(msg::kCancel).empty(); }));
  EXPECT_EQ(received(msg::kCancel).front().header["signal"], SIGINT);
  std::optional<sdk::Result> result;
  stream->on_result([&](const sdk::Result& r) { result = r; });
  stream->on_lost("Connection to peer lost: vps");
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));
  EXPECT_EQ(result->reason, "Connection to peer lost: vps");
  bool ok = true;
  stream->write(sdk::Channel::in, "late", [&](bool k) { ok = k; });
  ASSERT_TRUE(run_until(io, [&] { return !ok; }));
}

}  // namespace
