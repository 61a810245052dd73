// Two ends of a real TLS connection on loopback (the leader's end is the TLS server), for tests of
// what runs on top of PeerSession.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "core/peer/peer_session.hpp"
#include "core/peer/tls_identity.hpp"

namespace automatelinux::core::peer::test {

inline std::shared_ptr<spdlog::logger> null_logger() {
  return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

// A certificate for "leader" from a throwaway CA.
inline void use_test_certificate(asio::ssl::context& ctx) {
  auto ca_key = generate_key();
  auto ca = make_ca_certificate(ca_key.get(), "test");
  auto key = generate_key();
  auto cert = sign_key(key.get(), "leader", ca.get(), ca_key.get());
  const std::string cert_pem = cert_to_pem(cert.get()), key_pem = key_to_pem(key.get());
  ctx.use_certificate(asio::buffer(cert_pem), asio::ssl::context::pem);
  ctx.use_private_key(asio::buffer(key_pem), asio::ssl::context::pem);
}

struct TlsContexts {
  asio::ssl::context server{asio::ssl::context::tls_server};
  asio::ssl::context client{asio::ssl::context::tls_client};
  TlsContexts() {
    use_test_certificate(server);
    client.set_verify_mode(asio::ssl::verify_none);
  }
};

// Frames one end received, and why it closed.
struct Received {
  std::vector<wire::Frame> frames;
  std::string closed;
  PeerSession::Events events() {
    return {[this](const std::shared_ptr<PeerSession>&, wire::Frame& f) { frames.push_back(f); },
            [this](const std::shared_ptr<PeerSession>&, const std::string& why) { closed = why; }};
  }
};

struct SessionPair {
  std::shared_ptr<PeerSession> server, client;

  SessionPair(asio::io_context& io, TlsContexts& contexts) {
    Tcp::acceptor acceptor(io, Tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    Tcp::socket a(io), b(io);
    b.connect(acceptor.local_endpoint());
    acceptor.accept(a);
    server = std::make_shared<PeerSession>(std::move(a), contexts.server, null_logger(),
                                           false);
    client = std::make_shared<PeerSession>(std::move(b), contexts.client, null_logger(),
                                           true);
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

// Runs `io` until `done` holds or a second has passed.
template <typename Predicate>
bool run_until(asio::io_context& io, Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (!done() && std::chrono::steady_clock::now() < deadline)
    io.run_for(std::chrono::milliseconds(5));
  return done();
}

}  // namespace automatelinux::core::peer::test
