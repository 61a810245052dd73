#include "policy.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <automatelinux/sdk/duration.hpp>

#include "config_keys.hpp"

namespace automatelinux::peer_exec {
namespace {

std::vector<std::string> string_list(const nlohmann::json& section, const char* key) {
  return section.at(key).get<std::vector<std::string>>();
}

std::optional<std::string> real_path(const std::string& path) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) return std::nullopt;
  return std::string(resolved);
}

bool inside(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                          path[root.size()] == '/');
}

// Opens `resolved` (absolute, as realpath made it: no symlinks, no "." or "..") below `root`
// without following any symlink on the way, so the descriptor is the very directory that was
// checked, or the open fails. Returns -1 with errno set on failure.
int open_beneath(const std::string& root, const std::string& resolved) {
  constexpr int kFlags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  open_how how{};
  how.flags = kFlags;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  UniqueFd root_fd(
      static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, root.c_str(), &how, sizeof how)));
  if (root_fd || errno != ENOSYS) {
    if (!root_fd) return -1;
    std::string rest = resolved.substr(root == "/" ? 1 : root.size());
    while (!rest.empty() && rest.front() == '/') rest.erase(0, 1);
    if (rest.empty()) rest = ".";
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    return static_cast<int>(::syscall(SYS_openat2, root_fd.get(), rest.c_str(), &how, sizeof how));
  }
  // No openat2 (kernel before 5.6, or a seccomp filter): one component at a time, none followed.
  UniqueFd fd(::open("/", kFlags));
  std::size_t start = 1;
  while (fd && start < resolved.size()) {
    auto end = resolved.find('/', start);
    if (end == std::string::npos) end = resolved.size();
    const std::string name = resolved.substr(start, end - start);
    if (!name.empty()) fd.reset(::openat(fd.get(), name.c_str(), kFlags | O_NOFOLLOW));
    start = end + 1;
  }
  return fd.release();
}

}  // namespace

ExecPolicy ExecPolicy::from_json(const nlohmann::json& section) {
  ExecPolicy policy;
  if (!section.is_object()) return policy;
  // Types and values are checked against the declarations; what follows only reads them.
  sdk::require_valid(sdk::check_config(config_keys(), section, "exec"));
  if (section.contains("allowed_peers"))
    policy.allowed_peers = string_list(section, "allowed_peers");
  if (section.contains("allowed_roots")) {
    policy.allowed_roots.clear();
    for (const auto& root : string_list(section, "allowed_roots")) {
      // A root that does not exist (yet) cannot contain anything; keep it literal.
      policy.allowed_roots.push_back(real_path(root).value_or(root));
    }
  }
  if (section.contains("run_as")) policy.run_as = section["run_as"].get<std::string>();
  if (section.contains("allowed_users"))
    policy.allowed_users = string_list(section, "allowed_users");
  if (section.contains("user_map"))
    policy.user_map = section["user_map"].get<std::map<std::string, std::vector<std::string>>>();
  if (section.contains("sftp_server"))
    policy.sftp_server = section["sftp_server"].get<std::string>();
  if (section.contains("default_timeout"))
    policy.default_timeout = sdk::parse_duration(section["default_timeout"].get<std::string>());
  if (section.contains("max_concurrent"))
    policy.max_concurrent = section["max_concurrent"].get<std::size_t>();
  if (section.contains("isolation")) policy.isolation = section["isolation"].get<std::string>();
  return policy;
}

std::string ExecPolicy::check_peer(const std::string& peer) const {
  if (!allowed_peers) return {};
  for (const auto& allowed : *allowed_peers)
    if (allowed == peer) return {};
  return "peer '" + peer + "' may not run commands here";
}

std::string ExecPolicy::default_user() const {
  if (run_as) return *run_as;
  const passwd* user = ::getpwuid(::geteuid());
  return user != nullptr ? user->pw_name : std::string();
}

std::string ExecPolicy::check_user(const std::string& user, const std::string& self) const {
  if (user.empty() || ::getpwnam(user.c_str()) == nullptr)
    return "No such user on " + self + ": " + user;
  if (user == default_user()) return {};
  if (!allowed_users) {
    if (!run_as) return {};
  } else {
    for (const auto& allowed : *allowed_users)
      if (allowed == user) return {};
  }
  return "User '" + user + "' is not allowed on " + self + " (exec.allowed_users)";
}

bool ExecPolicy::mapped(const std::string& member, const std::string& name, const std::string& user,
                        bool literally) const {
  auto matches = [](const std::string& pattern, const std::string& value) {
    return pattern == "*" || pattern == value;
  };
  for (const auto& [from, users] : user_map) {
    const auto colon = from.find(':');
    if (colon == std::string::npos || !matches(from.substr(0, colon), member) ||
        !matches(from.substr(colon + 1), name))
      continue;
    for (const auto& to : users)
      if (to == user || (!literally && to == "*")) return true;
  }
  return false;
}

UserChoice ExecPolicy::choose_user(const sdk::Requester& requester,
                                   const std::optional<std::string>& asked,
                                   const std::string& self) const {
  // Root on the requesting host: what every caller had before (a member's root is trusted).
  if (requester.root) {
    const std::string user = asked.value_or(default_user());
    return {user, asked ? check_user(user, self) : std::string()};
  }
  const std::string member = requester.peer.empty() ? self : requester.peer;
  if (requester.name.empty())
    return {{},
            "the request does not say who asked on " + member + " (is " + member +
                " running an older automatelinux?)"};
  // run_as confines everyone to one user.
  if (run_as && (!asked || *asked == *run_as)) return {*run_as, {}};
  const std::string user = asked.value_or(requester.name);
  const passwd* account = user.empty() ? nullptr : ::getpwnam(user.c_str());
  if (account == nullptr) return {user, "No such user on " + self + ": " + user};
  const std::string who = member + "/" + requester.name;
  if (user != requester.name && !mapped(member, requester.name, user, false))
    return {user,
            "User '" + user + "' is not allowed for " + who + " on " + self + " (exec.user_map)"};
  // Never uid 0 by a wildcard or by a name that happens to match: only an entry naming it.
  if (account->pw_uid == 0 && !mapped(member, requester.name, user, true))
    return {user, "User '" + user + "' (uid 0) is not allowed for " + who + " on " + self +
                      " (exec.user_map must name it)"};
  const bool listed = allowed_users && std::find(allowed_users->begin(), allowed_users->end(),
                                                 user) != allowed_users->end();
  if (listed || (!allowed_users && !run_as)) return {user, {}};
  return {user, "User '" + user + "' is not allowed on " + self + " (exec.allowed_users)"};
}

OpenDirectory ExecPolicy::open_directory(const std::string& directory,
                                         const std::string& self) const {
  if (directory.empty() || directory.front() != '/')
    throw std::runtime_error("Directory must be an absolute path on " + self + ": " + directory);
  struct stat st {};
  if (::stat(directory.c_str(), &st) != 0)
    throw std::runtime_error("Directory not found on " + self + ": " + directory);
  if (!S_ISDIR(st.st_mode))
    throw std::runtime_error("Not a directory on " + self + ": " + directory);
  const auto resolved = real_path(directory);
  if (!resolved) throw std::runtime_error("Directory not accessible on " + self + ": " + directory);
  const std::string* root = nullptr;
  for (const auto& candidate : allowed_roots)
    if (inside(*resolved, candidate)) root = &candidate;
  const std::string outside = "Directory outside the allowed roots on " + self + ": " + directory;
  if (root == nullptr) throw PolicyDenied(outside);
  // The path was checked by name; from here on only this descriptor counts. If any component was
  // swapped for a symlink since realpath, the open fails rather than following it elsewhere.
  UniqueFd fd(open_beneath(*root, *resolved));
  if (!fd) {
    if (errno == ENOENT)
      throw std::runtime_error("Directory not found on " + self + ": " + directory);
    if (errno == EACCES || errno == EPERM)
      throw std::runtime_error("Directory not accessible on " + self + ": " + directory);
    throw PolicyDenied(outside);  // ELOOP, EXDEV, ENOTDIR: the path changed under us
  }
  // Check the descriptor itself: a directory, and (where /proc tells) still inside the root.
  if (::fstat(fd.get(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw std::runtime_error("Not a directory on " + self + ": " + directory);
  char where[PATH_MAX];
  const std::string link = "/proc/self/fd/" + std::to_string(fd.get());
  const ssize_t n = ::readlink(link.c_str(), where, sizeof where - 1);
  if (n > 0 && where[0] == '/' && !inside(std::string(where, static_cast<std::size_t>(n)), *root))
    throw PolicyDenied(outside);
  return {*resolved, std::move(fd)};
}

}  // namespace automatelinux::peer_exec
