#include "process.hpp"

#include "unique_fd.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <utility>

namespace automatelinux::peer_exec {
namespace {

// clone3's argument (linux/sched.h; declared here to stay clear of its clash with <sched.h>).
struct CloneArgs {
  std::uint64_t flags = 0, pidfd = 0, child_tid = 0, parent_tid = 0, exit_signal = 0, stack = 0,
                stack_size = 0, tls = 0, set_tid = 0, set_tid_size = 0, cgroup = 0;
};
constexpr std::uint64_t kCloneIntoCgroup = 0x200000000ULL;

// Both ends are owned: whatever is not handed over (to the child, or in the returned Child) is
// closed on every path, including when a later pipe cannot be made.
struct Pipe {
  UniqueFd read, write;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
      throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    read.reset(fds[0]);
    write.reset(fds[1]);
  }
};

// Everything the child needs, prepared before the fork: the child may only make
// async-signal-safe calls (no allocation, no NSS lookups).
struct ChildSetup {
  char* const* argv;
  char* const* envp;
  int in, out, err, directory_fd, report_fd;
  bool switch_user = false;
  bool controlling_terminal = false;  // `in` is a terminal to make the controlling one
  uid_t uid = 0;
  gid_t gid = 0;
  const gid_t* groups = nullptr;
  std::size_t group_count = 0;
};

// Tells the parent which step failed and why (errno), then exits.
[[noreturn]] void report_and_exit(int report_fd, int stage) {
  const int error[2] = {stage, errno};
  [[maybe_unused]] auto ignored = ::write(report_fd, error, sizeof error);
  ::_exit(127);
}

// In the child, between fork (or clone3) and exec. Raw system calls for the user switch: after a
// raw clone3 glibc still believes the daemon's other threads exist, and its setuid() would wait
// for them forever.
[[noreturn]] void child(const ChildSetup& s) {
  auto die = [&s](int stage) { report_and_exit(s.report_fd, stage); };
  // Signals were blocked by the parent around the fork; default handlers before unblocking, so
  // none of the daemon's handlers can run here.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::setsid();  // own session and process group, so the whole group can be signalled
  if (s.controlling_terminal && ::ioctl(s.in, TIOCSCTTY, 0) != 0) die(0);
  if (::dup2(s.in, 0) < 0 || ::dup2(s.out, 1) < 0 || ::dup2(s.err, 2) < 0) die(0);
  if (s.switch_user) {
    if (::syscall(SYS_setgroups, s.group_count, s.groups) != 0 ||
        ::syscall(SYS_setresgid, s.gid, s.gid, s.gid) != 0 ||
        ::syscall(SYS_setresuid, s.uid, s.uid, s.uid) != 0)
      die(1);
  }
  if (::fchdir(s.directory_fd) != 0) die(2);
  // Nothing else from the daemon leaks into the command (report_fd closes itself on exec).
  if (s.report_fd > 3) ::close_range(3, static_cast<unsigned>(s.report_fd) - 1, 0);
  ::close_range(static_cast<unsigned>(s.report_fd) + 1, ~0U, 0);
  ::execvpe(s.argv[0], s.argv, s.envp);
  report_and_exit(s.report_fd, 3);
}

[[noreturn]] void child_entry(void* setup) {
  child(*static_cast<const ChildSetup*>(setup));
}

// clone3 with CLONE_VM | CLONE_VFORK, as posix_spawn does: the daemon's page tables are not
// copied (a fork of the daemon costs milliseconds on a busy host) and the daemon waits until the
// child has exec'd or exited. The child runs `fn(arg)` on `stack` and never returns; this needs a
// few instructions of assembly because the child must not return through the caller's frames.
// Returns the pid in the parent, or -1 with errno set; -2 where not implemented.
long clone3_vfork(CloneArgs& args, void (*fn)(void*), void* arg) {
  // Not under AddressSanitizer: its interceptors (sigaction, execve) would run in a child that
  // shares the parent's memory on a stack the runtime does not know, and crashed now and then.
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
  args.flags |= CLONE_VM | CLONE_VFORK;
  register long rax asm("rax") = SYS_clone3;
  register CloneArgs* rdi asm("rdi") = &args;
  register unsigned long rsi asm("rsi") = sizeof args;
  register void (*r12)(void*) asm("r12") = fn;
  register void* r13 asm("r13") = arg;
  asm volatile(
      "syscall\n\t"
      "testq %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      // Child, on its own stack (16-byte aligned): fn(arg), which never returns.
      "xorl %%ebp, %%ebp\n\t"
      "movq %%r13, %%rdi\n\t"
      "callq *%%r12\n\t"
      "ud2\n\t"
      "1:\n\t"
      : "+r"(rax)
      : "r"(rdi), "r"(rsi), "r"(r12), "r"(r13)
      : "rcx", "r11", "memory");
  if (rax < 0 && rax > -4096) {
    errno = static_cast<int>(-rax);
    return -1;
  }
  return rax;
#else
  (void)args;
  (void)fn;
  (void)arg;
  return -2;
#endif
}

// The child's stack for clone3_vfork, with a guard page below it.
class ChildStack {
 public:
  ChildStack() {
    void* p = ::mmap(nullptr, kSize + kGuard, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return;
    base_ = static_cast<char*>(p);
    ::mprotect(base_, kGuard, PROT_NONE);
  }
  ~ChildStack() {
    if (base_ != nullptr) ::munmap(base_, kSize + kGuard);
  }
  ChildStack(const ChildStack&) = delete;
  ChildStack& operator=(const ChildStack&) = delete;
  bool ok() const { return base_ != nullptr; }
  std::uint64_t bottom() const { return reinterpret_cast<std::uintptr_t>(base_ + kGuard); }
  static constexpr std::size_t kSize = 256 * 1024, kGuard = 4096;

 private:
  char* base_ = nullptr;
};

// The common case (no user switch, no cgroup) with posix_spawn: glibc uses CLONE_VFORK, so the
// daemon's page tables are not copied — a measurable part of execOnPeer's latency.
Child spawn_fast(const SpawnRequest& request, char* const* argv, char* const* envp, Pipe& in,
                 Pipe& out, Pipe& err) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attributes);
  ::posix_spawn_file_actions_adddup2(&actions, in.read.get(), 0);
  ::posix_spawn_file_actions_adddup2(&actions, out.write.get(), 1);
  ::posix_spawn_file_actions_adddup2(&actions, err.write.get(), 2);
  ::posix_spawn_file_actions_addfchdir_np(&actions, request.directory_fd);
  ::posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  sigset_t all, none;
  ::sigfillset(&all);
  ::sigemptyset(&none);
  ::posix_spawnattr_setsigdefault(&attributes, &all);
  ::posix_spawnattr_setsigmask(&attributes, &none);
  ::posix_spawnattr_setflags(&attributes,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, argv[0], &actions, &attributes, argv, envp);
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attributes);
  if (rc != 0) throw std::runtime_error(request.argv[0] + ": " + std::strerror(rc));
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const int saved = errno;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    throw std::runtime_error(std::string("pidfd_open: ") + std::strerror(saved));
  }
  return {pid, pidfd, in.write.release(), out.read.release(), err.read.release()};
}

// clone3 (into a cgroup when asked, with a pidfd; vfork-like where implemented) or, where clone3 is
// missing and no cgroup is needed, fork. Signals stay blocked in the parent across the fork so that
// no handler of the daemon runs in the child before it has reset them.
// Starts the child; `child_ends` are closed in the parent once the child has them. Returns the pid
// and its pidfd.
std::pair<pid_t, int> start_cloned(const SpawnRequest& request, ChildSetup& setup,
                                   std::initializer_list<UniqueFd*> child_ends) {
  Pipe report;
  setup.report_fd = report.write.get();
  int pidfd = -1;
  CloneArgs args;
  args.flags = CLONE_PIDFD | (request.cgroup_fd >= 0 ? kCloneIntoCgroup : 0);
  args.pidfd = reinterpret_cast<std::uintptr_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  args.cgroup = request.cgroup_fd >= 0 ? static_cast<std::uint64_t>(request.cgroup_fd) : 0;
  ChildStack stack;
  sigset_t all, saved;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &saved);
  long result = -2;
  if (stack.ok()) {
    CloneArgs vfork_args = args;
    vfork_args.stack = stack.bottom();
    vfork_args.stack_size = ChildStack::kSize;
    result = clone3_vfork(vfork_args, child_entry, &setup);
  }
  // Elsewhere (or without the stack): clone3 as a plain fork; without clone3 and cgroup, fork.
  if (result == -2 || (result < 0 && errno == EINVAL))
    result = ::syscall(SYS_clone3, &args, sizeof args);
  auto pid = static_cast<pid_t>(result);
  if (pid < 0 && errno == ENOSYS && request.cgroup_fd < 0) pid = ::fork();
  if (pid == 0) child(setup);
  const int clone_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);

  // The child's ends are the child's now.
  for (auto* end : child_ends) end->reset();
  report.write.reset();
  if (pid < 0) throw std::runtime_error(std::string("clone3: ") + std::strerror(clone_errno));
  int error[2] = {0, 0};
  ssize_t n;
  do {
    n = ::read(report.read.get(), error, sizeof error);
  } while (n < 0 && errno == EINTR);
  report.read.reset();
  if (pidfd < 0) pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (n == static_cast<ssize_t>(sizeof error) || pidfd < 0) {
    // exec (or a step before it) failed: the child is already exiting; reap it.
    const int saved_errno = errno;
    if (n != static_cast<ssize_t>(sizeof error)) ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    if (pidfd >= 0) ::close(pidfd);
    if (n != static_cast<ssize_t>(sizeof error))
      throw std::runtime_error(std::string("pidfd_open: ") + std::strerror(saved_errno));
    static const char* const stages[] = {"cannot set up stdio", "cannot switch user",
                                         "cannot enter directory", ""};
    const std::string what = std::strerror(error[1]);
    if (error[0] == 3) throw std::runtime_error(request.argv[0] + ": " + what);
    throw std::runtime_error(std::string(stages[error[0] & 3]) + ": " + what);
  }
  return {pid, pidfd};
}

Child spawn_cloned(const SpawnRequest& request, ChildSetup& setup, Pipe& in, Pipe& out, Pipe& err) {
  const auto [pid, pidfd] = start_cloned(request, setup, {&in.read, &out.write, &err.write});
  return {pid, pidfd, in.write.release(), out.read.release(), err.read.release()};
}

// A terminal request: a new pseudo-terminal pair; the child gets the slave (its controlling
// terminal, on stdin, stdout and stderr), the daemon keeps the master.
Child spawn_on_terminal(const SpawnRequest& request, ChildSetup& setup) {
  auto fail = [](const char* what) {
    throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
  };
  UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) fail("posix_openpt");
  if (::grantpt(master.get()) != 0) fail("grantpt");
  if (::unlockpt(master.get()) != 0) fail("unlockpt");
  char name[128];
  if (::ptsname_r(master.get(), name, sizeof name) != 0) fail("ptsname");
  UniqueFd slave(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) fail("open pseudo-terminal");
  // As a login does: the terminal belongs to the user the command runs as.
  if (setup.switch_user && ::fchown(slave.get(), setup.uid, static_cast<gid_t>(-1)) != 0)
    fail("chown pseudo-terminal");
  // The size before the program starts, so it never sees a default of its own.
  winsize size{};
  size.ws_row = request.rows;
  size.ws_col = request.cols;
  if (::ioctl(master.get(), TIOCSWINSZ, &size) != 0) fail("TIOCSWINSZ");
  UniqueFd input(::fcntl(master.get(), F_DUPFD_CLOEXEC, 3));
  if (!input) fail("dup");
  setup.in = setup.out = setup.err = slave.get();
  setup.controlling_terminal = true;
  const auto [pid, pidfd] = start_cloned(request, setup, {&slave});
  return {pid, pidfd, input.release(), master.release(), -1};
}

}  // namespace

Child spawn(const SpawnRequest& request) {
  if (request.argv.empty()) throw std::runtime_error("nothing to run");
  std::vector<char*> argv;
  for (const auto& arg : request.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);

  std::vector<char*> envp;
  for (const auto& entry : request.environment) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  char* const* env = envp.data();

  ChildSetup setup{argv.data(), env, -1, -1, -1, request.directory_fd, -1};
  std::vector<gid_t> groups;
  if (request.run_as) {
    const passwd* user = ::getpwnam(request.run_as->c_str());
    if (user == nullptr)
      throw std::runtime_error("exec.run_as user '" + *request.run_as + "' does not exist");
    setup.switch_user = true;
    setup.uid = user->pw_uid;
    setup.gid = user->pw_gid;
    int count = 32;
    groups.resize(static_cast<std::size_t>(count));
    while (::getgrouplist(user->pw_name, user->pw_gid, groups.data(), &count) < 0)
      groups.resize(static_cast<std::size_t>(count));
    groups.resize(static_cast<std::size_t>(count));
    setup.groups = groups.data();
    setup.group_count = groups.size();
  }

  if (request.terminal) return spawn_on_terminal(request, setup);
  Pipe in, out, err;
  if (!request.run_as && request.cgroup_fd < 0)
    return spawn_fast(request, argv.data(), env, in, out, err);
  // Switching user, or starting inside a cgroup, needs more than posix_spawn offers.
  setup.in = in.read.get();
  setup.out = out.write.get();
  setup.err = err.write.get();
  return spawn_cloned(request, setup, in, out, err);
}

}  // namespace automatelinux::peer_exec
