#include "cli/request.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>

#include "wire/frame.hpp"
#include "wire/messages.hpp"

namespace automatelinux::cli {
namespace {

int signal_pipe[2] = {-1, -1};
const char* program_name = "d";

void on_signal(int signal) {
  const int saved = errno;
  const unsigned char byte = static_cast<unsigned char>(signal);
  [[maybe_unused]] auto ignored = ::write(signal_pipe[1], &byte, 1);
  errno = saved;
}

// Terminal mode: stdin's modes before raw mode, put back on every way out (normal end, error, lost
// daemon, SIGTERM/SIGHUP — those end the request, and run_request returns through here).
struct SavedTerminal {
  bool saved = false;
  termios modes{};
} saved_terminal;

void restore_terminal() {
  if (!saved_terminal.saved) return;
  ::tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_terminal.modes);
  saved_terminal.saved = false;
}

// d's own line in terminal mode starts on a fresh line of a terminal in its normal modes.
int fail(const std::string& message) {
  restore_terminal();
  std::fprintf(stderr, "%s: %s\n", program_name, message.c_str());
  return kExitFailure;
}

// Writes everything or reports the errno that stopped it (EPIPE when the reader is gone).
int write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        ::poll(&p, 1, -1);
        continue;
      }
      return errno;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return 0;
}

// A terminal or /dev/null on stdin means "no input": the remote side gets EOF at once.
bool stdin_has_no_input() {
  if (::isatty(STDIN_FILENO)) return true;
  struct stat in {
  }, null{};
  if (::fstat(STDIN_FILENO, &in) != 0) return true;  // stdin closed
  return ::stat("/dev/null", &null) == 0 && S_ISCHR(in.st_mode) && in.st_rdev == null.st_rdev;
}

class Request {
 public:
  explicit Request(int fd) : fd_(fd) {}

  // A failed send is never fatal by itself: the daemon may have sent its exit frame and closed
  // already, so we stop sending and let the socket's remaining bytes decide.
  bool send(const nlohmann::json& header, std::string_view body = {}) {
    if (send_failed_) return false;
    const std::string frame = wire::encode(header, body);
    if (write_all(fd_, frame.data(), frame.size()) != 0) {
      send_failed_ = true;
      input_done_ = true;
    }
    return !send_failed_;
  }

  int run() {
    no_input_ = stdin_has_no_input();
    static char buffer[256 * 1024];  // several frames per read: fewer wake-ups
    while (true) {
      pollfd fds[3] = {{fd_, POLLIN, 0}, {signal_pipe[0], POLLIN, 0}, {-1, 0, 0}};
      const bool want_input = input_credit_ > (escape_held_ ? 1u : 0u) && !input_done_;
      if (want_input && no_input_) {
        input_done_ = true;
        send({{"t", wire::msg::kEof}, {"ch", 0}});
        continue;
      }
      if (want_input) fds[2] = {STDIN_FILENO, POLLIN, 0};
      if (::poll(fds, 3, -1) < 0) {
        if (errno == EINTR) continue;
        return fail(std::string("poll: ") + std::strerror(errno));
      }
      if (fds[1].revents & POLLIN) {
        unsigned char sig = 0;
        if (::read(signal_pipe[0], &sig, 1) == 1) {
          if (sig == SIGWINCH)
            send_window_size(false);
          else
            send({{"t", wire::msg::kCancel}, {"signal", sig}});
        }
      }
      if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) {
        // In terminal mode a held escape character may go out with the next byte (want_input
        // leaves room for it).
        const std::size_t want =
            std::min({input_credit_ - (escape_held_ ? std::size_t{1} : std::size_t{0}),
                      sizeof(buffer), wire::kMaxChunk});
        const ssize_t n = ::read(STDIN_FILENO, buffer, want);
        if (n > 0) {
          std::string_view input(buffer, static_cast<std::size_t>(n));
          std::string filtered;
          if (terminal_ && escape_) {
            if (filter_escapes(input, filtered)) return disconnect();
            input = filtered;
          }
          if (!input.empty()) {
            input_credit_ -= input.size();
            send({{"t", wire::msg::kData}, {"ch", 0}}, input);
          }
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          input_done_ = true;
          send({{"t", wire::msg::kEof}, {"ch", 0}});
        }
      }
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t n = ::read(fd_, buffer, sizeof(buffer));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return lost();
        try {
          decoder_.feed(buffer, static_cast<std::size_t>(n));
          while (auto frame = decoder_.next()) {
            if (auto status = handle(*frame); status >= 0) return status;
          }
          // One credit for everything this read delivered: fewer wake-ups for the daemon.
          if (credit_owed_ > 0)
            send({{"t", wire::msg::kCredit}, {"n", std::exchange(credit_owed_, 0)}});
        } catch (const wire::FrameError& e) {
          return fail(std::string("bad reply from the daemon: ") + e.what());
        }
      }
    }
  }

 private:
  // Returns an exit status to finish with, or -1 to keep going.
  int handle(const wire::Frame& frame) {
    const std::string& type = frame.type();
    if (type == wire::msg::kData) {
      const int fd = frame.header.value("ch", 1) == 2 ? STDERR_FILENO : STDOUT_FILENO;
      if (int err = write_all(fd, frame.body.data(), frame.body.size()); err != 0) {
        if (fd == STDOUT_FILENO && err == EPIPE) {
          // Our reader left (`d … | head`): stop the command and leave quietly.
          send({{"t", wire::msg::kCancel}, {"signal", SIGPIPE}});
          return kExitStdoutClosed;
        }
        if (fd == STDOUT_FILENO)
          return fail(std::string("cannot write to stdout: ") + std::strerror(err));
      }
      credit_owed_ += frame.body.size();
    } else if (type == wire::msg::kEof) {
      // The command closed one of its outputs; nothing to do for a terminal or pipe we share.
    } else if (type == wire::msg::kCredit) {
      input_credit_ += frame.header.value("n", std::size_t{0});
    } else if (type == wire::msg::kTty) {
      enter_terminal_mode(frame);
    } else if (type == wire::msg::kExit) {
      restore_terminal();
      const int code = frame.header.value("code", kExitFailure);
      if (code == kExitFailure) {
        std::string reason = frame.body.empty() ? "the request failed" : frame.body;
        if (reason.back() == '\n') reason.pop_back();
        std::fprintf(stderr, "%s: %s\n", program_name, reason.c_str());
      }
      return code;
    }
    return -1;
  }

  int lost() { return fail("connection to the daemon was lost"); }

  // The daemon runs this request on a terminal (execOnPeer --tty): stdin goes raw (when it is a
  // terminal) and is forwarded even so, window changes follow, and the escape character works.
  void enter_terminal_mode(const wire::Frame& frame) {
    if (terminal_) return;
    terminal_ = true;
    no_input_ = false;
    if (const auto e = frame.header.find("escape");
        e != frame.header.end() && e->is_number_unsigned() && e->get<unsigned>() < 256)
      escape_ = static_cast<unsigned char>(e->get<unsigned>());
    if (::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved_terminal.modes) == 0) {
      saved_terminal.saved = true;
      termios raw = saved_terminal.modes;
      ::cfmakeraw(&raw);
      ::tcsetattr(STDIN_FILENO, TCSADRAIN, &raw);
    } else {
      escape_.reset();  // as ssh: escapes only when there is a terminal
    }
    struct sigaction action {};
    action.sa_handler = on_signal;
    ::sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(SIGWINCH, &action, nullptr);
    send_window_size(true);
  }

  // The local window's size (0 × 0 when stdin is no terminal); the first one names TERM.
  void send_window_size(bool with_term) {
    winsize size{};
    if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &size) != 0) size = {};
    nlohmann::json header = {
        {"t", wire::msg::kWinsize}, {"rows", size.ws_row}, {"cols", size.ws_col}};
    if (const char* term = std::getenv("TERM"); with_term && term != nullptr && *term != '\0')
      header["term"] = term;
    send(header);
  }

  // ssh's escapes: the escape character right after a newline (or at the start) is held; then
  // '.' disconnects, the escape character again sends one, anything else sends both. Returns true
  // for a disconnect.
  bool filter_escapes(std::string_view input, std::string& out) {
    for (const char c : input) {
      const auto byte = static_cast<unsigned char>(c);
      if (escape_held_) {
        escape_held_ = false;
        if (byte == '.') return true;
        if (byte != *escape_) out.push_back(static_cast<char>(*escape_));
        out.push_back(c);
        at_line_start_ = byte != *escape_ && (c == '\r' || c == '\n');
        continue;
      }
      if (at_line_start_ && byte == *escape_) {
        escape_held_ = true;
        continue;
      }
      out.push_back(c);
      at_line_start_ = c == '\r' || c == '\n';
    }
    return false;
  }

  // `~.`: the remote command is cancelled as if the connection were lost, and d leaves at once.
  int disconnect() {
    send({{"t", wire::msg::kCancel}, {"signal", SIGHUP}});
    return fail("disconnected (" + std::string(1, static_cast<char>(*escape_)) + ".)");
  }

  int fd_;
  wire::Decoder decoder_;
  std::size_t input_credit_ = 0;
  std::size_t credit_owed_ = 0;
  bool input_done_ = false;
  bool send_failed_ = false;
  bool no_input_ = true;
  // Terminal mode.
  bool terminal_ = false;
  std::optional<unsigned char> escape_;
  bool escape_held_ = false;
  bool at_line_start_ = true;
};

// A connected socket to the daemon, or -1 with errno set.
int connect_to_daemon(const std::string& socket_path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(address.sun_path)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

}  // namespace

bool daemon_reachable(const std::string& socket_path) {
  const int fd = connect_to_daemon(socket_path);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

bool prepare_client_process() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) < 0 && ::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
      return false;
  }
  // Frames of ~64 KiB are allocated per read: keep them in the heap (see core/main.cpp).
  ::mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
  ::mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
  return true;
}

void set_program_name(const char* name) {
  program_name = name;
}

std::optional<std::string> query(const std::string& socket_path,
                                 const std::vector<std::string>& argv) {
  // The daemon may close as soon as it has answered: a late credit must not kill us.
  std::signal(SIGPIPE, SIG_IGN);
  const int fd = connect_to_daemon(socket_path);
  if (fd < 0) return std::nullopt;
  std::optional<std::string> answer;
  std::string out;
  try {
    std::string frames = wire::encode({{"t", wire::msg::kRun}}, wire::join_nul(argv));
    frames += wire::encode({{"t", wire::msg::kEof}, {"ch", 0}}, {});
    wire::Decoder decoder;
    static char buffer[64 * 1024];
    bool done = write_all(fd, frames.data(), frames.size()) != 0;
    while (!done) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      decoder.feed(buffer, static_cast<std::size_t>(n));
      std::size_t received = 0;
      while (auto frame = decoder.next()) {
        if (frame->type() == wire::msg::kData && frame->header.value("ch", 1) == 1) {
          out += frame->body;
          received += frame->body.size();
        } else if (frame->type() == wire::msg::kExit) {
          if (frame->header.value("code", kExitFailure) == 0) answer = out;
          done = true;
          break;
        }
      }
      if (received > 0 && !done) {
        // A failed send is not fatal: the answer may be complete and the daemon gone already.
        const std::string credit = wire::encode({{"t", wire::msg::kCredit}, {"n", received}}, {});
        write_all(fd, credit.data(), credit.size());
      }
    }
  } catch (const std::exception&) {
    answer.reset();
  }
  ::close(fd);
  return answer;
}

int run_request(const std::string& socket_path, const std::vector<std::string>& argv) {
  std::signal(SIGPIPE, SIG_IGN);
  if (::pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    return fail(std::string("pipe: ") + std::strerror(errno));
  struct sigaction action {};
  action.sa_handler = on_signal;
  ::sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &action, nullptr);

  const int fd = connect_to_daemon(socket_path);
  if (fd < 0) {
    return fail("cannot reach the daemon at " + socket_path + ": " + std::strerror(errno) +
                " (is automatelinux-daemon running?)");
  }

  const std::string body = wire::join_nul(argv);
  if (body.size() + 64 > wire::kMaxFrameSize) return fail("command line too long");
  Request request(fd);
  if (!request.send({{"t", wire::msg::kRun}}, body))
    return fail("cannot send the request to the daemon");
  const int status = request.run();
  restore_terminal();
  ::close(fd);
  return status;
}

}  // namespace automatelinux::cli
