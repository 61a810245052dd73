// Loads plugins from a directory, Kea-hooks style: validate (entry symbol, ABI and boundary
// versions) → check enablement → init → register. A plugin that fails any step is recorded with
// the reason and skipped; the daemon always starts.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/dll/shared_library.hpp>

#include "automatelinux/sdk/config_schema.hpp"
#include "core/plugin_host.hpp"

namespace automatelinux::core {

struct PluginRecord {
  std::string name;     // declared name, or the file stem when it could not be read
  std::string version;  // empty when unknown
  std::filesystem::path file;
  std::string state;              // "loaded", "disabled" or "failed"
  std::string reason;             // why, for disabled and failed
  sdk::ConfigSchema config_keys;  // what it declares, once its descriptor could be read
};

class PluginLoader {
 public:
  explicit PluginLoader(CoreServices& core) : core_(core) {}

  void load_directory(const std::filesystem::path& dir);
  const std::vector<PluginRecord>& records() const { return records_; }

 private:
  void load_file(const std::filesystem::path& file);

  CoreServices& core_;
  std::vector<PluginRecord> records_;
  std::vector<std::unique_ptr<PluginHost>> hosts_;  // live for the daemon's lifetime
};

}  // namespace automatelinux::core
