// Secret options and join tokens never reach a printed or logged command line.
#include <gtest/gtest.h>

#include "core/dispatcher.hpp"
#include "core/option_parser.hpp"

namespace sdk = automatelinux::sdk;
namespace po = boost::program_options;
using automatelinux::core::mask_join_tokens;
using automatelinux::core::parse_invocation;
using automatelinux::core::printable_command;
using automatelinux::core::redact_secret_options;
using automatelinux::core::UsageError;

namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef";
const std::string kToken = "al1." + kSecret + "." + std::string(64, 'f');

sdk::CommandSpec set_peer_config_like() {
  sdk::CommandSpec spec;
  spec.name = "setPeerConfig";
  spec.options.add_options()("role", po::value<std::string>(), "")(
      "id", po::value<std::string>(), "")("token,t", po::value<std::string>(), "")(
      "uses", po::value<int>(), "")("json", "");
  spec.secret_options = {"token", "uses"};
  return spec;
}

using Args = std::vector<std::string>;

}  // namespace

TEST(Redaction, SeparateAndInlineValuesOfSecretOptions) {
  const auto spec = set_peer_config_like();
  EXPECT_EQ(redact_secret_options(spec, {"--role", "worker", "--token", kToken, "--id", "vps"}),
            (Args{"--role", "worker", "--token", "<redacted>", "--id", "vps"}));
  EXPECT_EQ(redact_secret_options(spec, {"--token=" + kToken, "--id", "vps"}),
            (Args{"--token=<redacted>", "--id", "vps"}));
  EXPECT_EQ(redact_secret_options(spec, {"-t", "s3cret"}), (Args{"-t", "<redacted>"}));
  // "-" (read from stdin) is redacted like any value: nothing depends on what the value was.
  EXPECT_EQ(redact_secret_options(spec, {"--token", "-"}), (Args{"--token", "<redacted>"}));
}

TEST(Redaction, LeavesEverythingElseAlone) {
  const auto spec = set_peer_config_like();
  // A non-secret option's value that looks like an option name is not taken for it.
  EXPECT_EQ(redact_secret_options(spec, {"--id", "--token", "--json"}),
            (Args{"--id", "--token", "--json"}));
  // A flag does not swallow the next argument; a missing value is no crash.
  EXPECT_EQ(redact_secret_options(spec, {"--json", "x", "--token"}),
            (Args{"--json", "x", "--token"}));
  // Unknown options pass through (the parser rejects them anyway).
  EXPECT_EQ(redact_secret_options(spec, {"--bogus", "v"}), (Args{"--bogus", "v"}));
  // After "--" nothing is an option.
  EXPECT_EQ(redact_secret_options(spec, {"--", "--token", "v"}), (Args{"--", "--token", "v"}));
  auto plain = spec;
  plain.secret_options.clear();
  EXPECT_EQ(redact_secret_options(plain, {"--token", "v"}), (Args{"--token", "v"}));
}

TEST(Redaction, RestIsPositionalStopsAtFirstPositional) {
  auto spec = set_peer_config_like();
  spec.positional_label = "ARGS";
  spec.rest_is_positional = true;
  EXPECT_EQ(redact_secret_options(spec, {"--token", "a", "log", "--token", "b"}),
            (Args{"--token", "<redacted>", "log", "--token", "b"}));
}

TEST(Redaction, JoinTokensAreMaskedAnywhere) {
  EXPECT_EQ(mask_join_tokens(kToken), "al1.<redacted>." + std::string(64, 'f'));
  EXPECT_EQ(mask_join_tokens("--tokne=" + kToken),
            "--tokne=al1.<redacted>." + std::string(64, 'f'));
  EXPECT_EQ(mask_join_tokens("echo " + kToken + " and " + kToken),
            "echo al1.<redacted>." + std::string(64, 'f') + " and al1.<redacted>." +
                std::string(64, 'f'));
  EXPECT_EQ(mask_join_tokens("al1.short"), "al1.short");
  EXPECT_EQ(mask_join_tokens("no token here"), "no token here");
  const auto line = printable_command({"execOnPeer", "--", "echo", kToken});
  EXPECT_EQ(line.find(kSecret), std::string::npos) << line;
}

TEST(Redaction, UsageErrorsDoNotEchoSecrets) {
  const auto spec = set_peer_config_like();
  auto error_of = [&spec](const Args& args) -> std::string {
    try {
      parse_invocation(spec, args);
    } catch (const UsageError& e) {
      return e.what();
    }
    return "";
  };
  // Boost quotes invalid values; a secret option's value is redacted.
  const auto bad_value = error_of({"--uses", "hunter2"});
  EXPECT_NE(bad_value, "");
  EXPECT_EQ(bad_value.find("hunter2"), std::string::npos) << bad_value;
  // A token given as a stray argument is not echoed either.
  const auto stray = error_of({"--id", "vps", kToken});
  EXPECT_NE(stray, "");
  EXPECT_EQ(stray.find(kSecret), std::string::npos) << stray;
}
