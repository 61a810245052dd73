// The executing side of execOnPeer: runs one command for a peer's request and supervises it —
// live output with backpressure, stdin with EOF, the kill cascade on cancel, and the rule that a
// background child holding the pipes cannot keep the request open after the main process exits.
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include <automatelinux/sdk/sdk.hpp>

#include "isolation.hpp"
#include "process.hpp"

namespace automatelinux::peer_exec {

class Execution : public std::enable_shared_from_this<Execution> {
 public:
  // `on_done` runs once the request has finished (for the concurrency count) — for a cancelled or
  // timed-out request, once all its processes are gone. `confinement` holds every process the
  // request starts, wherever they go.
  // A child without stderr_fd runs on a terminal: stdout_fd is its master, output and stderr
  // together, and window sizes from the requester are applied to it.
  Execution(sdk::Host& host, sdk::ServedStreamPtr stream, Child child,
            std::shared_ptr<Confinement> confinement, std::function<void()> on_done);
  // `deadline`: this host's exec.default_timeout, used when the request carries no timeout of its
  // own (a requested timeout is enforced by core).
  void start(std::optional<std::chrono::milliseconds> deadline = std::nullopt);

 private:
  struct Output {
    sdk::AsyncFdPtr pipe;
    sdk::Channel channel;
    bool eof = false;
  };

  void pump(Output& output);
  void feed_stdin();
  void follow_window_size();
  void wait_for_exit();
  void arm_idle_timer();
  void on_cancel();
  void kill_group(int signal);
  void maybe_finish();
  void finish();
  void release_when_gone(int polls_left);

  sdk::ServedStreamPtr stream_;
  Child child_;
  std::shared_ptr<Confinement> confinement_;
  std::function<void()> on_done_;
  sdk::AsyncFdPtr stdin_, pidfd_;
  Output out_, err_;
  int terminal_fd_ = -1;  // a terminal request: the pseudo-terminal's master (owned by out_.pipe)
  sdk::TimerPtr kill_timer_, idle_timer_, deadline_timer_, gone_timer_;
  std::shared_ptr<spdlog::logger> logger_;
  std::optional<int> wait_status_;
  bool cancelled_ = false;
  bool timed_out_ = false;
  bool finished_ = false;
};

}  // namespace automatelinux::peer_exec
