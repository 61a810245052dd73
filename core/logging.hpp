// One shared spdlog logger for core and every plugin: stderr plus a rotating file in the state dir.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include <spdlog/logger.h>

namespace automatelinux::core {

// The `log` section's size keys (declared and checked in core/config_keys.cpp).
struct LogLimits {
  std::size_t max_bytes = 5 * 1024 * 1024;  // daemon.log before it is rotated
  std::size_t keep = 3;                     // rotated files kept (daemon.1.log … daemon.N.log)
};

// daemon.log and its rotated files are made 0640 whatever the umask or the state dir's mode:
// they hold every audited command line.
inline constexpr unsigned kLogFileMode = 0640;

// Throws std::runtime_error naming the problem (bad level, unwritable log file).
// `stderr_is_journal`: stderr is connected to the journal (JOURNAL_STREAM matched), so its
// lines carry sd-daemon(3) priority prefixes ("<4>" for a warning) and no timestamp of their
// own (journald stamps each line); the file keeps timestamps and level names either way.
std::shared_ptr<spdlog::logger> make_logger(const std::filesystem::path& state_dir,
                                            const std::string& level,
                                            bool stderr_is_journal = false, LogLimits limits = {});

// The syslog priority sd-daemon(3) uses for a spdlog level: critical 2, error 3, warning 4,
// info 6, debug and trace 7.
int syslog_priority(spdlog::level::level_enum level);

}  // namespace automatelinux::core
