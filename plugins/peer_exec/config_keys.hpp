// The config keys peer_exec reads ("exec" policy, "jobs" limits), declared once: the plugin's
// schema for --check-config and the checks ExecPolicy and JobLimits parse with.
#pragma once

#include <automatelinux/sdk/config_schema.hpp>

namespace automatelinux::peer_exec {

const sdk::ConfigSchema& config_keys();

}  // namespace automatelinux::peer_exec
