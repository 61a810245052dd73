// How long to wait before dialing again after `failures` failed attempts: capped exponential
// backoff (base << failures, at most cap), times a random factor in [0.5, 1) so that many members
// cut off at once do not all retry in step. Used for the leader link and for direct sessions.
#pragma once

#include <algorithm>
#include <chrono>
#include <random>

namespace automatelinux::core::peer {

inline std::chrono::milliseconds backoff_delay(std::chrono::milliseconds base,
                                               std::chrono::milliseconds cap, int failures,
                                               std::mt19937& rng) {
  const auto exp = std::min<long long>(cap.count(), base.count() << std::min(failures, 20));
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return std::chrono::milliseconds(static_cast<long long>(exp * jitter(rng)));
}

}  // namespace automatelinux::core::peer
