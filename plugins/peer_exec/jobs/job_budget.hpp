// jobs.max_total_bytes across processes: every job's supervisor is a process of its own, and
// running jobs count against the budget as finished ones do. <state dir>/jobs/budget (0600) is a
// small file that the daemon and every supervisor map shared, holding two counters updated with
// atomic operations (no lock, no system call: a supervisor adjusts them on every write):
//   running  — the output bytes on disk of all running jobs: each supervisor adds what it writes
//              and subtracts what it deletes, and takes its own bytes out when its job ends;
//   finished — the bytes of all finished jobs, as the daemon's index has them (the daemon sets it;
//              a supervisor whose job ends adds its bytes until the daemon notices).
// A supervisor killed without a word leaves its bytes in `running`: the daemon takes them out when
// it finds the job lost, and sets `running` to 0 whenever no job runs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace automatelinux::peer_exec::jobs {

class OutputBudget {
 public:
  // Maps JOBS_DIR/budget, creating it; throws std::runtime_error when it cannot.
  static std::shared_ptr<OutputBudget> open(const std::string& jobs_dir);
  ~OutputBudget();
  OutputBudget(const OutputBudget&) = delete;
  OutputBudget& operator=(const OutputBudget&) = delete;

  // Adds `delta` (negative: bytes removed) to the running jobs' bytes, never going below 0.
  void add_running(std::int64_t delta);
  void set_running(std::uint64_t bytes);
  void add_finished(std::uint64_t bytes);
  void set_finished(std::uint64_t bytes);
  std::uint64_t running() const;
  std::uint64_t finished() const;
  std::uint64_t total() const { return running() + finished(); }

 private:
  explicit OutputBudget(void* map) : map_(map) {}
  std::uint64_t* counter(int index) const;

  void* map_;
};

}  // namespace automatelinux::peer_exec::jobs
