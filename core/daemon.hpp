// Wires core together: config → logging → registry and plugins → Unix socket → run until signalled.
#pragma once

#include "core/config.hpp"

namespace automatelinux::core {

// Runs the daemon in the foreground; returns the process exit status.
int run_daemon(const DaemonConfig& config);

}  // namespace automatelinux::core
