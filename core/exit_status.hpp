// The single place where a request's Result becomes the exit status `d` returns.
#pragma once

#include "automatelinux/sdk/stream.hpp"

namespace automatelinux::core {

inline constexpr int kExitFailure = 255;  // `d` itself failed; never a command's own status

inline int exit_status(const sdk::Result& result) {
  using Kind = sdk::Result::Kind;
  switch (result.kind) {
    case Kind::exited:
      return (result.code >= 0 && result.code < kExitFailure) ? result.code : kExitFailure;
    case Kind::signaled:
      return 128 + result.code;
    case Kind::timeout:
      return 124;
    case Kind::cancelled:
      return 130;
    case Kind::error:
      break;
  }
  return kExitFailure;
}

}  // namespace automatelinux::core
