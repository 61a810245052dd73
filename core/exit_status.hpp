// The single place where a request's Result becomes the exit status `d` returns.
#pragma once

#include "automatelinux/sdk/stream.hpp"

namespace automatelinux::core {

inline constexpr int kExitFailure = 255;  // `d` itself failed; never a command's own status

// The wire and audit name of a result kind.
inline const char* result_kind_name(sdk::Result::Kind kind) {
  switch (kind) {
    case sdk::Result::Kind::exited:
      return "exited";
    case sdk::Result::Kind::signaled:
      return "signaled";
    case sdk::Result::Kind::timeout:
      return "timeout";
    case sdk::Result::Kind::cancelled:
      return "cancelled";
    case sdk::Result::Kind::error:
      return "error";
  }
  return "error";
}

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
