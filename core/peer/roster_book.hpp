// The roster this member holds (core/peer/roster.hpp): the leader issues a new version whenever
// the members, their addresses or the revocations change; a worker takes only newer versions
// that check against the cluster CA. Either way it is kept in roster.json, so a member restarted
// while the leader is away still knows its peers and the revoked certificates.
#pragma once

#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/peer/cluster_state.hpp"
#include "core/peer/roster.hpp"
#include "core/peer/tls_identity.hpp"

namespace automatelinux::core::peer {

class RosterBook {
 public:
  explicit RosterBook(const ClusterState& state) : state_(state) {}

  const std::optional<Roster>& roster() const { return roster_; }
  // As sent in a `roster` frame and saved (null when there is none).
  const nlohmann::json& signed_roster() const { return signed_; }

  // Reads roster.json. Empty when it was taken or there is none; else why it was dropped (it
  // does not check against this cluster's CA, or is malformed).
  std::string load();
  // Leader: issues the next version when who is in the cluster, where they listen, or what is
  // revoked changed. `addresses`: what members said in their hello (others keep the address
  // the roster had). True when a new version was issued.
  bool reissue(const std::map<std::string, std::string>& addresses);
  // Worker: a signed roster from the leader. Empty when taken or already held; else the
  // one-line reason it was refused (a bad signature, an older version).
  std::string accept(const nlohmann::json& signed_roster);
  // A new role or cluster: the held roster is dropped, roster.json removed.
  void forget();

 private:
  // Leader: its signing key and own fingerprint, read once per id (reissue runs on every
  // membership event; forget() drops them with a new CA).
  bool load_signer();

  const ClusterState& state_;
  std::optional<Roster> roster_;
  nlohmann::json signed_;
  std::string signer_id_;
  PkeyPtr ca_key_;
  std::string self_fingerprint_;
};

}  // namespace automatelinux::core::peer
