// Core's implementation of sdk::AsyncFd and sdk::Timer on the daemon's io_context.
#pragma once

#include <memory>

#include "automatelinux/sdk/async.hpp"
#include "core/asio.hpp"
#include "core/library_ref.hpp"

namespace spdlog {
class logger;
}

namespace automatelinux::core {

// `library`: the plugin the object is made for; it holds that plugin's callbacks, so it keeps the
// library loaded (see core/library_ref.hpp).
sdk::AsyncFdPtr make_async_fd(asio::io_context& io, std::shared_ptr<spdlog::logger> log, int fd,
                              LibraryRef library = {});
sdk::TimerPtr make_timer_for(asio::io_context& io, std::shared_ptr<spdlog::logger> log,
                             LibraryRef library = {});

}  // namespace automatelinux::core
