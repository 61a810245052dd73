// Join tokens and the worker's side of enrollment. A token is "al1.<secret>.<ca-fingerprint>":
// the secret authorizes the worker to the leader (the leader stores only its SHA-256), and the
// fingerprint pins the leader's CA so the worker sends the secret to the right leader only.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/asio.hpp"
#include "core/peer/cluster_state.hpp"

namespace spdlog {
class logger;
}

namespace automatelinux::core::peer {

struct ParsedToken {
  std::string secret;
  std::string ca_fingerprint;
};

std::optional<ParsedToken> parse_token(const std::string& token);
std::string make_token_text(const std::string& secret, const std::string& ca_fingerprint);
std::string sha256_hex(const std::string& data);
std::string random_hex(std::size_t bytes);
bool valid_peer_id(const std::string& id);

// Connects to the leader with no client certificate, checks its CA against the token, sends one
// enroll request and, on success, stores the signed certificate, the CA and the new key in
// `state`'s TLS directory. `done` gets an empty string on success or the reason.
void enroll_with_leader(asio::io_context& io, std::shared_ptr<spdlog::logger> log,
                        const ClusterState& state, const std::string& id, const std::string& leader,
                        const ParsedToken& token, std::function<void(const std::string&)> done);

}  // namespace automatelinux::core::peer
