// One shared spdlog logger for core and every plugin: stderr plus a rotating file in the state dir.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <spdlog/logger.h>

namespace automatelinux::core {

// Throws std::runtime_error naming the problem (bad level, unwritable log file).
std::shared_ptr<spdlog::logger> make_logger(const std::filesystem::path& state_dir,
                                            const std::string& level);

}  // namespace automatelinux::core
