// audit_log: `d auditLog` — the audit records of one, several or all members, merged in time
// order, optionally followed live. Core writes the records (state_dir/audit.jsonl); this plugin
// reads them, here through sdk::AuditLog and on other members through the "audit.read" service,
// which each member serves under its own `audit.allowed_peers`.
#include <automatelinux/sdk/sdk.hpp>

#include "audit_command.hpp"
#include "audit_service.hpp"

namespace {

// The key this plugin reads; core owns the rest of the "audit" section (the file's rotation).
const automatelinux::sdk::ConfigSchema& config_keys() {
  static const automatelinux::sdk::ConfigSchema keys{
      {.key = "audit.allowed_peers",
       .type = automatelinux::sdk::ConfigType::string_list,
       .default_text = "every member",
       .description = "peers allowed to read this host's audit records"}};
  return keys;
}

void init(automatelinux::sdk::Host& host) {
  using namespace automatelinux::audit_log;
  const auto policy = ReadPolicy::from_json(host.config_section("audit"));
  host.add_command(audit_command(host));
  host.add_peer_service(
      kReadService,
      [&host, policy](automatelinux::sdk::ServedStreamPtr stream, const nlohmann::json& header,
                      const std::string&) { serve_read(host, policy, stream, header); });
}

}  // namespace

AUTOMATELINUX_PLUGIN_WITH_CONFIG("audit_log", "0.1.0", init, config_keys)
