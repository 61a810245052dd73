// peer_exec: `execOnPeer` — run a command in a directory on another peer, streaming its output
// back live and ending with its exit status. The requesting side is a command; the executing
// side is the "exec" peer service, under this host's own `exec` policy.
#include <automatelinux/sdk/sdk.hpp>

#include "exec_command.hpp"
#include "exec_service.hpp"

namespace {

void init(automatelinux::sdk::Host& host) {
  using namespace automatelinux::peer_exec;
  // Read the policy first: a bad policy refuses the plugin (logged) rather than running unguarded.
  auto service =
      std::make_shared<ExecService>(host, ExecPolicy::from_json(host.config_section("exec")));
  host.add_command(exec_command(host));
  host.add_peer_service(
      "exec", [service](automatelinux::sdk::ServedStreamPtr stream, const nlohmann::json& request,
                        const std::string& body) { service->serve(stream, request, body); });
}

}  // namespace

AUTOMATELINUX_PLUGIN("peer_exec", "0.2.0", init)
