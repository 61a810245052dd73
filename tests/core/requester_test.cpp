// Who asked: a local caller from SO_PEERCRED's uid, a peer from its certificate plus the caller
// its daemon stamped, checked on arrival; only a local uid 0 travels as root.
#include "core/requester.hpp"

#include <gtest/gtest.h>

using namespace automatelinux;
using nlohmann::json;

TEST(Requester, ALocalCallerIsNamedFromThePasswordDatabase) {
  const auto root = core::local_requester(0);
  EXPECT_EQ(root.name, "root");
  EXPECT_TRUE(root.root);
  EXPECT_TRUE(root.peer.empty());
  const auto daemon = core::local_requester(1);  // "daemon" on Debian
  EXPECT_FALSE(daemon.root);
  EXPECT_FALSE(daemon.name.empty());
  EXPECT_EQ(core::local_requester(987654).name, "");  // no password entry: no name
  EXPECT_FALSE(core::local_requester(-1).root);
}

TEST(Requester, OnlyALocalUidZeroTravelsAsRoot) {
  EXPECT_EQ(core::caller_field(core::local_requester(0)), json({{"name", "root"}, {"root", true}}));
  EXPECT_EQ(core::caller_field(core::local_requester(1))["root"], false);
  // On behalf of a peer's root: never root from here.
  sdk::Requester relayed{.peer = "laptop", .uid = -1, .name = "root", .root = true};
  EXPECT_EQ(core::caller_field(relayed)["root"], false);
}

TEST(Requester, APeersCallerIsCheckedOnArrival) {
  const auto good = core::peer_requester(
      "laptop", {{"caller", {{"name", "alice"}, {"root", false}}}, {"mode", "shell"}});
  EXPECT_EQ(good.peer, "laptop");
  EXPECT_EQ(good.name, "alice");
  EXPECT_FALSE(good.root);
  EXPECT_EQ(core::requester_label(good), "laptop/alice");
  EXPECT_TRUE(
      core::peer_requester("laptop", {{"caller", {{"name", "root"}, {"root", true}}}}).root);
  for (const auto& bad :
       {json::object(), json{{"caller", "root"}}, json{{"caller", {{"name", "root"}}}},
        json{{"caller", {{"name", "root"}, {"root", 1}}}},
        json{{"caller", {{"name", "a\nb"}, {"root", true}}}},
        json{{"caller", {{"name", "../x"}, {"root", true}}}},
        json{{"caller", {{"name", ""}, {"root", true}}}}}) {
    const auto r = core::peer_requester("laptop", bad);
    EXPECT_FALSE(r.root) << bad.dump();
    EXPECT_EQ(r.name, "") << bad.dump();
    EXPECT_EQ(core::requester_label(r), "laptop");
  }
}

TEST(Requester, LoginNamesHaveUseraddsShape) {
  for (const char* good : {"alice", "a.b-c_d", "build$", "x1"})
    EXPECT_TRUE(core::valid_login_name(good)) << good;
  for (const char* bad :
       {"", "-x", ".", "..", "a b", "a/b", "a:b", "$", "abcdefghijklmnopqrstuvwxyz0123456"})
    EXPECT_FALSE(core::valid_login_name(bad)) << bad;
}
