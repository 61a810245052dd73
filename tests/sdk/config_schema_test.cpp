#include "automatelinux/sdk/config_schema.hpp"

#include <gtest/gtest.h>

namespace sdk = automatelinux::sdk;
using nlohmann::json;
using sdk::ConfigType;

namespace {

const sdk::ConfigSchema& schema() {
  static const sdk::ConfigSchema keys{
      {.key = "name", .type = ConfigType::string},
      {.key = "dir", .type = ConfigType::path},
      {.key = "sub.program", .type = ConfigType::absolute_path},
      {.key = "sub.count", .type = ConfigType::integer, .min = 1, .max = 10},
      {.key = "sub.big", .type = ConfigType::integer, .min = 65536},
      {.key = "sub.on", .type = ConfigType::boolean},
      {.key = "sub.wait", .type = ConfigType::duration},
      {.key = "sub.names", .type = ConfigType::string_list},
      {.key = "sub.mode", .type = ConfigType::choice, .choices = {"auto", "manual"}},
      {.key = "free", .type = ConfigType::object},
  };
  return keys;
}

// The one problem `json` has, as "key|message" (or what was found instead).
std::string problem(const json& json) {
  const auto problems = sdk::check_config(schema(), json);
  if (problems.size() != 1) return std::to_string(problems.size()) + " problems";
  return problems[0].key + "|" + problems[0].message;
}

}  // namespace

TEST(ConfigSchema, AcceptsEveryDeclaredKeyWithAGoodValue) {
  const auto good = json::parse(R"({"name": "", "dir": "d", "free": {"anything": [1]},
    "sub": {"program": "/bin/x", "count": 10, "big": 65536, "on": false, "wait": "1.5m",
            "names": [], "mode": "manual"}})");
  EXPECT_TRUE(sdk::check_config(schema(), good).empty());
  EXPECT_TRUE(sdk::check_config(schema(), json::object()).empty());
}

TEST(ConfigSchema, WrongTypesNameTheKeyAndWhatItTakes) {
  EXPECT_EQ(problem({{"name", 5}}), "name|'name' must be a string");
  EXPECT_EQ(problem({{"sub", {{"count", "3"}}}}),
            "sub.count|'sub.count' must be an integer from 1 to 10");
  EXPECT_EQ(problem({{"sub", {{"count", 2.5}}}}),
            "sub.count|'sub.count' must be an integer from 1 to 10");
  EXPECT_EQ(problem({{"sub", {{"on", 1}}}}), "sub.on|'sub.on' must be true or false");
  EXPECT_EQ(problem({{"sub", {{"names", {"a", 1}}}}}),
            "sub.names|'sub.names' must be a list of strings");
  EXPECT_EQ(problem({{"sub", {{"wait", 30}}}}),
            "sub.wait|'sub.wait' must be a duration such as \"30s\", \"10m\", \"1h\"");
  EXPECT_EQ(problem({{"sub", 1}}), "sub|'sub' must be an object");
  EXPECT_EQ(problem({{"free", "x"}}), "free|'free' must be an object");
  EXPECT_EQ(sdk::check_config(schema(), json::array())[0].message,
            "the top level must be a JSON object");
}

TEST(ConfigSchema, BadValuesShowTheValue) {
  EXPECT_EQ(problem({{"sub", {{"wait", "10x"}}}}),
            "sub.wait|sub.wait: \"10x\" is not a duration (e.g. \"30s\", \"10m\")");
  EXPECT_EQ(problem({{"sub", {{"wait", "0s"}}}}),
            "sub.wait|sub.wait: \"0s\" is not a duration above zero");
  EXPECT_EQ(problem({{"sub", {{"wait", "366d"}}}}),
            "sub.wait|sub.wait: \"366d\" is not a duration (e.g. \"30s\", \"10m\")");
  EXPECT_EQ(problem({{"sub", {{"count", 0}}}}),
            "sub.count|sub.count: 0 is out of range (an integer from 1 to 10)");
  EXPECT_EQ(problem({{"sub", {{"big", 65535}}}}),
            "sub.big|sub.big: 65535 is out of range (an integer of at least 65536)");
  EXPECT_EQ(problem({{"sub", {{"mode", "auto "}}}}),
            "sub.mode|sub.mode: \"auto \" is not one of \"auto\", \"manual\"");
  EXPECT_EQ(problem({{"sub", {{"program", "bin/x"}}}}),
            "sub.program|sub.program: \"bin/x\" is not an absolute path");
  EXPECT_EQ(problem({{"dir", ""}}), "dir|dir: \"\" is not a path");
}

TEST(ConfigSchema, IntegersDoNotWrapAround) {
  EXPECT_NE(problem({{"sub", {{"big", json(18446744073709551615ULL)}}}}).find("out of range"),
            std::string::npos);
  EXPECT_NE(problem({{"sub", {{"count", -1}}}}).find("out of range"), std::string::npos);
  EXPECT_TRUE(sdk::check_config(schema(), {{"sub", {{"big", json(1ULL << 40)}}}}).empty());
}

TEST(ConfigSchema, UnknownKeysAreMarkedAndHintAtTheirSection) {
  const auto problems = sdk::check_config(schema(), {{"nmae", 1}, {"sub", {{"cont", 1}}}});
  ASSERT_EQ(problems.size(), 2U);
  EXPECT_EQ(problems[0].message, "unknown key 'nmae'");
  EXPECT_EQ(problems[1].message,
            "unknown key 'sub.cont' (sub takes: program, count, big, on, wait, names, mode)");
  EXPECT_TRUE(problems[0].unknown && problems[1].unknown);
}

TEST(ConfigSchema, ReportsEveryProblemAtOnce) {
  const auto problems = sdk::check_config(
      schema(), {{"name", 1}, {"sub", {{"count", 99}, {"wait", "x"}, {"mode", "no"}}}, {"x", 1}});
  EXPECT_EQ(problems.size(), 5U);
}

TEST(ConfigSchema, ChecksOneSectionForItsOwner) {
  EXPECT_TRUE(sdk::check_config(schema(), {{"count", 3}}, "sub").empty());
  EXPECT_EQ(sdk::check_config(schema(), {{"count", 30}}, "sub")[0].key, "sub.count");
  EXPECT_EQ(sdk::check_config(schema(), 5, "sub")[0].message, "'sub' must be an object");
}

TEST(ConfigSchema, RequireValidThrowsTheFirstErrorAndIgnoresUnknownKeys) {
  EXPECT_NO_THROW(sdk::require_valid(sdk::check_config(schema(), {{"new_key", 1}})));
  try {
    sdk::require_valid(sdk::check_config(schema(), {{"new_key", 1}, {"name", 1}}));
    FAIL() << "no throw";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "'name' must be a string");
  }
}
