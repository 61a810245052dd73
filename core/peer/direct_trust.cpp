#include "core/peer/direct_trust.hpp"

#include <fmt/format.h>

#include "core/peer/enrollment.hpp"
#include "core/peer/tls_identity.hpp"

namespace automatelinux::core::peer {

std::string direct_refusal(X509* cert, const std::string& expected_id, const DirectTrust& trust,
                           std::int64_t now) {
  if (cert == nullptr) return "no certificate";
  const std::string id = common_name(cert);
  if (!valid_peer_id(id)) return "certificate without a valid peer id";
  if (!expected_id.empty() && id != expected_id)
    return "certificate of '" + id + "', not of '" + expected_id + "'";
  if (id == trust.self_id) return "certificate of this member itself";
  if (trust.roster == nullptr || !*trust.roster) return "no roster held yet";
  const Roster& roster = **trust.roster;
  const std::string print = fingerprint(cert);
  if (roster.is_revoked(print)) return "certificate revoked";
  if (const auto* member = roster.find(id)) {
    if (member->fingerprint != print) return "certificate not the one the roster holds for " + id;
    return {};
  }
  // Not in the roster: a member newer than the roster held, taken only while the leader is
  // recent enough for the roster to know of revocations, and only with a certificate signed
  // since that roster was issued (a roster lists every member enrolled before it, so an older
  // unlisted certificate is one that was removed, whatever revocations this roster lost).
  if (trust.leader_heard_at == 0 || now - trust.leader_heard_at > trust.trust_unseen_for.count())
    return fmt::format(
        "'{}' is not in the roster, and the leader has not been heard from for more than {} s", id,
        trust.trust_unseen_for.count());
  if (issued_at(cert) < roster.issued_at)
    return fmt::format("'{}' is not in the roster, and its certificate is older than the roster",
                       id);
  return {};
}

}  // namespace automatelinux::core::peer
