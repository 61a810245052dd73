// Opens one plugin library and reads its descriptor, checked as far as it can be without running
// init: entry symbol, ABI and boundary versions, name, and the config keys it declares. Shared
// by the loader and by --check-config, so that both refuse the same files for the same reasons.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <boost/dll/shared_library.hpp>

#include "automatelinux/sdk/plugin.hpp"

namespace automatelinux::core {

struct PluginFile {
  std::shared_ptr<boost::dll::shared_library> library;
  const sdk::PluginDescriptor* descriptor = nullptr;  // valid while `library` is loaded
  std::string name;                                   // empty until the descriptor is checked
  std::string version;
  sdk::ConfigSchema config_keys;  // copied out of the library
  std::string error;              // why it is refused; empty when usable
};

PluginFile open_plugin_file(const std::filesystem::path& file);

// The plugin libraries (*.so) in `dir`, sorted; `ec` says why the directory could not be read.
std::vector<std::filesystem::path> plugin_files(const std::filesystem::path& dir,
                                                std::error_code& ec);

}  // namespace automatelinux::core
