// The daemon's settings: defaults, then the config file, then command-line flags.
#pragma once

#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "core/audit_log.hpp"

namespace automatelinux::core {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DaemonConfig {
  std::filesystem::path config_file;  // empty when none was read
  std::filesystem::path socket = "/run/automatelinux/automatelinux-daemon.sock";
  std::filesystem::path state_dir = "/var/lib/automatelinux";
  std::filesystem::path plugin_dir;  // empty: relative to the daemon's binary
  std::string log_level = "info";
  std::optional<std::set<std::string>> plugins_enabled;  // when set, only these load
  std::set<std::string> plugins_disabled;
  int heartbeat_ms = 2000;
  AuditLimits audit_limits;
  nlohmann::json raw = nlohmann::json::object();  // the whole file, for plugin sections

  bool plugin_allowed(const std::string& name) const;
  // A plugin's own section (the key equal to its name), or an empty object.
  const nlohmann::json& plugin_section(const std::string& name) const;
};

// Parses argv; throws ConfigError with a one-line message. Returns nullopt after --help/--version.
std::optional<DaemonConfig> load_config(int argc, char** argv);

// Applies a config file's contents onto `config` (exposed for tests).
void apply_config_json(DaemonConfig& config, const nlohmann::json& json, const std::string& origin);

// Where plugins live by default: next to the binary, by the install's bindir→libdir path.
std::filesystem::path default_plugin_dir();

}  // namespace automatelinux::core
