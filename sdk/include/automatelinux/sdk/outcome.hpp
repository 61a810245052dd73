// How an operation that completes later went: success, or failure with a one-line reason. A
// named type rather than "an empty string means success", so a caller cannot mistake one for
// the other.
#pragma once

#include <string>
#include <utility>

namespace automatelinux::sdk {

class Outcome {
 public:
  static Outcome success() { return Outcome(); }
  // `reason` is one line for the user ("bad token: …"); an empty one still means failure.
  static Outcome failure(std::string reason) {
    Outcome o;
    o.failed_ = true;
    o.reason_ = reason.empty() ? std::string("failed") : std::move(reason);
    return o;
  }

  bool ok() const { return !failed_; }
  // Empty when ok().
  const std::string& reason() const { return reason_; }

 private:
  Outcome() = default;
  bool failed_ = false;
  std::string reason_;
};

}  // namespace automatelinux::sdk
