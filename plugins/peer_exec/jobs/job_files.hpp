// The files of one job, in <state dir>/jobs/<N>/. The daemon writes spec.json before the job
// starts; the supervisor holds `lock` (flock) for as long as it lives, reads kill requests from
// the `control` FIFO, writes the output segments (job_output.hpp) and, last of all, status.json.
// A job without status.json whose lock nobody holds has lost its supervisor: it is `lost`.
#pragma once

#include <ctime>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace automatelinux::peer_exec::jobs::files {

inline constexpr const char* kSpec = "spec.json";
inline constexpr const char* kStatus = "status.json";
inline constexpr const char* kLock = "lock";
inline constexpr const char* kControl = "control";
inline constexpr const char* kProcess = "process.json";  // supervisor pid and the job's group
inline constexpr const char* kAudited = "audited";       // the end of the job has been audited
inline constexpr const char* kStdout = "stdout";
inline constexpr const char* kStderr = "stderr";

// Every file of a job is made with this mode (the daemon's umask is the commands' and is left
// alone): its command line and output are for root only.
inline constexpr unsigned kFileMode = 0600;

// ISO 8601 UTC, to the second: "2026-11-27T11:00:00Z".
std::string iso_utc(std::time_t when);
// Writes DIR/NAME through a temporary file and rename, so a reader sees all of it or nothing.
// Throws std::runtime_error.
void write_atomically(const std::string& dir, const std::string& name, const std::string& text);
// Writes PATH (created or truncated) with kFileMode. Throws std::runtime_error.
void write_private(const std::string& path, const std::string& text);
// DIR/NAME parsed as JSON, or nullopt when it is missing or not JSON.
std::optional<nlohmann::json> read_json(const std::string& dir, const std::string& name);

}  // namespace automatelinux::peer_exec::jobs::files
