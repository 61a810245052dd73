// A peer as `listPeers --json` prints it (the contract's keys; unset values are null). Core's
// member list between daemons uses the same shape, so there is one definition of it.
#pragma once

#include <nlohmann/json.hpp>

#include "automatelinux/sdk/peers.hpp"

namespace automatelinux::sdk {

inline nlohmann::json peer_json(const PeerInfo& p) {
  auto or_null = [](const auto& value) {
    return value ? nlohmann::json(*value) : nlohmann::json();
  };
  auto text_or_null = [](const std::string& s) {
    return s.empty() ? nlohmann::json() : nlohmann::json(s);
  };
  return {{"id", p.id},
          {"role", p.role},
          {"status", p.online ? "online" : "offline"},
          {"address", text_or_null(p.address)},
          {"path", text_or_null(p.path)},
          {"last_seen", or_null(p.last_seen)},
          {"rtt_ms", or_null(p.rtt_ms)},
          {"version", text_or_null(p.version)},
          {"commands", p.commands}};
}

}  // namespace automatelinux::sdk
