// d: the thin CLI. It parses only its own --socket option and pipes everything else to the daemon,
// which parses the command's options against what the plugin registered.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli/request.hpp"

namespace {

constexpr const char* kDefaultSocket = "/run/automatelinux/automatelinux-daemon.sock";

constexpr const char* kUsage = R"(Usage: d [--socket PATH] COMMAND [OPTIONS...]
       d --version | --help

Asks the local automatelinux daemon to run COMMAND, on this machine or on a peer:
  d execOnPeer --peer vps --directory /opt/app --command "git pull"
  d execOnPeer --peer vps --directory /opt/app -- make -j4
  d gitOnPeer --peer vps --directory /opt/app log --oneline -5
  d listPeers                 every member of the cluster, online or not
  d getPeerStatus             this daemon's id, role and connection
  d help [COMMAND]            every command the daemon's plugins provide, or one's options

Options (before COMMAND):
  --socket PATH   the daemon's socket (default: $AUTOMATELINUX_SOCKET, else
                  /run/automatelinux/automatelinux-daemon.sock)
  --version       print d's version
  --help, -h      print this text

Exit status: the command's own (a remote command's exit code; 128+N if killed by signal N;
124 on --timeout; 130 on Ctrl-C); 255 means d failed, with one line on stderr.
)";

// `d --help`: d's own usage, which works without a daemon, then the daemon's command list when
// it answers (the commands come from its plugins).
int print_help(const std::string& socket_path) {
  std::fputs(kUsage, stdout);
  std::fflush(stdout);
  if (!automatelinux::cli::daemon_reachable(socket_path)) {
    std::printf("\nThe daemon is not reachable at %s (is automatelinux-daemon running?).\n",
                socket_path.c_str());
    return 0;
  }
  std::printf("\nThe daemon at %s is reachable.\n\n", socket_path.c_str());
  std::fflush(stdout);
  return automatelinux::cli::run_request(socket_path, {"help"});
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "d: %s\n", message.c_str());
  return automatelinux::cli::kExitFailure;
}

}  // namespace

int main(int argc, char** argv) {
  if (!automatelinux::cli::prepare_client_process()) return automatelinux::cli::kExitFailure;
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
      return print_help(socket_path);
    } else if (arg == "--version") {
      std::printf("d (automatelinux) %s\n", AL_VERSION);
      return 0;
    } else {
      return usage_error("unknown option '" + arg +
                         "' (d's own options: --socket PATH, --version, --help)");
    }
  }
  if (i >= argc) return usage_error("no command given (see 'd help')");
  if (socket_path.empty()) return usage_error("the socket path is empty");
  std::vector<std::string> command(argv + i, argv + argc);
  return automatelinux::cli::run_request(socket_path, command);
}
