#include "executor.hpp"

#include <automatelinux/sdk/terminal.hpp>

#include <sys/ioctl.h>
#include <sys/wait.h>

#include <csignal>

namespace automatelinux::peer_exec {
namespace {
// Cancel: SIGINT, then SIGTERM after 250 ms, then SIGKILL after another 500 ms.
constexpr std::chrono::milliseconds kTermAfter{250};
constexpr std::chrono::milliseconds kKillAfter{500};
// After the main process exits, its pipes get this long of silence before the request ends.
constexpr std::chrono::milliseconds kDrainIdle{1000};
// A cancelled request counts until its processes are gone: checked this often, at most this long.
constexpr std::chrono::milliseconds kGonePoll{20};
constexpr int kGonePolls = 500;
}  // namespace

Execution::Execution(sdk::Host& host, sdk::ServedStreamPtr stream, Child child,
                     std::shared_ptr<Confinement> confinement, std::function<void()> on_done)
    : stream_(std::move(stream)),
      child_(child),
      confinement_(std::move(confinement)),
      on_done_(std::move(on_done)),
      stdin_(host.adopt_fd(child.stdin_fd)),
      pidfd_(host.adopt_fd(child.pidfd)),
      out_{host.adopt_fd(child.stdout_fd), sdk::Channel::out},
      err_{child.stderr_fd >= 0 ? host.adopt_fd(child.stderr_fd) : nullptr, sdk::Channel::err,
           child.stderr_fd < 0},
      terminal_fd_(child.stderr_fd < 0 ? child.stdout_fd : -1),
      kill_timer_(host.make_timer()),
      idle_timer_(host.make_timer()),
      deadline_timer_(host.make_timer()),
      gone_timer_(host.make_timer()),
      logger_(host.logger()) {}

void Execution::start(std::optional<std::chrono::milliseconds> deadline) {
  auto self = shared_from_this();
  if (deadline) {
    deadline_timer_->start(*deadline, [self] {
      self->timed_out_ = true;
      self->on_cancel();
    });
  }
  stream_->on_cancel([self](int) { self->on_cancel(); });
  pump(out_);
  if (err_.pipe) pump(err_);
  feed_stdin();
  if (terminal_fd_ >= 0) follow_window_size();
  wait_for_exit();
}

// A terminal's new size (the requester's window changed): the kernel tells the foreground
// process group with SIGWINCH.
void Execution::follow_window_size() {
  stream_->read(sdk::Channel::control, [self = shared_from_this()](std::string_view data,
                                                                   bool eof) {
    if (eof || self->finished_ || self->out_.eof) return;
    if (const auto size = sdk::parse_window_size(data); size && size->rows > 0 && size->cols > 0) {
      winsize ws{};
      ws.ws_row = static_cast<unsigned short>(size->rows);
      ws.ws_col = static_cast<unsigned short>(size->cols);
      ::ioctl(self->terminal_fd_, TIOCSWINSZ, &ws);
    }
    self->follow_window_size();
  });
}

void Execution::pump(Output& output) {
  output.pipe->read_some([self = shared_from_this(), &output](std::string_view data, bool eof) {
    if (eof) {
      output.eof = true;
      output.pipe->close();
      return self->maybe_finish();
    }
    if (self->finished_) return self->pump(output);  // detached: drain and discard
    if (self->wait_status_) self->arm_idle_timer();  // output still flowing: not idle
    // The next read waits for the stream's window: a slow reader slows only this command.
    self->stream_->write(output.channel, std::string(data),
                         [self, &output](bool) { self->pump(output); });
  });
}

void Execution::feed_stdin() {
  stream_->read(sdk::Channel::in, [self = shared_from_this()](std::string_view data, bool eof) {
    if (eof || self->finished_) return self->stdin_->close();
    self->stdin_->write(std::string(data), [self](bool ok) {
      if (!ok) return self->stdin_->close();  // the command closed its stdin: drop the rest
      self->feed_stdin();
    });
  });
}

void Execution::wait_for_exit() {
  pidfd_->wait_readable([self = shared_from_this()](bool ok) {
    if (!ok) return;
    int status = 0;
    if (::waitpid(self->child_.pid, &status, WNOHANG) != self->child_.pid)
      return self->wait_for_exit();
    self->wait_status_ = status;
    self->confinement_->reaped();
    self->pidfd_->close();
    self->kill_timer_->cancel();
    // Cancelled: the whole group goes now, so there is nothing left worth draining.
    if (self->cancelled_) return self->finish();
    // Background children may hold the pipes: give them a second of silence, then end.
    self->arm_idle_timer();
    self->maybe_finish();
  });
}

void Execution::arm_idle_timer() {
  idle_timer_->start(kDrainIdle, [self = shared_from_this()] { self->finish(); });
}

void Execution::on_cancel() {
  if (wait_status_) {
    cancelled_ = true;
    return finish();
  }
  if (cancelled_) return;
  cancelled_ = true;
  kill_group(SIGINT);
  kill_timer_->start(kTermAfter, [self = shared_from_this()] {
    if (self->wait_status_) return;
    self->kill_group(SIGTERM);
    self->kill_timer_->start(kKillAfter, [self] {
      if (self->wait_status_) return;
      self->kill_group(SIGKILL);
      self->confinement_->kill_all();  // also what left the group (setsid, double fork)
    });
  });
}

void Execution::kill_group(int signal) {
  ::kill(-child_.pid, signal);
}

void Execution::maybe_finish() {
  if (wait_status_ && out_.eof && err_.eof) finish();
}

void Execution::finish() {
  if (finished_ || !wait_status_) return;
  finished_ = true;
  idle_timer_->cancel();
  deadline_timer_->cancel();
  // A cancelled or timed-out request takes its whole process group along, background included,
  // and every other process it started, wherever it moved (its cgroup, or its tagged
  // descendants under the subreaper).
  if (cancelled_) {
    kill_group(SIGKILL);
    confinement_->kill_all();
  }
  const int status = *wait_status_;
  sdk::Result result = timed_out_            ? sdk::Result::timeout()
                       : cancelled_          ? sdk::Result::cancelled()
                       : WIFSIGNALED(status) ? sdk::Result::signaled(WTERMSIG(status))
                                             : sdk::Result::exited(WEXITSTATUS(status));
  stream_->finish(result);
  stdin_->close();
  if (cancelled_) return release_when_gone(kGonePolls);
  if (auto done = std::exchange(on_done_, {})) done();
}

void Execution::release_when_gone(int polls_left) {
  if (polls_left > 0 && !confinement_->empty()) {
    confinement_->kill_all();
    gone_timer_->start(kGonePoll, [self = shared_from_this(), polls_left] {
      self->release_when_gone(polls_left - 1);
    });
    return;
  }
  if (polls_left == 0)
    logger_->warn("request {}: processes still left {} s after it was cancelled; no longer counted",
                  stream_->request_id(), kGonePoll.count() * kGonePolls / 1000);
  if (auto done = std::exchange(on_done_, {})) done();
}

}  // namespace automatelinux::peer_exec
