// Lists of byte strings in one frame body, separated by NUL bytes: arguments and directories
// travel this way (never as JSON text, which would have to be UTF-8). The same rule as core's
// wire format, here so that a plugin's requesting and serving sides agree without copies.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace automatelinux::sdk {

// {"a", "", "b"} → "a\0\0b". An element containing a NUL cannot round-trip: check before joining
// if that matters (split_nul then yields more parts than were joined).
inline std::string join_nul(const std::vector<std::string>& parts) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out.push_back('\0');
    out += parts[i];
  }
  return out;
}

// The inverse of join_nul; "" gives one empty part.
inline std::vector<std::string> split_nul(std::string_view body) {
  std::vector<std::string> parts;
  while (true) {
    const auto nul = body.find('\0');
    parts.emplace_back(body.substr(0, nul));
    if (nul == std::string_view::npos) return parts;
    body.remove_prefix(nul + 1);
  }
}

}  // namespace automatelinux::sdk
