// The serving side of durable jobs on this host: the "job.*" peer services (and the same calls for
// a request made on this host itself). Jobs run under this host's `exec` policy, like execOnPeer.
#pragma once

#include <memory>
#include <string>

#include <automatelinux/sdk/sdk.hpp>

#include "../policy.hpp"
#include "job_store.hpp"

namespace automatelinux::peer_exec::jobs {

// Peer message types (bodies: job.start carries the directory and the command NUL-separated).
inline constexpr const char* kStartJob = "job.start";
inline constexpr const char* kListJobs = "job.list";
inline constexpr const char* kAttachJob = "job.attach";
inline constexpr const char* kWaitJob = "job.wait";
inline constexpr const char* kKillJob = "job.kill";

class JobService : public std::enable_shared_from_this<JobService> {
 public:
  // `running_requests`: how many execOnPeer commands run now (jobs count against the same
  // exec.max_concurrent).
  JobService(sdk::Host& host, const ExecPolicy& policy, std::shared_ptr<JobStore> store,
             std::function<std::size_t()> running_requests);

  // Registers the peer services and starts the periodic check of running jobs.
  void start();
  std::size_t running_jobs() { return store_->check_running(); }

  void start_job(const sdk::ServedStreamPtr& stream, const nlohmann::json& header, const std::string& body);
  void list(const sdk::ServedStreamPtr& stream, const nlohmann::json& header, const std::string& body);
  void attach(const sdk::ServedStreamPtr& stream, const nlohmann::json& header, const std::string& body);
  void wait(const sdk::ServedStreamPtr& stream, const nlohmann::json& header, const std::string& body);
  void kill(const sdk::ServedStreamPtr& stream, const nlohmann::json& header, const std::string& body);

  // This host's jobs as listJobs --json shows them: those `requester` may see (visible_to).
  nlohmann::json list_json(const sdk::Requester& requester);

 private:
  std::string self() const;
  std::string supervisor_path() const;
  // Who a job belongs to: {"member", "name"} of the requester (a local one: this member).
  nlohmann::json owner_of(const sdk::Requester& requester) const;
  // Root on its own host sees every job; anyone else only the jobs it started.
  bool visible_to(const sdk::Requester& requester, std::uint64_t number) const;
  // Checks the requester and finds the job the header names; fails the stream and returns
  // nullopt when either is wrong.
  std::optional<std::uint64_t> find(const sdk::ServedStreamPtr& stream, const nlohmann::json& header);
  void tick();

  sdk::Host& host_;
  const ExecPolicy& policy_;
  std::shared_ptr<JobStore> store_;
  std::function<std::size_t()> running_requests_;
  sdk::TimerPtr ticker_;
  int ticks_ = 0;
};

}  // namespace automatelinux::peer_exec::jobs
