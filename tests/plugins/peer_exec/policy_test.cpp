// The executing host's exec policy: parsing (every bad key named), peers, and directories —
// realpath'ed roots, symlinks out of a root, and the descriptor that is entered.
#include "plugins/peer_exec/policy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include <gtest/gtest.h>

namespace fs = std::filesystem;
using automatelinux::peer_exec::ExecPolicy;
using nlohmann::json;

namespace {

class PolicyTest : public ::testing::Test {
 protected:
  PolicyTest() {
    char templ[] = "/tmp/al-policy-XXXXXX";
    dir_ = ::mkdtemp(templ);
    fs::create_directories(dir_ / "root" / "sub");
    fs::create_directories(dir_ / "outside");
    fs::create_symlink(dir_ / "outside", dir_ / "root" / "escape");
    fs::create_symlink(dir_ / "root" / "sub", dir_ / "root" / "inner");
    std::ofstream(dir_ / "root" / "file") << "x";
  }
  ~PolicyTest() override { fs::remove_all(dir_); }

  ExecPolicy rooted() const {
    return ExecPolicy::from_json({{"allowed_roots", {(dir_ / "root").string()}}});
  }
  static std::string error_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const std::exception& e) {
      return e.what();
    }
    return {};
  }

  fs::path dir_;
};

TEST_F(PolicyTest, DefaultsAllowEveryPeerAndEveryDirectory) {
  const auto policy = ExecPolicy::from_json(json::object());
  EXPECT_EQ(policy.check_peer("anyone"), "");
  EXPECT_EQ(policy.allowed_roots, std::vector<std::string>{"/"});
  EXPECT_EQ(policy.max_concurrent, 256U);
  EXPECT_FALSE(policy.default_timeout);
}

TEST_F(PolicyTest, BadKeysAreNamed) {
  EXPECT_NE(error_of([] {
              ExecPolicy::from_json({{"allowed_peers", "vps"}});
            }).find("allowed_peers"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              ExecPolicy::from_json({{"max_concurrent", 0}});
            }).find("max_concurrent"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              ExecPolicy::from_json({{"default_timeout", "366d"}});
            }).find("default_timeout"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              ExecPolicy::from_json({{"run_as", 5}});
            }).find("run_as"),
            std::string::npos);
}

TEST_F(PolicyTest, OnlyListedPeersMayRunCommands) {
  const auto policy = ExecPolicy::from_json({{"allowed_peers", {"laptop"}}});
  EXPECT_EQ(policy.check_peer("laptop"), "");
  EXPECT_EQ(policy.check_peer("vps"), "peer 'vps' may not run commands here");
}

// Users that exist on every Debian system: root (uid 0), daemon (1), bin (2).
TEST_F(PolicyTest, AllowedUsersDefaultToAnyoneUnlessRunAsIsSet) {
  const auto open = ExecPolicy::from_json(json::object());
  EXPECT_EQ(open.check_user("daemon", "vps"), "");
  EXPECT_EQ(open.check_user("no-such-user-x", "vps"), "No such user on vps: no-such-user-x");
  const auto confined = ExecPolicy::from_json({{"run_as", "daemon"}});
  EXPECT_EQ(confined.default_user(), "daemon");
  EXPECT_EQ(confined.check_user("daemon", "vps"), "");
  EXPECT_EQ(confined.check_user("bin", "vps"),
            "User 'bin' is not allowed on vps (exec.allowed_users)");
}

TEST_F(PolicyTest, AllowedUsersListAndEmptyList) {
  const auto listed = ExecPolicy::from_json({{"allowed_users", {"bin"}}});
  EXPECT_EQ(listed.check_user("bin", "vps"), "");
  EXPECT_NE(listed.check_user("daemon", "vps"), "");
  EXPECT_EQ(listed.check_user(listed.default_user(), "vps"), "");  // the daemon's own user
  const auto none = ExecPolicy::from_json({{"allowed_users", json::array()}});
  EXPECT_NE(none.check_user("bin", "vps"), "");
  EXPECT_EQ(none.check_user(none.default_user(), "vps"), "");
  EXPECT_NE(error_of([] {
              ExecPolicy::from_json({{"allowed_users", "bin"}});
            }).find("allowed_users"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              ExecPolicy::from_json({{"sftp_server", "sftp-server"}});
            }).find("sftp_server"),
            std::string::npos);
}

TEST_F(PolicyTest, RootsAreRealpathed) {
  const auto policy =
      ExecPolicy::from_json({{"allowed_roots", {(dir_ / "root" / "inner").string()}}});
  EXPECT_EQ(policy.allowed_roots, std::vector<std::string>{fs::canonical(dir_ / "root" / "sub")});
}

TEST_F(PolicyTest, DirectoriesInsideARootOpenAndAreWhatWasChecked) {
  const auto policy = rooted();
  const auto opened = policy.open_directory((dir_ / "root" / "inner").string(), "vps");
  EXPECT_EQ(opened.path, fs::canonical(dir_ / "root" / "sub").string());
  struct stat by_fd {
  }, by_path{};
  ASSERT_EQ(::fstat(opened.fd.get(), &by_fd), 0);
  ASSERT_EQ(::stat((dir_ / "root" / "sub").c_str(), &by_path), 0);
  EXPECT_EQ(by_fd.st_ino, by_path.st_ino);
}

TEST_F(PolicyTest, SymlinksOutOfARootAndOtherBadDirectoriesAreRefused) {
  const auto policy = rooted();
  const auto root = dir_ / "root";
  EXPECT_EQ(error_of([&] { policy.open_directory((root / "escape").string(), "vps"); }),
            "Directory outside the allowed roots on vps: " + (root / "escape").string());
  EXPECT_EQ(error_of([&] { policy.open_directory((root / ".." / "outside").string(), "vps"); }),
            "Directory outside the allowed roots on vps: " + (root / ".." / "outside").string());
  EXPECT_EQ(error_of([&] { policy.open_directory((root / "nope").string(), "vps"); }),
            "Directory not found on vps: " + (root / "nope").string());
  EXPECT_EQ(error_of([&] { policy.open_directory((root / "file").string(), "vps"); }),
            "Not a directory on vps: " + (root / "file").string());
  EXPECT_EQ(error_of([&] { policy.open_directory("relative/dir", "vps"); }),
            "Directory must be an absolute path on vps: relative/dir");
}

}  // namespace

namespace {

// Whom a request runs as (docs/security.md, "Who may become which user"), with the accounts every
// Debian system has: root (uid 0), daemon, bin, nobody.
automatelinux::sdk::Requester caller(const std::string& member, const std::string& name,
                                     bool root = false) {
  return {.peer = member, .uid = -1, .name = name, .root = root};
}

TEST(UserChoice, RootKeepsTheDefaultOrTheUserItNames) {
  const auto open = ExecPolicy::from_json(json::object());
  const auto root = caller("laptop", "root", true);
  EXPECT_EQ(open.choose_user(root, std::nullopt, "vps").user, open.default_user());
  EXPECT_EQ(open.choose_user(root, "bin", "vps").refusal, "");
  EXPECT_EQ(open.choose_user(root, "bin", "vps").user, "bin");
}

TEST(UserChoice, ANonRootCallerRunsAsItselfAndOthersOnlyByTheMap) {
  const auto open = ExecPolicy::from_json(json::object());
  const auto daemon = caller("laptop", "daemon");
  EXPECT_EQ(open.choose_user(daemon, std::nullopt, "vps").user, "daemon");
  EXPECT_EQ(open.choose_user(daemon, std::nullopt, "vps").refusal, "");
  EXPECT_EQ(open.choose_user(daemon, "root", "vps").refusal,
            "User 'root' is not allowed for laptop/daemon on vps (exec.user_map)");
  EXPECT_NE(open.choose_user(daemon, "bin", "vps").refusal, "");
  EXPECT_EQ(open.choose_user(caller("laptop", "no-such-user-x"), std::nullopt, "vps").refusal,
            "No such user on vps: no-such-user-x");
  // A request that does not say who asked is never root.
  EXPECT_NE(open.choose_user(caller("laptop", ""), std::nullopt, "vps").refusal, "");
  // A caller named root but not root on its host does not become root by its name.
  EXPECT_NE(open.choose_user(caller("laptop", "root"), std::nullopt, "vps").refusal, "");

  const auto mapped = ExecPolicy::from_json(
      {{"user_map", {{"laptop:daemon", {"bin", "root"}}, {"*:nobody", {"*"}}}}});
  EXPECT_EQ(mapped.choose_user(daemon, "bin", "vps").refusal, "");
  EXPECT_EQ(mapped.choose_user(daemon, "root", "vps").user, "root");
  EXPECT_EQ(mapped.choose_user(daemon, "root", "vps").refusal, "");
  EXPECT_NE(mapped.choose_user(caller("desktop", "daemon"), "bin", "vps").refusal, "");
  // "*" reaches anyone but uid 0.
  EXPECT_EQ(mapped.choose_user(caller("desktop", "nobody"), "daemon", "vps").refusal, "");
  EXPECT_EQ(mapped.choose_user(caller("desktop", "nobody"), "root", "vps").refusal,
            "User 'root' (uid 0) is not allowed for desktop/nobody on vps (exec.user_map must "
            "name it)");
}

TEST(UserChoice, AllowedUsersBoundEveryCaseAndRunAsForces) {
  const auto bounded =
      ExecPolicy::from_json({{"user_map", {{"*:*", {"*"}}}}, {"allowed_users", {"bin"}}});
  EXPECT_EQ(bounded.choose_user(caller("laptop", "daemon"), std::nullopt, "vps").refusal,
            "User 'daemon' is not allowed on vps (exec.allowed_users)");
  EXPECT_EQ(bounded.choose_user(caller("laptop", "daemon"), "bin", "vps").refusal, "");
  const auto confined = ExecPolicy::from_json({{"run_as", "nobody"}});
  EXPECT_EQ(confined.choose_user(caller("laptop", "daemon"), std::nullopt, "vps").user, "nobody");
  EXPECT_NE(confined.choose_user(caller("laptop", "daemon"), "daemon", "vps").refusal, "");
  EXPECT_EQ(confined.choose_user(caller("laptop", "root", true), std::nullopt, "vps").user,
            "nobody");
}

TEST(UserChoice, BadMapsAreRefusedNamingTheKey) {
  for (const auto& bad :
       {json{{"user_map", {{"laptop", {"bin"}}}}}, json{{"user_map", {{"laptop:daemon", "bin"}}}},
        json{{"user_map", {{":daemon", {"bin"}}}}}, json{{"user_map", {{"a:b:c", {"bin"}}}}},
        json{{"user_map", json::array()}}}) {
    std::string error;
    try {
      ExecPolicy::from_json(bad);
    } catch (const std::exception& e) {
      error = e.what();
    }
    EXPECT_NE(error.find("user_map"), std::string::npos) << bad.dump();
  }
}

}  // namespace
