#include "policy.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <automatelinux/sdk/duration.hpp>

namespace automatelinux::peer_exec {
namespace {

std::vector<std::string> string_list(const nlohmann::json& section, const char* key) {
  const auto& v = section.at(key);
  if (!v.is_array())
    throw std::runtime_error(std::string("exec.") + key + " must be a list of strings");
  std::vector<std::string> out;
  for (const auto& item : v) {
    if (!item.is_string())
      throw std::runtime_error(std::string("exec.") + key + " must be a list of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
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

}  // namespace

ExecPolicy ExecPolicy::from_json(const nlohmann::json& section) {
  ExecPolicy policy;
  if (!section.is_object()) return policy;
  if (section.contains("allowed_peers"))
    policy.allowed_peers = string_list(section, "allowed_peers");
  if (section.contains("allowed_roots")) {
    policy.allowed_roots.clear();
    for (const auto& root : string_list(section, "allowed_roots")) {
      // A root that does not exist (yet) cannot contain anything; keep it literal.
      policy.allowed_roots.push_back(real_path(root).value_or(root));
    }
  }
  if (section.contains("run_as")) {
    if (!section["run_as"].is_string()) throw std::runtime_error("exec.run_as must be a user name");
    policy.run_as = section["run_as"].get<std::string>();
  }
  if (section.contains("default_timeout")) {
    const auto& v = section["default_timeout"];
    const auto parsed = v.is_string() ? sdk::parse_duration(v.get<std::string>()) : std::nullopt;
    if (!parsed || parsed->count() <= 0)
      throw std::runtime_error(
          "exec.default_timeout must be a duration such as \"30s\", \"10m\", \"1h\"");
    policy.default_timeout = *parsed;
  }
  if (section.contains("max_concurrent")) {
    const auto& v = section["max_concurrent"];
    if (!v.is_number_integer() || v.get<long long>() < 1)
      throw std::runtime_error("exec.max_concurrent must be a positive integer");
    policy.max_concurrent = v.get<std::size_t>();
  }
  return policy;
}

std::string ExecPolicy::check_peer(const std::string& peer) const {
  if (!allowed_peers) return {};
  for (const auto& allowed : *allowed_peers)
    if (allowed == peer) return {};
  return "peer '" + peer + "' may not run commands here";
}

std::string ExecPolicy::resolve_directory(const std::string& directory,
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
  for (const auto& root : allowed_roots)
    if (inside(*resolved, root)) return *resolved;
  throw std::runtime_error("Directory outside the allowed roots on " + self + ": " + directory);
}

}  // namespace automatelinux::peer_exec
