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
