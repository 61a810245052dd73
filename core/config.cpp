#include "core/config.hpp"

#include <fstream>
#include <iostream>

#include <boost/program_options.hpp>

#include "wire/frame.hpp"

#ifndef AL_BIN_TO_PLUGIN_DIR
#error "AL_BIN_TO_PLUGIN_DIR must be defined by the build"
#endif

namespace automatelinux::core {
namespace po = boost::program_options;
namespace {

constexpr const char* kDefaultConfigFile = "/etc/automatelinux/daemon.json";

std::string expect_string(const nlohmann::json& json, const char* key, const std::string& origin) {
  const auto& v = json.at(key);
  if (!v.is_string()) throw ConfigError(origin + ": '" + key + "' must be a string");
  return v.get<std::string>();
}

std::set<std::string> expect_string_list(const nlohmann::json& v, const std::string& what,
                                         const std::string& origin) {
  if (!v.is_array()) throw ConfigError(origin + ": '" + what + "' must be a list of names");
  std::set<std::string> out;
  for (const auto& item : v) {
    if (!item.is_string()) throw ConfigError(origin + ": '" + what + "' must contain only strings");
    out.insert(item.get<std::string>());
  }
  return out;
}

}  // namespace

bool DaemonConfig::plugin_allowed(const std::string& name) const {
  if (plugins_enabled && !plugins_enabled->contains(name)) return false;
  return !plugins_disabled.contains(name);
}

const nlohmann::json& DaemonConfig::plugin_section(const std::string& name) const {
  static const nlohmann::json empty = nlohmann::json::object();
  auto it = raw.find(name);
  return (it != raw.end() && it->is_object()) ? *it : empty;
}

void apply_config_json(DaemonConfig& config, const nlohmann::json& json,
                       const std::string& origin) {
  if (!json.is_object()) throw ConfigError(origin + ": the top level must be a JSON object");
  if (json.contains("socket")) config.socket = expect_string(json, "socket", origin);
  if (json.contains("state_dir")) config.state_dir = expect_string(json, "state_dir", origin);
  if (json.contains("plugin_dir")) config.plugin_dir = expect_string(json, "plugin_dir", origin);
  if (json.contains("log")) {
    const auto& log = json.at("log");
    if (!log.is_object()) throw ConfigError(origin + ": 'log' must be an object");
    if (log.contains("level")) config.log_level = expect_string(log, "level", origin);
  }
  if (json.contains("heartbeat_ms")) {
    const auto& v = json.at("heartbeat_ms");
    if (!v.is_number_integer() || v.get<long long>() < 100 || v.get<long long>() > 600000)
      throw ConfigError(origin + ": 'heartbeat_ms' must be an integer from 100 to 600000");
    config.heartbeat_ms = v.get<int>();
  }
  if (json.contains("plugins")) {
    const auto& plugins = json.at("plugins");
    if (!plugins.is_object()) throw ConfigError(origin + ": 'plugins' must be an object");
    for (const auto& [key, value] : plugins.items()) {
      if (key == "enabled") {
        config.plugins_enabled = expect_string_list(value, "plugins.enabled", origin);
      } else if (key == "disabled") {
        config.plugins_disabled = expect_string_list(value, "plugins.disabled", origin);
      } else {
        throw ConfigError(origin + ": unknown key 'plugins." + key + "' (use enabled or disabled)");
      }
    }
  }
  if (json.contains("audit")) {
    try {
      config.audit_limits = AuditLimits::from_json(json.at("audit"));
    } catch (const ConfigError& e) {
      throw ConfigError(origin + ": " + e.what());
    }
  }
  if (json.contains("exec") && !json.at("exec").is_object())
    throw ConfigError(origin + ": 'exec' must be an object");
  config.raw = json;
}

std::optional<DaemonConfig> load_config(int argc, char** argv) {
  po::options_description desc("Usage: automatelinux-daemon [options]");
  desc.add_options()("config", po::value<std::string>(),
                     "config file (default /etc/automatelinux/daemon.json if present)")(
      "socket", po::value<std::string>(), "Unix socket path for `d`")(
      "state-dir", po::value<std::string>(), "directory for persistent state and logs")(
      "plugin-dir", po::value<std::string>(),
      "directory to load plugins from (replaces the default)")(
      "log-level", po::value<std::string>(), "trace, debug, info, warn, error, critical or off")(
      "version", "print the version and exit")("help", "print this help and exit");
  po::variables_map vm;
  try {
    const auto style = po::command_line_style::unix_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(argc, argv).options(desc).style(style).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError(e.what());
  }
  if (vm.count("help")) {
    std::cout << desc;
    return std::nullopt;
  }
  if (vm.count("version")) {
    std::cout << "automatelinux-daemon " << AL_VERSION << "\n";
    return std::nullopt;
  }

  DaemonConfig config;
  std::filesystem::path file;
  if (vm.count("config")) {
    file = vm["config"].as<std::string>();
  } else if (std::filesystem::exists(kDefaultConfigFile)) {
    file = kDefaultConfigFile;
  }
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) throw ConfigError("cannot read config file " + file.string());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    try {
      wire::check_json_depth(text);
    } catch (const wire::FrameError&) {
      throw ConfigError(file.string() + ": nested too deeply");
    }
    auto json = nlohmann::json::parse(text, nullptr, false);
    if (json.is_discarded()) throw ConfigError(file.string() + ": not valid JSON");
    apply_config_json(config, json, file.string());
    config.config_file = file;
  }
  if (vm.count("socket")) config.socket = vm["socket"].as<std::string>();
  if (vm.count("state-dir")) config.state_dir = vm["state-dir"].as<std::string>();
  if (vm.count("plugin-dir")) config.plugin_dir = vm["plugin-dir"].as<std::string>();
  if (vm.count("log-level")) config.log_level = vm["log-level"].as<std::string>();
  if (config.plugin_dir.empty()) config.plugin_dir = default_plugin_dir();
  return config;
}

std::filesystem::path default_plugin_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return std::filesystem::path(AL_BIN_TO_PLUGIN_DIR);
  return (exe.parent_path() / AL_BIN_TO_PLUGIN_DIR).lexically_normal();
}

}  // namespace automatelinux::core
