// Whom a member takes a direct session from (or to): the rules on top of the TLS handshake, which
// has already checked that the certificate chains to the cluster CA. Kept apart so that they can
// be tested without sockets.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <openssl/x509.h>

#include "core/peer/roster.hpp"

namespace automatelinux::core::peer {

// How long a member trusts certificates it has not seen in its roster after it last heard from
// the leader (peer.new_peers_trusted_for_s): a stolen, since-revoked certificate cannot be used
// for ever against a member that missed the revocation.
inline constexpr std::chrono::seconds kDefaultTrustUnseenFor{7 * 24 * 3600};

struct DirectTrust {
  std::string self_id;
  const std::optional<Roster>* roster = nullptr;  // the roster this member holds
  std::int64_t leader_heard_at = 0;               // unix seconds; 0 = never
  std::chrono::seconds trust_unseen_for = kDefaultTrustUnseenFor;
};

// Why a direct session with the holder of `cert` is refused, or "" when it may go ahead. A
// certificate the roster does not list is taken only if the leader was heard from within
// `trust_unseen_for` and it was signed (tls_identity's issued_at) no earlier than the roster.
// `expected_id`: the member that was dialed (empty when accepting). `now`: unix seconds.
std::string direct_refusal(X509* cert, const std::string& expected_id, const DirectTrust& trust,
                           std::int64_t now);

}  // namespace automatelinux::core::peer
