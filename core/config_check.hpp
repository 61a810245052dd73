// `automatelinux-daemon --check-config`: the config file against every key that core and the
// plugins declare, all problems at once, as `sshd -t` and `nginx -t` do. It reads plugin
// descriptors but starts nothing: no socket, no state dir, no plugin init.
#pragma once

#include <ostream>
#include <vector>

#include <spdlog/logger.h>

#include "automatelinux/sdk/config_schema.hpp"
#include "core/config.hpp"
#include "core/plugin_loader.hpp"

namespace automatelinux::core {

// Prints each problem as "FILE: problem" on `err`, or "FILE: OK" on `out`; returns the exit
// status (0 when there is no problem).
int run_config_check(const CommandLine& cli, std::ostream& out, std::ostream& err);

// At start-up an undeclared key is only a warning: the file may be meant for a newer daemon.
void log_unknown_keys(const DaemonConfig& config, const std::vector<PluginRecord>& plugins,
                      spdlog::logger& log);

}  // namespace automatelinux::core
