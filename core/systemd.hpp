// What systemd hands a service it starts (sd_notify(3), sd_watchdog_enabled(3), JOURNAL_STREAM),
// read once at start-up. Without systemd every part of it is a no-op: the daemon runs the same.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace automatelinux::core {

class SystemdLink {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID and JOURNAL_STREAM, then removes every
  // variable systemd sets for a service from this process's environment, so that nothing the
  // daemon starts later (commands, job supervisors) inherits them. Call it before any thread
  // starts (setenv/unsetenv are not thread-safe).
  static SystemdLink from_environment();

  // Sends one sd_notify datagram ("READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=…") to
  // NOTIFY_SOCKET (a path, or '@' for an abstract name). False without NOTIFY_SOCKET or when
  // the datagram could not be sent; never throws.
  bool notify(std::string_view state) const;

  // Half of WATCHDOG_USEC (as sd_watchdog_enabled advises), when the watchdog is meant for this
  // process: WATCHDOG_PID unset or equal to our pid.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

  // True when stderr is the stream that JOURNAL_STREAM names (device and inode match): it is
  // connected to the journal, so lines carry a <N> priority prefix and no timestamp.
  bool stderr_is_journal() const { return journal_; }

  const std::string& notify_socket() const { return notify_socket_; }

 private:
  std::string notify_socket_;
  std::optional<std::chrono::microseconds> watchdog_;
  bool journal_ = false;
};

}  // namespace automatelinux::core
