// The config keys core itself reads, declared as plugins declare theirs (sdk/config_schema.hpp).
#pragma once

#include "automatelinux/sdk/config_schema.hpp"

namespace automatelinux::core {

const sdk::ConfigSchema& core_config_keys();

}  // namespace automatelinux::core
