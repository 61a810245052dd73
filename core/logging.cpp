#include "core/logging.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace automatelinux::core {

namespace {

constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v";

// "%*" in a pattern: the message's "<N>" priority prefix.
class PriorityFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const char prefix[] = {'<', static_cast<char>('0' + syslog_priority(msg.level)), '>'};
    dest.append(prefix, prefix + sizeof prefix);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<PriorityFlag>();
  }
};

// spdlog opens its files with fopen(), which creates them 0666 minus the umask (0644 under the
// usual 022), readable by every local user when the state dir is 0755. The daemon's umask is left
// alone (commands inherit it), so the file is created with its mode before spdlog opens it, and
// an older file's mode is set again after each open (at start and at every rotation).
spdlog::file_event_handlers private_log_files() {
  spdlog::file_event_handlers handlers;
  handlers.before_open = [](const spdlog::filename_t& name) {
    const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, kLogFileMode);
    if (fd >= 0) ::close(fd);
  };
  handlers.after_open = [](const spdlog::filename_t&, std::FILE* file) {
    ::fchmod(::fileno(file), kLogFileMode);
  };
  return handlers;
}

// Rotated files of an older daemon may have been made 0644 (it kept 3): they get the log's mode
// too.
void restrict_rotated_logs(const std::filesystem::path& state_dir, std::size_t keep) {
  for (std::size_t n = 1; n <= std::max<std::size_t>(keep, 3); ++n) {
    const auto name = state_dir / ("daemon." + std::to_string(n) + ".log");
    if (::chmod(name.c_str(), kLogFileMode) != 0 && errno == ENOENT) break;
  }
}

}  // namespace

int syslog_priority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::critical:
      return 2;
    case spdlog::level::err:
      return 3;
    case spdlog::level::warn:
      return 4;
    case spdlog::level::info:
      return 6;
    default:
      return 7;
  }
}

std::shared_ptr<spdlog::logger> make_logger(const std::filesystem::path& state_dir,
                                            const std::string& level, bool stderr_is_journal,
                                            LogLimits limits) {
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off")
    throw std::runtime_error("unknown log level '" + level + "'");
  auto stderr_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto file_sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
      (state_dir / "daemon.log").string(), limits.max_bytes, limits.keep, false,
      private_log_files());
  restrict_rotated_logs(state_dir, limits.keep);
  auto logger = std::make_shared<spdlog::logger>("automatelinux",
                                                 spdlog::sinks_init_list{stderr_sink, file_sink});
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::info);
  logger->set_pattern(kPattern);
  if (stderr_is_journal) {
    auto journal = std::make_unique<spdlog::pattern_formatter>();
    journal->add_flag<PriorityFlag>('*').set_pattern("%*%v");
    stderr_sink->set_formatter(std::move(journal));
  }
  spdlog::set_default_logger(logger);
  return logger;
}

}  // namespace automatelinux::core
