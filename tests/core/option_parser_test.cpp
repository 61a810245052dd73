#include "core/option_parser.hpp"

#include <gtest/gtest.h>

namespace sdk = automatelinux::sdk;
namespace po = boost::program_options;
using automatelinux::core::parse_invocation;
using automatelinux::core::UsageError;
using automatelinux::core::wants_help;

namespace {

sdk::CommandSpec exec_like() {
  sdk::CommandSpec spec;
  spec.name = "execOnPeer";
  spec.options.add_options()("peer", po::value<std::string>()->required(), "")(
      "directory", po::value<std::string>()->required(), "")(
      "command", po::value<std::string>(), "")("no-stdin,n", "")("count", po::value<int>(), "");
  spec.positional_label = "PROG ARGS...";
  return spec;
}

sdk::CommandSpec git_like() {
  auto spec = exec_like();
  spec.name = "gitOnPeer";
  spec.rest_is_positional = true;
  return spec;
}

std::string error_of(const sdk::CommandSpec& spec, std::vector<std::string> args) {
  try {
    parse_invocation(spec, args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(OptionParser, ParsesLongOptionsWithSeparateAndInlineValues) {
  auto call = parse_invocation(exec_like(),
                               {"--peer", "vps", "--directory=/opt/x", "--command", "git pull"});
  EXPECT_EQ(call.get<std::string>("peer"), "vps");
  EXPECT_EQ(call.get<std::string>("directory"), "/opt/x");
  EXPECT_EQ(call.get<std::string>("command"), "git pull");
  EXPECT_FALSE(call.has("no-stdin"));
}

TEST(OptionParser, ShortFlagAndDoubleDashArgv) {
  auto call = parse_invocation(
      exec_like(), {"-n", "--peer", "p", "--directory", "/", "--", "ls", "--peer", "-l"});
  EXPECT_TRUE(call.has("no-stdin"));
  EXPECT_EQ(call.positional, (std::vector<std::string>{"ls", "--peer", "-l"}));
}

TEST(OptionParser, NeverAbbreviates) {
  EXPECT_NE(error_of(exec_like(), {"--peer", "p", "--dir", "/"}).find("unknown option '--dir'"),
            std::string::npos);
}

TEST(OptionParser, ReportsUnknownMissingAndRepeatedOptions) {
  EXPECT_NE(error_of(exec_like(), {"--bogus"}).find("'--bogus'"), std::string::npos);
  EXPECT_NE(error_of(exec_like(), {"--peer"}).find("needs a value"), std::string::npos);
  EXPECT_NE(error_of(exec_like(), {"--peer", "p"}).find("directory"), std::string::npos);
  EXPECT_NE(error_of(exec_like(), {"--peer", "a", "--peer", "b", "--directory", "/"})
                .find("more than once"),
            std::string::npos);
  EXPECT_NE(error_of(exec_like(), {"--no-stdin=yes", "--peer", "a", "--directory", "/"})
                .find("takes no value"),
            std::string::npos);
  EXPECT_NE(error_of(exec_like(), {"-nx"}).find("unknown option"), std::string::npos);
  EXPECT_NE(
      error_of(exec_like(), {"--peer", "a", "--directory", "/", "--count", "many"}).find("count"),
      std::string::npos);
}

TEST(OptionParser, PositionalsRefusedWhenTheCommandTakesNone) {
  sdk::CommandSpec spec;
  spec.name = "listPlugins";
  spec.options.add_options()("json", "");
  EXPECT_NE(error_of(spec, {"extra"}).find("unexpected argument 'extra'"), std::string::npos);
  EXPECT_NE(error_of(spec, {"--"}).find("no arguments"), std::string::npos);
}

TEST(OptionParser, RestIsPositionalHandsEverythingAfterTheFirstArgumentOver) {
  auto call = parse_invocation(
      git_like(), {"--peer", "vps", "--directory", "/x", "log", "--oneline", "-5", "--help"});
  EXPECT_EQ(call.positional, (std::vector<std::string>{"log", "--oneline", "-5", "--help"}));
  EXPECT_FALSE(wants_help(git_like(), {"--peer", "vps", "log", "--help"}));
  EXPECT_TRUE(wants_help(git_like(), {"--peer", "vps", "--help"}));
  EXPECT_TRUE(wants_help(exec_like(), {"--help"}));
  EXPECT_FALSE(wants_help(exec_like(), {"--", "prog", "--help"}));
}

TEST(OptionParser, ByteStringsPassUnchanged) {
  const std::string odd = std::string("dir with \xff\xfe bytes; $(rm -rf /) `x`\n");
  auto call = parse_invocation(exec_like(), {"--peer", "p", "--directory", odd, "--", odd});
  EXPECT_EQ(call.get<std::string>("directory"), odd);
  EXPECT_EQ(call.positional.at(0), odd);
}
