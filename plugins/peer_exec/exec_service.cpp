#include "exec_service.hpp"

#include <automatelinux/sdk/terminal.hpp>

#include "environment.hpp"
#include "executor.hpp"
#include "process.hpp"

namespace automatelinux::peer_exec {

void ExecService::serve(const sdk::ServedStreamPtr& stream, const nlohmann::json& request,
                        const std::string& body) {
  const std::string self = host_.peers().local().id.value_or("this peer");
  if (auto why = policy_.check_peer(stream->requester().peer); !why.empty())
    return sdk::fail(stream, "Denied on " + self + ": " + why);
  if (const auto running = running_ + running_jobs_(); running >= policy_.max_concurrent)
    return sdk::fail(
        stream, "busy: " + self + " is already running " + std::to_string(running) + " commands");

  // Body: directory, then the command line (shell) or the argv; NUL-separated byte strings.
  const std::string mode = request.value("mode", "");
  const auto parts = sdk::split_nul(body);
  if ((mode == "shell" && parts.size() != 2) || (mode == "argv" && parts.size() < 2) ||
      (mode != "shell" && mode != "argv"))
    return sdk::fail(stream, "bad request: malformed exec request (a NUL byte in a field?)");

  // A terminal request: `tty` {term, rows, cols}; stderr is merged into the terminal.
  SpawnRequest spawn_request;
  std::vector<std::string> terminal_environment;
  if (const auto tty = request.find("tty"); tty != request.end()) {
    const auto size = tty->is_object() ? sdk::parse_window_size(tty->dump()) : std::nullopt;
    if (!size) return sdk::fail(stream, "bad request: malformed terminal request");
    spawn_request.terminal = true;
    if (size->rows > 0) spawn_request.rows = static_cast<unsigned short>(size->rows);
    if (size->cols > 0) spawn_request.cols = static_cast<unsigned short>(size->cols);
    terminal_environment.push_back("TERM=" + (size->term.empty() ? "dumb" : size->term));
  }
  OpenDirectory directory;
  try {
    directory = policy_.open_directory(parts[0], self);
  } catch (const std::exception& e) {
    return sdk::fail(stream, e.what());
  }
  spawn_request.directory = directory.path;
  spawn_request.directory_fd = directory.fd.get();
  spawn_request.run_as = policy_.run_as;
  if (mode == "shell") {
    spawn_request.argv = {"/bin/sh", "-c", parts[1]};
  } else {
    spawn_request.argv.assign(parts.begin() + 1, parts.end());
  }
  Child child;
  std::shared_ptr<Confinement> confinement;
  try {
    confinement = isolation_->confine();
    spawn_request.cgroup_fd = confinement->cgroup_fd();
    auto extra = confinement->environment();
    extra.insert(extra.end(), terminal_environment.begin(), terminal_environment.end());
    spawn_request.environment =
        command_environment({policy_.run_as, self, stream->requester().peer}, extra);
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
