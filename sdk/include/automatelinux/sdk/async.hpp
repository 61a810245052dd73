// Asynchronous building blocks core lends to plugins: a file descriptor to read and write without
// blocking, and a timer. Core implements them on its io_context, so a plugin never instantiates
// Asio itself (header-only Asio keeps per-library state that must not be split across plugins).
// Callbacks run on core's thread, never inline, never re-entered; an exception from one is
// caught and logged by core.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/config.hpp>

namespace automatelinux::sdk {

class BOOST_SYMBOL_VISIBLE AsyncFd {
 public:
  virtual ~AsyncFd() = default;
  // Reads what is available (up to 64 KiB). `eof` is true at end of file or on error.
  virtual void read_some(std::function<void(std::string_view data, bool eof)> handler) = 0;
  // Writes all of `data`; `ok` is false if the descriptor failed (e.g. EPIPE).
  virtual void write(std::string data, std::function<void(bool ok)> handler) = 0;
  // Completes once the descriptor is readable (e.g. a pidfd whose process exited).
  virtual void wait_readable(std::function<void(bool ok)> handler) = 0;
  // Closes the descriptor; pending operations complete with eof / !ok.
  virtual void close() = 0;
  virtual bool is_open() const = 0;
};

class BOOST_SYMBOL_VISIBLE Timer {
 public:
  virtual ~Timer() = default;
  // (Re)starts the timer; a previous pending wait is cancelled and its handler never runs.
  virtual void start(std::chrono::milliseconds after, std::function<void()> handler) = 0;
  virtual void cancel() = 0;
};

using AsyncFdPtr = std::shared_ptr<AsyncFd>;
using TimerPtr = std::shared_ptr<Timer>;

}  // namespace automatelinux::sdk
