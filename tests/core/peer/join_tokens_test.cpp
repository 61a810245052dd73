// The leader's join tokens: only a hash of the secret is kept, ids are unique, each status is
// reported as listTokens shows it, and misuse is refused with a reason.
#include "core/peer/join_tokens.hpp"

#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "core/peer/enrollment.hpp"
#include "core/peer/tls_identity.hpp"
#include "tests/core/peer/session_pair.hpp"

using namespace automatelinux::core::peer;
namespace fs = std::filesystem;

namespace {

struct Leader {
  fs::path dir;
  ClusterState state{""};
  std::shared_ptr<spdlog::logger> log = test::null_logger();
  Leader() {
    char templ[] = "/tmp/al-join-tokens-XXXXXX";
    dir = ::mkdtemp(templ);
    state = ClusterState(dir);
    auto ca_key = generate_key();
    auto ca = make_ca_certificate(ca_key.get(), "test");
    state.write_tls("ca.crt", cert_to_pem(ca.get()), false);
    state.config = LocalConfig{"desktop", "leader", "", "127.0.0.1:3600", 0};
  }
  ~Leader() { fs::remove_all(dir); }
};

std::string status_of(const ClusterState& state, const std::string& id) {
  for (const auto& t : list_join_tokens(state))
    if (t.id == id) return t.status;
  return "absent";
}

}  // namespace

TEST(JoinTokens, ASecretIsShownOnceAndKeptOnlyAsAHash) {
  Leader leader;
  const auto made = create_join_token(leader.state, *leader.log, std::chrono::hours(1), 2);
  const auto parsed = parse_token(made.token);
  ASSERT_TRUE(parsed.has_value());
  ASSERT_EQ(leader.state.tokens.size(), 1u);
  EXPECT_EQ(leader.state.tokens[0].secret_sha256, sha256_hex(parsed->secret));
  const auto saved = read_file(leader.dir / "tokens.json").value();
  EXPECT_EQ(saved.find(parsed->secret), std::string::npos);
  EXPECT_EQ(status_of(leader.state, made.id), "valid");
  const auto listed = list_join_tokens(leader.state);
  EXPECT_EQ(listed[0].uses, 2u);
}

TEST(JoinTokens, StatusesAndRevocation) {
  Leader leader;
  const auto a = create_join_token(leader.state, *leader.log, std::chrono::hours(1), 1);
  const auto b = create_join_token(leader.state, *leader.log, std::chrono::hours(1), {});
  EXPECT_NE(a.id, b.id);
  leader.state.tokens[0].used = 1;
  EXPECT_EQ(status_of(leader.state, a.id), "used up");
  leader.state.tokens[1].expires = unix_now() - 1;
  EXPECT_EQ(status_of(leader.state, b.id), "expired");
  revoke_token(leader.state, *leader.log, a.id);
  EXPECT_EQ(status_of(leader.state, a.id), "revoked");
  EXPECT_EQ(leader.state.tokens[0].revoked_reason, "revoked with revokeToken");
  // A new token prunes the expired one.
  create_join_token(leader.state, *leader.log, std::chrono::hours(1), {});
  EXPECT_EQ(status_of(leader.state, b.id), "absent");
}

TEST(JoinTokens, MisuseIsRefusedWithAReason) {
  Leader leader;
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(
      message([&] { create_join_token(leader.state, *leader.log, std::chrono::seconds(0), {}); }),
      "--ttl must be positive");
  EXPECT_EQ(
      message([&] { create_join_token(leader.state, *leader.log, std::chrono::hours(1), 0u); }),
      "--uses must be at least 1");
  EXPECT_EQ(message([&] { revoke_token(leader.state, *leader.log, "nope"); }),
            "Token not found: nope");
  leader.state.config->role = "worker";
  EXPECT_EQ(
      message([&] { create_join_token(leader.state, *leader.log, std::chrono::hours(1), {}); }),
      "joinToken works only on the leader");
  EXPECT_EQ(message([&] { list_join_tokens(leader.state); }),
            "listTokens works only on the leader");
}
