// tokens.json and members.json: only hashes are stored, new fields round-trip, old files load.
#include "core/peer/cluster_state.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

namespace fs = std::filesystem;
using automatelinux::core::peer::ClusterState;
using automatelinux::core::peer::JoinToken;
using automatelinux::core::peer::Member;
using automatelinux::core::peer::read_file;
using automatelinux::core::peer::write_file_atomic;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "al-cluster-state-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
};

}  // namespace

TEST(ClusterState, TokensRoundTripWithIdUsesEnrolledAndRevocation) {
  TempDir dir;
  {
    ClusterState state(dir.path);
    JoinToken t;
    t.secret_sha256 = std::string(64, 'a');
    t.created = 100;
    t.expires = 200;
    t.id = "0badcafe";
    t.uses = 2;
    t.used = 1;
    t.enrolled = {"vps"};
    t.revoked_at = 150;
    t.revoked_reason = "it enrolled vps, which was removed";
    state.tokens.push_back(t);
    state.members["vps"] = Member{"fp", 120, "0badcafe"};
    state.save_tokens();
    state.save_members();
  }
  EXPECT_EQ(fs::status(dir.path / "tokens.json").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  ClusterState state(dir.path);
  state.load();
  ASSERT_EQ(state.tokens.size(), 1u);
  const auto& t = state.tokens.front();
  EXPECT_EQ(t.id, "0badcafe");
  EXPECT_EQ(t.secret_sha256, std::string(64, 'a'));
  EXPECT_EQ(t.created, 100);
  EXPECT_EQ(t.expires, 200);
  EXPECT_EQ(t.uses, 2u);
  EXPECT_EQ(t.used, 1u);
  EXPECT_EQ(t.enrolled, std::vector<std::string>{"vps"});
  EXPECT_TRUE(t.revoked());
  EXPECT_EQ(t.revoked_at, 150);
  EXPECT_EQ(t.revoked_reason, "it enrolled vps, which was removed");
  EXPECT_FALSE(t.used_up());
  EXPECT_EQ(state.members.at("vps").token, "0badcafe");
  // Nothing but the hash of a secret is written.
  const auto text = read_file(dir.path / "tokens.json").value();
  EXPECT_EQ(text.find("\"secret\""), std::string::npos);
}

TEST(ClusterState, FilesFromThePreviousVersionLoadWithDefaults) {
  TempDir dir;
  const std::string hash = "3f9a1c2e" + std::string(56, 'b');
  write_file_atomic(dir.path / "tokens.json",
                    R"({"tokens":[{"secret_sha256":")" + hash + R"(","created":10,"expires":20}]})",
                    0600);
  write_file_atomic(dir.path / "members.json",
                    R"({"members":{"vps":{"fingerprint":"fp","enrolled_at":15}},"revoked":{}})",
                    0640);
  ClusterState state(dir.path);
  state.load();
  ASSERT_EQ(state.tokens.size(), 1u);
  const auto& t = state.tokens.front();
  EXPECT_EQ(t.id, "3f9a1c2e");  // stable: derived from the stored hash
  EXPECT_EQ(t.uses, 0u);        // unlimited, as tokens were
  EXPECT_EQ(t.used, 0u);
  EXPECT_TRUE(t.enrolled.empty());
  EXPECT_FALSE(t.revoked());
  EXPECT_FALSE(t.used_up());
  EXPECT_EQ(state.members.at("vps").token, "");
  EXPECT_EQ(state.members.at("vps").enrolled_at, 15);
}

TEST(ClusterState, UsedUpOnlyWithALimit) {
  JoinToken t;
  t.used = 1000;
  EXPECT_FALSE(t.used_up());
  t.uses = 1;
  t.used = 0;
  EXPECT_FALSE(t.used_up());
  t.used = 1;
  EXPECT_TRUE(t.used_up());
}

TEST(ClusterState, AnIdRemovedTwiceKeepsBothCertificatesRevoked) {
  TempDir dir;
  {
    ClusterState state(dir.path);
    state.revoke("vps", "fp-first", 100);
    state.revoke("vps", "fp-second", 200);
    state.revoke("vps", "fp-second", 300);  // the same certificate again: one entry
    state.save_members();
  }
  ClusterState state(dir.path);
  state.load();
  EXPECT_TRUE(state.is_revoked("fp-first"));
  EXPECT_TRUE(state.is_revoked("fp-second"));
  EXPECT_FALSE(state.is_revoked("fp-other"));
  EXPECT_EQ(state.revoked.size(), 2u);
  EXPECT_EQ(state.removed_at.at("vps"), 300);  // the token rule uses the latest removal
}

TEST(ClusterState, RevocationsByIdFromBeforeAreConvertedOnLoadAndWrittenBack) {
  TempDir dir;
  write_file_atomic(
      dir.path / "members.json",
      R"({"members":{},"revoked":{"vps":{"fingerprint":"fp-vps","at":40},"nas":{"fingerprint":"fp-nas","at":50}}})",
      0640);
  ClusterState state(dir.path);
  state.load();
  EXPECT_TRUE(state.is_revoked("fp-vps"));
  EXPECT_TRUE(state.is_revoked("fp-nas"));
  EXPECT_EQ(state.removed_at.at("vps"), 40);
  EXPECT_EQ(state.removed_at.at("nas"), 50);
  // The file now has the per-certificate form, so a later removal of vps cannot replace it.
  const auto text = read_file(dir.path / "members.json").value();
  EXPECT_NE(text.find(R"("revoked": [)"), std::string::npos) << text;
  state.revoke("vps", "fp-vps-2", 60);
  state.save_members();
  ClusterState again(dir.path);
  again.load();
  EXPECT_TRUE(again.is_revoked("fp-vps"));
  EXPECT_TRUE(again.is_revoked("fp-vps-2"));
}
