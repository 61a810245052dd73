// Durations as the CLI accepts them: "1.5", "30s", "10m", "24h", "7d" (a bare number is seconds),
// at most kMaxDuration: longer ones would overflow the clocks they are added to.
#pragma once

#include <chrono>
#include <cmath>
#include <optional>
#include <string>

namespace automatelinux::sdk {

// The longest timeout or lifetime anything accepts (365 days), from the CLI or from a peer.
inline constexpr std::chrono::milliseconds kMaxDuration{365LL * 24 * 3600 * 1000};
inline constexpr const char* kMaxDurationText = "365d";

inline std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  double unit = 1.0;
  std::string number = text;
  switch (text.back()) {
    case 's':
      unit = 1;
      number.pop_back();
      break;
    case 'm':
      unit = 60;
      number.pop_back();
      break;
    case 'h':
      unit = 3600;
      number.pop_back();
      break;
    case 'd':
      unit = 86400;
      number.pop_back();
      break;
    default:
      break;
  }
  if (number.empty() || number.find_first_not_of("0123456789.") != std::string::npos ||
      number.find('.') != number.rfind('.') || number == ".")
    return std::nullopt;
  const double ms = std::stod(number) * unit * 1000.0;
  if (!std::isfinite(ms) || ms > static_cast<double>(kMaxDuration.count())) return std::nullopt;
  return std::chrono::milliseconds(static_cast<long long>(std::llround(ms)));
}

}  // namespace automatelinux::sdk
