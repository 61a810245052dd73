// The daemon's view of this host's durable jobs: <state dir>/jobs/<N>/ per job (job_files.hpp),
// numbered by a counter that never goes back, so an id is never reused. Everything is read from
// disk when asked — the supervisors write it, and they outlive this daemon — except the set of
// jobs this daemon believes are running, which it checks every second to notice an end (audited
// once) or a supervisor that vanished (the job becomes `lost`).
#pragma once

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <spdlog/logger.h>
#include <automatelinux/sdk/audit.hpp>
#include <nlohmann/json.hpp>

#include "job_budget.hpp"

namespace automatelinux::peer_exec::jobs {

// Config keys under "jobs" (docs/configuration.md).
struct JobLimits {
  std::uint64_t max_output_bytes = 64ULL << 20;  // per stream
  std::chrono::seconds keep{7 * 24 * 3600};      // finished jobs, by when they ended
  std::uint64_t max_total_bytes = 1ULL << 30;    // output of all jobs together, running ones too
  std::optional<std::string> supervisor;         // path of job-supervisor; default beside plugins

  // Throws std::runtime_error naming the bad key.
  static JobLimits from_json(const nlohmann::json& section);
};

// How a job stands. `running` has no status.json yet; `lost` is written by the daemon.
struct JobState {
  std::string state;  // running, exited, signaled, timeout, killed, lost
  std::optional<int> exit_code, signal;
  std::optional<std::string> ended;
  bool running() const { return state == "running"; }
};

class JobStore {
 public:
  // `audit` (may be null in tests) receives a record when a job's end is noticed.
  JobStore(std::filesystem::path root, JobLimits limits, std::shared_ptr<spdlog::logger> log,
           sdk::AuditLog* audit = nullptr);

  const JobLimits& limits() const { return limits_; }
  const std::string& boot_id() const { return boot_id_; }  // what spec.json records
  std::string dir(std::uint64_t number) const;

  // A new job number and its (empty, 0700) directory. Throws std::runtime_error.
  std::uint64_t create();
  // Forgets a job that never started (its number stays used).
  void discard(std::uint64_t number);
  void started(std::uint64_t number) {
    starting_.erase(number);
    running_.insert(number);
  }

  // "7" or a NAME (the newest job of that name); nullopt when there is none.
  // `visible`: which jobs the caller may see; a name resolves to the newest of those only, so
  // another user's job of the same name neither hides the caller's nor is found.
  std::optional<std::uint64_t> resolve(
      const std::string& ref,
      const std::function<bool(std::uint64_t)>& visible = [](std::uint64_t) { return true; }) const;
  // The running job called `name`, if any.
  std::optional<std::uint64_t> running_named(const std::string& name);
  std::vector<std::uint64_t> numbers() const;  // ascending

  // Reads status.json; without it, tells a supervised job from a lost one (and records `lost`).
  JobState state(std::uint64_t number);
  std::optional<nlohmann::json> spec(std::uint64_t number) const;
  // The listJobs record of one job (`peer` is this host's id).
  nlohmann::json describe(std::uint64_t number, const std::string& peer);

  // Checks the jobs believed running: audits the ends, records the lost ones. Returns how many
  // still run (they count against exec.max_concurrent).
  std::size_t check_running();
  // The same count as of the last check (at most a second old): cheap enough for every request.
  std::size_t running_count() const { return running_.size() + starting_.size(); }
  // Removes finished jobs past jobs.keep, then the oldest until jobs.max_total_bytes holds
  // (running jobs counted, never removed).
  void prune();
  // Whether all jobs together hold more than jobs.max_total_bytes while a finished job could go:
  // then prune() first, before running jobs drop more of their output.
  bool over_budget() const;
  // The counters supervisors share (null when the file could not be made): they get its directory.
  const std::shared_ptr<OutputBudget>& budget() const { return budget_; }

 private:
  bool supervised(std::uint64_t number) const;
  void ended(std::uint64_t number, const JobState& state);
  void audit_end(std::uint64_t number, const JobState& state);
  void index_finished();
  void publish_finished();
  void store_counter(std::uint64_t next);

  // Finished jobs by number, for retention: when they ended and the bytes they hold. Built from
  // disk on first use, then kept up to date, so a start costs no directory walk.
  struct Finished {
    std::chrono::system_clock::time_point ended;
    std::uint64_t bytes;
  };

  std::filesystem::path root_;
  JobLimits limits_;
  std::shared_ptr<spdlog::logger> log_;
  sdk::AuditLog* audit_;
  std::string boot_id_;
  std::set<std::uint64_t> starting_;  // created, supervisor not yet confirmed: not lost
  std::set<std::uint64_t> running_;
  std::optional<std::map<std::uint64_t, Finished>> finished_;
  std::shared_ptr<OutputBudget> budget_;
  std::uint64_t next_ = 1;  // the next job number
};

}  // namespace automatelinux::peer_exec::jobs
