// The environment a command starts with: that of the user it runs as — as a login would set it
// up (HOME, USER, LOGNAME, SHELL, a default PATH) — plus the locale settings of this host and
// who ran it (AUTOMATELINUX_PEER, AUTOMATELINUX_REQUESTER). Never the daemon's own environment:
// what systemd or a shell put there (NOTIFY_SOCKET, INVOCATION_ID, tokens in a test's env) is
// none of the command's business.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace automatelinux::peer_exec {

struct CommandIdentity {
  std::optional<std::string> run_as;  // exec.run_as, else the daemon's own user
  std::string peer;                   // this host's peer id
  std::string requester;              // the peer that asked
};

// "NAME=value" entries; `extra` entries are added last and replace earlier ones of that name.
// Throws std::runtime_error when the user does not exist.
std::vector<std::string> command_environment(const CommandIdentity& who,
                                             const std::vector<std::string>& extra = {});

}  // namespace automatelinux::peer_exec
