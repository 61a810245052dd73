// peer_exec: `execOnPeer` — run a command in a directory on another peer, streaming its output
// back live and ending with its exit status — and durable jobs (`execOnPeer --detach`, listJobs,
// attachJob, waitJob, killJob). The requesting side is commands; the executing side is the
// "exec" and "job.*" peer services, under this host's own `exec` policy.
#include <automatelinux/sdk/sdk.hpp>

#include "config_keys.hpp"
#include "exec_command.hpp"
#include "exec_service.hpp"
#include "jobs/job_commands.hpp"
#include "jobs/job_service.hpp"

namespace {

void init(automatelinux::sdk::Host& host) {
  using namespace automatelinux::peer_exec;
  // Read the policy first: a bad policy refuses the plugin (logged) rather than running unguarded.
  auto service =
      std::make_shared<ExecService>(host, ExecPolicy::from_json(host.config_section("exec")));
  auto store = std::make_shared<jobs::JobStore>(
      host.state_dir() / "jobs", jobs::JobLimits::from_json(host.config_section("jobs")),
      host.logger(), &host.audit());
  auto job_service = std::make_shared<jobs::JobService>(host, service->policy(), store,
                                                        [service] { return service->running(); });
  service->count_jobs_with([store] { return store->running_count(); });
  host.add_command(exec_command(host));
  host.add_peer_service(
      "exec", [service](automatelinux::sdk::ServedStreamPtr stream, const nlohmann::json& request,
                        const std::string& body) { service->serve(stream, request, body); });
  for (auto& spec : jobs::job_commands(host, job_service)) host.add_command(std::move(spec));
  job_service->start();
}

}  // namespace

AUTOMATELINUX_PLUGIN_WITH_CONFIG("peer_exec", "0.3.0", init, automatelinux::peer_exec::config_keys)
