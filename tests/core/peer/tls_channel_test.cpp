// TlsChannel over a real TCP connection on loopback, in one io_context.
#include "core/peer/tls_channel.hpp"

#include <gtest/gtest.h>
#include <sys/ioctl.h>

#include <thread>

#include <boost/asio/ssl/error.hpp>

#include "session_pair.hpp"

using namespace automatelinux::core::peer;
namespace asio = boost::asio;

namespace {

struct ChannelPair {
  asio::io_context io;
  test::TlsContexts contexts;
  std::shared_ptr<TlsChannel> server, client;

  // Connected and, unless told otherwise, through the handshake.
  explicit ChannelPair(bool handshake = true) {
    TlsChannel::Tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    TlsChannel::Tcp::socket a(io), b(io);
    b.connect(acceptor.local_endpoint());
    acceptor.accept(a);
    server = std::make_shared<TlsChannel>(std::move(a), contexts.server);
    client = std::make_shared<TlsChannel>(std::move(b), contexts.client);
    if (handshake) {
      EXPECT_EQ(shake_hands(), "");
    }
  }

  std::string shake_hands() {
    int done = 0;
    std::string errors;
    for (auto* c : {&server, &client})
      (*c)->async_handshake(c == &client, [&](boost::system::error_code ec) {
        if (ec) errors += ec.message() + ";";
        ++done;
      });
    while (done < 2 && io.run_one() > 0) {
    }
    return errors;
  }

  // Reads from `from` until `want` bytes came or the stream ended; records each read's size.
  std::string read(TlsChannel& from, std::size_t want, std::vector<std::size_t>* sizes = nullptr,
                   boost::system::error_code* end = nullptr) {
    std::string got;
    std::vector<char> buffer(256 * 1024);
    io.restart();  // it stops whenever it runs out of work, e.g. after the last read
    bool ended = false;
    std::function<void()> next = [&] {
      from.async_read_some(asio::buffer(buffer), [&](boost::system::error_code ec, std::size_t n) {
        if (ec) {
          if (end) *end = ec;
          ended = true;
          return;
        }
        if (sizes) sizes->push_back(n);
        got.append(buffer.data(), n);
        if (got.size() < want) next();
      });
    };
    next();
    while (got.size() < want && !ended && io.run_one() > 0) {
    }
    return got;
  }
};

std::string pattern(std::size_t n, char seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 31 % 251);
  return s;
}

}  // namespace

// Several parts in one write arrive whole and in order; every byte was encrypted before
// async_write returned, so the caller's buffers may go at once.
TEST(TlsChannel, AWriteOfSeveralPartsArrivesByteExactAfterTheCallerFreedThem) {
  ChannelPair pair;
  std::string expected;
  bool written = false;
  {
    std::vector<std::string> parts = {pattern(70000, 'a'), pattern(1, 'b'), pattern(3 << 20, 'c')};
    for (const auto& p : parts) expected += p;
    std::vector<std::string_view> views(parts.begin(), parts.end());
    pair.client->async_write(views, [&](boost::system::error_code ec) {
      EXPECT_FALSE(ec);
      written = true;
    });
    EXPECT_FALSE(written);  // never called from inside async_write
    for (auto& p : parts) std::fill(p.begin(), p.end(), 'X');
  }
  EXPECT_TRUE(pair.read(*pair.server, expected.size()) == expected);
  while (!written && pair.io.run_one() > 0) {
  }
  EXPECT_TRUE(written);
}

// Small parts (frame headers, credits) share records with what follows them, and a part that
// ends mid-record is topped up by the next: the bytes on the wire are the plaintext plus the
// overhead of about one record per 16 KiB, not one record per part.
TEST(TlsChannel, SmallPartsArePackedIntoFullRecordsAndArriveInOrder) {
  ChannelPair pair;
  std::vector<std::string> parts;
  for (int i = 0; i < 200; ++i) parts.push_back(pattern(12, static_cast<char>('a' + i % 26)));
  for (std::size_t n : {kTlsRecord - 1, kTlsRecord, kTlsRecord + 1})
    parts.push_back(pattern(n, 'z'));
  parts.push_back(pattern(5, 'q'));
  std::string expected;
  for (const auto& p : parts) expected += p;
  bool written = false;
  pair.client->async_write(std::vector<std::string_view>(parts.begin(), parts.end()),
                           [&](boost::system::error_code ec) {
                             EXPECT_FALSE(ec);
                             written = true;
                           });
  while (!written && pair.io.run_one() > 0) {
  }
  // Every record is in the server's receive queue (loopback; well below its buffer): count them.
  // A TLS 1.3 record adds 22 bytes (header, content type, tag): 3 full records and a last one.
  const auto records = (expected.size() + kTlsRecord - 1) / kTlsRecord;
  int queued = 0;
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(::ioctl(pair.server->socket().native_handle(), FIONREAD, &queued), 0);
    if (static_cast<std::size_t>(queued) >= expected.size()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(static_cast<std::size_t>(queued), expected.size());
  EXPECT_LE(static_cast<std::size_t>(queued), expected.size() + 22 * records);
  EXPECT_TRUE(pair.read(*pair.server, expected.size()) == expected);
}

// The point of the channel: one read hands over every record already received, not one 16 KiB
// record at a time, so large reads come back from a stream of large writes.
TEST(TlsChannel, OneReadDecryptsEveryRecordAlreadyReceived) {
  ChannelPair pair;
  pair.server->set_read_chunk(256 * 1024);
  const std::string data = pattern(2 << 20, 'q');
  pair.client->async_write({data}, [](boost::system::error_code ec) { EXPECT_FALSE(ec); });
  std::vector<std::size_t> sizes;
  EXPECT_TRUE(pair.read(*pair.server, data.size(), &sizes) == data);
  EXPECT_GT(*std::max_element(sizes.begin(), sizes.end()), std::size_t{16 * 1024});
  EXPECT_LT(sizes.size(), data.size() / (16 * 1024));
}

// Both directions at once: a read outstanding while writes go out on the same channel.
TEST(TlsChannel, ReadsAndWritesInterleaveInBothDirections) {
  ChannelPair pair;
  const std::string up = pattern(1 << 20, 'u'), down = pattern(1 << 20, 'd');
  pair.client->async_write({up}, [](boost::system::error_code ec) { EXPECT_FALSE(ec); });
  pair.server->async_write({down}, [](boost::system::error_code ec) { EXPECT_FALSE(ec); });
  boost::system::error_code end;
  EXPECT_TRUE(pair.read(*pair.server, up.size(), nullptr, &end) == up) << end.message();
  EXPECT_TRUE(pair.read(*pair.client, down.size(), nullptr, &end) == down) << end.message();
}

// A connection that ends without TLS's close_notify is a truncation, not a clean end of stream.
TEST(TlsChannel, AConnectionCutWithoutCloseNotifyIsReportedAsTruncated) {
  ChannelPair pair;
  pair.client->socket().shutdown(TlsChannel::Tcp::socket::shutdown_send);
  boost::system::error_code end;
  EXPECT_EQ(pair.read(*pair.server, 1, nullptr, &end), "");
  EXPECT_EQ(end, boost::system::error_code(asio::ssl::error::stream_truncated));
}

// A handshake that fails (a server without a certificate) fails on both ends, with a reason.
TEST(TlsChannel, AFailedHandshakeReportsAnErrorOnBothEnds) {
  ChannelPair pair(/*handshake=*/false);
  asio::ssl::context bare{asio::ssl::context::tls_server};
  auto socket = std::move(pair.server->socket());
  pair.server = std::make_shared<TlsChannel>(std::move(socket), bare);
  const std::string errors = pair.shake_hands();
  EXPECT_EQ(std::count(errors.begin(), errors.end(), ';'), 2) << errors;
}

// Writing after the connection is gone completes with an error, never throws or hangs.
TEST(TlsChannel, AWriteOnAClosedSocketCompletesWithAnError) {
  ChannelPair pair;
  pair.client->socket().close();
  boost::system::error_code result;
  bool done = false;
  pair.client->async_write({pattern(100000, 'z')}, [&](boost::system::error_code ec) {
    result = ec;
    done = true;
  });
  while (!done && pair.io.run_one() > 0) {
  }
  EXPECT_TRUE(done);
  EXPECT_TRUE(result);
}

// Handlers usually own the channel's owner (a PeerSession owns its channel, its handlers own the
// session). Pending operations hold them, never the channel, so an io_context destroyed with a
// read and a write pending frees everything: no cycle is left behind.
TEST(TlsChannel, AnIoContextDestroyedWithOperationsPendingLeavesNoCycle) {
  std::weak_ptr<TlsChannel> server, client;
  {
    auto pair = std::make_unique<ChannelPair>();
    server = pair->server;
    client = pair->client;
    auto owner = std::make_shared<std::shared_ptr<TlsChannel>>(std::move(pair->server));
    std::vector<char> buffer(1024);
    (*owner)->async_read_some(asio::buffer(buffer),
                              [owner](boost::system::error_code, std::size_t) {});
    // A flush of OpenSSL's own is in flight on the client, and a write waits behind it.
    auto writer = std::make_shared<std::shared_ptr<TlsChannel>>(std::move(pair->client));
    const std::string big(8 << 20, 'w');
    (*writer)->async_write({big}, [writer](boost::system::error_code) {});
    (*writer)->async_write({big}, [writer](boost::system::error_code) {});
  }
  EXPECT_TRUE(server.expired());
  EXPECT_TRUE(client.expired());
}
