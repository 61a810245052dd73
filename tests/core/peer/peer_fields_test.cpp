#include "core/peer/peer_fields.hpp"

#include <gtest/gtest.h>

using namespace automatelinux::core::peer;
using nlohmann::json;

TEST(PeerFields, VersionsOfTheUsualShapesPass) {
  for (const char* v : {"0.1.0", "1.2.3-rc1+deb12u1", "2~beta_1"})
    EXPECT_TRUE(valid_version(v)) << v;
}

TEST(PeerFields, VersionsWithEscapesOrSpacesAreRefused) {
  for (const char* v : {"", "0.1.0\x1b[2J", "1.0\n", "1 0", "é", "x/y"})
    EXPECT_FALSE(valid_version(v)) << v;
  EXPECT_FALSE(valid_version(std::string(33, '1')));
}

TEST(PeerFields, CommandNames) {
  EXPECT_TRUE(valid_command_name("execOnPeer"));
  EXPECT_TRUE(valid_command_name("hello_world-2.x"));
  for (const char* c : {"", "1abc", "-x", "exec\x1b]0;pwned\x07", "a b", "a\nb"})
    EXPECT_FALSE(valid_command_name(c)) << c;
  EXPECT_FALSE(valid_command_name(std::string(65, 'a')));
}

TEST(PeerFields, MemberEntriesKeepOnlyFieldsOfKnownShape) {
  const json in = {{"id", "vps"},
                   {"role", "worker"},
                   {"status", "online"},
                   {"address", "10.0.0.1:41234"},
                   {"last_seen", "2026-11-27T07:00:00Z"},
                   {"rtt_ms", 1.5},
                   {"version", "0.1.0\x1b[31m"},
                   {"commands", {"execOnPeer", "\x1b[2Jwipe", 7}}};
  const auto out = checked_member_entry(in);
  ASSERT_TRUE(out);
  EXPECT_EQ((*out)["id"], "vps");
  EXPECT_EQ((*out)["status"], "online");
  EXPECT_EQ((*out)["address"], "10.0.0.1:41234");
  EXPECT_EQ((*out)["version"], "?");
  EXPECT_EQ((*out)["commands"], json({"execOnPeer"}));
  EXPECT_EQ((*out)["rtt_ms"], 1.5);
}

TEST(PeerFields, MemberEntriesWithBadIdsOrRolesAreDropped) {
  EXPECT_FALSE(checked_member_entry({{"id", "v\nps"}, {"role", "worker"}}));
  EXPECT_FALSE(checked_member_entry({{"id", "vps"}, {"role", "king"}}));
  EXPECT_FALSE(checked_member_entry({{"role", "worker"}}));
  EXPECT_FALSE(checked_member_entry(json::array()));
  const auto odd = checked_member_entry(
      {{"id", "vps"}, {"role", "leader"}, {"address", "\x1b[1mx"}, {"last_seen", 5}});
  ASSERT_TRUE(odd);
  EXPECT_EQ((*odd)["address"], "");
  EXPECT_TRUE((*odd)["last_seen"].is_null());
  EXPECT_EQ((*odd)["status"], "offline");
}
