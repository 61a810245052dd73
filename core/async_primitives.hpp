// Core's implementation of sdk::AsyncFd and sdk::Timer on the daemon's io_context.
#pragma once

#include <memory>

#include "automatelinux/sdk/async.hpp"
#include "core/asio.hpp"

namespace spdlog {
class logger;
}

namespace automatelinux::core {

sdk::AsyncFdPtr make_async_fd(asio::io_context& io, std::shared_ptr<spdlog::logger> log, int fd);
sdk::TimerPtr make_timer_for(asio::io_context& io, std::shared_ptr<spdlog::logger> log);

}  // namespace automatelinux::core
