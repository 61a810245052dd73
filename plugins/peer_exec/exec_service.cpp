#include "exec_service.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <automatelinux/sdk/terminal.hpp>

#include "environment.hpp"
#include "executor.hpp"
#include "process.hpp"

namespace automatelinux::peer_exec {

namespace {

// A refusal by this host's exec policy: the audit record says denied.
void deny(const sdk::ServedStreamPtr& stream, const std::string& why,
          const std::string& directory = {}) {
  stream->describe_for_audit({.directory = directory, .denied = true, .job = {}});
  sdk::fail(stream, why);
}

}  // namespace

void ExecService::serve(const sdk::ServedStreamPtr& stream, const nlohmann::json& request,
                        const std::string& body) {
  const std::string self = host_.peers().local().id.value_or("this peer");
  if (auto why = policy_.check_peer(stream->requester().peer); !why.empty())
    return deny(stream, "Denied on " + self + ": " + why);
  if (const auto running = running_ + running_jobs_(); running >= policy_.max_concurrent)
    return sdk::fail(
        stream, "busy: " + self + " is already running " + std::to_string(running) + " commands");

  // Body: directory, then the command line (shell) or the argv; NUL-separated byte strings.
  // Mode "login" (d-ssh, as sshd): the command line ("" = a login shell), then "NAME=value"
  // environment entries; it runs in the user's home with the user's shell.
  const std::string mode = request.value("mode", "");
  const auto parts = sdk::split_nul(body);
  if ((mode == "shell" && parts.size() != 2) || (mode == "argv" && parts.size() < 2) ||
      (mode != "shell" && mode != "argv" && mode != "login"))
    return sdk::fail(stream, "bad request: malformed exec request (a NUL byte in a field?)");

  // The user: decided here from who asked (member and its caller's login name, root or not)
  // and the user the request names, if any (policy.hpp, choose_user).
  std::optional<std::string> asked;
  if (request.contains("user")) {
    if (!request["user"].is_string()) return sdk::fail(stream, "bad request: user");
    asked = request["user"].get<std::string>();
  }
  const auto choice = policy_.choose_user(stream->requester(), asked, self);
  if (!choice.refusal.empty()) return deny(stream, "Denied on " + self + ": " + choice.refusal);
  const std::string& user = choice.user;
  const passwd* account = ::getpwnam(user.c_str());
  if (account == nullptr) return sdk::fail(stream, "No such user on " + self + ": " + user);
  const std::string home = account->pw_dir != nullptr ? account->pw_dir : "/";
  const std::string shell =
      account->pw_shell != nullptr && *account->pw_shell ? account->pw_shell : "/bin/sh";
  const bool same_user = account->pw_uid == ::geteuid() && !policy_.run_as;

  SpawnRequest spawn_request;
  std::vector<std::string> sent_environment;
  if (mode == "login") {
    const std::string subsystem = request.value("subsystem", "");
    if (!subsystem.empty()) {
      if (subsystem != "sftp")
        return sdk::fail(stream, "subsystem request failed on " + self + ": unknown subsystem '" +
                                     subsystem + "'");
      // As sshd: by the user's shell, so an account whose shell refuses logins gets no sftp.
      spawn_request.argv = {shell, "-c", policy_.sftp_server};
    } else if (parts[0].empty()) {
      spawn_request.argv = {shell, "-l"};
    } else {
      spawn_request.argv = {shell, "-c", parts[0]};
    }
    for (std::size_t i = 1; i < parts.size(); ++i) {
      const auto& entry = parts[i];
      const auto eq = entry.find('=');
      const bool valid_name =
          eq != std::string::npos && eq > 0 &&
          std::all_of(
              entry.begin(), entry.begin() + static_cast<std::ptrdiff_t>(eq),
              [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }) &&
          !std::isdigit(static_cast<unsigned char>(entry[0]));
      if (!valid_name) return sdk::fail(stream, "bad request: environment entry");
      // Who runs and who asked are this daemon's to say.
      const std::string name = entry.substr(0, eq);
      if (name == "HOME" || name == "USER" || name == "LOGNAME" || name == "SHELL" ||
          name.rfind("AUTOMATELINUX_", 0) == 0)
        continue;
      sent_environment.push_back(entry);
    }
  }
  // A terminal request: `tty` {term, rows, cols}; stderr is merged into the terminal.
  std::vector<std::string> terminal_environment;
  if (const auto tty = request.find("tty"); tty != request.end()) {
    const auto size = tty->is_object() ? sdk::parse_window_size(tty->dump()) : std::nullopt;
    if (!size) return sdk::fail(stream, "bad request: malformed terminal request");
    spawn_request.terminal = true;
    if (size->rows > 0) spawn_request.rows = static_cast<unsigned short>(size->rows);
    if (size->cols > 0) spawn_request.cols = static_cast<unsigned short>(size->cols);
    terminal_environment.push_back("TERM=" + (size->term.empty() ? "dumb" : size->term));
  }
  const std::string& requested_directory = mode == "login" ? home : parts[0];
  stream->describe_for_audit({.directory = requested_directory, .denied = false, .job = {}});
  OpenDirectory directory;
  try {
    directory = policy_.open_directory(requested_directory, self);
  } catch (const PolicyDenied& e) {
    return deny(stream, e.what(), requested_directory);
  } catch (const std::exception& e) {
    return sdk::fail(stream, e.what());
  }
  spawn_request.directory = directory.path;
  spawn_request.directory_fd = directory.fd.get();
  if (!same_user) spawn_request.run_as = user;
  if (mode == "shell") {
    spawn_request.argv = {"/bin/sh", "-c", parts[1]};
  } else if (mode == "argv") {
    spawn_request.argv.assign(parts.begin() + 1, parts.end());
  }
  Child child;
  std::shared_ptr<Confinement> confinement;
  try {
    confinement = isolation_->confine();
    spawn_request.cgroup_fd = confinement->cgroup_fd();
    auto extra = confinement->environment();
    extra.insert(extra.begin(), sent_environment.begin(), sent_environment.end());
    extra.insert(extra.end(), terminal_environment.begin(), terminal_environment.end());
    spawn_request.environment = command_environment({user, self, stream->requester().peer}, extra);
    child = spawn(spawn_request);
  } catch (const std::exception& e) {
    return sdk::fail(stream, "Cannot run on " + self + ": " + e.what());
  }
  confinement->started(child.pid);
  ++running_;
  std::optional<std::chrono::milliseconds> deadline;
  if (!request.contains("timeout_ms")) deadline = policy_.default_timeout;
  std::make_shared<Execution>(host_, stream, child, std::move(confinement), [this] {
    --running_;
  })->start(deadline);
}

}  // namespace automatelinux::peer_exec
