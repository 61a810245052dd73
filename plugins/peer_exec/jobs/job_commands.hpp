// The requesting side of durable jobs: listJobs, attachJob, waitJob and killJob. A job's id names
// its peer (PEER:N or PEER:NAME); the request goes there like execOnPeer's, or is served here when
// the job is this host's own.
#pragma once

#include <memory>
#include <vector>

#include <automatelinux/sdk/sdk.hpp>

#include "job_service.hpp"

namespace automatelinux::peer_exec::jobs {

std::vector<sdk::CommandSpec> job_commands(sdk::Host& host, std::shared_ptr<JobService> local);

}  // namespace automatelinux::peer_exec::jobs
