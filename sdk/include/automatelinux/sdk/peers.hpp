// The peer network as plugins see it. Core owns the sessions, the TLS identities and the
// membership; peer_config is a thin command layer over this interface.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/config.hpp>

#include "automatelinux/sdk/outcome.hpp"

namespace automatelinux::sdk {

// This daemon's place in the cluster. Unset values are empty optionals.
struct LocalPeerStatus {
  std::optional<std::string> id;
  std::optional<std::string> role;    // "leader" or "worker"
  std::optional<std::string> leader;  // HOST:PORT (workers)
  std::optional<std::string> listen;  // HOST:PORT (leaders; workers taking direct sessions)
  bool connected = false;             // leader: listening; worker: welcomed by the leader
  std::optional<std::string> since;   // ISO 8601 UTC of the last connection change
  // One sentence when something needs the user (e.g. "removed from the cluster; …").
  std::optional<std::string> notice;
};

struct PeerInfo {
  std::string id;
  std::string role;
  bool online = false;
  std::string address;
  // How this daemon reaches the peer: "direct" (its own session to it), "relayed" (through the
  // leader), "unreachable", or "local" for this daemon itself; empty when unknown.
  std::string path;
  std::optional<std::string> last_seen;  // ISO 8601 UTC
  std::optional<double> rtt_ms;
  std::string version;
  std::vector<std::string> commands;
};

// A join token as the leader remembers it: never the secret, only its public id and bookkeeping.
struct JoinTokenInfo {
  std::string id;                     // short public id, for listTokens / revokeToken
  std::string created;                // ISO 8601 UTC
  std::string expires;                // ISO 8601 UTC
  std::optional<std::uint32_t> uses;  // how many enrollments it allows; empty = unlimited
  std::uint32_t used = 0;
  std::string status;                  // "valid", "expired", "used up" or "revoked"
  std::optional<std::string> revoked;  // ISO 8601 UTC
  std::vector<std::string> enrolled;   // member ids it enrolled
};

// What joinToken made: the text to hand to a worker (secret included) and its public id.
struct NewJoinToken {
  std::string id;
  std::string token;
};

class BOOST_SYMBOL_VISIBLE PeerNetwork {
 public:
  // Runs once with how a role change went (the reason is one line for the user).
  using Done = std::function<void(const Outcome& outcome)>;

  virtual ~PeerNetwork() = default;
  virtual LocalPeerStatus local() const = 0;
  // Every peer known to the cluster, this daemon included.
  virtual std::vector<PeerInfo> peers() const = 0;

  virtual void become_leader(const std::string& id, const std::string& listen, Done done) = 0;
  // With a token: enrolls synchronously (done runs once the leader signed our certificate, or
  // with the reason it did not; nothing is saved on failure). Without: saves and reconnects.
  // `listen`: where it takes direct sessions from other workers; empty keeps the address it
  // had as a worker, else 0.0.0.0:3600.
  virtual void become_worker(const std::string& id, const std::string& leader,
                             const std::string& listen, const std::optional<std::string>& token,
                             Done done) = 0;
  // Leader only; these throw std::runtime_error with a one-line reason.
  // `uses`: how many workers the token may enroll; empty = any number until it expires.
  virtual NewJoinToken create_join_token(std::chrono::seconds ttl,
                                         std::optional<std::uint32_t> uses) = 0;
  virtual std::vector<JoinTokenInfo> join_tokens() const = 0;
  // Unknown id: throws "Token not found: ID". Revoking a revoked token is not an error.
  virtual void revoke_token(const std::string& id) = 0;
  // Forgets the member, revokes its certificate and the join token(s) that enrolled it; returns
  // the ids of the tokens revoked by this call.
  virtual std::vector<std::string> remove_peer(const std::string& id) = 0;
};

}  // namespace automatelinux::sdk
