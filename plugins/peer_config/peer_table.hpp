// peer_config's text tables: listPeers and listTokens.
#pragma once

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <automatelinux/sdk/peers.hpp>

namespace automatelinux::peer_config {

// Rows as aligned columns (two spaces apart), no trailing blanks.
template <std::size_t N>
std::string table(const std::vector<std::array<std::string, N>>& rows) {
  std::array<std::size_t, N> width{};
  for (const auto& row : rows)
    for (std::size_t i = 0; i < N; ++i) width[i] = std::max(width[i], row[i].size());
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < N; ++i)
      line += i + 1 < N ? fmt::format("{:<{}}  ", row[i], width[i]) : row[i];
    out += line.substr(0, line.find_last_not_of(' ') + 1) + "\n";
  }
  return out;
}

// listPeers as text: ID ROLE STATUS PATH ADDRESS LAST SEEN RTT VERSION SELF under a header row.
// An unset value shows as "-"; SELF marks the peer whose id is `self` (where `d` runs).
std::string peer_table(const std::vector<sdk::PeerInfo>& peers, const std::string& self);

}  // namespace automatelinux::peer_config
