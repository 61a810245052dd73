#include "process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

namespace automatelinux::peer_exec {
namespace {

struct Pipe {
  int read = -1, write = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
      throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    read = fds[0];
    write = fds[1];
  }
};

// Tells the parent which step failed and why (errno), then exits.
[[noreturn]] void report_and_exit(int report_fd, int stage) {
  const int error[2] = {stage, errno};
  [[maybe_unused]] auto ignored = ::write(report_fd, error, sizeof error);
  ::_exit(127);
}

// In the child, between fork and exec: only async-signal-safe calls.
[[noreturn]] void child(const SpawnRequest& request, char* const* argv, const Pipe& in,
                        const Pipe& out, const Pipe& err, int report_fd, const passwd* user) {
  auto die = [report_fd](int stage) { report_and_exit(report_fd, stage); };
  ::setsid();  // own session and process group, so the whole group can be signalled
  if (::dup2(in.read, 0) < 0 || ::dup2(out.write, 1) < 0 || ::dup2(err.write, 2) < 0) die(0);
  // Nothing else from the daemon leaks into the command (report_fd closes itself on exec).
  if (report_fd > 3) ::close_range(3, static_cast<unsigned>(report_fd) - 1, 0);
  ::close_range(static_cast<unsigned>(report_fd) + 1, ~0U, 0);
  sigset_t all;
  ::sigemptyset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
  if (user != nullptr) {
    if (::initgroups(user->pw_name, user->pw_gid) != 0 || ::setgid(user->pw_gid) != 0 ||
        ::setuid(user->pw_uid) != 0)
      die(1);
  }
  if (::chdir(request.directory.c_str()) != 0) die(2);
  ::execvp(argv[0], argv);
  report_and_exit(report_fd, 3);
}

// Wraps a started child: a pidfd to learn when it exits, and our ends of its pipes.
Child finish_child(pid_t pid, int stdin_fd, int stdout_fd, int stderr_fd) {
  Child c;
  c.pid = pid;
  c.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  c.stdin_fd = stdin_fd;
  c.stdout_fd = stdout_fd;
  c.stderr_fd = stderr_fd;
  if (c.pidfd < 0) {
    const int saved = errno;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    for (int fd : {c.stdin_fd, c.stdout_fd, c.stderr_fd}) ::close(fd);
    throw std::runtime_error(std::string("pidfd_open: ") + std::strerror(saved));
  }
  return c;
}

// The common case (no user switch) with posix_spawn: glibc uses CLONE_VFORK, so the daemon's
// page tables are not copied — a measurable part of execOnPeer's latency.
pid_t spawn_fast(const SpawnRequest& request, char* const* argv, const Pipe& in, const Pipe& out,
                 const Pipe& err) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attributes);
  ::posix_spawn_file_actions_adddup2(&actions, in.read, 0);
  ::posix_spawn_file_actions_adddup2(&actions, out.write, 1);
  ::posix_spawn_file_actions_adddup2(&actions, err.write, 2);
  ::posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  ::posix_spawn_file_actions_addchdir_np(&actions, request.directory.c_str());
  sigset_t all, none;
  ::sigfillset(&all);
  ::sigemptyset(&none);
  ::posix_spawnattr_setsigdefault(&attributes, &all);
  ::posix_spawnattr_setsigmask(&attributes, &none);
  ::posix_spawnattr_setflags(&attributes,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, argv[0], &actions, &attributes, argv, environ);
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attributes);
  if (rc != 0) {
    for (int fd : {in.read, in.write, out.read, out.write, err.read, err.write}) ::close(fd);
    throw std::runtime_error(request.argv[0] + ": " + std::strerror(rc));
  }
  return pid;
}

}  // namespace

Child spawn(const SpawnRequest& request) {
  if (request.argv.empty()) throw std::runtime_error("nothing to run");
  const passwd* user = nullptr;
  if (request.run_as) {
    user = ::getpwnam(request.run_as->c_str());
    if (user == nullptr)
      throw std::runtime_error("exec.run_as user '" + *request.run_as + "' does not exist");
  }
  std::vector<char*> argv;
  for (const auto& arg : request.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);

  Pipe in, out, err;
  if (!request.run_as) {
    const pid_t pid = spawn_fast(request, argv.data(), in, out, err);
    for (int fd : {in.read, out.write, err.write}) ::close(fd);
    return finish_child(pid, in.write, out.read, err.read);
  }
  // Switching user needs work between fork and exec (initgroups, setgid, setuid).
  Pipe report;
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) child(request, argv.data(), in, out, err, report.write, user);

  for (int fd : {in.read, out.write, err.write, report.write}) ::close(fd);
  int error[2] = {0, 0};
  ssize_t n;
  do {
    n = ::read(report.read, error, sizeof error);
  } while (n < 0 && errno == EINTR);
  ::close(report.read);
  if (n == static_cast<ssize_t>(sizeof error)) {
    // exec (or a step before it) failed: the child is already exiting; reap it.
    int status = 0;
    ::waitpid(pid, &status, 0);
    for (int fd : {in.write, out.read, err.read}) ::close(fd);
    static const char* const stages[] = {"cannot set up stdio", "cannot switch user",
                                         "cannot enter directory", ""};
    const std::string what = std::strerror(error[1]);
    if (error[0] == 3) throw std::runtime_error(request.argv[0] + ": " + what);
    throw std::runtime_error(std::string(stages[error[0] & 3]) + ": " + what);
  }
  return finish_child(pid, in.write, out.read, err.read);
}

}  // namespace automatelinux::peer_exec
