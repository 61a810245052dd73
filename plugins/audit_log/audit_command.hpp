// The requesting side: `d auditLog [--peer ID[,ID…]|all] [--since T] [--until T] [--follow]
// [--json] [--limit N]` — the records of this host and/or other members, merged in time order.
#pragma once

#include <automatelinux/sdk/sdk.hpp>

namespace automatelinux::audit_log {

sdk::CommandSpec audit_command(sdk::Host& host);

}  // namespace automatelinux::audit_log
