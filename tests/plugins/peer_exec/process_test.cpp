// Starting commands: a real child with its pipes, and no descriptor left behind when starting
// fails halfway (here: the third pipe cannot be made).
#include "plugins/peer_exec/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include <gtest/gtest.h>

using namespace automatelinux::peer_exec;

namespace {

int open_descriptors() {
  int n = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  while (::readdir(dir) != nullptr) ++n;
  ::closedir(dir);
  return n;
}

SpawnRequest echo_request(int directory_fd) {
  SpawnRequest request;
  request.directory = "/";
  request.directory_fd = directory_fd;
  request.argv = {"sh", "-c", "pwd; echo err >&2"};
  request.environment = {"PATH=/usr/bin:/bin"};
  return request;
}

TEST(Process, ChildRunsInTheGivenDirectoryWithItsOwnPipes) {
  const int root = ::open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  const Child child = spawn(echo_request(root));
  char out[64] = {}, err[64] = {};
  ::close(child.stdin_fd);
  ASSERT_GT(::read(child.stdout_fd, out, sizeof out - 1), 0);
  ASSERT_GT(::read(child.stderr_fd, err, sizeof err - 1), 0);
  EXPECT_STREQ(out, "/\n");
  EXPECT_STREQ(err, "err\n");
  int status = -1;
  ASSERT_EQ(::waitpid(child.pid, &status, 0), child.pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  for (int fd : {child.pidfd, child.stdout_fd, child.stderr_fd, root}) ::close(fd);
}

TEST(Process, NoDescriptorLeaksWhenAPipeCannotBeMade) {
  const int root = ::open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  // No free numbers below the highest open descriptor, so the limit below leaves exactly four.
  int highest = 0;
  for (int fd = 0; fd < 4096; ++fd)
    if (::fcntl(fd, F_GETFD) >= 0) highest = fd;
  std::vector<int> fillers;
  for (int fd = 0; fd < highest; ++fd)
    if (::fcntl(fd, F_GETFD) < 0) fillers.push_back(::dup2(root, fd));
  const int before = open_descriptors();
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  // Room for two pipes, not three.
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(highest + 1 + 4);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  std::string error;
  try {
    spawn(echo_request(root));
  } catch (const std::exception& e) {
    error = e.what();
  }
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_NE(error.find("pipe"), std::string::npos) << error;
  EXPECT_EQ(open_descriptors(), before);
  for (int fd : fillers) ::close(fd);
  ::close(root);
}

}  // namespace
