// Commands core provides itself, so they work whatever plugins are enabled: help, listPlugins.
#pragma once

#include <vector>

#include "core/command_registry.hpp"
#include "core/plugin_loader.hpp"

namespace automatelinux::core {

void register_builtin_commands(CommandRegistry& registry, const PluginLoader& loader);

}  // namespace automatelinux::core
