// d-ssh: an OpenSSH-compatible front end over the local daemon, so that git, rsync, scp, sftp and
// sshfs ride on the peer network unchanged. It parses ssh's command line and sends the request
// `d execOnPeer --login` sends; the daemon does the rest (see docs/d-ssh.md).
#include <fnmatch.h>
#include <pwd.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "cli/request.hpp"

extern char** environ;

namespace {

constexpr const char* kDefaultSocket = "/run/automatelinux/automatelinux-daemon.sock";
// OpenSSH's option table (ssh.c): flags (sshfs still passes -2), and options that take a value.
constexpr const char* kFlags = "1246AaCfGgKkMNnqsTtVvXxYy";  // -1, -2: obsolete, still accepted
constexpr const char* kWithValue = "BbcDEeFIiJLlmOoPpQRSWw";

constexpr const char* kUsage =
    "usage: d-ssh [-1246AaCfGgKkMNnqsTtVvXxYy] [-B bind_interface] [-b bind_address]\n"
    "           [-c cipher_spec] [-D port] [-E log_file] [-e escape_char] [-F configfile]\n"
    "           [-I pkcs11] [-i identity_file] [-J destination] [-L address]\n"
    "           [-l login_name] [-m mac_spec] [-O ctl_cmd] [-o option] [-P tag] [-p port]\n"
    "           [-Q query_option] [-R address] [-S ctl_path] [-W host:port]\n"
    "           [-w local_tun[:remote_tun]] [user@]peer [command [argument ...]]\n"
    "Runs over the local automatelinux daemon ($AUTOMATELINUX_SOCKET, else\n"
    "/run/automatelinux/automatelinux-daemon.sock); peer is a peer id or its address.\n";

enum class Tty { automatic, no, yes, force };

struct Options {
  std::optional<std::string> user;  // -l or user@
  std::string host;
  std::string port = "22";
  std::vector<std::string> command;
  std::optional<std::string> remote_command;          // -o RemoteCommand=
  std::vector<std::string> send_env{"LANG", "LC_*"};  // Debian's ssh_config default
  std::vector<std::string> set_env;
  Tty tty = Tty::automatic;
  int t_count = 0;
  bool no_stdin = false, no_command = false, quiet = false, subsystem = false, print_config = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "d-ssh: %s\n", message.c_str());
  return automatelinux::cli::kExitFailure;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    const auto start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

// `-o Key=Value` or `-o "Key Value"`; returns an error message or "".
std::string apply_config_option(Options& o, const std::string& text) {
  const auto split = text.find_first_of("= \t");
  if (split == std::string::npos) return "no argument after keyword \"" + text + "\"";
  const std::string key = lower(text.substr(0, split));
  auto value_start = text.find_first_not_of(" \t", split);
  if (value_start != std::string::npos && text[value_start] == '=' && text[split] != '=')
    value_start = text.find_first_not_of(" \t", value_start + 1);
  else if (text[split] == '=')
    value_start = split + 1;
  const std::string value = value_start == std::string::npos ? "" : text.substr(value_start);
  if (key == "sendenv") {
    for (const auto& w : words(value)) {
      if (w.front() == '-') {  // "-NAME" removes a pattern, as in ssh_config
        std::erase(o.send_env, w.substr(1));
      } else {
        o.send_env.push_back(w);
      }
    }
  } else if (key == "setenv") {
    for (const auto& w : words(value)) o.set_env.push_back(w);
  } else if (key == "requesttty") {
    const auto v = lower(value);
    if (v == "no") {
      o.tty = Tty::no;
    } else if (v == "yes") {
      o.tty = Tty::yes;
    } else if (v == "force") {
      o.tty = Tty::force;
    } else if (v == "auto") {
      o.tty = Tty::automatic;
    } else {
      return "unsupported RequestTTY value \"" + value + "\"";
    }
  } else if (key == "remotecommand") {
    if (lower(value) == "none") {
      o.remote_command.reset();
    } else {
      o.remote_command = value;
    }
  } else if (key == "user") {
    if (!o.user) o.user = value;
  } else if (key == "port") {
    o.port = value;
  }
  // Everything else (ControlMaster, BatchMode, StrictHostKeyChecking, …) is accepted and
  // has no meaning here.
  return {};
}

// Parses like ssh: options, the destination, more options, then the command (getopt stops at
// the first word after the destination, and at "--").
std::optional<int> parse(int argc, char** argv, Options& o) {
  bool have_host = false;
  int i = 1;
  while (i < argc) {
    const std::string arg = argv[i];
    if (arg == "--") {
      ++i;
      if (!have_host) {
        if (i >= argc) break;
        o.host = argv[i++];
        have_host = true;
      }
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      if (have_host) break;  // the command starts here
      o.host = arg;
      have_host = true;
      ++i;
      continue;
    }
    ++i;
    for (std::size_t k = 1; k < arg.size(); ++k) {
      const char c = arg[k];
      if (std::strchr(kWithValue, c) != nullptr) {
        std::string value;
        if (k + 1 < arg.size()) {
          value = arg.substr(k + 1);
        } else if (i < argc) {
          value = argv[i++];
        } else {
          std::fprintf(stderr, "d-ssh: option requires an argument -- %c\n%s", c, kUsage);
          return automatelinux::cli::kExitFailure;
        }
        if (c == 'l') {
          o.user = value;
        } else if (c == 'p') {
          o.port = value;
        } else if (c == 'o') {
          if (auto error = apply_config_option(o, value); !error.empty()) {
            std::fprintf(stderr, "d-ssh: command-line: %s\n", error.c_str());
            return automatelinux::cli::kExitFailure;
          }
        }
        break;  // the value used the rest of this word
      }
      if (std::strchr(kFlags, c) == nullptr) {
        std::fprintf(stderr, "d-ssh: unknown option -- %c\n%s", c, kUsage);
        return automatelinux::cli::kExitFailure;
      }
      switch (c) {
        case 'n':
          o.no_stdin = true;
          break;
        case 'N':
          o.no_command = true;
          break;
        case 'q':
          o.quiet = true;
          break;
        case 's':
          o.subsystem = true;
          break;
        case 'G':
          o.print_config = true;
          break;
        case 'T':
          o.tty = Tty::no;
          break;
        case 't':
          o.tty = ++o.t_count > 1 ? Tty::force : Tty::yes;
          break;
        case 'V':
          std::fprintf(stderr, "d-ssh (automatelinux) %s\n", AL_VERSION);
          return 0;
        default:
          break;  // accepted, no meaning here
      }
    }
  }
  if (!have_host || o.host.empty()) {
    std::fputs(kUsage, stderr);
    return automatelinux::cli::kExitFailure;
  }
  o.command.assign(argv + i, argv + argc);
  // user@host (the last '@'); -l given anywhere wins, as in ssh.
  if (const auto at = o.host.rfind('@'); at != std::string::npos) {
    if (!o.user) o.user = o.host.substr(0, at);
    o.host = o.host.substr(at + 1);
  }
  if (o.host.empty()) {
    std::fputs(kUsage, stderr);
    return automatelinux::cli::kExitFailure;
  }
  return std::nullopt;
}

std::string local_login_name() {
  const passwd* me = ::getpwuid(::getuid());
  return me != nullptr ? me->pw_name : std::to_string(::getuid());
}

// The local environment entries SendEnv names (patterns with * and ?), then SetEnv's.
std::vector<std::string> environment_to_send(const Options& o) {
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    const std::string name = entry.substr(0, eq);
    for (const auto& pattern : o.send_env) {
      if (::fnmatch(pattern.c_str(), name.c_str(), 0) == 0) {
        out.push_back(entry);
        break;
      }
    }
  }
  for (const auto& entry : o.set_env)
    if (entry.find('=') != std::string::npos) out.push_back(entry);
  return out;
}

// -N: no command, nothing to forward here either; wait as ssh does until told to stop.
int wait_for_signal() {
  sigset_t set;
  ::sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaddset(&set, sig);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  int sig = 0;
  ::sigwait(&set, &sig);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (!automatelinux::cli::prepare_client_process()) return automatelinux::cli::kExitFailure;
  automatelinux::cli::set_program_name("d-ssh");
  Options o;
  if (auto status = parse(argc, argv, o)) return *status;

  if (o.print_config) {
    // Enough for git's check that this is an OpenSSH-compatible program.
    std::printf("host %s\nhostname %s\nuser %s\nport %s\n", o.host.c_str(), o.host.c_str(),
                o.user.value_or(local_login_name()).c_str(), o.port.c_str());
    return 0;
  }
  if (o.no_command) return wait_for_signal();

  std::string command;
  for (const auto& word : o.command) command += (command.empty() ? "" : " ") + word;
  if (command.empty() && o.remote_command) command = *o.remote_command;
  if (o.subsystem && command.empty()) return fail("-s needs a subsystem name (e.g. -s sftp)");

  // ssh's rules for a terminal: -t asks (if stdin is one), -tt forces, -T refuses; by default a
  // login shell (no command, no subsystem) gets one when stdin is a terminal.
  bool want_tty = o.tty == Tty::yes || o.tty == Tty::force ||
                  (o.tty == Tty::automatic && command.empty() && !o.subsystem);
  if (want_tty && !::isatty(STDIN_FILENO) && o.tty != Tty::force) {
    if (o.tty != Tty::automatic && !o.quiet)
      std::fputs("Pseudo-terminal will not be allocated because stdin is not a terminal.\r\n",
                 stderr);
    want_tty = false;
  }

  std::string socket_path = kDefaultSocket;
  if (const char* env = std::getenv("AUTOMATELINUX_SOCKET"); env != nullptr && *env != '\0')
    socket_path = env;

  std::vector<std::string> request{"execOnPeer", "--peer=" + o.host, "--login"};
  if (o.user) request.push_back("--user=" + *o.user);
  for (const auto& entry : environment_to_send(o)) request.push_back("--env=" + entry);
  if (o.no_stdin) request.emplace_back("--no-stdin");
  if (o.subsystem) {
    request.push_back("--subsystem=" + command);
  } else if (!command.empty()) {
    request.push_back("--command=" + command);
  }
  if (want_tty) {
    // Terminals are execOnPeer --tty's: use it where this daemon offers it.
    const auto help = automatelinux::cli::query(socket_path, {"help", "execOnPeer"});
    if (help && help->find("--tty") != std::string::npos) {
      request.emplace_back("--tty");
    } else if (!o.quiet) {
      std::fputs("d-ssh: this daemon offers no terminals (execOnPeer --tty); running without one\n",
                 stderr);
    }
  }
  return automatelinux::cli::run_request(socket_path, request);
}
