#include "core/config.hpp"

#include <fstream>
#include <iostream>

#include <boost/program_options.hpp>

#include "core/config_keys.hpp"
#include "wire/frame.hpp"

#ifndef AL_BIN_TO_PLUGIN_DIR
#error "AL_BIN_TO_PLUGIN_DIR must be defined by the build"
#endif

namespace automatelinux::core {
namespace po = boost::program_options;
namespace {

constexpr const char* kDefaultConfigFile = "/etc/automatelinux/daemon.json";

// The value at a dotted key, or null when it is absent or below something that is no object.
const nlohmann::json* find_dotted(const nlohmann::json& json, const std::string& key) {
  const nlohmann::json* at = &json;
  for (std::size_t start = 0;;) {
    const auto dot = key.find('.', start);
    if (!at->is_object()) return nullptr;
    const auto it = at->find(key.substr(start, dot - start));
    if (it == at->end()) return nullptr;
    at = &*it;
    if (dot == std::string::npos) return at;
    start = dot + 1;
  }
}

std::set<std::string> name_set(const nlohmann::json& list) {
  const auto names = list.get<std::vector<std::string>>();
  return {names.begin(), names.end()};
}

// Sets core's keys that are present, except those named in `bad`; the others are known valid.
void read_core_keys(DaemonConfig& config, const nlohmann::json& json,
                    const std::set<std::string>& bad) {
  auto get = [&](const char* key) { return bad.contains(key) ? nullptr : find_dotted(json, key); };
  if (const auto* v = get("socket")) config.socket = v->get<std::string>();
  if (const auto* v = get("state_dir")) config.state_dir = v->get<std::string>();
  if (const auto* v = get("plugin_dir")) config.plugin_dir = v->get<std::string>();
  if (const auto* v = get("log.level")) config.log_level = v->get<std::string>();
  if (const auto* v = get("log.max_bytes")) config.log_limits.max_bytes = v->get<std::size_t>();
  if (const auto* v = get("log.keep")) config.log_limits.keep = v->get<std::size_t>();
  if (const auto* v = get("heartbeat_ms")) config.heartbeat_ms = v->get<int>();
  if (const auto* v = get("plugins.enabled")) config.plugins_enabled = name_set(*v);
  if (const auto* v = get("plugins.disabled")) config.plugins_disabled = name_set(*v);
  if (const auto* v = get("audit.max_bytes"))
    config.audit_limits.max_bytes = v->get<std::uint64_t>();
  if (const auto* v = get("audit.keep")) config.audit_limits.keep = v->get<unsigned>();
  if (const auto* v = get("audit.keep_days"))
    config.audit_limits.keep_for = std::chrono::days(v->get<unsigned>());
  if (const auto* v = get("audit.max_total_bytes"))
    config.audit_limits.max_total_bytes = v->get<std::uint64_t>();
  if (const auto* v = get("streams.max_window_bytes"))
    config.max_window_bytes = v->get<std::size_t>();
  if (const auto* v = get("streams.budget_bytes"))
    config.window_budget_bytes = v->get<std::size_t>();
  if (const auto* v = get("peer.direct")) config.peer_direct = v->get<bool>();
  if (const auto* v = get("peer.new_peers_trusted_for_s"))
    config.trust_unseen_for = std::chrono::seconds(v->get<std::int64_t>());
  if (const auto* v = get("peer.max_requests_per_s")) config.max_requests_per_s = v->get<double>();
  if (const auto* v = get("peer.max_requests_burst")) config.max_requests_burst = v->get<double>();
}

po::options_description daemon_options() {
  po::options_description desc("Usage: automatelinux-daemon [options]");
  desc.add_options()("config", po::value<std::string>(),
                     "config file (default /etc/automatelinux/daemon.json if present)")(
      "socket", po::value<std::string>(), "Unix socket path for `d`")(
      "state-dir", po::value<std::string>(), "directory for persistent state and logs")(
      "plugin-dir", po::value<std::string>(),
      "directory to load plugins from (replaces the default)")(
      "log-level", po::value<std::string>(), "trace, debug, info, warn, error, critical or off")(
      "check-config",
      "check the config file and the plugins' keys, print every problem, and exit "
      "(non-zero on any problem); starts nothing")("version", "print the version and exit")(
      "help", "print this help and exit");
  return desc;
}

std::optional<std::string> flag(const po::variables_map& vm, const char* name) {
  if (!vm.count(name)) return std::nullopt;
  return vm[name].as<std::string>();
}

// Whether `key` lies inside a section only core reads ("audit" is shared with a plugin).
bool in_core_section(const std::string& key) {
  return key.starts_with("plugins.") || key.starts_with("streams.") || key.starts_with("log.") ||
         key.starts_with("peer.");
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
  for (const auto& problem : sdk::check_config(core_config_keys(), json)) {
    // Unknown top-level keys are left for plugins, but not keys inside a section only core
    // reads: a misspelt "plugins.enabled" would silently load every plugin, a misspelt
    // "streams.max_window_bytes" would silently keep the default.
    if (!problem.unknown || in_core_section(problem.key))
      throw ConfigError(origin + ": " + problem.message);
  }
  // peer_exec would take anything but an object for no policy at all, and run unguarded.
  if (json.contains("exec") && !json.at("exec").is_object())
    throw ConfigError(origin + ": 'exec' must be an object");
  read_core_keys(config, json, {});
  config.raw = json;
}

void apply_valid_keys(DaemonConfig& config, const nlohmann::json& json) {
  std::set<std::string> bad;
  for (const auto& problem : sdk::check_config(core_config_keys(), json)) bad.insert(problem.key);
  read_core_keys(config, json, bad);
  if (json.is_object()) config.raw = json;
}

void apply_flags(DaemonConfig& config, const CommandLine& cli) {
  if (cli.socket) config.socket = *cli.socket;
  if (cli.state_dir) config.state_dir = *cli.state_dir;
  if (cli.plugin_dir) config.plugin_dir = *cli.plugin_dir;
  if (cli.log_level) config.log_level = *cli.log_level;
  if (config.plugin_dir.empty()) config.plugin_dir = default_plugin_dir();
}

std::optional<CommandLine> parse_command_line(int argc, char** argv) {
  const auto desc = daemon_options();
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
  return CommandLine{flag(vm, "config"),     flag(vm, "socket"),    flag(vm, "state-dir"),
                     flag(vm, "plugin-dir"), flag(vm, "log-level"), vm.count("check-config") > 0};
}

std::filesystem::path config_file_path(const CommandLine& cli) {
  if (cli.config) return *cli.config;
  return std::filesystem::exists(kDefaultConfigFile) ? kDefaultConfigFile : "";
}

nlohmann::json read_config_file(const std::filesystem::path& file) {
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
  return json;
}

DaemonConfig load_config(const CommandLine& cli) {
  DaemonConfig config;
  if (const auto file = config_file_path(cli); !file.empty()) {
    apply_config_json(config, read_config_file(file), file.string());
    config.config_file = file;
  }
  apply_flags(config, cli);
  return config;
}

std::filesystem::path default_plugin_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return std::filesystem::path(AL_BIN_TO_PLUGIN_DIR);
  return (exe.parent_path() / AL_BIN_TO_PLUGIN_DIR).lexically_normal();
}

}  // namespace automatelinux::core
