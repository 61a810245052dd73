// `--peer vps,laptop`: a comma-separated list of peer ids, as commands that reach several peers
// take it (`all` is each command's own to expand).
#pragma once

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace automatelinux::sdk {

// The ids in order, without duplicates. Throws std::invalid_argument (one line, naming the
// option) for an empty id or `all` inside a list.
inline std::vector<std::string> split_peer_list(const std::string& spec) {
  std::vector<std::string> ids;
  std::size_t start = 0;
  while (start <= spec.size()) {
    const auto comma = std::min(spec.find(',', start), spec.size());
    const std::string id = spec.substr(start, comma - start);
    if (id.empty()) throw std::invalid_argument("--peer: empty peer id in '" + spec + "'");
    if (id == "all" && spec != "all")
      throw std::invalid_argument("--peer: 'all' cannot be part of a list");
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
    start = comma + 1;
  }
  return ids;
}

}  // namespace automatelinux::sdk
