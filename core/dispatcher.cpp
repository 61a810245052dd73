#include "core/dispatcher.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "automatelinux/sdk/reply.hpp"
#include "core/option_parser.hpp"
#include "core/untrusted_text.hpp"

namespace automatelinux::core {

std::string printable_command(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& original : argv) {
    const std::string arg = mask_join_tokens(original);
    if (!out.empty()) out += ' ';
    const bool plain = !arg.empty() && arg.find_first_of(" \t'\"\\") == std::string::npos;
    if (!plain) out += '\'';
    for (unsigned char c : arg) {
      if (c < 0x20 || c == 0x7f || c >= 0x80 || c == '\'' || c == '\\') {
        out += fmt::format("\\x{:02x}", c);
      } else {
        out += static_cast<char>(c);
      }
    }
    if (!plain) out += '\'';
  }
  return out;
}

std::string Dispatcher::printable(const std::vector<std::string>& argv) const {
  const CommandEntry* entry = argv.empty() ? nullptr : registry_.find(argv.front());
  if (entry == nullptr) return printable_command(argv);
  auto args = redact_secret_options(entry->spec, {argv.begin() + 1, argv.end()});
  args.insert(args.begin(), argv.front());
  return printable_command(args);
}

void Dispatcher::dispatch(const std::vector<std::string>& argv,
                          const sdk::StreamPtr& stream) const {
  if (argv.empty()) return sdk::fail(stream, "no command given (see 'd help')");
  const std::string& name = argv.front();
  const CommandEntry* entry = registry_.find(name);
  if (entry == nullptr) {
    return sdk::fail(stream, "unknown command '" + printable_command({name}) + "' (see 'd help')");
  }
  const std::vector<std::string> args(argv.begin() + 1, argv.end());
  if (wants_help(entry->spec, args)) return sdk::reply(stream, command_help(entry->spec));
  sdk::Invocation call;
  try {
    call = parse_invocation(entry->spec, args);
  } catch (const UsageError& e) {
    return sdk::fail(stream, e.what());
  }
  try {
    entry->spec.handler(stream, call);
  } catch (const std::exception& e) {
    log_->error("request {}: plugin '{}' threw from '{}': {}", stream->request_id(), entry->plugin,
                name, escape_untrusted(e.what()));
    sdk::fail(stream, "command '" + name + "' failed: " + e.what());
  } catch (...) {
    log_->error("request {}: plugin '{}' threw a non-exception from '{}'", stream->request_id(),
                entry->plugin, name);
    sdk::fail(stream, "command '" + name + "' failed");
  }
}

}  // namespace automatelinux::core
