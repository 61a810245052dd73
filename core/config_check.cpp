#include "core/config_check.hpp"

#include <set>

#include "core/config_keys.hpp"
#include "core/plugin_file.hpp"

namespace automatelinux::core {
namespace {

using Problems = std::vector<sdk::ConfigProblem>;

// What the plugin directory adds: the keys of the plugins that would load, and the problems met.
struct PluginScan {
  sdk::ConfigSchema keys;
  Problems problems;
  bool readable = true;
};

// A disabled plugin's sections are known but not checked: each becomes a free-form object.
void add_unchecked(sdk::ConfigSchema& keys, const sdk::ConfigSchema& plugin_keys) {
  for (const auto& key : plugin_keys) {
    const auto top = key.key.substr(0, key.key.find('.'));
    if (!sdk::config_detail::find_key(keys, top) && !sdk::config_detail::is_section(keys, top))
      keys.push_back({.key = top, .type = sdk::ConfigType::object});
  }
}

PluginScan scan_plugins(const DaemonConfig& config) {
  PluginScan scan;
  std::error_code ec;
  const auto files = plugin_files(config.plugin_dir, ec);
  if (ec) {
    scan.readable = false;
    scan.problems.push_back({"plugin_dir", "plugin_dir: cannot read " + config.plugin_dir.string() +
                                               ": " + ec.message()});
    return scan;
  }
  std::set<std::string> seen;
  for (const auto& file : files) {
    auto plugin = open_plugin_file(file);
    const auto name = plugin.name.empty() ? file.stem().string() : plugin.name;
    if (!config.plugin_allowed(name)) {
      if (plugin.error.empty()) add_unchecked(scan.keys, plugin.config_keys);
      continue;
    }
    if (plugin.error.empty() && !seen.insert(name).second)
      plugin.error = "a plugin named '" + name + "' comes earlier in the directory";
    if (!plugin.error.empty()) {
      scan.problems.push_back(
          {"plugin_dir", "plugin_dir: " + file.string() + " would be refused: " + plugin.error});
      continue;
    }
    scan.keys.insert(scan.keys.end(), plugin.config_keys.begin(), plugin.config_keys.end());
  }
  return scan;
}

Problems find_problems(const DaemonConfig& config, const nlohmann::json& json) {
  auto scan = scan_plugins(config);
  auto keys = core_config_keys();
  keys.insert(keys.end(), scan.keys.begin(), scan.keys.end());
  Problems problems;
  for (auto& problem : sdk::check_config(keys, json)) {
    // Without the plugins, their sections cannot be told from unknown keys: say nothing of them.
    if (!scan.readable && problem.unknown && problem.key.find('.') == std::string::npos) continue;
    problems.push_back(std::move(problem));
  }
  problems.insert(problems.end(), scan.problems.begin(), scan.problems.end());
  return problems;
}

}  // namespace

int run_config_check(const CommandLine& cli, std::ostream& out, std::ostream& err) {
  const auto file = config_file_path(cli);
  const std::string origin = file.empty() ? "(no config file)" : file.string();
  nlohmann::json json = nlohmann::json::object();
  if (!file.empty()) {
    try {
      json = read_config_file(file);
    } catch (const ConfigError& e) {
      err << e.what() << "\n";
      return 1;
    }
  }
  DaemonConfig config;
  apply_valid_keys(config, json);
  apply_flags(config, cli);
  const auto problems = find_problems(config, json);
  for (const auto& problem : problems) err << origin << ": " << problem.message << "\n";
  if (problems.empty()) out << origin << ": OK\n";
  return problems.empty() ? 0 : 1;
}

void log_unknown_keys(const DaemonConfig& config, const std::vector<PluginRecord>& plugins,
                      spdlog::logger& log) {
  auto keys = core_config_keys();
  for (const auto& plugin : plugins)
    keys.insert(keys.end(), plugin.config_keys.begin(), plugin.config_keys.end());
  for (const auto& problem : sdk::check_config(keys, config.raw))
    if (problem.unknown) log.warn("{}: {}", config.config_file.string(), problem.message);
}

}  // namespace automatelinux::core
