// How a Result becomes the exit status `d` returns: one rule for core and for plugins that
// combine several results (fan-out reports the largest status among its peers).
#pragma once

#include "automatelinux/sdk/stream.hpp"

namespace automatelinux::sdk {

inline constexpr int kExitFailure = 255;  // `d` itself failed; never a command's own status

// The wire and audit name of a result kind.
inline const char* result_kind_name(Result::Kind kind) {
  switch (kind) {
    case Result::Kind::exited:
      return "exited";
    case Result::Kind::signaled:
      return "signaled";
    case Result::Kind::timeout:
      return "timeout";
    case Result::Kind::cancelled:
      return "cancelled";
    case Result::Kind::error:
      return "error";
  }
  return "error";
}

inline int exit_status(const Result& result) {
  switch (result.kind) {
    case Result::Kind::exited:
      return (result.code >= 0 && result.code < kExitFailure) ? result.code : kExitFailure;
    case Result::Kind::signaled:
      return 128 + result.code;
    case Result::Kind::timeout:
      return 124;
    case Result::Kind::cancelled:
      return 130;
    case Result::Kind::error:
      break;
  }
  return kExitFailure;
}

}  // namespace automatelinux::sdk
