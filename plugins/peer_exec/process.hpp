// Starting a child the way execOnPeer promises: in its own session and process group, in the
// requested directory (entered by fchdir on the descriptor the policy opened), with fresh pipes for
// stdin/stdout/stderr, no inherited descriptors, default signal handling, optionally as another
// user, and optionally straight into a cgroup (so not even its first fork can escape).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace automatelinux::peer_exec {

struct SpawnRequest {
  std::string directory;          // the resolved path, for messages
  int directory_fd = -1;          // what the child enters (fchdir); not owned
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  std::optional<std::string> run_as;
  int cgroup_fd =
      -1;  // >= 0: the child starts in this cgroup (clone3 CLONE_INTO_CGROUP); not owned
  std::vector<std::string> environment;  // the child's whole environment, "NAME=value"
  // A terminal request (execOnPeer --tty): the child runs on a new pseudo-terminal, as its
  // controlling terminal, with stdin, stdout and stderr on it; the size it starts with.
  bool terminal = false;
  unsigned short rows = 24, cols = 80;
};

struct Child {
  pid_t pid = -1;
  int pidfd = -1;  // readable once the child has exited
  // For a terminal, stdout_fd is the pseudo-terminal's master (output, stderr merged into it),
  // stdin_fd a duplicate of it (input) and stderr_fd -1.
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;
};

// Throws std::runtime_error when the child could not be started; the message names the reason
// (e.g. "git: No such file or directory").
Child spawn(const SpawnRequest& request);

}  // namespace automatelinux::peer_exec
