// d: the thin CLI. It parses only its own --socket option and pipes everything else to the daemon,
// which parses the command's options against what the plugin registered.
#include <fcntl.h>
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli/request.hpp"

namespace {

constexpr const char* kDefaultSocket = "/run/automatelinux/automatelinux-daemon.sock";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "d: %s\n", message.c_str());
  return automatelinux::cli::kExitFailure;
}

}  // namespace

int main(int argc, char** argv) {
  // If we were started with stdin/stdout/stderr closed, the daemon socket must not land on one of
  // those numbers (we would read our own connection as "stdin"): park /dev/null there.
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) < 0 && ::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
      return 255;
  }
  // Frames of ~64 KiB are allocated per read: keep them in the heap (see core/main.cpp).
  ::mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
  ::mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
  std::string socket_path = kDefaultSocket;
  if (const char* env = std::getenv("AUTOMATELINUX_SOCKET"); env != nullptr && *env != '\0')
    socket_path = env;
  int i = 1;
  // Only `d`'s own options come before the command name.
  while (i < argc && argv[i][0] == '-') {
    const std::string arg = argv[i];
    if (arg == "--socket") {
      if (i + 1 >= argc) return usage_error("option '--socket' needs a value");
      socket_path = argv[i + 1];
      i += 2;
    } else if (arg.rfind("--socket=", 0) == 0) {
      socket_path = arg.substr(9);
      ++i;
    } else if (arg == "--help" || arg == "-h") {
      argv[i] = const_cast<char*>("help");  // `d --help` is `d help`
      break;
    } else {
      return usage_error("unknown option '" + arg +
                         "' (d's own options: --socket PATH; see 'd help')");
    }
  }
  if (i >= argc) return usage_error("no command given (see 'd help')");
  if (socket_path.empty()) return usage_error("the socket path is empty");
  std::vector<std::string> command(argv + i, argv + argc);
  return automatelinux::cli::run_request(socket_path, command);
}
