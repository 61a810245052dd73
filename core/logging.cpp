#include "core/logging.hpp"

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
                                            const std::string& level, bool stderr_is_journal) {
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off")
    throw std::runtime_error("unknown log level '" + level + "'");
  constexpr std::size_t kFileSize = 5 * 1024 * 1024;
  constexpr std::size_t kFiles = 3;
  auto stderr_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto file_sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
      (state_dir / "daemon.log").string(), kFileSize, kFiles);
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
