#include "core/config.hpp"

#include <gtest/gtest.h>

using automatelinux::core::apply_config_json;
using automatelinux::core::ConfigError;
using automatelinux::core::DaemonConfig;

namespace {
std::string error_of(const nlohmann::json& json) {
  DaemonConfig config;
  try {
    apply_config_json(config, json, "daemon.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Config, ReadsEveryKey) {
  DaemonConfig config;
  apply_config_json(config, nlohmann::json::parse(R"({
    "socket": "/tmp/s", "state_dir": "/tmp/st", "plugin_dir": "/tmp/p", "heartbeat_ms": 500,
    "log": {"level": "debug"}, "plugins": {"disabled": ["git"]}, "exec": {}, "git": {"x": 1}})"),
                    "daemon.json");
  EXPECT_EQ(config.socket, "/tmp/s");
  EXPECT_EQ(config.state_dir, "/tmp/st");
  EXPECT_EQ(config.plugin_dir, "/tmp/p");
  EXPECT_EQ(config.heartbeat_ms, 500);
  EXPECT_EQ(config.log_level, "debug");
  EXPECT_FALSE(config.plugin_allowed("git"));
  EXPECT_TRUE(config.plugin_allowed("peer_exec"));
  EXPECT_EQ(config.plugin_section("git")["x"], 1);
  EXPECT_TRUE(config.plugin_section("peer_exec").empty());
}

TEST(Config, EnabledListAllowsOnlyThoseNamed) {
  DaemonConfig config;
  apply_config_json(config, {{"plugins", {{"enabled", {"peer_config"}}}}}, "f");
  EXPECT_TRUE(config.plugin_allowed("peer_config"));
  EXPECT_FALSE(config.plugin_allowed("git"));
}

TEST(Config, WrongTypesNameTheKey) {
  EXPECT_NE(error_of({{"socket", 5}}).find("'socket' must be a string"), std::string::npos);
  EXPECT_NE(error_of(nlohmann::json::array()).find("JSON object"), std::string::npos);
  EXPECT_NE(error_of({{"plugins", {{"enabled", "git"}}}}).find("plugins.enabled"),
            std::string::npos);
  EXPECT_NE(error_of({{"plugins", {{"enable", {"git"}}}}}).find("plugins.enable"),
            std::string::npos);
  EXPECT_NE(error_of({{"heartbeat_ms", "fast"}}).find("heartbeat_ms"), std::string::npos);
  EXPECT_NE(error_of({{"exec", 1}}).find("'exec'"), std::string::npos);
}

TEST(Config, UnknownTopLevelKeysAreLeftForPluginsButNotBelowPlugins) {
  EXPECT_EQ(error_of({{"newer_key", 1}, {"exec", {{"anything", 1}}}}), "");
  EXPECT_EQ(error_of({{"plugins", {{"enable", {"git"}}}}}),
            "daemon.json: unknown key 'plugins.enable' (plugins takes: enabled, disabled)");
}

TEST(Config, BadValuesOfCoreKeysNameKeyAndValue) {
  EXPECT_EQ(error_of({{"heartbeat_ms", 50}}),
            "daemon.json: heartbeat_ms: 50 is out of range (an integer from 100 to 600000)");
  EXPECT_NE(error_of({{"log", {{"level", "loud"}}}}).find("log.level: \"loud\" is not one of"),
            std::string::npos);
  EXPECT_EQ(error_of({{"log", {{"level", "warning"}}}}), "");  // spdlog's alias, as before
  EXPECT_EQ(error_of({{"state_dir", ""}}), "daemon.json: state_dir: \"\" is not a path");
}

TEST(Config, ApplyValidKeysSkipsTheBadOnes) {
  DaemonConfig config;
  automatelinux::core::apply_valid_keys(
      config, {{"socket", 5}, {"plugin_dir", "/p"}, {"plugins", {{"disabled", {"git"}}}}});
  EXPECT_EQ(config.socket, DaemonConfig{}.socket);
  EXPECT_EQ(config.plugin_dir, "/p");
  EXPECT_FALSE(config.plugin_allowed("git"));
}

TEST(Config, StreamWindowKeysAreReadAndBounded) {
  DaemonConfig config;
  apply_config_json(config, {{"streams", {{"max_window_bytes", 4 << 20}, {"budget_bytes", 0}}}},
                    "f");
  EXPECT_EQ(config.max_window_bytes, 4u << 20);
  EXPECT_EQ(config.window_budget_bytes, 0u);
  EXPECT_NE(error_of({{"streams", {{"max_window_bytes", 1024}}}}).find("streams.max_window_bytes"),
            std::string::npos);
  EXPECT_NE(error_of({{"streams", {{"budget_bytes", "1G"}}}}).find("streams.budget_bytes"),
            std::string::npos);
  EXPECT_NE(error_of({{"streams", {{"max_window", 1}}}}).find("streams.max_window"),
            std::string::npos);
}
