#include "core/peer/roster_book.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace automatelinux::core::peer {

std::string RosterBook::load() {
  roster_.reset();
  signed_ = nullptr;
  try {
    auto saved = load_roster(state_.dir());
    if (!saved) return {};
    const auto ca = state_.read_tls("ca.crt");
    if (!ca) return "no cluster CA to check roster.json against";
    roster_ = verified_roster(*saved, cert_from_pem(*ca).get());
    signed_ = std::move(*saved);
    return {};
  } catch (const std::exception& e) {
    return std::string("roster.json dropped: ") + e.what();
  }
}

bool RosterBook::load_signer() {
  if (!state_.is_leader()) return false;
  if (ca_key_ && signer_id_ == state_.self_id()) return true;
  const auto cert = state_.read_tls("node.crt");
  const auto ca_key = state_.read_tls("ca.key");
  if (!cert || !ca_key) return false;
  ca_key_ = key_from_pem(*ca_key);
  self_fingerprint_ = fingerprint(cert_from_pem(*cert).get());
  signer_id_ = state_.self_id();
  return true;
}

bool RosterBook::reissue(const std::map<std::string, std::string>& addresses) {
  if (!load_signer()) return false;
  Roster next;
  next.leader = state_.self_id();
  auto address_of = [&](const std::string& id) {
    if (auto it = addresses.find(id); it != addresses.end()) return it->second;
    if (roster_)
      if (const auto* known = roster_->find(id)) return known->address;
    return std::string{};
  };
  next.members.push_back({next.leader, self_fingerprint_, state_.config->listen});
  for (const auto& [id, member] : state_.members)
    next.members.push_back({id, member.fingerprint, address_of(id)});
  std::sort(next.members.begin(), next.members.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  for (const auto& revocation : state_.revoked) next.revoked.push_back(revocation.fingerprint);
  std::sort(next.revoked.begin(), next.revoked.end());
  next.revoked.erase(std::unique(next.revoked.begin(), next.revoked.end()), next.revoked.end());
  if (roster_ && roster_->same_content(next)) return false;
  // Versions are unix seconds (and always above the last): a leader that lost its roster.json
  // still issues one its workers take as newer.
  const auto now = static_cast<std::uint64_t>(unix_now());
  next.version = std::max(roster_ ? roster_->version + 1 : 1, now);
  next.issued_at = static_cast<std::int64_t>(now);
  signed_ = sign_roster(next, ca_key_.get());
  roster_ = std::move(next);
  save_roster(state_.dir(), signed_);
  return true;
}

std::string RosterBook::accept(const nlohmann::json& signed_roster) {
  const auto ca = state_.read_tls("ca.crt");
  if (!ca) return "no cluster CA to check it against";
  Roster offered;
  try {
    offered = verified_roster(signed_roster, cert_from_pem(*ca).get());
  } catch (const std::exception& e) {
    return e.what();
  }
  if (roster_ && offered.version < roster_->version)
    return fmt::format("roster version {} is older than the one held ({})", offered.version,
                       roster_->version);
  if (roster_ && offered.version == roster_->version) return {};
  save_roster(state_.dir(), signed_roster);
  signed_ = signed_roster;
  roster_ = std::move(offered);
  return {};
}

void RosterBook::forget() {
  roster_.reset();
  signed_ = nullptr;
  ca_key_.reset();
  signer_id_.clear();
  std::error_code ignored;
  std::filesystem::remove(state_.dir() / "roster.json", ignored);
}

}  // namespace automatelinux::core::peer
