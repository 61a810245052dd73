#include "core/logging.hpp"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace automatelinux::core {

std::shared_ptr<spdlog::logger> make_logger(const std::filesystem::path& state_dir,
                                            const std::string& level) {
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
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  return logger;
}

}  // namespace automatelinux::core
