// execOnPeer, the command: what `d execOnPeer …` runs on the requesting daemon.
#pragma once

#include <automatelinux/sdk/sdk.hpp>

namespace automatelinux::peer_exec {

sdk::CommandSpec exec_command(sdk::Host& host);

}  // namespace automatelinux::peer_exec
