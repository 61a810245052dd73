#include "isolation.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace automatelinux::peer_exec {
namespace {

constexpr std::chrono::milliseconds kSweepEvery{1000};
constexpr char kTagName[] = "AUTOMATELINUX_EXEC_ID";

std::string errno_text() {
  return std::strerror(errno);
}

// Whole file (up to `limit` bytes) or nullopt; /proc and cgroupfs files report no size.
std::optional<std::string> read_file(const std::string& path, std::size_t limit = 1 << 20) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::string text;
  char buffer[8192];
  while (text.size() < limit) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

bool write_file(const std::string& path, const std::string& text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  return fd && ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
        names.emplace_back(e->d_name);
    ::closedir(d);
  }
  return names;
}

// Removes a cgroup and its (empty) child cgroups; a populated one stays.
void remove_cgroup_tree(const std::string& dir) {
  struct stat st {};
  for (const auto& name : entries(dir)) {
    const std::string path = dir + "/" + name;
    if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) remove_cgroup_tree(path);
  }
  ::rmdir(dir.c_str());
}

// Mount points in mountinfo escape space, tab, newline and backslash as \ooo.
std::string unescape(const std::string& field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      out.push_back(static_cast<char>(std::stoi(field.substr(i + 1, 3), nullptr, 8)));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

// The directory of this process's own cgroup v2, found through /proc/self/mountinfo (the
// unified hierarchy is /sys/fs/cgroup on a current host, /sys/fs/cgroup/unified in hybrid mode).
std::string own_cgroup_dir() {
  std::string own;
  {
    std::istringstream in(read_file("/proc/self/cgroup").value_or(""));
    for (std::string line; std::getline(in, line);)
      if (line.rfind("0::", 0) == 0) own = line.substr(3);
  }
  if (own.empty() || own.front() != '/') throw std::runtime_error("no cgroup v2 membership");
  std::istringstream in(read_file("/proc/self/mountinfo").value_or(""));
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string word; fields >> word;) f.push_back(word);
    std::size_t dash = 0;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (dash < 5 || dash + 1 >= f.size() || f[dash + 1] != "cgroup2") continue;
    const std::string root = unescape(f[3]), mount = unescape(f[4]);
    std::string rest;
    if (root == "/") {
      rest = own;
    } else if (own == root || own.rfind(root + "/", 0) == 0) {
      rest = own.substr(root.size());
    } else {
      continue;  // this mount does not show our cgroup
    }
    if (rest == "/") rest.clear();
    return mount + rest;
  }
  throw std::runtime_error("no cgroup v2 mount showing this process's cgroup");
}

// Starts a child straight into the cgroup `fd` that exits at once: proves that clone3 and
// CLONE_INTO_CGROUP work here (seccomp filters and old kernels refuse them).
void probe_clone_into(int fd) {
  struct {
    std::uint64_t flags = 0x200000000ULL, pidfd = 0, child_tid = 0, parent_tid = 0,
                  exit_signal = SIGCHLD, stack = 0, stack_size = 0, tls = 0, set_tid = 0,
                  set_tid_size = 0, cgroup = 0;
  } args;
  args.cgroup = static_cast<std::uint64_t>(fd);
  sigset_t all, saved;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &saved);
  const auto pid = static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
  if (pid == 0) ::syscall(SYS_exit_group, 0);
  const int saved_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (pid < 0)
    throw std::runtime_error("clone3 into a cgroup: " + std::string(std::strerror(saved_errno)));
  ::waitpid(pid, nullptr, 0);
}

char g_base[PATH_MAX];  // for the exit handler: no destructors involved
void remove_base_at_exit() {
  if (g_base[0] != '\0') remove_cgroup_tree(g_base);
}

// Makes <own cgroup>/automatelinux-<pid> for this daemon's requests (after removing those left by
// daemons that are gone) and checks that it can be used. Returns its directory.
std::string setup_cgroups() {
  const std::string own = own_cgroup_dir();
  for (const auto& name : entries(own)) {
    if (name.rfind("automatelinux-", 0) != 0) continue;
    const std::string digits = name.substr(14);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const long pid = std::strtol(digits.c_str(), nullptr, 10);
    if (pid != ::getpid() && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      // A daemon that died without ending its commands (KillMode=process leaves them to us).
      write_file(own + "/" + name + "/cgroup.kill", "1");
      remove_cgroup_tree(own + "/" + name);
    }
  }
  const std::string base = own + "/automatelinux-" + std::to_string(::getpid());
  if (::mkdir(base.c_str(), 0755) != 0 && errno != EEXIST)
    throw std::runtime_error("cannot create " + base + ": " + errno_text());
  try {
    if (::access((base + "/cgroup.kill").c_str(), F_OK) != 0)
      throw std::runtime_error("no cgroup.kill (Linux 5.14 or later is needed)");
    const std::string probe = base + "/probe";
    if (::mkdir(probe.c_str(), 0755) != 0 && errno != EEXIST)
      throw std::runtime_error("cannot create " + probe + ": " + errno_text());
    UniqueFd fd(::open(probe.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    try {
      if (!fd) throw std::runtime_error("cannot open " + probe + ": " + errno_text());
      probe_clone_into(fd.get());
    } catch (...) {
      ::rmdir(probe.c_str());
      throw;
    }
    ::rmdir(probe.c_str());
  } catch (...) {
    ::rmdir(base.c_str());
    throw;
  }
  if (base.size() < sizeof g_base) {
    std::memcpy(g_base, base.c_str(), base.size() + 1);
    std::atexit(remove_base_at_exit);
  }
  return base;
}

// Children of `pid` (all its threads'), from /proc/PID/task/TID/children.
std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  const std::string task = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& tid : entries(task)) {
    std::istringstream in(read_file(task + "/" + tid + "/children").value_or(""));
    for (pid_t child; in >> child;) out.push_back(child);
  }
  return out;
}

bool is_zombie_or_gone(pid_t pid) {
  const auto stat = read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!stat) return true;
  const auto paren = stat->rfind(')');
  return paren == std::string::npos || paren + 2 >= stat->size() || (*stat)[paren + 2] == 'Z';
}

bool has_tag(pid_t pid, const std::string& needle) {
  const auto env = read_file("/proc/" + std::to_string(pid) + "/environ");
  return env && (std::string(1, '\0') + *env).find(needle) != std::string::npos;
}

}  // namespace

Confinement::Confinement(std::shared_ptr<Isolation> owner, std::string cgroup, UniqueFd cgroup_fd,
                         std::string tag)
    : owner_(std::move(owner)),
      cgroup_(std::move(cgroup)),
      cgroup_fd_(std::move(cgroup_fd)),
      tag_(std::move(tag)) {}

Confinement::~Confinement() {
  reaped();
  cgroup_fd_.reset();
  // Background children of a request that ended normally may still live in it: retried later.
  if (!cgroup_.empty() && ::rmdir(cgroup_.c_str()) != 0 && errno != ENOENT)
    owner_->lingering_.push_back(cgroup_);
}

std::vector<std::string> Confinement::environment() const {
  if (tag_.empty()) return {};
  return {std::string(kTagName) + "=" + tag_};
}

void Confinement::started(pid_t main) {
  main_ = main;
  if (!tag_.empty()) owner_->waited_.insert(main);
}

void Confinement::reaped() {
  if (main_ > 0) owner_->waited_.erase(main_);
  main_ = -1;
}

namespace {
// Subreaper mode: the request's processes among the daemon's descendants — those carrying its
// tag (or being its main process), and everything below them. Kills them when `kill` is set.
std::size_t walk(pid_t main, const std::string& needle, bool kill) {
  std::size_t found = 0;
  std::vector<std::pair<pid_t, bool>> todo{{::getpid(), false}};
  while (!todo.empty()) {
    const auto [pid, inherited] = todo.back();
    todo.pop_back();
    for (pid_t child : children_of(pid)) {
      const bool ours = inherited || child == main || has_tag(child, needle);
      if (ours && !is_zombie_or_gone(child)) {
        ++found;
        if (kill) ::kill(child, SIGKILL);
      }
      todo.emplace_back(child, ours);
    }
  }
  return found;
}
}  // namespace

void Confinement::kill_all() {
  if (!cgroup_.empty()) {
    // Kills every process in the cgroup, including any being forked meanwhile.
    if (!write_file(cgroup_ + "/cgroup.kill", "1"))
      owner_->host_.logger()->warn("cannot write {}/cgroup.kill: {}", cgroup_, errno_text());
    return;
  }
  walk(main_, std::string(1, '\0') + kTagName + "=" + tag_ + std::string(1, '\0'), true);
}

bool Confinement::empty() const {
  if (!cgroup_.empty()) {
    const auto events = read_file(cgroup_ + "/cgroup.events");
    return !events || events->find("populated 0") != std::string::npos;
  }
  return walk(main_, std::string(1, '\0') + kTagName + "=" + tag_ + std::string(1, '\0'), false) ==
         0;
}

std::shared_ptr<Isolation> Isolation::create(sdk::Host& host, const std::string& setting) {
  auto log = host.logger();
  std::string why;
  if (setting != "subreaper") {
    try {
      std::shared_ptr<Isolation> isolation(new Isolation(host, Mode::cgroup, setup_cgroups()));
      log->info("exec isolation: cgroup (a cgroup per request under {})", isolation->base_);
      isolation->start_sweeping();
      return isolation;
    } catch (const std::exception& e) {
      if (setting == "cgroup")
        throw std::runtime_error(std::string("exec.isolation is \"cgroup\" but ") + e.what());
      why = e.what();
    }
  }
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
    throw std::runtime_error("exec isolation: cannot become a child subreaper: " + errno_text());
  std::shared_ptr<Isolation> isolation(new Isolation(host, Mode::subreaper, {}));
  log->info("exec isolation: subreaper ({})",
            why.empty() ? "exec.isolation is \"subreaper\"" : "cgroups unavailable: " + why);
  isolation->start_sweeping();
  return isolation;
}

std::shared_ptr<Confinement> Isolation::confine() {
  const auto n = ++next_;
  if (mode_ == Mode::subreaper) {
    return std::make_shared<Confinement>(shared_from_this(), std::string(), UniqueFd(),
                                         std::to_string(::getpid()) + "." + std::to_string(n));
  }
  const std::string dir = base_ + "/req-" + std::to_string(n);
  // Someone removed our subtree (it is empty between requests): make it again.
  if (::mkdir(dir.c_str(), 0755) != 0 && errno == ENOENT) ::mkdir(base_.c_str(), 0755);
  if (::access(dir.c_str(), F_OK) != 0 && ::mkdir(dir.c_str(), 0755) != 0)
    throw std::runtime_error("cannot create cgroup " + dir + ": " + errno_text());
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    const std::string what = errno_text();
    ::rmdir(dir.c_str());
    throw std::runtime_error("cannot open cgroup " + dir + ": " + what);
  }
  return std::make_shared<Confinement>(shared_from_this(), dir, std::move(fd), std::string());
}

void Isolation::start_sweeping() {
  if (!sweeper_) sweeper_ = host_.make_timer();
  sweeper_->start(kSweepEvery, [self = shared_from_this()] {
    self->sweep();
    self->start_sweeping();
  });
}

void Isolation::sweep() {
  if (mode_ == Mode::cgroup) {
    std::erase_if(lingering_, [](const std::string& dir) {
      return ::rmdir(dir.c_str()) == 0 || errno == ENOENT;
    });
    return;
  }
  // Orphans reparented to the daemon: reap those that exited. The main processes of running
  // requests are left to their Execution (which waits for them by pid).
  for (pid_t child : children_of(::getpid()))
    if (!waited_.contains(child)) ::waitpid(child, nullptr, WNOHANG);
}

}  // namespace automatelinux::peer_exec
