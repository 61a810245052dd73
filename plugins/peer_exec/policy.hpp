// The executing host's own `exec` policy (config file key "exec"). It is enforced here, on the
// daemon that runs the command; the requester's checks are never trusted.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <automatelinux/sdk/stream.hpp>
#include <nlohmann/json.hpp>

#include "unique_fd.hpp"

namespace automatelinux::peer_exec {

// A directory the policy accepted: its resolved path (for messages) and a descriptor of it.
// A request this host's policy refuses (audited as denied, not as malformed).
struct PolicyDenied : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct OpenDirectory {
  std::string path;
  UniqueFd fd;
};

// The user a request runs as, or why it may not (a one-line reason; the request is denied).
struct UserChoice {
  std::string user;
  std::string refusal;
};

struct ExecPolicy {
  std::optional<std::vector<std::string>> allowed_peers;  // unset: every cluster member
  std::vector<std::string> allowed_roots{"/"};            // realpath'ed at load
  std::optional<std::string> run_as;                      // user name; unset: the daemon's user
  // Users a request may name (d-ssh's user@): unset means any existing user when run_as is unset,
  // else only run_as. The default user (run_as, or the daemon's user) is always allowed.
  std::optional<std::vector<std::string>> allowed_users;
  // Whom a requester that is not root on its own host may run as besides its own login name:
  // "MEMBER:NAME" -> users; "*" matches any member, name or user (but never reaches uid 0).
  std::map<std::string, std::vector<std::string>> user_map;
  // What `d-ssh -s sftp` runs.
  std::string sftp_server = "/usr/lib/openssh/sftp-server";
  std::size_t max_concurrent = 256;
  std::optional<std::chrono::milliseconds> default_timeout;  // when the request sets none
  // How a request's processes are tracked so that a timeout or cancel ends all of them:
  // "auto" (a cgroup per request where possible, else subreaper), "cgroup" or "subreaper".
  std::string isolation = "auto";

  // Throws std::runtime_error naming the bad key.
  static ExecPolicy from_json(const nlohmann::json& section);

  // Empty when allowed, else the one-line reason.
  std::string check_peer(const std::string& peer) const;
  // The user a command runs as when a request names none: run_as, else the daemon's user.
  std::string default_user() const;
  // Empty when a request may run as `user` (which must exist), else the one-line reason.
  std::string check_user(const std::string& user, const std::string& self) const;
  // Who a request runs as (docs/security.md, "Who may become which user"): run_as when set
  // (unless a root caller names another user); a caller that is root on its own host the
  // default user or `asked`; any other caller its own login name, or `asked` if user_map maps it
  // there; allowed_users bounds every case. `requester` is the member and its caller's name.
  UserChoice choose_user(const sdk::Requester& requester, const std::optional<std::string>& asked,
                         const std::string& self) const;
  // Whether user_map lets NAME on MEMBER run as `user`; `literally`: only an entry naming `user`
  // itself counts, not "*".
  bool mapped(const std::string& member, const std::string& name, const std::string& user,
              bool literally) const;
  // Resolves `directory` (absolute, existing, a directory, inside a root after realpath) and opens
  // what was checked, so that the command enters exactly that directory (by fchdir) even if the
  // path is changed afterwards. Throws std::runtime_error with the reason.
  OpenDirectory open_directory(const std::string& directory, const std::string& self) const;
};

}  // namespace automatelinux::peer_exec
