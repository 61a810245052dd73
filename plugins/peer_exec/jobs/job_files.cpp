#include "job_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace automatelinux::peer_exec::jobs::files {

std::string iso_utc(std::time_t when) {
  std::tm tm{};
  ::gmtime_r(&when, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

void write_atomically(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string tmp = dir + "/." + name + ".tmp";
  write_private(tmp, text);
  if (std::rename(tmp.c_str(), (dir + "/" + name).c_str()) != 0)
    throw std::runtime_error("cannot write " + dir + "/" + name + ": " + std::strerror(errno));
}

void write_private(const std::string& path, const std::string& text) {
  // open() with the mode, not an ofstream (0666 minus the umask): a job's files hold its command
  // line and output. fchmod too: a file left from before keeps its old mode through O_TRUNC.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, kFileMode);
  if (fd < 0) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
  bool ok = ::fchmod(fd, kFileMode) == 0;
  for (std::size_t done = 0; ok && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  const int error = errno;
  ::close(fd);
  if (!ok) throw std::runtime_error("cannot write " + path + ": " + std::strerror(error));
}

std::optional<nlohmann::json> read_json(const std::string& dir, const std::string& name) {
  std::ifstream in(dir + "/" + name);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = nlohmann::json::parse(text.str(), nullptr, false);
  if (parsed.is_discarded()) return std::nullopt;
  return parsed;
}

}  // namespace automatelinux::peer_exec::jobs::files
