// The serving side of `auditLog`: the "audit.read" peer service. It answers with this host's
// records as JSON lines, then one line {"caught_up":true}; when following, it goes on sending
// new records until the requester cancels. This host decides who may read (audit.allowed_peers).
#pragma once

#include <optional>
#include <set>
#include <string>

#include <automatelinux/sdk/sdk.hpp>

namespace automatelinux::audit_log {

inline constexpr const char* kReadService = "audit.read";
// The line that ends the stored records (the JSON object {"caught_up": true}, as dumped).
inline const std::string kCaughtUpLine = R"({"caught_up":true})";

struct ReadPolicy {
  std::optional<std::set<std::string>> allowed_peers;  // unset: every member

  // The `audit` section of the config file; throws naming the key.
  static ReadPolicy from_json(const nlohmann::json& section);
};

void serve_read(sdk::Host& host, const ReadPolicy& policy, const sdk::ServedStreamPtr& stream,
                const nlohmann::json& header);

}  // namespace automatelinux::audit_log
