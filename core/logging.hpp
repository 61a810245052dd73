// One shared spdlog logger for core and every plugin: stderr plus a rotating file in the state dir.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <spdlog/logger.h>

namespace automatelinux::core {

// Throws std::runtime_error naming the problem (bad level, unwritable log file).
// `stderr_is_journal`: stderr is connected to the journal (JOURNAL_STREAM matched), so its
// lines carry sd-daemon(3) priority prefixes ("<4>" for a warning) and no timestamp of their
// own (journald stamps each line); the file keeps timestamps and level names either way.
std::shared_ptr<spdlog::logger> make_logger(const std::filesystem::path& state_dir,
                                            const std::string& level,
                                            bool stderr_is_journal = false);

// The syslog priority sd-daemon(3) uses for a spdlog level: critical 2, error 3, warning 4,
// info 6, debug and trace 7.
int syslog_priority(spdlog::level::level_enum level);

}  // namespace automatelinux::core
