#include "core/daemon.hpp"

#include <csignal>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/builtin_commands.hpp"
#include "core/config_check.hpp"
#include "core/local_server.hpp"
#include "core/logging.hpp"
#include "core/plugin_loader.hpp"
#include "core/serving_stream.hpp"
#include "core/systemd.hpp"

namespace automatelinux::core {

namespace {

// A new state dir is made 0750; an existing one keeps the mode its owner gave it, unless anyone
// at all could write into it (then keys, tokens and logs could be swapped): refuse to start.
void prepare_state_dir(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  if (!fs::exists(dir)) {
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms(0750));
    return;
  }
  const auto status = fs::status(dir);
  if (!fs::is_directory(status))
    throw std::runtime_error("state dir " + dir.string() + " is not a directory");
  if ((status.permissions() & fs::perms::others_write) != fs::perms::none)
    throw std::runtime_error(fmt::format(
        "state dir {} is world-writable (mode {:04o}); refusing to use it (chmod o-w {})",
        dir.string(), static_cast<unsigned>(status.permissions() & fs::perms::mask), dir.string()));
}

// How long a stopping daemon waits for its cancelled requests: the kill cascade takes 750 ms.
constexpr std::chrono::milliseconds kShutdownGrace{2000};
constexpr std::chrono::milliseconds kShutdownPoll{20};

void wait_for_requests(asio::io_context& io, asio::steady_timer& timer,
                       std::chrono::steady_clock::time_point until,
                       const std::shared_ptr<spdlog::logger>& log) {
  if (ServingStream::unfinished() == 0 || std::chrono::steady_clock::now() >= until) {
    if (const auto left = ServingStream::unfinished(); left > 0)
      log->warn("{} request(s) still running at shutdown; stopping anyway", left);
    return io.stop();
  }
  timer.expires_after(kShutdownPoll);
  timer.async_wait([&io, &timer, until, log](boost::system::error_code ec) {
    if (!ec) wait_for_requests(io, timer, until, log);
  });
}

// WATCHDOG=1 from the event loop itself: if the loop hangs, the keep-alives stop and systemd
// restarts the service (WatchdogSec=).
void keep_watchdog_alive(asio::steady_timer& timer, const SystemdLink& systemd,
                         std::chrono::microseconds interval) {
  systemd.notify("WATCHDOG=1");
  timer.expires_after(interval);
  timer.async_wait([&timer, &systemd, interval](boost::system::error_code ec) {
    if (!ec) keep_watchdog_alive(timer, systemd, interval);
  });
}

// Ready once the loop runs: the socket is listening and the plugins are loaded (Type=notify);
// then keep-alives from the loop itself, so a hung loop is restarted by systemd.
void tell_systemd_once_serving(asio::io_context& io, asio::steady_timer& watchdog,
                               const SystemdLink& systemd,
                               const std::shared_ptr<spdlog::logger>& log,
                               const std::filesystem::path& socket) {
  asio::post(io, [&systemd, log, socket] {
    if (systemd.notify(fmt::format("READY=1\nSTATUS=serving on {}", socket.string())))
      log->debug("told systemd we are ready ({})", systemd.notify_socket());
  });
  if (const auto interval = systemd.watchdog_interval()) {
    log->info("systemd watchdog: keep-alive every {} ms", interval->count() / 1000);
    keep_watchdog_alive(watchdog, systemd, *interval);
  }
}

// Backstop: an exception escaping a handler is a bug, but it must not take every client down.
void run_until_stopped(asio::io_context& io, const std::shared_ptr<spdlog::logger>& log) {
  while (true) {
    try {
      io.run();
      return;
    } catch (const std::exception& e) {
      log->critical("unexpected exception in the event loop (bug): {}", e.what());
    }
  }
}

}  // namespace

int run_daemon(const DaemonConfig& config) {
  // Before any thread exists: read what systemd passed and take it out of the environment.
  const auto systemd = SystemdLink::from_environment();
  prepare_state_dir(config.state_dir);
  auto log = make_logger(config.state_dir, config.log_level, systemd.stderr_is_journal(),
                         config.log_limits);
  log->info("automatelinux-daemon {} starting (pid {}, state dir {}{})", AL_VERSION, ::getpid(),
            config.state_dir.string(),
            config.config_file.empty() ? "" : ", config " + config.config_file.string());

  // A client that disappears must never kill the daemon through SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);

  // The registry goes before the io_context (plugin objects in it own Asio timers). Callbacks
  // still queued then keep their library loaded through the streams and timers holding them.
  asio::io_context io(1);
  CommandRegistry registry;
  AuditLog audit(io, config.state_dir / "audit.jsonl", config.audit_limits, log);
  peer::PeerManager peers(io, log, &audit, config, registry);
  audit.identify_with([&peers] { return peers.local().id.value_or(""); });
  Dispatcher dispatcher(registry, log, &audit);
  CoreServices services{io, log, config, registry, peers, dispatcher, audit};
  PluginLoader loader(services);
  register_builtin_commands(registry, loader);
  loader.load_directory(config.plugin_dir);
  log_unknown_keys(config, loader.records(), *log);

  LocalServer server(io, log, dispatcher);
  server.listen(config.socket);
  peers.start();

  asio::steady_timer watchdog(io);
  tell_systemd_once_serving(io, watchdog, systemd, log, config.socket);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer drain(io);
  signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    log->info("received signal {}, shutting down", signal);
    systemd.notify("STOPPING=1");
    server.stop();
    peers.stop();
    // Stopping cancels every request: running commands get the kill cascade (SIGINT, SIGTERM,
    // SIGKILL within 750 ms). Wait for them to end, within a bound, then stop whatever plugins
    // still have pending. (Durable jobs are not requests: their supervisors run on.)
    wait_for_requests(io, drain, std::chrono::steady_clock::now() + kShutdownGrace, log);
  });

  run_until_stopped(io, log);
  log->info("automatelinux-daemon stopped");
  log->flush();
  return 0;
}

}  // namespace automatelinux::core
