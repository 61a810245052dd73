// What a plugin registers: a command with its options and an asynchronous handler.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "automatelinux/sdk/stream.hpp"

namespace automatelinux::sdk {

// A request after core has parsed its options against the command's description.
struct Invocation {
  std::string command;
  boost::program_options::variables_map options;
  std::vector<std::string> positional;  // byte strings, passed unchanged

  bool has(const std::string& name) const { return options.count(name) > 0; }
  template <class T>
  const T& get(const std::string& name) const {
    return options[name].as<T>();
  }
};

// The handler serves the request on `stream` and must finish it, now or later.
using CommandHandler = std::function<void(ServedStreamPtr stream, const Invocation& invocation)>;

struct CommandSpec {
  std::string name;     // `d NAME …`
  std::string summary;  // one line for `d help`
  std::string usage;    // shown after `d NAME` in help, e.g. "--peer ID [--json]"
  boost::program_options::options_description options;
  // Positional arguments: none unless a label is given ("GIT_ARGS…"). With `rest_is_positional`,
  // everything from the first positional argument on is positional (options included), so the
  // command can hand it to another program untouched. "--" always ends option parsing.
  std::string positional_label;
  bool rest_is_positional = false;
  // Long names (without "--") of options whose values are secrets, e.g. {"token"}. Core never
  // prints or logs their values: audit lines, errors and debug logs show "<redacted>" instead.
  std::set<std::string> secret_options;
  // An administrative command (cluster membership, tokens, configuration): core refuses it, with
  // one line and 255, unless the local caller is root. Being in the socket's group is not enough.
  bool requires_root = false;
  CommandHandler handler;
};

}  // namespace automatelinux::sdk
