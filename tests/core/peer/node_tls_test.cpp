// The TLS contexts of each role against real handshakes on loopback, with certificates made as
// the cluster makes them: workers reach each other directly with their client-only
// certificates, but no worker certificate passes for the leader's.
#include "core/peer/node_tls.hpp"

#include <filesystem>

#include <gtest/gtest.h>

#include "core/peer/tls_identity.hpp"
#include "tests/core/peer/session_pair.hpp"

using namespace automatelinux::core;
using namespace automatelinux::core::peer;
using namespace automatelinux::core::peer::test;
namespace fs = std::filesystem;
namespace asio = boost::asio;

namespace {

// A state dir per member, with certificates from one cluster CA (or another, for `stranger`).
struct Cluster {
  fs::path root = fs::temp_directory_path() / ("al-node-tls-" + std::to_string(::getpid()));
  PkeyPtr ca_key = generate_key();
  X509Ptr ca = make_ca_certificate(ca_key.get(), "test cluster");

  ~Cluster() { fs::remove_all(root); }

  ClusterState member(const std::string& id, bool leader) {
    ClusterState state(root / id);
    fs::create_directories(state.tls_dir());
    auto key = generate_key();
    auto cert = leader ? sign_key(key.get(), id, ca.get(), ca_key.get())
                       : sign_csr(make_csr_pem(key.get(), id), id, ca.get(), ca_key.get());
    state.write_tls("node.key", key_to_pem(key.get()), true);
    state.write_tls("node.crt", cert_to_pem(cert.get()), false);
    state.write_tls("ca.crt", cert_to_pem(ca.get()), false);
    return state;
  }
};

// The handshake's outcome on each side ("" when it succeeded).
std::pair<std::string, std::string> handshake(asio::ssl::context& server,
                                              asio::ssl::context& client) {
  asio::io_context io;
  Tcp::acceptor acceptor(io, Tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  Tcp::socket a(io), b(io);
  b.connect(acceptor.local_endpoint());
  acceptor.accept(a);
  auto s = std::make_shared<PeerSession>(std::move(a), server, null_logger(), false);
  auto c = std::make_shared<PeerSession>(std::move(b), client, null_logger(), true);
  std::optional<std::string> server_error, client_error;
  s->handshake([&](const std::string& e) { server_error = e; });
  c->handshake([&](const std::string& e) { client_error = e; });
  run_until(io, [&] { return server_error && client_error; });
  // TLS 1.3: the client may finish before the server refuses its certificate; a read tells.
  if (client_error && client_error->empty() && server_error && !server_error->empty())
    return {*server_error, "server refused"};
  return {server_error.value_or("?"), client_error.value_or("?")};
}

}  // namespace

TEST(NodeTls, WorkersTakeEachOthersClientOnlyCertificatesOnDirectSessions) {
  Cluster cluster;
  auto vps = cluster.member("vps", false), laptop = cluster.member("laptop", false);
  auto server = node_tls_context(vps, TlsRole::direct_server);
  auto client = node_tls_context(laptop, TlsRole::direct_client);
  EXPECT_EQ(handshake(*server, *client), std::make_pair(std::string(), std::string()));
}

TEST(NodeTls, AWorkerCertificateDoesNotPassForTheLeaders) {
  Cluster cluster;
  auto vps = cluster.member("vps", false), laptop = cluster.member("laptop", false);
  // vps poses as the leader with its own (client-only) certificate: laptop's leader link refuses.
  auto posing = node_tls_context(vps, TlsRole::leader);
  auto to_leader = node_tls_context(laptop, TlsRole::worker_to_leader);
  EXPECT_NE(handshake(*posing, *to_leader).second, "");
  // The real leader's certificate passes.
  auto desktop = cluster.member("desktop", true);
  auto leader = node_tls_context(desktop, TlsRole::leader);
  EXPECT_EQ(handshake(*leader, *to_leader).second, "");
}

TEST(NodeTls, TheDirectPortRequiresACertificateFromTheClusterCa) {
  Cluster ours, theirs;
  auto vps = ours.member("vps", false);
  auto stranger = theirs.member("laptop", false);
  auto server = node_tls_context(vps, TlsRole::direct_server);
  auto foreign = node_tls_context(stranger, TlsRole::direct_client);
  EXPECT_NE(handshake(*server, *foreign).first, "");
  // No certificate at all.
  asio::ssl::context bare(asio::ssl::context::tls_client);
  bare.set_verify_mode(asio::ssl::verify_none);
  EXPECT_NE(handshake(*server, bare).first, "");
}

TEST(NodeTls, AMemberWithoutACertificateHasNoContext) {
  Cluster cluster;
  ClusterState empty(cluster.root / "nobody");
  EXPECT_THROW(node_tls_context(empty, TlsRole::direct_client), std::runtime_error);
}
