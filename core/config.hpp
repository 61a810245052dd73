// The daemon's settings: defaults, then the config file, then command-line flags.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "core/audit_log.hpp"
#include "core/credit_window.hpp"
#include "core/logging.hpp"

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
  LogLimits log_limits;                                  // daemon.log's size and rotated files
  std::optional<std::set<std::string>> plugins_enabled;  // when set, only these load
  std::set<std::string> plugins_disabled;
  int heartbeat_ms = 2000;
  AuditLimits audit_limits;
  // Stream windows on peer sessions (docs/protocol.md, "Credit").
  std::size_t max_window_bytes = kDefaultMaxWindow;
  std::size_t window_budget_bytes = kDefaultWindowBudget;
  // Direct sessions between workers (core/peer/direct_paths.hpp).
  bool peer_direct = true;
  std::chrono::seconds trust_unseen_for{7 * 24 * 3600};
  // Requests each member may have served here (core/member_requests.hpp); burst 0 = 2 x rate.
  double max_requests_per_s = 200;
  double max_requests_burst = 0;
  nlohmann::json raw = nlohmann::json::object();  // the whole file, for plugin sections

  bool plugin_allowed(const std::string& name) const;
  // A plugin's own section (the key equal to its name), or an empty object.
  const nlohmann::json& plugin_section(const std::string& name) const;
};

// The daemon's command line; flags left out are unset.
struct CommandLine {
  std::optional<std::string> config, socket, state_dir, plugin_dir, log_level;
  bool check_config = false;  // --check-config: validate the file and exit
};

// Parses argv; throws ConfigError with a one-line message. Returns nullopt after --help/--version.
std::optional<CommandLine> parse_command_line(int argc, char** argv);

// The file to read: --config, else the default one when it exists, else empty (none).
std::filesystem::path config_file_path(const CommandLine& cli);

// Reads and parses a config file; throws ConfigError ("FILE: not valid JSON", …).
nlohmann::json read_config_file(const std::filesystem::path& file);

// Defaults, then the config file, then the flags; throws ConfigError naming the first bad key.
DaemonConfig load_config(const CommandLine& cli);

// Applies a config file's contents onto `config`: throws ConfigError for a wrong type or value
// of one of core's keys; other keys are left for plugins (exposed for tests).
void apply_config_json(DaemonConfig& config, const nlohmann::json& json, const std::string& origin);

// Sets core's keys that are present and valid, skipping the others (for --check-config, which
// reports them instead).
void apply_valid_keys(DaemonConfig& config, const nlohmann::json& json);

// Flags override the file; an unset plugin dir becomes the default one.
void apply_flags(DaemonConfig& config, const CommandLine& cli);

// Where plugins live by default: next to the binary, by the install's bindir→libdir path.
std::filesystem::path default_plugin_dir();

}  // namespace automatelinux::core
