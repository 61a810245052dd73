// job-supervisor: the process that owns one durable job, so that the job outlives the daemon that
// started it (a restart, an upgrade, a crash) and its output and exit status are recorded even
// while no daemon runs.
//
//   job-supervisor JOB_DIR RUN_AS TIMEOUT_MS MAX_OUTPUT_BYTES [MAX_TOTAL_BYTES] -- PROG ARGS...
//
// With MAX_TOTAL_BYTES (jobs.max_total_bytes), the job's output counts in the budget all jobs
// share (job_budget.hpp), and drops its middle while the jobs together hold more.
//
// The daemon starts it (own session, in the job's working directory, with the command's
// environment) and reads one line from its stdout: "ok PID" once the command runs, or
// "error REASON". From then on the supervisor talks to nobody: it records the command's output
// (job_output.hpp), takes kill requests from the control FIFO ("kill SIGNAL"), enforces the
// timeout, and writes status.json when the job is over. It is a child subreaper, so whatever the
// job leaves behind is reparented to it and a kill reaches every process of the job.
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../process.hpp"
#include "../unique_fd.hpp"
#include "job_budget.hpp"
#include "job_files.hpp"
#include "job_output.hpp"

extern char** environ;

namespace automatelinux::peer_exec::jobs {
namespace {

using Clock = std::chrono::steady_clock;
// The same cascade as Ctrl-C on execOnPeer: SIGNAL, SIGTERM after 250 ms, SIGKILL 500 ms later.
constexpr std::chrono::milliseconds kTermAfter{250}, kKillAfter{750};
// After the main process exits, its pipes get this long of silence before the job ends.
constexpr std::chrono::milliseconds kDrainIdle{1000};
// Once killed, the job ends when nothing of it is left, or after this long regardless.
constexpr std::chrono::milliseconds kGiveUpAfter{10000};
// How often a job that has segments it could drop checks the shared budget (jobs.max_total_bytes).
constexpr int kBudgetCheck = 1000;

// Every descendant of this process (children, and theirs), from /proc/PID/task/*/children.
std::vector<pid_t> descendants() {
  std::vector<pid_t> found, todo{::getpid()};
  while (!todo.empty()) {
    const pid_t pid = todo.back();
    todo.pop_back();
    std::ifstream tasks_of("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) +
                           "/children");
    for (pid_t child; tasks_of >> child;) {
      found.push_back(child);
      todo.push_back(child);
    }
  }
  return found;
}

class Supervisor {
 public:
  Supervisor(std::string dir, std::uint64_t cap, std::shared_ptr<OutputBudget> budget,
             std::uint64_t max_total)
      : dir_(std::move(dir)),
        budget_(budget),
        out_(dir_, files::kStdout, OutputLayout::for_cap(cap), budget, max_total),
        err_(dir_, files::kStderr, OutputLayout::for_cap(cap), budget, max_total) {}

  // Starts the command; throws std::runtime_error with the reason it could not.
  void start(const SpawnRequest& request, std::optional<std::chrono::milliseconds> timeout) {
    child_ = spawn(request);
    ::close(child_.stdin_fd);  // a job reads no input: EOF at once, as `execOnPeer -n`
    pipes_[0] = child_.stdout_fd;
    pipes_[1] = child_.stderr_fd;
    ::close(child_.pidfd);  // SIGCHLD tells us; every descendant ends up as our child
    if (timeout) deadline_ = Clock::now() + *timeout;
    nlohmann::json process = {{"supervisor", ::getpid()}, {"pgid", child_.pid}};
    files::write_atomically(dir_, files::kProcess, process.dump() + "\n");
  }

  pid_t pid() const { return child_.pid; }
  int run(int signal_fd, int control_fd);

 private:
  void on_output(int which);
  void on_signal(int signal_fd);
  void on_control(int control_fd);
  void reap();
  void request_kill(int signal, const char* state);
  void advance_kill();
  bool over();
  void finish();

  std::string dir_;
  std::shared_ptr<OutputBudget> budget_;
  OutputWriter out_, err_;
  Child child_;
  int pipes_[2] = {-1, -1};
  std::optional<int> main_status_;
  Clock::time_point last_output_ = Clock::now();
  std::optional<Clock::time_point> deadline_;
  // Killing: why ("killed" or "timeout"), with which signal, and when it started.
  const char* kill_state_ = nullptr;
  int kill_signal_ = 0;
  int kill_stage_ = 0;
  Clock::time_point kill_started_;
};

void Supervisor::on_output(int which) {
  char buffer[65536];
  const ssize_t n = ::read(pipes_[which], buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    ::close(pipes_[which]);
    pipes_[which] = -1;
    return;
  }
  (which == 0 ? out_ : err_).append(buffer, static_cast<std::size_t>(n));
  last_output_ = Clock::now();
}

void Supervisor::reap() {
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    if (pid == child_.pid) {
      main_status_ = status;
      last_output_ = Clock::now();
    }
  }
}

void Supervisor::on_signal(int signal_fd) {
  signalfd_siginfo info{};
  while (::read(signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    if (info.ssi_signo == SIGCHLD) reap();
    // Stopped from outside (a shutdown that reaches the supervisor): end the job as if killed,
    // so that its status is still recorded.
    if (info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT) request_kill(SIGTERM, "killed");
  }
}

void Supervisor::on_control(int control_fd) {
  char buffer[256];
  const ssize_t n = ::read(control_fd, buffer, sizeof buffer - 1);
  if (n <= 0) return;
  buffer[n] = '\0';
  std::istringstream lines(buffer);
  std::string verb;
  int signal = 0;
  while (lines >> verb >> signal)
    if (verb == "kill" && signal > 0 && signal < NSIG) request_kill(signal, "killed");
}

void Supervisor::request_kill(int signal, const char* state) {
  if (kill_state_ != nullptr) return;
  kill_state_ = state;
  kill_signal_ = signal;
  kill_started_ = Clock::now();
  kill_stage_ = 0;
  ::kill(-child_.pid, signal);
}

void Supervisor::advance_kill() {
  const auto elapsed = Clock::now() - kill_started_;
  if (kill_stage_ == 0 && elapsed >= kTermAfter) {
    kill_stage_ = 1;
    ::kill(-child_.pid, SIGTERM);
  }
  if (kill_stage_ >= 1 && elapsed >= kKillAfter) {
    kill_stage_ = 2;
    // Also whatever left the group (setsid, a double fork): all of it is below us.
    ::kill(-child_.pid, SIGKILL);
    for (const pid_t pid : descendants()) ::kill(pid, SIGKILL);
  }
}

bool Supervisor::over() {
  const auto now = Clock::now();
  if (kill_state_ != nullptr) {
    if (now - kill_started_ >= kGiveUpAfter) return true;
    // Nothing of it left: no process of the group and no descendant.
    return main_status_ && ::kill(-child_.pid, 0) != 0 && descendants().empty();
  }
  if (!main_status_) return false;
  // Background children may hold the pipes (as with nohup): a second of silence ends the job.
  return (pipes_[0] < 0 && pipes_[1] < 0) || now - last_output_ >= kDrainIdle;
}

void Supervisor::finish() {
  // Whatever is still in the pipes belongs to the record.
  for (int which = 0; which < 2; ++which) {
    while (pipes_[which] >= 0) {
      const int flags = ::fcntl(pipes_[which], F_GETFL);
      ::fcntl(pipes_[which], F_SETFL, flags | O_NONBLOCK);
      char buffer[65536];
      const ssize_t n = ::read(pipes_[which], buffer, sizeof buffer);
      if (n <= 0) {
        ::close(pipes_[which]);
        pipes_[which] = -1;
        break;
      }
      (which == 0 ? out_ : err_).append(buffer, static_cast<std::size_t>(n));
    }
  }
  // The output now counts as a finished job's, until the daemon's index has it (before status.json,
  // which is what the daemon notices).
  if (budget_) {
    const auto kept = out_.kept() + err_.kept();
    budget_->add_running(-static_cast<std::int64_t>(kept));
    budget_->add_finished(kept);
  }
  const int status = main_status_.value_or(0);
  nlohmann::json record = {{"ended", files::iso_utc(std::time(nullptr))},
                           {"exit_code", nullptr},
                           {"signal", nullptr},
                           {"stdout_bytes", out_.kept()},
                           {"stderr_bytes", err_.kept()},
                           {"dropped_bytes", out_.dropped() + err_.dropped()}};
  if (kill_state_ != nullptr && std::string(kill_state_) == "killed") {
    record["state"] = "killed";
    record["signal"] = main_status_ && WIFSIGNALED(status) ? WTERMSIG(status) : kill_signal_;
  } else if (kill_state_ != nullptr) {
    record["state"] = "timeout";
  } else if (WIFSIGNALED(status)) {
    record["state"] = "signaled";
    record["signal"] = WTERMSIG(status);
  } else {
    record["state"] = "exited";
    record["exit_code"] = WEXITSTATUS(status);
  }
  files::write_atomically(dir_, files::kStatus, record.dump() + "\n");
}

int Supervisor::run(int signal_fd, int control_fd) {
  while (!over()) {
    pollfd fds[4] = {{pipes_[0], POLLIN, 0},
                     {pipes_[1], POLLIN, 0},
                     {signal_fd, POLLIN, 0},
                     {control_fd, POLLIN, 0}};
    // Wake for the next thing that is due: a kill step, the timeout, the drain deadline.
    int wait_ms = -1;
    if (kill_state_ != nullptr || main_status_) wait_ms = 50;
    if (deadline_ && kill_state_ == nullptr) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(*deadline_ - Clock::now()).count();
      wait_ms = static_cast<int>(std::max<long long>(0, std::min<long long>(left, 60000)));
    }
    // Holding more than the minimum while all jobs are over the budget: look again within a
    // second, so that output this job wrote earlier gives way to what other jobs write now.
    if (out_.can_drop() || err_.can_drop())
      wait_ms = wait_ms < 0 ? kBudgetCheck : std::min(wait_ms, kBudgetCheck);
    if (::poll(fds, 4, wait_ms) < 0 && errno != EINTR) return 1;
    out_.fit_budget();
    err_.fit_budget();
    for (int which = 0; which < 2; ++which)
      if (pipes_[which] >= 0 && (fds[which].revents & (POLLIN | POLLHUP | POLLERR)))
        on_output(which);
    if (fds[2].revents & POLLIN) on_signal(signal_fd);
    if (fds[3].revents & POLLIN) on_control(control_fd);
    if (deadline_ && kill_state_ == nullptr && !main_status_ && Clock::now() >= *deadline_)
      request_kill(SIGINT, "timeout");
    if (kill_state_ != nullptr) advance_kill();
    reap();
  }
  finish();
  return 0;
}

// The daemon waits for this line; after it, stdio goes to /dev/null (nobody reads it any more).
void tell_daemon(const std::string& line) {
  const std::string text = line + "\n";
  [[maybe_unused]] auto ignored = ::write(STDOUT_FILENO, text.data(), text.size());
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
  if (null > 2) ::close(null);
}

int supervise(int argc, char** argv) {
  // MAX_TOTAL_BYTES is optional: "--" comes fifth or sixth.
  const int dashes = argc > 5 && std::string(argv[5]) == "--" ? 5 : 6;
  if (argc < dashes + 2 || std::string(argv[dashes]) != "--") {
    tell_daemon(
        "error usage: job-supervisor JOB_DIR RUN_AS TIMEOUT_MS MAX_OUTPUT_BYTES [MAX_TOTAL_BYTES] "
        "-- PROG...");
    return 2;
  }
  const std::string dir = argv[1], run_as = argv[2];
  const long long timeout_ms = std::stoll(argv[3]);
  const std::uint64_t cap = std::stoull(argv[4]);
  const std::uint64_t max_total = dashes == 6 ? std::stoull(argv[5]) : 0;

  // Nobody may stop the recording by accident: a closed terminal or pipe is not our business.
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGHUP, SIG_IGN);
  sigset_t handled;
  ::sigemptyset(&handled);
  for (int s : {SIGCHLD, SIGTERM, SIGINT}) ::sigaddset(&handled, s);
  ::sigprocmask(SIG_BLOCK, &handled, nullptr);
  UniqueFd signal_fd(::signalfd(-1, &handled, SFD_NONBLOCK | SFD_CLOEXEC));

  // Held until this process ends, however it ends: the daemon's sign that the job is attended.
  UniqueFd lock(::open((dir + "/" + files::kLock).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    tell_daemon(std::string("error cannot lock the job: ") + std::strerror(errno));
    return 1;
  }
  const std::string control_path = dir + "/" + files::kControl;
  ::mkfifo(control_path.c_str(), 0600);
  UniqueFd control(::open(control_path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  try {
    std::shared_ptr<OutputBudget> budget;
    if (max_total > 0) {
      try {
        budget = OutputBudget::open(std::filesystem::path(dir).parent_path().string());
      } catch (const std::exception&) {
        // Without the shared counters the job still runs, capped per stream as before.
      }
    }
    Supervisor supervisor(dir, cap, budget, max_total);
    SpawnRequest request;
    request.directory = ".";
    UniqueFd here(::open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    request.directory_fd = here.get();
    for (int i = dashes + 1; i < argc; ++i) request.argv.emplace_back(argv[i]);
    if (!run_as.empty()) request.run_as = run_as;
    for (char** e = environ; *e != nullptr; ++e) request.environment.emplace_back(*e);
    std::optional<std::chrono::milliseconds> timeout;
    if (timeout_ms > 0) timeout = std::chrono::milliseconds(timeout_ms);
    supervisor.start(request, timeout);
    tell_daemon("ok " + std::to_string(supervisor.pid()));
    const int rc = supervisor.run(signal_fd.get(), control.get());
    ::unlink(control_path.c_str());
    return rc;
  } catch (const std::exception& e) {
    tell_daemon(std::string("error ") + e.what());
    ::unlink(control_path.c_str());
    return 1;
  }
}

}  // namespace
}  // namespace automatelinux::peer_exec::jobs

int main(int argc, char** argv) {
  return automatelinux::peer_exec::jobs::supervise(argc, argv);
}
