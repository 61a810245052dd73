#include "dir_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace automatelinux::peer_exec::jobs {

std::shared_ptr<DirWatch> DirWatch::create(sdk::Host& host, const std::string& dir) {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) throw std::runtime_error(std::string("inotify: ") + std::strerror(errno));
  if (::inotify_add_watch(fd, dir.c_str(),
                          IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE) < 0) {
    const int saved = errno;
    ::close(fd);
    throw std::runtime_error("cannot watch " + dir + ": " + std::strerror(saved));
  }
  return std::shared_ptr<DirWatch>(new DirWatch(host.adopt_fd(fd), host.make_timer()));
}

void DirWatch::next(std::function<void()> handler) {
  handler_ = std::move(handler);
  if (std::exchange(changed_, false)) {
    tick_->start(std::chrono::milliseconds(0), [self = shared_from_this()] { self->fire(); });
    return;
  }
  tick_->start(std::chrono::seconds(1), [self = shared_from_this()] { self->fire(); });
  read();
}

void DirWatch::read() {
  if (reading_ || !fd_->is_open()) return;
  reading_ = true;
  fd_->read_some([self = shared_from_this()](std::string_view, bool eof) {
    self->reading_ = false;
    if (eof) return;
    if (self->handler_) {
      self->fire();
    } else {
      self->changed_ = true;
    }
  });
}

void DirWatch::fire() {
  tick_->cancel();
  if (auto handler = std::exchange(handler_, {})) handler();
}

void DirWatch::close() {
  tick_->cancel();
  handler_ = {};
  fd_->close();
}

}  // namespace automatelinux::peer_exec::jobs
