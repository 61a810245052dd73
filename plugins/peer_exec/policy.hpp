// The executing host's own `exec` policy (config file key "exec"). It is enforced here, on the
// daemon that runs the command; the requester's checks are never trusted.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace automatelinux::peer_exec {

struct ExecPolicy {
  std::optional<std::vector<std::string>> allowed_peers;  // unset: every cluster member
  std::vector<std::string> allowed_roots{"/"};            // realpath'ed at load
  std::optional<std::string> run_as;                      // user name; unset: the daemon's user
  std::size_t max_concurrent = 256;
  std::optional<std::chrono::milliseconds> default_timeout;  // when the request sets none

  // Throws std::runtime_error naming the bad key.
  static ExecPolicy from_json(const nlohmann::json& section);

  // Empty when allowed, else the one-line reason.
  std::string check_peer(const std::string& peer) const;
  // Resolves `directory` (absolute, existing, a directory, inside a root after realpath).
  // Returns the resolved path or throws std::runtime_error with the reason.
  std::string resolve_directory(const std::string& directory, const std::string& self) const;
};

}  // namespace automatelinux::peer_exec
