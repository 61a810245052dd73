// RosterBook: the leader issues versions only on change; a worker takes newer, CA-signed ones
// only, and both keep them across restarts.
#include "core/peer/roster_book.hpp"

#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "core/peer/tls_identity.hpp"

using namespace automatelinux::core::peer;
namespace fs = std::filesystem;

namespace {

// A state dir of its own, removed at the end.
struct StateDir {
  fs::path path;
  StateDir() {
    char templ[] = "/tmp/al-roster-book-XXXXXX";
    path = ::mkdtemp(templ);
  }
  ~StateDir() { fs::remove_all(path); }
};

struct LeaderState {
  StateDir dir;
  ClusterState state{dir.path};
  LeaderState() {
    auto ca_key = generate_key();
    auto ca = make_ca_certificate(ca_key.get(), "test");
    auto key = generate_key();
    auto cert = sign_key(key.get(), "desktop", ca.get(), ca_key.get());
    state.write_tls("ca.key", key_to_pem(ca_key.get()), true);
    state.write_tls("ca.crt", cert_to_pem(ca.get()), false);
    state.write_tls("node.crt", cert_to_pem(cert.get()), false);
    state.config = LocalConfig{"desktop", "leader", "", "10.0.0.1:3600", 0};
    state.members["laptop"] = Member{std::string(64, 'b'), 0, ""};
  }
};

// A worker of the same cluster: it holds the CA certificate, not its key.
struct WorkerState {
  StateDir dir;
  ClusterState state{dir.path};
  explicit WorkerState(const ClusterState& leader) {
    state.write_tls("ca.crt", *leader.read_tls("ca.crt"), false);
    state.config = LocalConfig{"laptop", "worker", "10.0.0.1:3600", "", 0};
  }
};

}  // namespace

TEST(RosterBook, TheLeaderIssuesANewVersionOnlyWhenSomethingChanged) {
  LeaderState leader;
  RosterBook book(leader.state);
  ASSERT_TRUE(book.reissue({{"laptop", "10.0.0.2:3600"}}));
  const auto first = book.roster()->version;
  EXPECT_EQ(book.roster()->members.size(), 2u);
  EXPECT_EQ(book.roster()->find("desktop")->address, "10.0.0.1:3600");
  EXPECT_EQ(book.roster()->find("laptop")->address, "10.0.0.2:3600");
  // Nothing new (the laptop's address is remembered when it is not told again).
  EXPECT_FALSE(book.reissue({}));
  EXPECT_EQ(book.roster()->version, first);
  // A removal: the member goes, its fingerprint is revoked, the version grows.
  leader.state.revoke("laptop", leader.state.members["laptop"].fingerprint, 1);
  leader.state.members.erase("laptop");
  ASSERT_TRUE(book.reissue({}));
  EXPECT_GT(book.roster()->version, first);
  EXPECT_EQ(book.roster()->find("laptop"), nullptr);
  EXPECT_TRUE(book.roster()->is_revoked(std::string(64, 'b')));
  // Kept across a restart.
  RosterBook again(leader.state);
  EXPECT_EQ(again.load(), "");
  ASSERT_TRUE(again.roster());
  EXPECT_EQ(again.roster()->version, book.roster()->version);
}

TEST(RosterBook, AWorkerTakesOnlyNewerRostersOfItsOwnCluster) {
  LeaderState leader, other_cluster;
  WorkerState worker(leader.state);
  RosterBook issuer(leader.state), foreign(other_cluster.state), held(worker.state);
  ASSERT_TRUE(issuer.reissue({}));
  const auto v1 = issuer.signed_roster();
  EXPECT_EQ(held.accept(v1), "");
  ASSERT_TRUE(held.roster());
  EXPECT_NE(held.roster()->find("laptop"), nullptr);
  leader.state.members["vps"] = Member{std::string(64, 'c'), 0, ""};
  ASSERT_TRUE(issuer.reissue({}));
  EXPECT_EQ(held.accept(issuer.signed_roster()), "");
  EXPECT_NE(held.roster()->find("vps"), nullptr);
  // A replay of the older version is refused, and the newer one stays.
  EXPECT_NE(held.accept(v1).find("older"), std::string::npos);
  EXPECT_NE(held.roster()->find("vps"), nullptr);
  // Another cluster's roster does not check against this CA.
  ASSERT_TRUE(foreign.reissue({}));
  EXPECT_NE(held.accept(foreign.signed_roster()).find("signature"), std::string::npos);
  // After a restart the worker still holds the newest one.
  RosterBook restarted(worker.state);
  EXPECT_EQ(restarted.load(), "");
  EXPECT_NE(restarted.roster()->find("vps"), nullptr);
  // A roster.json edited on disk is dropped with a reason.
  auto tampered = issuer.signed_roster();
  tampered["roster"]["revoked"] = nlohmann::json::array({std::string(64, 'e')});
  save_roster(worker.state.dir(), tampered);
  EXPECT_NE(restarted.load().find("signature"), std::string::npos);
  EXPECT_FALSE(restarted.roster());
  restarted.forget();
  EXPECT_FALSE(fs::exists(worker.state.dir() / "roster.json"));
}
