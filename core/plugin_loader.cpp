#include "core/plugin_loader.hpp"

#include <spdlog/spdlog.h>

#include "core/plugin_file.hpp"

namespace automatelinux::core {

void PluginLoader::load_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  const auto files = plugin_files(dir, ec);
  if (ec) {
    core_.log->warn("plugin directory {}: {}; no plugins loaded", dir.string(), ec.message());
    return;
  }
  for (const auto& file : files) load_file(file);
}

void PluginLoader::load_file(const std::filesystem::path& file) {
  PluginRecord record{file.stem().string(), {}, file, "failed", {}, {}};
  auto refuse = [&](std::string reason) {
    record.reason = std::move(reason);
    core_.log->error("plugin {} refused: {}", file.string(), record.reason);
    records_.push_back(record);
  };

  auto plugin = open_plugin_file(file);
  if (!plugin.name.empty()) record.name = plugin.name;
  record.version = plugin.version;
  if (!plugin.error.empty()) return refuse(plugin.error);
  record.config_keys = std::move(plugin.config_keys);
  const auto* descriptor = plugin.descriptor;
  const auto& library = plugin.library;
  for (const auto& other : records_) {
    if (other.name == record.name && other.state != "failed")
      return refuse("a plugin named '" + record.name + "' was already found in " +
                    other.file.string());
  }
  if (!core_.config.plugin_allowed(record.name)) {
    record.state = "disabled";
    record.reason = "disabled by configuration";
    core_.log->info("plugin {} ({}) disabled by configuration", record.name, file.string());
    records_.push_back(record);
    return;
  }
  if (descriptor->init == nullptr) return refuse("descriptor has no init function");

  auto host = std::make_unique<PluginHost>(core_, record.name, library);
  try {
    descriptor->init(*host);
    host->check_conflicts();
  } catch (const std::exception& e) {
    return refuse(std::string("init failed: ") + e.what());
  } catch (...) {
    return refuse("init failed with a non-standard exception");
  }
  // From here the registry's entries (and whatever the plugin is handed or opens) hold the library.
  host->commit();
  hosts_.push_back(std::move(host));
  record.state = "loaded";
  core_.log->info("plugin {} {} loaded from {}", record.name, record.version, file.string());
  records_.push_back(record);
}

}  // namespace automatelinux::core
