// Everything a plugin author needs: #include <automatelinux/sdk/sdk.hpp>
#pragma once

#include "automatelinux/sdk/async.hpp"
#include "automatelinux/sdk/audit.hpp"
#include "automatelinux/sdk/command.hpp"
#include "automatelinux/sdk/config_schema.hpp"
#include "automatelinux/sdk/duration.hpp"
#include "automatelinux/sdk/exit_status.hpp"
#include "automatelinux/sdk/host.hpp"
#include "automatelinux/sdk/nul_list.hpp"
#include "automatelinux/sdk/outcome.hpp"
#include "automatelinux/sdk/peer_json.hpp"
#include "automatelinux/sdk/peer_list.hpp"
#include "automatelinux/sdk/pipe.hpp"
#include "automatelinux/sdk/plugin.hpp"
#include "automatelinux/sdk/reply.hpp"
#include "automatelinux/sdk/stream.hpp"
#include "automatelinux/sdk/untrusted_text.hpp"
