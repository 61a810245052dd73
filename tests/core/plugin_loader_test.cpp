// The plugin loader against real shared objects: one fixture library per failure mode, and the
// bundled plugins. Every failure is recorded with its reason; nothing a failed plugin registered
// survives; disabled plugins are listed, not loaded.
#include "core/plugin_loader.hpp"

#include <unistd.h>

#include <algorithm>

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include "core/builtin_commands.hpp"
#include "core/peer/peer_manager.hpp"

namespace core = automatelinux::core;
namespace fs = std::filesystem;

namespace {

class PluginLoaderTest : public ::testing::Test {
 protected:
  PluginLoaderTest()
      : log_(std::make_shared<spdlog::logger>("test",
                                              std::make_shared<spdlog::sinks::null_sink_mt>())) {
    char templ[] = "/tmp/al-loader-XXXXXX";
    config_.state_dir = ::mkdtemp(templ);
  }
  ~PluginLoaderTest() override { fs::remove_all(config_.state_dir); }

  // Loads `dir` with a fresh loader; records by name.
  std::map<std::string, core::PluginRecord> load(const fs::path& dir) {
    core::peer::PeerManager peers(io_, log_, config_, registry_);
    core::Dispatcher dispatcher(registry_, log_);
    services_ = std::make_unique<core::CoreServices>(
        core::CoreServices{io_, log_, config_, registry_, peers, dispatcher});
    core::PluginLoader loader(*services_);
    loader.load_directory(dir);
    std::map<std::string, core::PluginRecord> out;
    for (const auto& r : loader.records()) out[r.name] = r;
    return out;
  }

  automatelinux::asio::io_context io_;
  std::shared_ptr<spdlog::logger> log_;
  core::DaemonConfig config_;
  core::CommandRegistry registry_;
  std::unique_ptr<core::CoreServices> services_;
};

TEST_F(PluginLoaderTest, EachFailureModeIsRecordedWithItsReason) {
  const auto records = load(AL_FIXTURE_PLUGIN_DIR);
  ASSERT_EQ(records.count("bad_abi"), 1U);
  EXPECT_EQ(records.at("bad_abi").state, "failed");
  EXPECT_NE(records.at("bad_abi").reason.find("SDK ABI version"), std::string::npos);
  ASSERT_EQ(records.count("no_entry"), 1U);
  EXPECT_EQ(records.at("no_entry").state, "failed");
  EXPECT_NE(records.at("no_entry").reason.find("no entry symbol"), std::string::npos);
  ASSERT_EQ(records.count("throws_init"), 1U);
  EXPECT_EQ(records.at("throws_init").state, "failed");
  EXPECT_NE(records.at("throws_init").reason.find("fixture init failure"), std::string::npos);
  // What the failed init registered before throwing is gone.
  EXPECT_EQ(registry_.find("halfRegistered"), nullptr);
  ASSERT_EQ(records.count("test_commands"), 1U);
  EXPECT_EQ(records.at("test_commands").state, "loaded");
}

TEST_F(PluginLoaderTest, BundledPluginsLoadAndRegisterTheirCommands) {
  const auto records = load(AL_PLUGIN_BUILD_DIR);
  for (const char* name : {"peer_exec", "git", "peer_config"}) {
    ASSERT_EQ(records.count(name), 1U) << name;
    EXPECT_EQ(records.at(name).state, "loaded") << records.at(name).reason;
  }
  for (const char* command : {"execOnPeer", "gitOnPeer", "setPeerConfig", "listPeers"})
    EXPECT_NE(registry_.find(command), nullptr) << command;
  EXPECT_NE(registry_.find_service("exec"), nullptr);
}

TEST_F(PluginLoaderTest, DisabledPluginsAreListedButRegisterNothing) {
  config_.plugins_disabled = {"git"};
  const auto records = load(AL_PLUGIN_BUILD_DIR);
  ASSERT_EQ(records.count("git"), 1U);
  EXPECT_EQ(records.at("git").state, "disabled");
  EXPECT_EQ(registry_.find("gitOnPeer"), nullptr);
  EXPECT_NE(registry_.find("execOnPeer"), nullptr);
}

TEST_F(PluginLoaderTest, AMissingDirectoryLoadsNothingAndDoesNotThrow) {
  EXPECT_TRUE(load(config_.state_dir / "no-such-dir").empty());
}

}  // namespace
