// Keeping track of every process a request starts, wherever it goes, so that a timeout or a
// cancel ends all of them — also those that left the process group and session (setsid) or were
// reparented after a double fork.
//
// Two mechanisms, chosen once at startup (config key exec.isolation: "auto", "cgroup",
// "subreaper"):
//  - cgroup: a cgroup v2 per request, below a subtree the daemon creates in its own cgroup
//    (<own cgroup>/automatelinux-<pid>/req-<n>). The child is created inside it by clone3
//    (CLONE_INTO_CGROUP), so nothing escapes between spawn and move; cgroup.kill ends them all and
//    cgroup.events says when they are gone.
//  - subreaper: the daemon is a child subreaper (PR_SET_CHILD_SUBREAPER), so every orphaned
//    descendant is reparented to it rather than to PID 1 and stays in its process tree; each
//    request's processes carry AUTOMATELINUX_EXEC_ID=<daemon pid>.<n> in their environment. A
//    request's processes are the daemon's descendants that carry its tag, and everything below
//    them. Limit: a process that both clears that variable (exec with a new environment) and was
//    reparented to the daemon cannot be attributed to its request any more. The daemon reaps the
//    orphans it inherits (never the children it waits for itself).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include <automatelinux/sdk/sdk.hpp>

#include "unique_fd.hpp"

namespace automatelinux::peer_exec {

class Isolation;

// The processes of one request.
class Confinement {
 public:
  Confinement(std::shared_ptr<Isolation> owner, std::string cgroup, UniqueFd cgroup_fd,
              std::string tag);
  ~Confinement();
  Confinement(const Confinement&) = delete;
  Confinement& operator=(const Confinement&) = delete;

  int cgroup_fd() const { return cgroup_fd_.get(); }  // -1 unless in cgroup mode
  std::vector<std::string> environment() const;       // what spawn adds to the environment
  void started(pid_t main);  // the main process (waited for by its Execution, never reaped here)
  void reaped();             // its Execution has reaped it
  // SIGKILL to every process of the request, wherever it is now.
  void kill_all();
  // True once no process of the request is left (zombies count as gone).
  bool empty() const;

 private:
  std::shared_ptr<Isolation> owner_;
  std::string cgroup_;  // directory of the request's cgroup, empty in subreaper mode
  UniqueFd cgroup_fd_;
  std::string tag_;  // subreaper mode: the value of AUTOMATELINUX_EXEC_ID
  pid_t main_ = -1;
};

class Isolation : public std::enable_shared_from_this<Isolation> {
 public:
  enum class Mode { cgroup, subreaper };

  // `setting`: "auto" (cgroup if possible, else subreaper), "cgroup" (throws if impossible) or
  // "subreaper". Logs once which mode is in use, and why when cgroups could not be used.
  static std::shared_ptr<Isolation> create(sdk::Host& host, const std::string& setting);

  Mode mode() const { return mode_; }
  // A new request's confinement. Throws std::runtime_error (e.g. the cgroup cannot be made).
  std::shared_ptr<Confinement> confine();

 private:
  friend class Confinement;
  Isolation(sdk::Host& host, Mode mode, std::string base)
      : host_(host), mode_(mode), base_(std::move(base)) {}
  void start_sweeping();
  void sweep();

  sdk::Host& host_;
  Mode mode_;
  std::string base_;  // cgroup mode: the daemon's subtree for requests
  unsigned long long next_ = 0;
  std::unordered_set<pid_t> waited_;    // subreaper: main processes their Execution reaps
  std::vector<std::string> lingering_;  // cgroup: finished requests' cgroups still populated
  sdk::TimerPtr sweeper_;
};

}  // namespace automatelinux::peer_exec
