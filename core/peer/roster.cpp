#include "core/peer/roster.hpp"

#include <algorithm>
#include <stdexcept>

#include "core/peer/cluster_state.hpp"
#include "core/peer/tls_identity.hpp"

namespace automatelinux::core::peer {
namespace {

constexpr const char* kFile = "roster.json";
// A roster larger than this is refused before parsing its members (10k members fit easily).
constexpr std::size_t kMaxMembers = 100000;

const nlohmann::json& field(const nlohmann::json& j, const char* key,
                            nlohmann::json::value_t type) {
  auto it = j.find(key);
  if (it == j.end() || it->type() != type)
    throw std::invalid_argument(std::string("roster: field '") + key + "' missing or malformed");
  return *it;
}

// A fingerprint: lowercase hex, no longer than a SHA-512 would be.
bool is_fingerprint(const std::string& s) {
  return s.size() <= 128 && is_lower_hex(s);
}

}  // namespace

const RosterMember* Roster::find(const std::string& id) const {
  auto it =
      std::lower_bound(members.begin(), members.end(), id,
                       [](const RosterMember& m, const std::string& key) { return m.id < key; });
  return it != members.end() && it->id == id ? &*it : nullptr;
}

bool Roster::is_revoked(const std::string& fingerprint) const {
  return std::binary_search(revoked.begin(), revoked.end(), fingerprint);
}

bool Roster::same_content(const Roster& other) const {
  return leader == other.leader && members == other.members && revoked == other.revoked;
}

nlohmann::json Roster::to_json() const {
  auto list = nlohmann::json::array();
  for (const auto& m : members)
    list.push_back({{"id", m.id}, {"fingerprint", m.fingerprint}, {"address", m.address}});
  return {{"version", version},
          {"issued_at", issued_at},
          {"leader", leader},
          {"members", std::move(list)},
          {"revoked", revoked}};
}

Roster Roster::from_json(const nlohmann::json& j) {
  using T = nlohmann::json::value_t;
  if (!j.is_object()) throw std::invalid_argument("roster: not an object");
  Roster r;
  r.version = field(j, "version", T::number_unsigned).get<std::uint64_t>();
  const auto& issued = j.find("issued_at");
  if (issued == j.end() || !issued->is_number_integer())
    throw std::invalid_argument("roster: field 'issued_at' missing or malformed");
  r.issued_at = issued->get<std::int64_t>();
  r.leader = field(j, "leader", T::string).get<std::string>();
  const auto& members = field(j, "members", T::array);
  const auto& revoked = field(j, "revoked", T::array);
  if (members.size() > kMaxMembers || revoked.size() > kMaxMembers)
    throw std::invalid_argument("roster: too many entries");
  for (const auto& m : members) {
    if (!m.is_object()) throw std::invalid_argument("roster: a member is not an object");
    RosterMember member{field(m, "id", T::string).get<std::string>(),
                        field(m, "fingerprint", T::string).get<std::string>(),
                        field(m, "address", T::string).get<std::string>()};
    if (member.id.empty() || !is_fingerprint(member.fingerprint))
      throw std::invalid_argument("roster: member '" + member.id.substr(0, 64) +
                                  "' has no id or a malformed fingerprint");
    r.members.push_back(std::move(member));
  }
  for (const auto& f : revoked) {
    if (!f.is_string() || !is_fingerprint(f.get<std::string>()))
      throw std::invalid_argument("roster: a revoked fingerprint is malformed");
    r.revoked.push_back(f.get<std::string>());
  }
  // Sorted and unique, as the leader issues it (find and is_revoked search it).
  auto by_id = [](const RosterMember& a, const RosterMember& b) { return a.id < b.id; };
  if (!std::is_sorted(r.members.begin(), r.members.end(), by_id) ||
      std::adjacent_find(r.members.begin(), r.members.end(), [](const auto& a, const auto& b) {
        return a.id == b.id;
      }) != r.members.end())
    throw std::invalid_argument("roster: members are not sorted by id, or an id repeats");
  if (!std::is_sorted(r.revoked.begin(), r.revoked.end()))
    throw std::invalid_argument("roster: revoked fingerprints are not sorted");
  return r;
}

nlohmann::json sign_roster(const Roster& roster, EVP_PKEY* ca_key) {
  auto body = roster.to_json();
  auto signature = sign_hex(ca_key, body.dump());
  return {{"roster", std::move(body)}, {"sig", std::move(signature)}};
}

Roster verified_roster(const nlohmann::json& signed_roster, X509* ca_cert) {
  if (!signed_roster.is_object()) throw std::invalid_argument("roster: not an object");
  const auto body = signed_roster.find("roster");
  const auto sig = signed_roster.find("sig");
  if (body == signed_roster.end() || sig == signed_roster.end() || !sig->is_string())
    throw std::invalid_argument("roster: 'roster' and 'sig' are required");
  // The signature covers the compact dump: nlohmann's objects keep keys sorted, so a parsed
  // copy dumps to the very bytes that were signed.
  if (!verify_hex(ca_cert, body->dump(), sig->get<std::string>()))
    throw TlsError("roster: the signature does not check against the cluster CA");
  return Roster::from_json(*body);
}

void save_roster(const std::filesystem::path& state_dir, const nlohmann::json& signed_roster) {
  write_file_atomic(state_dir / kFile, signed_roster.dump() + "\n", 0640);
}

std::optional<nlohmann::json> load_roster(const std::filesystem::path& state_dir) {
  auto text = read_file(state_dir / kFile);
  if (!text) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error((state_dir / kFile).string() + " is corrupt");
  return j;
}

}  // namespace automatelinux::core::peer
