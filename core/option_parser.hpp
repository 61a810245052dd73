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

// `d help NAME` text.
std::string command_help(const sdk::CommandSpec& spec);

}  // namespace automatelinux::core
