// The single place where a request's Result becomes the exit status `d` returns. The rule itself
// lives in the SDK, so plugins that combine several results apply the very same one.
#pragma once

#include "automatelinux/sdk/exit_status.hpp"

namespace automatelinux::core {

using sdk::exit_status;
using sdk::kExitFailure;
using sdk::result_kind_name;

}  // namespace automatelinux::core
