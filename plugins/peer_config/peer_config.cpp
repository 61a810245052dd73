// peer_config: this daemon's place in the cluster (getPeerStatus). Joining, tokens and the peer
// list arrive with the peer network.
#include <automatelinux/sdk/sdk.hpp>
#include <fmt/format.h>

namespace sdk = automatelinux::sdk;

namespace {

nlohmann::json or_null(const std::optional<std::string>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json();
}

std::string status_text(const sdk::LocalPeerStatus& s) {
  auto show = [](const std::optional<std::string>& v) { return v ? *v : std::string("-"); };
  return fmt::format(
      "id:        {}\nrole:      {}\nleader:    {}\nlisten:    {}\nconnected: {}\nsince:     {}\n",
      show(s.id), show(s.role), show(s.leader), show(s.listen), s.connected ? "yes" : "no",
      show(s.since));
}

void init(sdk::Host& host) {
  sdk::CommandSpec status;
  status.name = "getPeerStatus";
  status.summary = "Show this daemon's id, role, leader, listen address and connection state";
  status.usage = "[--json]";
  status.options.add_options()("json", "print JSON");
  status.handler = [&host](sdk::StreamPtr stream, const sdk::Invocation& call) {
    const auto s = host.local_peer();
    if (!call.has("json")) return sdk::reply(stream, status_text(s));
    const nlohmann::json out = {{"id", or_null(s.id)},         {"role", or_null(s.role)},
                                {"leader", or_null(s.leader)}, {"listen", or_null(s.listen)},
                                {"connected", s.connected},    {"since", or_null(s.since)}};
    sdk::reply(stream, out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  };
  host.add_command(std::move(status));
}

}  // namespace

AUTOMATELINUX_PLUGIN("peer_config", "0.1.0", init)
