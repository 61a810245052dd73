// Cuts one output channel into whole lines for prefixed fan-out output. A line is emitted when
// its newline arrives; a line longer than kMaxLine is cut there (and continues as a new line);
// whatever is left at the end, or after a pause, is emitted with a newline added.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace automatelinux::peer_exec {

class LineSplitter {
 public:
  static constexpr std::size_t kMaxLine = 64 * 1024;

  explicit LineSplitter(std::string prefix) : prefix_(std::move(prefix)) {}

  // Appends `data`; returns every line it completed, each with the prefix and a newline.
  std::string feed(std::string_view data);
  // The incomplete rest as one prefixed line with a newline added (empty if there is none).
  std::string flush();
  bool has_partial() const { return !partial_.empty(); }

 private:
  std::string prefix_;
  std::string partial_;
};

}  // namespace automatelinux::peer_exec
