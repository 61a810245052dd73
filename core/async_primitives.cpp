#include "core/async_primitives.hpp"

#include <spdlog/spdlog.h>

#include "core/untrusted_text.hpp"

namespace automatelinux::core {
namespace {

// Plugin callbacks must never unwind into the event loop.
template <class F>
void call_plugin(const std::shared_ptr<spdlog::logger>& log, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    log->error("plugin callback threw: {}", escape_untrusted(e.what()));
  } catch (...) {
    log->error("plugin callback threw a non-exception");
  }
}

class AsyncFdImpl final : public sdk::AsyncFd, public std::enable_shared_from_this<AsyncFdImpl> {
 public:
  AsyncFdImpl(asio::io_context& io, std::shared_ptr<spdlog::logger> log, int fd, LibraryRef library)
      : library_(std::move(library)), descriptor_(io, fd), log_(std::move(log)) {
    descriptor_.non_blocking(true);
  }

  void read_some(std::function<void(std::string_view, bool)> handler) override {
    descriptor_.async_read_some(asio::buffer(buffer_),
                                [self = shared_from_this(), handler = std::move(handler)](
                                    boost::system::error_code ec, std::size_t n) {
                                  call_plugin(self->log_, [&] {
                                    if (ec) return handler({}, true);
                                    handler(std::string_view(self->buffer_.data(), n), false);
                                  });
                                });
  }

  void write(std::string data, std::function<void(bool)> handler) override {
    auto owned = std::make_shared<std::string>(std::move(data));
    asio::async_write(descriptor_, asio::buffer(*owned),
                      [self = shared_from_this(), owned, handler = std::move(handler)](
                          boost::system::error_code ec, std::size_t) {
                        call_plugin(self->log_, [&] { handler(!ec); });
                      });
  }

  void wait_readable(std::function<void(bool)> handler) override {
    descriptor_.async_wait(
        asio::posix::stream_descriptor::wait_read,
        [self = shared_from_this(), handler = std::move(handler)](boost::system::error_code ec) {
          call_plugin(self->log_, [&] { handler(!ec); });
        });
  }

  void close() override {
    boost::system::error_code ignored;
    descriptor_.close(ignored);
  }
  bool is_open() const override { return descriptor_.is_open(); }

 private:
  LibraryRef library_;  // first: released after the pending plugin callbacks
  asio::posix::stream_descriptor descriptor_;
  std::shared_ptr<spdlog::logger> log_;
  std::array<char, 64 * 1024> buffer_{};
};

class TimerImpl final : public sdk::Timer, public std::enable_shared_from_this<TimerImpl> {
 public:
  TimerImpl(asio::io_context& io, std::shared_ptr<spdlog::logger> log, LibraryRef library)
      : library_(std::move(library)), timer_(io), log_(std::move(log)) {}

  void start(std::chrono::milliseconds after, std::function<void()> handler) override {
    const auto generation = ++generation_;
    timer_.expires_after(after);
    timer_.async_wait([self = shared_from_this(), generation,
                       handler = std::move(handler)](boost::system::error_code ec) {
      if (ec || generation != self->generation_) return;
      call_plugin(self->log_, handler);
    });
  }
  void cancel() override {
    ++generation_;
    timer_.cancel();
  }

 private:
  LibraryRef library_;  // first: released after the pending plugin callback
  asio::steady_timer timer_;
  std::shared_ptr<spdlog::logger> log_;
  std::uint64_t generation_ = 0;
};

}  // namespace

sdk::AsyncFdPtr make_async_fd(asio::io_context& io, std::shared_ptr<spdlog::logger> log, int fd,
                              LibraryRef library) {
  return std::make_shared<AsyncFdImpl>(io, std::move(log), fd, std::move(library));
}

sdk::TimerPtr make_timer_for(asio::io_context& io, std::shared_ptr<spdlog::logger> log,
                             LibraryRef library) {
  return std::make_shared<TimerImpl>(io, std::move(log), std::move(library));
}

}  // namespace automatelinux::core
