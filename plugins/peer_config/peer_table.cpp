#include "peer_table.hpp"

#include <automatelinux/sdk/untrusted_text.hpp>

namespace automatelinux::peer_config {

std::string peer_table(const std::vector<sdk::PeerInfo>& peers, const std::string& self) {
  // Ids, versions and addresses come from other members: checked on arrival by core, and escaped
  // here all the same, so a cell can never drive the terminal.
  auto or_dash = [](const std::string& s) {
    return s.empty() ? std::string("-") : sdk::escape_untrusted(s, 128);
  };
  // The last column marks the machine this is (where `d` runs), so "on self" is never a guess.
  std::vector<std::array<std::string, 9>> rows{
      {"ID", "ROLE", "STATUS", "PATH", "ADDRESS", "LAST SEEN", "RTT", "VERSION", "SELF"}};
  for (const auto& p : peers) {
    rows.push_back({sdk::escape_untrusted(p.id, 128), sdk::escape_untrusted(p.role, 128),
                    p.online ? "online" : "offline", or_dash(p.path), or_dash(p.address),
                    p.last_seen.value_or("-"), p.rtt_ms ? fmt::format("{:.1f}ms", *p.rtt_ms) : "-",
                    or_dash(p.version), p.id == self ? "*" : ""});
  }
  return table(rows);
}

}  // namespace automatelinux::peer_config
