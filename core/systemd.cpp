#include "core/systemd.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace automatelinux::core {

namespace {

// Everything systemd (252) may put in a service's environment on its own account.
constexpr const char* kSystemdVariables[] = {"NOTIFY_SOCKET",
                                             "WATCHDOG_USEC",
                                             "WATCHDOG_PID",
                                             "JOURNAL_STREAM",
                                             "INVOCATION_ID",
                                             "LISTEN_PID",
                                             "LISTEN_FDS",
                                             "LISTEN_FDNAMES",
                                             "SYSTEMD_EXEC_PID",
                                             "MANAGERPID",
                                             "RUNTIME_DIRECTORY",
                                             "STATE_DIRECTORY",
                                             "CACHE_DIRECTORY",
                                             "LOGS_DIRECTORY",
                                             "CONFIGURATION_DIRECTORY",
                                             "CREDENTIALS_DIRECTORY",
                                             "MONITOR_SERVICE_RESULT",
                                             "MONITOR_EXIT_CODE",
                                             "MONITOR_EXIT_STATUS",
                                             "MONITOR_INVOCATION_ID",
                                             "MONITOR_UNIT"};

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

template <typename T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// JOURNAL_STREAM is "DEVICE:INODE" of the stream journald gave the service's stderr.
bool journal_stream_is_stderr(const std::string& value) {
  const auto colon = value.find(':');
  if (colon == std::string::npos) return false;
  const auto dev = parse_number<unsigned long long>(std::string_view(value).substr(0, colon));
  const auto ino = parse_number<unsigned long long>(std::string_view(value).substr(colon + 1));
  struct stat st {};
  if (!dev || !ino || ::fstat(STDERR_FILENO, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == *dev &&
         static_cast<unsigned long long>(st.st_ino) == *ino;
}

}  // namespace

SystemdLink SystemdLink::from_environment() {
  SystemdLink link;
  link.notify_socket_ = env_or_empty("NOTIFY_SOCKET");
  const auto usec = parse_number<unsigned long long>(env_or_empty("WATCHDOG_USEC"));
  const auto watchdog_pid = env_or_empty("WATCHDOG_PID");
  const bool for_us = watchdog_pid.empty() ||
                      parse_number<long long>(watchdog_pid) == static_cast<long long>(::getpid());
  if (usec && *usec > 0 && for_us) link.watchdog_ = std::chrono::microseconds(*usec / 2);
  link.journal_ = journal_stream_is_stderr(env_or_empty("JOURNAL_STREAM"));
  for (const char* name : kSystemdVariables) ::unsetenv(name);
  return link;
}

bool SystemdLink::notify(std::string_view state) const {
  const auto& path = notify_socket_;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() < 2 || path.size() >= sizeof(addr.sun_path) || (path[0] != '/' && path[0] != '@'))
    return false;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (path[0] == '@') addr.sun_path[0] = '\0';  // abstract name: no terminating NUL counted
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                             (path[0] == '/' ? 1 : 0));
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const auto sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                             reinterpret_cast<const sockaddr*>(&addr), length);
  ::close(fd);
  return sent == static_cast<ssize_t>(state.size());
}

}  // namespace automatelinux::core
