#include "environment.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

extern char** environ;

namespace automatelinux::peer_exec {
namespace {

// Debian's defaults (/etc/login.defs ENV_SUPATH / ENV_PATH).
constexpr const char* kRootPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr const char* kUserPath = "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games";

bool is_locale_setting(const std::string& entry) {
  return entry.rfind("LANG=", 0) == 0 || entry.rfind("LANGUAGE=", 0) == 0 ||
         entry.rfind("LC_", 0) == 0 || entry.rfind("TZ=", 0) == 0;
}

void put(std::vector<std::string>& env, const std::string& entry) {
  const auto name = entry.substr(0, entry.find('=') + 1);
  std::erase_if(env, [&](const std::string& e) { return e.rfind(name, 0) == 0; });
  env.push_back(entry);
}

}  // namespace

std::vector<std::string> command_environment(const CommandIdentity& who,
                                             const std::vector<std::string>& extra) {
  const passwd* user = who.run_as ? ::getpwnam(who.run_as->c_str()) : ::getpwuid(::geteuid());
  if (user == nullptr)
    throw std::runtime_error(who.run_as ? "exec.run_as user '" + *who.run_as + "' does not exist"
                                        : std::string("this daemon's user has no passwd entry"));
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e)
    if (is_locale_setting(*e)) env.emplace_back(*e);
  const std::string shell =
      user->pw_shell != nullptr && *user->pw_shell ? user->pw_shell : "/bin/sh";
  put(env, std::string("HOME=") + user->pw_dir);
  put(env, std::string("USER=") + user->pw_name);
  put(env, std::string("LOGNAME=") + user->pw_name);
  put(env, "SHELL=" + shell);
  put(env, std::string("PATH=") + (user->pw_uid == 0 ? kRootPath : kUserPath));
  put(env, "AUTOMATELINUX_PEER=" + who.peer);
  put(env, "AUTOMATELINUX_REQUESTER=" + who.requester);
  for (const auto& e : extra) put(env, e);
  return env;
}

}  // namespace automatelinux::peer_exec
