#include "core/config_keys.hpp"

namespace automatelinux::core {

using sdk::ConfigType;

namespace {

// The peer network's keys: stream windows and direct sessions.
sdk::ConfigSchema peer_keys() {
  return {
      {.key = "streams.max_window_bytes",
       .type = ConfigType::integer,
       .default_text = "67108864",
       .description = "how far one stream's credit window may grow",
       .min = 524288,
       .max = 67108864},
      {.key = "streams.budget_bytes",
       .type = ConfigType::integer,
       .default_text = "268435456",
       .description = "grown windows of all streams together",
       .min = 0,
       .max = 1099511627776},
      {.key = "peer.direct",
       .type = ConfigType::boolean,
       .default_text = "true",
       .description = "workers take and make direct sessions with each other; off: every "
                      "request between workers goes through the leader's relay"},
      {.key = "peer.new_peers_trusted_for_s",
       .type = ConfigType::integer,
       .default_text = "604800",
       .description = "after this long without the leader, direct sessions are taken only from "
                      "certificates in the roster this member holds",
       .min = 0,
       .max = 315360000},
      {.key = "peer.max_requests_per_s",
       .type = ConfigType::integer,
       .default_text = "200",
       .description = "requests per second each member may have served here (a token bucket; "
                      "over it a request is answered busy); local callers are not limited",
       .min = 1,
       .max = 1000000},
      {.key = "peer.max_requests_burst",
       .type = ConfigType::integer,
       .default_text = "2 x peer.max_requests_per_s",
       .description = "requests a member may send at once above its rate",
       .min = 1,
       .max = 10000000},
  };
}

// What the daemon keeps of its own records: the audit log and daemon.log.
sdk::ConfigSchema record_keys() {
  return {
      {.key = "audit.max_bytes",
       .type = ConfigType::integer,
       .default_text = "16777216",
       .description = "size of audit.jsonl before it is rotated",
       .min = 65536},
      {.key = "audit.keep",
       .type = ConfigType::integer,
       .default_text = "4",
       .description = "rotated audit files kept",
       .min = 0,
       .max = 1000},
      {.key = "audit.keep_days",
       .type = ConfigType::integer,
       .default_text = "30",
       .description = "rotated audit files younger than this are kept beyond audit.keep",
       .min = 0,
       .max = 36500},
      {.key = "audit.max_total_bytes",
       .type = ConfigType::integer,
       .default_text = "1073741824",
       .description = "all audit files together; past it the oldest go, however young",
       .min = 65536,
       .max = 1099511627776},
      {.key = "log.level",
       .type = ConfigType::choice,
       .default_text = "info",
       .description = "the least severe level logged",
       // spdlog's names, with the aliases it accepts too.
       .choices = {"trace", "debug", "info", "warn", "warning", "error", "err", "critical", "off"}},
      {.key = "log.max_bytes",
       .type = ConfigType::integer,
       .default_text = "5242880",
       .description = "size of daemon.log before it is rotated",
       .min = 65536,
       .max = 1099511627776},
      {.key = "log.keep",
       .type = ConfigType::integer,
       .default_text = "3",
       .description = "rotated daemon.log files kept",
       .min = 0,
       .max = 1000},
  };
}

}  // namespace

const sdk::ConfigSchema& core_config_keys() {
  static const sdk::ConfigSchema keys = [] {
    sdk::ConfigSchema keys{
        {.key = "socket",
         .type = ConfigType::path,
         .default_text = "/run/automatelinux/automatelinux-daemon.sock",
         .description = "Unix socket for d"},
        {.key = "state_dir",
         .type = ConfigType::path,
         .default_text = "/var/lib/automatelinux",
         .description = "peer config, keys, tokens, jobs and daemon.log"},
        {.key = "plugin_dir",
         .type = ConfigType::path,
         .default_text = "<bindir>/../lib/automatelinux/plugins",
         .description = "where plugins are loaded from"},
        {.key = "plugins.enabled",
         .type = ConfigType::string_list,
         .default_text = "all",
         .description = "when present, only these plugins load"},
        {.key = "plugins.disabled",
         .type = ConfigType::string_list,
         .default_text = "none",
         .description = "these plugins do not load"},
        {.key = "heartbeat_ms",
         .type = ConfigType::integer,
         .default_text = "2000",
         .description = "heartbeat interval; 3 silent intervals make a peer offline",
         .min = 100,
         .max = 600000},
    };
    for (auto& key : record_keys()) keys.push_back(std::move(key));
    for (auto& key : peer_keys()) keys.push_back(std::move(key));
    return keys;
  }();
  return keys;
}

}  // namespace automatelinux::core
