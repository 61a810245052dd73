// The leader's join tokens: made, listed and revoked here; only a hash of each secret is kept
// (tokens.json), the secret itself is shown once, in the token text.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "automatelinux/sdk/peers.hpp"
#include "core/peer/cluster_state.hpp"

namespace spdlog {
class logger;
}

namespace automatelinux::core::peer {

// Each throws std::runtime_error with a one-line reason (not the leader, bad --ttl or --uses,
// an unknown token id).
sdk::NewJoinToken create_join_token(ClusterState& state, spdlog::logger& log,
                                    std::chrono::seconds ttl, std::optional<std::uint32_t> uses);
std::vector<sdk::JoinTokenInfo> list_join_tokens(const ClusterState& state);
void revoke_token(ClusterState& state, spdlog::logger& log, const std::string& id);

}  // namespace automatelinux::core::peer
