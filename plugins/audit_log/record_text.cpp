#include "record_text.hpp"

#include <fmt/format.h>

namespace automatelinux::audit_log {
namespace {

std::string text(const nlohmann::json& record, const char* key) {
  const auto it = record.find(key);
  if (it == record.end() || it->is_null()) return {};
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string escaped(const std::string& s) {
  std::string out;
  for (const unsigned char c : s) {
    if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  return out;
}

std::string requester(const nlohmann::json& record) {
  const std::string who = text(record, "requester");
  const std::string uid = text(record, "uid");
  if (who == "local" || who.empty()) return uid.empty() ? "local" : "uid " + uid;
  return who;
}

std::string outcome(const nlohmann::json& record) {
  const std::string event = text(record, "event");
  if (event == "job_end") {
    std::string s = "job " + text(record, "job") + " ended " + text(record, "result");
    if (record.contains("exit")) s += " exit=" + text(record, "exit");
    if (record.contains("signal")) s += " signal=" + text(record, "signal");
    return s;
  }
  std::string s = text(record, "decision");
  if (s.empty()) s = event;
  if (record.contains("exit")) s += " exit=" + text(record, "exit");
  if (record.contains("duration_ms")) s += " " + text(record, "duration_ms") + "ms";
  if (record.contains("job")) s += " job=" + text(record, "job");
  return s;
}

}  // namespace

std::string record_line(const nlohmann::json& record) {
  std::string line = text(record, "time") + " " + text(record, "host") + " " + outcome(record);
  if (record.contains("request")) line += " req=" + text(record, "request");
  line += " by " + requester(record);
  if (record.contains("directory")) line += " in " + text(record, "directory");
  line += ": " + text(record, "command");
  if (record.contains("reason")) line += " (" + text(record, "reason") + ")";
  return escaped(line);
}

}  // namespace automatelinux::audit_log
