#include "core/config_check.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace fs = std::filesystem;
using automatelinux::core::CommandLine;

namespace {

struct Result {
  int status;
  std::string out, err;
};

// Runs the check on `text` written to a file, against the bundled plugins (or `plugin_dir`).
Result check(const std::string& text, const std::string& plugin_dir = AL_PLUGIN_BUILD_DIR) {
  const auto file = fs::temp_directory_path() / ("al-check-" + std::to_string(::getpid()));
  std::ofstream(file) << text;
  CommandLine cli;
  cli.config = file.string();
  cli.plugin_dir = plugin_dir;
  std::ostringstream out, err;
  const int status = automatelinux::core::run_config_check(cli, out, err);
  fs::remove(file);
  // The file name differs per run: report lines without it.
  auto strip = [&](std::string s) {
    for (auto at = s.find(file.string() + ": "); at != std::string::npos;
         at = s.find(file.string() + ": "))
      s.erase(at, file.string().size() + 2);
    return s;
  };
  return {status, strip(out.str()), strip(err.str())};
}

}  // namespace

TEST(ConfigCheck, AGoodFileIsOk) {
  const auto result = check(R"({"exec": {"max_concurrent": 2}, "jobs": {"keep": "1d"}})");
  EXPECT_EQ(result.status, 0);
  EXPECT_EQ(result.out, "OK\n");
  EXPECT_EQ(result.err, "");
}

TEST(ConfigCheck, KnowsThePluginsKeysAndReportsEveryProblem) {
  const auto result = check(R"({"exec": {"default_timeout": "10x"}, "jobz": {}, "socket": 1})");
  EXPECT_NE(result.status, 0);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err,
            "exec.default_timeout: \"10x\" is not a duration (e.g. \"30s\", \"10m\")\n"
            "unknown key 'jobz'\n"
            "'socket' must be a string\n");
}

TEST(ConfigCheck, WithoutAPluginDirOnlyThatIsReported) {
  const auto result = check(R"({"exec": {"isolation": "auto"}})", "/nonexistent-al-plugins");
  EXPECT_NE(result.status, 0);
  EXPECT_EQ(result.err,
            "plugin_dir: cannot read /nonexistent-al-plugins: No such file or directory\n");
}

TEST(ConfigCheck, RefusedPluginsAreProblems) {
  const auto result = check("{}", AL_FIXTURE_PLUGIN_DIR);
  EXPECT_NE(result.status, 0);
  EXPECT_NE(result.err.find("bad_abi.so would be refused: SDK ABI version 999"), std::string::npos);
  EXPECT_NE(result.err.find("no_entry.so would be refused: no entry symbol"), std::string::npos);
}
