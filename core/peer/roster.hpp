// The member table every member keeps: who is in the cluster (id, certificate fingerprint, the
// address it takes direct sessions on) and which certificates are revoked. The leader issues it
// with a version that only grows and signs it with the cluster CA key, so a member can check a
// copy it holds, or one another member shows it, without the leader.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <nlohmann/json.hpp>

namespace automatelinux::core::peer {

struct RosterMember {
  std::string id;
  std::string fingerprint;  // of its certificate (tls_identity's fingerprint)
  std::string address;      // HOST:PORT of its direct sessions; empty when not told
  bool operator==(const RosterMember&) const = default;
};

struct Roster {
  std::uint64_t version = 0;
  std::int64_t issued_at = 0;         // unix seconds
  std::string leader;                 // the leader's id (it is also in members)
  std::vector<RosterMember> members;  // sorted by id
  std::vector<std::string> revoked;   // fingerprints, sorted

  const RosterMember* find(const std::string& id) const;
  bool is_revoked(const std::string& fingerprint) const;
  // Same members, leader and revocations (version and time aside): nothing to re-issue.
  bool same_content(const Roster& other) const;

  nlohmann::json to_json() const;
  // Throws std::invalid_argument naming the field that is missing or malformed.
  static Roster from_json(const nlohmann::json& j);
};

// The signed form, as sent in a `roster` frame and kept in roster.json:
// {"roster": {...}, "sig": "<hex of an ECDSA SHA-256 signature over the roster's compact JSON>"}.
nlohmann::json sign_roster(const Roster& roster, EVP_PKEY* ca_key);
// The roster inside `signed_roster` once its signature checks against `ca_cert`; throws
// std::invalid_argument (shape) or TlsError (signature) with a one-line reason.
Roster verified_roster(const nlohmann::json& signed_roster, X509* ca_cert);

// roster.json in the state dir (0640, replaced atomically).
void save_roster(const std::filesystem::path& state_dir, const nlohmann::json& signed_roster);
std::optional<nlohmann::json> load_roster(const std::filesystem::path& state_dir);

}  // namespace automatelinux::core::peer
