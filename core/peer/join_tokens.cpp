#include "core/peer/join_tokens.hpp"

#include <algorithm>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "core/peer/enrollment.hpp"
#include "core/peer/tls_identity.hpp"
#include "core/untrusted_text.hpp"

namespace automatelinux::core::peer {

sdk::NewJoinToken create_join_token(ClusterState& state, spdlog::logger& log,
                                    std::chrono::seconds ttl, std::optional<std::uint32_t> uses) {
  if (!state.is_leader()) throw std::runtime_error("joinToken works only on the leader");
  if (ttl.count() <= 0) throw std::runtime_error("--ttl must be positive");
  if (uses && *uses == 0) throw std::runtime_error("--uses must be at least 1");
  const auto now = unix_now();
  const std::string secret = random_hex(16);
  std::erase_if(state.tokens, [now](const JoinToken& t) { return t.expires <= now; });
  JoinToken token;
  token.secret_sha256 = sha256_hex(secret);
  token.created = now;
  token.expires = now + ttl.count();
  token.uses = uses.value_or(0);
  // A short public id, random (it says nothing about the secret) and unique among live tokens.
  const auto taken = [&state](const std::string& id) {
    return std::any_of(state.tokens.begin(), state.tokens.end(),
                       [&id](const JoinToken& t) { return t.id == id; });
  };
  do token.id = random_hex(4);
  while (taken(token.id));
  state.tokens.push_back(token);
  state.save_tokens();
  const auto ca = cert_from_pem(state.read_tls("ca.crt").value());
  log.info("join token {} created (expires {}, uses {})", token.id, iso8601_utc(token.expires),
           uses ? std::to_string(*uses) : std::string("unlimited"));
  return {token.id, make_token_text(secret, fingerprint(ca.get()))};
}

std::vector<sdk::JoinTokenInfo> list_join_tokens(const ClusterState& state) {
  if (!state.is_leader()) throw std::runtime_error("listTokens works only on the leader");
  const auto now = unix_now();
  std::vector<sdk::JoinTokenInfo> out;
  for (const auto& t : state.tokens) {
    sdk::JoinTokenInfo info;
    info.id = t.id;
    info.created = iso8601_utc(t.created);
    info.expires = iso8601_utc(t.expires);
    if (t.uses != 0) info.uses = t.uses;
    info.used = t.used;
    info.status = t.revoked()        ? "revoked"
                  : t.expires <= now ? "expired"
                  : t.used_up()      ? "used up"
                                     : "valid";
    if (t.revoked()) info.revoked = iso8601_utc(t.revoked_at);
    info.enrolled = t.enrolled;
    out.push_back(std::move(info));
  }
  return out;
}

void revoke_token(ClusterState& state, spdlog::logger& log, const std::string& id) {
  if (!state.is_leader()) throw std::runtime_error("revokeToken works only on the leader");
  for (auto& token : state.tokens) {
    if (token.id != id) continue;
    if (token.revoked()) return;
    token.revoked_at = unix_now();
    token.revoked_reason = "revoked with revokeToken";
    state.save_tokens();
    log.info("join token {} revoked", id);
    return;
  }
  throw std::runtime_error("Token not found: " + escape_untrusted(id));
}

}  // namespace automatelinux::core::peer
