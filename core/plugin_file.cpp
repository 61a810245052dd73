#include "core/plugin_file.hpp"

#include <algorithm>

#include <fmt/format.h>

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

// The keys the plugin declares; one that declares none keeps its own section, unchecked.
sdk::ConfigSchema declared_keys(const sdk::PluginDescriptor& descriptor) {
  if (descriptor.config_schema == nullptr)
    return {{.key = descriptor.name,
             .type = sdk::ConfigType::object,
             .description = "the plugin's own section (its keys are not declared)"}};
  return descriptor.config_schema();
}

}  // namespace

PluginFile open_plugin_file(const std::filesystem::path& file) {
  PluginFile out;
  out.error = open_plugin(file, out.library, out.descriptor);
  if (!out.error.empty()) return out;
  const auto& descriptor = *out.descriptor;
  // Nothing but the first field may be read until the ABI version matches.
  if (descriptor.abi_version != sdk::kAbiVersion) {
    out.error = fmt::format("SDK ABI version {}, this daemon needs {}", descriptor.abi_version,
                            sdk::kAbiVersion);
    return out;
  }
  if (descriptor.name == nullptr || !valid_plugin_name(descriptor.name)) {
    out.error = "invalid plugin name";
    return out;
  }
  out.name = descriptor.name;
  out.version = descriptor.version != nullptr ? descriptor.version : "";
  out.error = boundary_mismatch(descriptor.built_with);
  if (!out.error.empty()) return out;
  try {
    out.config_keys = declared_keys(descriptor);
  } catch (const std::exception& e) {
    out.error = std::string("config schema failed: ") + e.what();
  }
  return out;
}

std::vector<std::filesystem::path> plugin_files(const std::filesystem::path& dir,
                                                std::error_code& ec) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".so" && entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace automatelinux::core
