#include "core/builtin_commands.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "automatelinux/sdk/reply.hpp"
#include "core/option_parser.hpp"

namespace automatelinux::core {
namespace po = boost::program_options;
namespace {

std::string overview(const CommandRegistry& registry) {
  std::size_t width = 0;
  for (const auto& [name, entry] : registry.commands()) width = std::max(width, name.size());
  std::string out = "Usage: d [--socket PATH] <command> [options]\n\nCommands:\n";
  for (const auto& [name, entry] : registry.commands())
    out += fmt::format("  {:<{}}  {}\n", name, width, entry.spec.summary);
  out += "\nRun 'd help <command>' or 'd <command> --help' for a command's options.\n";
  return out;
}

sdk::CommandSpec help_command(const CommandRegistry& registry) {
  sdk::CommandSpec spec;
  spec.name = "help";
  spec.summary = "List commands, or show one command's options";
  spec.usage = "[COMMAND]";
  spec.positional_label = "COMMAND";
  spec.handler = [&registry](sdk::ServedStreamPtr stream, const sdk::Invocation& call) {
    if (call.positional.empty()) return sdk::reply(stream, overview(registry));
    if (call.positional.size() > 1) return sdk::fail(stream, "'help' takes at most one command");
    const auto* entry = registry.find(call.positional.front());
    if (entry == nullptr)
      return sdk::fail(stream, "unknown command '" + printable_command({call.positional.front()}) +
                                   "'" + did_you_mean(call.positional.front(), registry.names()) +
                                   " (see 'd help')");
    sdk::reply(stream, command_help(entry->spec));
  };
  return spec;
}

sdk::CommandSpec list_plugins_command(const PluginLoader& loader) {
  sdk::CommandSpec spec;
  spec.name = "listPlugins";
  spec.summary = "List plugins with their version, file and state (loaded/disabled/failed)";
  spec.usage = "[--json]";
  spec.options.add_options()("json", "print JSON");
  spec.handler = [&loader](sdk::ServedStreamPtr stream, const sdk::Invocation& call) {
    const auto& records = loader.records();
    if (call.has("json")) {
      auto out = nlohmann::json::array();
      for (const auto& r : records) {
        out.push_back(
            {{"name", r.name},
             {"version", r.version.empty() ? nlohmann::json() : nlohmann::json(r.version)},
             {"file", r.file.string()},
             {"state", r.state},
             {"reason", r.reason.empty() ? nlohmann::json() : nlohmann::json(r.reason)}});
      }
      return sdk::reply(stream,
                        out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    }
    std::size_t name_w = 4, version_w = 7, state_w = 5;
    for (const auto& r : records) {
      name_w = std::max(name_w, r.name.size());
      version_w = std::max(version_w, r.version.size());
      state_w = std::max(state_w, r.state.size());
    }
    std::string out = fmt::format("{:<{}}  {:<{}}  {:<{}}  {}\n", "NAME", name_w, "VERSION",
                                  version_w, "STATE", state_w, "FILE");
    for (const auto& r : records) {
      out += fmt::format("{:<{}}  {:<{}}  {:<{}}  {}{}\n", r.name, name_w,
                         r.version.empty() ? "-" : r.version, version_w, r.state, state_w,
                         r.file.string(), r.reason.empty() ? "" : "  (" + r.reason + ")");
    }
    sdk::reply(stream, out);
  };
  return spec;
}

}  // namespace

void register_builtin_commands(CommandRegistry& registry, const PluginLoader& loader) {
  registry.add(CommandEntry{nullptr, "core", help_command(registry)});
  registry.add(CommandEntry{nullptr, "core", list_plugins_command(loader)});
}

}  // namespace automatelinux::core
