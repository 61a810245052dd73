#include "core/option_parser.hpp"

#include <optional>
#include <sstream>
#include <string_view>

namespace automatelinux::core {
namespace po = boost::program_options;
namespace {

struct Token {
  std::string name;  // as typed: "--peer" or "-n"
  std::optional<std::string> inline_value;
};

bool is_option(const std::string& arg) {
  return arg.size() > 1 && arg[0] == '-';
}

const po::option_description* find_option(const sdk::CommandSpec& spec, const std::string& name) {
  // find_nothrow(name, approx=false) matches long names exactly; short names are stored as "-n".
  const std::string key = name.rfind("--", 0) == 0 ? name.substr(2) : name;
  return spec.options.find_nothrow(key, /*approx=*/false);
}

std::string in_quotes(const std::string& s) {
  return "'" + mask_join_tokens(s) + "'";
}

bool is_secret(const sdk::CommandSpec& spec, const po::option_description& desc) {
  return spec.secret_options.count(desc.long_name()) > 0;
}

}  // namespace

bool wants_help(const sdk::CommandSpec& spec, const std::vector<std::string>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") return false;
    if (arg == "--help" || arg == "-h") return true;
    if (!is_option(arg)) {
      if (spec.rest_is_positional) return false;
      continue;
    }
    // Skip the value of an option that takes one, so it is not mistaken for a positional.
    const auto* desc = arg.find('=') == std::string::npos ? find_option(spec, arg) : nullptr;
    if (desc != nullptr && desc->semantic()->max_tokens() > 0) ++i;
  }
  return false;
}

namespace {

// Stores and checks what was parsed; Boost's errors become usage errors that say what to do.
void store_options(const sdk::CommandSpec& spec, const std::vector<std::string>& args,
                   const po::parsed_options& parsed, sdk::Invocation& call) {
  try {
    po::store(parsed, call.options);
    po::notify(call.options);
  } catch (const po::required_option& e) {
    // `d execOnPeer vps /tmp echo hi`: words where options belong. Say that, not which option
    // Boost happened to check first.
    if (!args.empty() && !is_option(args.front()))
      throw UsageError("'" + spec.name + "' takes options, not positional words like " +
                       in_quotes(args.front()) + ": d " + spec.name + " " + spec.usage +
                       " (see 'd help " + spec.name + "')");
    throw UsageError(std::string(e.what()) + " (see 'd help " + spec.name + "')");
  } catch (po::error_with_option_name& e) {
    // Boost quotes the offending value in some messages ("the argument ('…') … is invalid").
    std::string name = e.get_option_name();
    name.erase(0, name.find_first_not_of('-'));
    if (spec.secret_options.count(name) > 0) e.set_substitute("value", kRedacted);
    throw UsageError(mask_join_tokens(e.what()) + " (see 'd help " + spec.name + "')");
  } catch (const po::error& e) {
    throw UsageError(std::string(e.what()) + " (see 'd help " + spec.name + "')");
  }
}

}  // namespace

sdk::Invocation parse_invocation(const sdk::CommandSpec& spec,
                                 const std::vector<std::string>& args) {
  sdk::Invocation call;
  call.command = spec.name;
  po::parsed_options parsed(&spec.options);
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || !is_option(arg)) {
      if (spec.positional_label.empty())
        throw UsageError("unexpected argument " + in_quotes(arg) + " for '" + spec.name + "'");
      call.positional.push_back(arg);
      if (spec.rest_is_positional) options_done = true;
      continue;
    }
    if (arg == "--") {
      if (spec.positional_label.empty())
        throw UsageError("'" + spec.name + "' takes no arguments after '--'");
      options_done = true;
      continue;
    }
    Token token{arg, std::nullopt};
    if (arg.rfind("--", 0) == 0) {
      if (auto eq = arg.find('='); eq != std::string::npos) {
        token.name = arg.substr(0, eq);
        token.inline_value = arg.substr(eq + 1);
      }
    } else if (arg.size() != 2) {
      throw UsageError("unknown option " + in_quotes(arg) + " for '" + spec.name +
                       "' (short options cannot be combined)");
    }
    const po::option_description* desc = find_option(spec, token.name);
    if (desc == nullptr)
      throw UsageError("unknown option " + in_quotes(token.name) + " for '" + spec.name +
                       "' (see 'd help " + spec.name + "')");
    const bool takes_value = desc->semantic()->max_tokens() > 0;
    po::option opt(desc->key(""), {});
    if (takes_value) {
      if (token.inline_value) {
        opt.value.push_back(*token.inline_value);
      } else if (i + 1 < args.size()) {
        opt.value.push_back(args[++i]);
      } else {
        throw UsageError("option " + in_quotes(token.name) + " needs a value");
      }
    } else if (token.inline_value) {
      throw UsageError("option " + in_quotes(token.name) + " takes no value");
    }
    opt.original_tokens.push_back(token.name);
    parsed.options.push_back(std::move(opt));
  }
  store_options(spec, args, parsed, call);
  return call;
}

std::vector<std::string> redact_secret_options(const sdk::CommandSpec& spec,
                                               std::vector<std::string> args) {
  if (spec.secret_options.empty()) return args;
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || !is_option(arg)) {
      if (spec.rest_is_positional) options_done = true;
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    const auto eq = arg.rfind("--", 0) == 0 ? arg.find('=') : std::string::npos;
    const std::string name = eq == std::string::npos ? arg : arg.substr(0, eq);
    const po::option_description* desc = find_option(spec, name);
    if (desc == nullptr) continue;
    const bool secret = is_secret(spec, *desc);
    if (eq != std::string::npos) {
      if (secret) args[i] = name + "=" + kRedacted;
    } else if (desc->semantic()->max_tokens() > 0 && i + 1 < args.size()) {
      ++i;
      if (secret) args[i] = kRedacted;
    }
  }
  return args;
}

std::string mask_join_tokens(std::string text) {
  static constexpr std::string_view kPrefix = "al1.";
  static constexpr std::size_t kSecretLength = 32;
  const auto is_hex = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  };
  for (auto at = text.find(kPrefix); at != std::string::npos; at = text.find(kPrefix, at + 1)) {
    const std::size_t start = at + kPrefix.size();
    std::size_t end = start;
    while (end < text.size() && is_hex(text[end])) ++end;
    if (end - start >= kSecretLength) text.replace(start, end - start, kRedacted);
  }
  return text;
}

std::string command_help(const sdk::CommandSpec& spec) {
  std::ostringstream out;
  out << "Usage: d " << spec.name;
  if (!spec.usage.empty()) out << ' ' << spec.usage;
  out << "\n\n" << spec.summary << "\n";
  if (!spec.options.options().empty()) out << "\n" << spec.options;
  return out.str();
}

}  // namespace automatelinux::core
