// Wakes its owner when something in a directory changes (inotify), and after a second at the
// latest, so that a condition inotify cannot see (a supervisor that vanished) is noticed too.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <automatelinux/sdk/sdk.hpp>

namespace automatelinux::peer_exec::jobs {

class DirWatch : public std::enable_shared_from_this<DirWatch> {
 public:
  // Throws std::runtime_error when the directory cannot be watched.
  static std::shared_ptr<DirWatch> create(sdk::Host& host, const std::string& dir);
  // Runs `handler` (never inline) after the next change, or a second from now. One at a time;
  // a change that came while nobody waited wakes the next waiter at once.
  void next(std::function<void()> handler);
  void close();

 private:
  DirWatch(sdk::AsyncFdPtr fd, sdk::TimerPtr tick) : fd_(std::move(fd)), tick_(std::move(tick)) {}
  void read();
  void fire();

  sdk::AsyncFdPtr fd_;
  sdk::TimerPtr tick_;
  std::function<void()> handler_;
  bool changed_ = false;
  bool reading_ = false;
};

}  // namespace automatelinux::peer_exec::jobs
