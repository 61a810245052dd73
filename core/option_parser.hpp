// Parses a command's arguments against the options its plugin registered. Options are never
// abbreviated; unknown options, missing values and missing required options are errors.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "automatelinux/sdk/command.hpp"

namespace automatelinux::core {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// True when the arguments ask for the command's help (`--help` before any positional argument
// that belongs to someone else).
bool wants_help(const sdk::CommandSpec& spec, const std::vector<std::string>& args);

// Throws UsageError with a one-line message naming the offending argument.
sdk::Invocation parse_invocation(const sdk::CommandSpec& spec,
                                 const std::vector<std::string>& args);

// What a secret value is shown as wherever a command is printed or logged.
inline constexpr const char* kRedacted = "<redacted>";

// The arguments with the value of every option the command declares secret replaced by
// kRedacted (`--token VALUE` and `--token=VALUE` alike), following the same rules as
// parse_invocation; safe on arguments that do not parse.
std::vector<std::string> redact_secret_options(const sdk::CommandSpec& spec,
                                               std::vector<std::string> args);

// `text` with the secret of every join token in it (`al1.<32 hex>.…`) replaced by kRedacted:
// a token typed where no secret option expects it (a misspelt option, a stray argument) is not
// logged either.
std::string mask_join_tokens(std::string text);

// `d help NAME` text.
std::string command_help(const sdk::CommandSpec& spec);

}  // namespace automatelinux::core
