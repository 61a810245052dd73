// The structured audit log: one JSON record per request (written by core when a request ends)
// and per event a plugin reports (a durable job ending). Plugins read it to serve `auditLog`, and
// describe their requests (ServedStream::describe_for_audit) so that core's record says more.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/config.hpp>
#include <nlohmann/json.hpp>

namespace automatelinux::sdk {

struct AuditQuery {
  std::optional<std::chrono::system_clock::time_point> since;  // records at or after
  std::optional<std::chrono::system_clock::time_point> until;  // records before
  std::size_t limit = 0;                                       // the newest N; 0: all
};

// Records are read as they are stored: one JSON object per line (no newline), "time" first.
class BOOST_SYMBOL_VISIBLE AuditLog {
 public:
  using RecordHandler = std::function<void(const std::string& record)>;
  virtual ~AuditLog() = default;

  // Appends an event record (`event` names it, e.g. "job_end"); core adds time and host.
  virtual void record(nlohmann::json fields) = 0;
  // The records matching `query`, oldest first.
  virtual std::vector<std::string> read(const AuditQuery& query) const = 0;
  // Calls `handler` (on the event loop) with every record appended from now on, until the
  // returned handle is released.
  virtual std::shared_ptr<void> subscribe(RecordHandler handler) = 0;
};

// Record times: UTC with milliseconds, "2026-11-27T14:40:01.123Z" (they sort as text).
inline std::string format_audit_time(std::chrono::system_clock::time_point time) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch());
  const std::time_t seconds = ms.count() / 1000;
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[64];  // room for any int the compiler can imagine in each field
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count() % 1000));
  return text;
}

inline std::optional<std::chrono::system_clock::time_point> parse_audit_time(
    const std::string& text) {
  std::tm tm{};
  int millis = 0;
  char zone = 0;
  if (text.size() != 24 ||
      std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis, &zone) != 8 ||
      zone != 'Z')
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const std::time_t seconds = ::timegm(&tm);
  if (seconds == -1) return std::nullopt;
  return std::chrono::system_clock::from_time_t(seconds) + std::chrono::milliseconds(millis);
}

// The time of a stored record, read from its start ({"time":"…"), or "" for anything else.
inline std::string audit_record_time(const std::string& record) {
  constexpr std::string_view prefix = "{\"time\":\"";
  if (record.size() < prefix.size() + 25 || record.compare(0, prefix.size(), prefix) != 0 ||
      record[prefix.size() + 24] != '"')
    return {};
  return record.substr(prefix.size(), 24);
}

}  // namespace automatelinux::sdk
