#include "core/dispatcher.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "automatelinux/sdk/reply.hpp"
#include "core/option_parser.hpp"
#include "core/serving_stream.hpp"
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

std::string did_you_mean(const std::string& typed, const std::vector<std::string>& known) {
  // Edit distance, case-insensitive: `execonpeer`, `exeOnPeer` and `listPeer` all find their way.
  auto distance = [](std::string a, std::string b) {
    for (auto* s : {&a, &b})
      for (auto& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= b.size(); ++j) {
        const std::size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
        diagonal = up;
      }
    }
    return row[b.size()];
  };
  if (typed.size() > 64) return {};
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, typed.size() / 4) + 1;
  for (const auto& name : known) {
    const auto d = distance(typed, name);
    if (d < best_distance) {
      best = name;
      best_distance = d;
    }
  }
  return best.empty() ? std::string{} : " (did you mean " + best + "?)";
}

void Dispatcher::dispatch(const std::vector<std::string>& argv,
                          const sdk::ServedStreamPtr& stream) const {
  if (argv.empty()) return sdk::fail(stream, "no command given (see 'd help')");
  const std::string& name = argv.front();
  const CommandEntry* entry = registry_.find(name);
  if (entry == nullptr) {
    return sdk::fail(stream, "unknown command '" + printable_command({name}) + "'" +
                                 did_you_mean(name, registry_.names()) + " (see 'd help')");
  }
  const std::vector<std::string> args(argv.begin() + 1, argv.end());
  if (wants_help(entry->spec, args)) return sdk::reply(stream, command_help(entry->spec));
  // Administrative commands: the socket's group lets a user run commands, not run the cluster.
  // Checked before the arguments, so a refusal says nothing about them.
  if (entry->spec.requires_root) {
    const auto& requester = stream->requester();
    if (!requester.peer.empty() || requester.uid != 0)
      return sdk::fail(stream, name + " needs root on this host (run it with sudo)");
  }
  sdk::Invocation call;
  try {
    call = parse_invocation(entry->spec, args);
  } catch (const UsageError& e) {
    return sdk::fail(stream, e.what());
  }
  // Every served stream in the daemon is core's; a plugin could only hand back one it was given.
  if (auto* serving = dynamic_cast<ServingStream*>(stream.get()))
    serving->keep_loaded(entry->library);
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
