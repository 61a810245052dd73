#include "core/plugin_loader.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "automatelinux/sdk/plugin.hpp"

namespace automatelinux::core {
namespace {

std::string version_text(std::uint32_t v, std::uint32_t base) {
  return fmt::format("{}.{}.{}", v / (base * base), (v / base) % base, v % base);
}

// Names the first library whose version differs between the plugin and this daemon.
std::string boundary_mismatch(const sdk::BoundaryVersions& plugin) {
  const sdk::BoundaryVersions ours;
  if (plugin.boost != ours.boost)
    return "built with Boost " + version_text(plugin.boost, 100) + ", daemon uses " +
           version_text(ours.boost, 100);
  if (plugin.nlohmann_json != ours.nlohmann_json)
    return "built with nlohmann/json " + version_text(plugin.nlohmann_json, 100) +
           ", daemon uses " + version_text(ours.nlohmann_json, 100);
  if (plugin.spdlog != ours.spdlog)
    return "built with spdlog " + version_text(plugin.spdlog, 100) + ", daemon uses " +
           version_text(ours.spdlog, 100);
  if (plugin.fmt != ours.fmt)
    return "built with fmt " + version_text(plugin.fmt, 100) + ", daemon uses " +
           version_text(ours.fmt, 100);
  if (plugin.cxx11_abi != ours.cxx11_abi) return "built with a different libstdc++ string ABI";
  return {};
}

bool valid_plugin_name(const std::string& name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// Loads the library and calls its entry point; returns what failed, or "" with both set.
std::string open_plugin(const std::filesystem::path& file,
                        std::shared_ptr<boost::dll::shared_library>& library,
                        const sdk::PluginDescriptor*& descriptor) {
  try {
    // The exception overloads keep dlerror's text; rtld_now reports missing symbols here.
    library = std::make_shared<boost::dll::shared_library>(
        boost::dll::fs::path(file.string()),
        boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    return std::string("cannot load: ") + e.what();
  }
  if (!library->has(sdk::kEntrySymbol))
    return std::string("no entry symbol '") + sdk::kEntrySymbol + "' (not a plugin?)";
  try {
    descriptor = library->get<const sdk::PluginDescriptor*()>(sdk::kEntrySymbol)();
  } catch (const std::exception& e) {
    return std::string("entry point failed: ") + e.what();
  }
  return descriptor == nullptr ? "entry point returned no descriptor" : "";
}

}  // namespace

void PluginLoader::load_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".so" && entry.is_regular_file()) files.push_back(entry.path());
  }
  if (ec) {
    core_.log->warn("plugin directory {}: {}; no plugins loaded", dir.string(), ec.message());
    return;
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) load_file(file);
}

void PluginLoader::load_file(const std::filesystem::path& file) {
  PluginRecord record{file.stem().string(), {}, file, "failed", {}};
  auto refuse = [&](std::string reason) {
    record.reason = std::move(reason);
    core_.log->error("plugin {} refused: {}", file.string(), record.reason);
    records_.push_back(record);
  };

  std::shared_ptr<boost::dll::shared_library> library;
  const sdk::PluginDescriptor* descriptor = nullptr;
  if (auto error = open_plugin(file, library, descriptor); !error.empty()) return refuse(error);
  // Nothing but the first field may be read until the ABI version matches.
  if (descriptor->abi_version != sdk::kAbiVersion)
    return refuse(fmt::format("SDK ABI version {}, this daemon needs {}", descriptor->abi_version,
                              sdk::kAbiVersion));
  if (descriptor->name == nullptr || !valid_plugin_name(descriptor->name))
    return refuse("invalid plugin name");
  record.name = descriptor->name;
  record.version = descriptor->version != nullptr ? descriptor->version : "";
  if (auto mismatch = boundary_mismatch(descriptor->built_with); !mismatch.empty())
    return refuse(mismatch);
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
