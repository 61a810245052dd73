#include "job_files.hpp"

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
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), (dir + "/" + name).c_str()) != 0)
    throw std::runtime_error("cannot write " + dir + "/" + name + ": " + std::strerror(errno));
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
