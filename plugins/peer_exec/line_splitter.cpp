#include "line_splitter.hpp"

namespace automatelinux::peer_exec {

std::string LineSplitter::feed(std::string_view data) {
  std::string out;
  while (!data.empty()) {
    const auto newline = data.find('\n');
    const std::size_t room = kMaxLine - partial_.size();
    if (newline != std::string_view::npos && newline < room) {
      out += prefix_;
      out += partial_;
      out.append(data.substr(0, newline + 1));
      partial_.clear();
      data.remove_prefix(newline + 1);
    } else if (data.size() >= room) {
      // Too long for one line: cut it here and go on under a fresh prefix.
      partial_.append(data.substr(0, room));
      out += flush();
      data.remove_prefix(room);
    } else {
      partial_.append(data);
      break;
    }
  }
  return out;
}

std::string LineSplitter::flush() {
  if (partial_.empty()) return {};
  std::string out = prefix_ + partial_ + "\n";
  partial_.clear();
  return out;
}

}  // namespace automatelinux::peer_exec
