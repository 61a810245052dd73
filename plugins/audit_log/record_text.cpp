#include "record_text.hpp"

#include <automatelinux/sdk/untrusted_text.hpp>

namespace automatelinux::audit_log {
namespace {

// Core caps a record's command line and reason at 4 KiB; a longer field is not core's.
constexpr std::size_t kMaxField = 4096 + 64;

// sdk::escape_untrusted, but backslashes stay as they are: core writes command lines with \xNN
// escapes already, which must not turn into \x5cxNN. Every backslash the escaper writes starts an
// \xNN, so its escaped backslashes ("\x5c") are found without ambiguity.
std::string escaped(const std::string& raw) {
  const std::string text = sdk::escape_untrusted(raw, kMaxField);
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 4, "\\x5c") == 0) {
      out += '\\';
      i += 3;
    } else {
      out += text[i];
    }
  }
  return out;
}

// A field as text, escaped: records come from other members, and a field may hold C0/C1
// controls or invalid UTF-8 (a command line is the requester's bytes).
std::string text(const nlohmann::json& record, const char* key) {
  const auto it = record.find(key);
  if (it == record.end() || it->is_null()) return {};
  return escaped(it->is_string()
                     ? it->get<std::string>()
                     : it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string requester(const nlohmann::json& record) {
  const std::string who = text(record, "requester");
  const std::string uid = text(record, "uid");
  if (who == "local" || who.empty()) return uid.empty() ? "local" : "uid " + uid;
  return who;
}

// A summary stands for many refused requests of one member (core/member_requests).
std::string summary(const nlohmann::json& record) {
  return text(record, "count") + " more requests " + text(record, "decision") + " in " +
         text(record, "window_s") + " s";
}

std::string outcome(const nlohmann::json& record) {
  const std::string event = text(record, "event");
  if (event == "job_end") {
    std::string s = "job " + text(record, "job") + " ended " + text(record, "result");
    if (record.contains("exit")) s += " exit=" + text(record, "exit");
    if (record.contains("signal")) s += " signal=" + text(record, "signal");
    return s;
  }
  if (event == "summary") return summary(record);
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
  // A summary names no one command: it counts many.
  if (text(record, "event") != "summary") line += ": " + text(record, "command");
  if (record.contains("reason")) line += " (" + text(record, "reason") + ")";
  return line;
}

std::string terminal_safe_json(const std::string& record) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(record.size());
  for (std::size_t i = 0; i < record.size(); ++i) {
    const auto c = static_cast<unsigned char>(record[i]);
    const auto next = i + 1 < record.size() ? static_cast<unsigned char>(record[i + 1]) : 0;
    if (c == 0xc2 && next >= 0x80 && next <= 0x9f) {
      out += "\\u00";
      out += kHex[next >> 4];
      out += kHex[next & 15];
      ++i;
    } else if (c == 0x7f) {
      out += "\\u007f";
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace automatelinux::audit_log
