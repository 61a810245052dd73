// Terminal requests (execOnPeer --tty): what travels on a stream's control channel. Core turns
// these payloads into the wire's control frames and back (docs/protocol.md: `tty`, `winsize`), so
// a plugin never spells a message type:
//   - a served stream writes terminal_mode(...) on Channel::control to switch the requesting `d`
//     into terminal mode (only towards a local `d`; a peer requester refuses it);
//   - a served stream reads Channel::control to get the requester's window sizes (the first one
//     from `d` also names the terminal type);
//   - a requested stream writes window_size(...) on Channel::control to pass a new size on.
// Control payloads are small JSON objects; they use no credit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace automatelinux::sdk {

struct TerminalSize {
  int rows = 0;      // 0: unknown (the executing side then uses 24)
  int cols = 0;      // 0: unknown (80)
  std::string term;  // TERM; empty when not given
};

// A terminal type worth passing on: short, and only letters, digits and ".+-_".
inline bool valid_term(std::string_view term) {
  if (term.empty() || term.size() > 64) return false;
  for (char c : term)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '+' || c == '-' || c == '_'))
      return false;
  return true;
}

inline constexpr int kMaxTerminalDimension = 65535;

// The control payload that switches `d` into terminal mode; `escape` is the escape character's
// byte (as ssh's `-e`), or nothing for none.
inline std::string terminal_mode(std::optional<unsigned char> escape) {
  nlohmann::json j = {{"terminal", true}};
  if (escape) j["escape"] = *escape;
  return j.dump();
}

inline std::string window_size(const TerminalSize& size) {
  nlohmann::json j = {{"rows", size.rows}, {"cols", size.cols}};
  if (!size.term.empty()) j["term"] = size.term;
  return j.dump();
}

// A window size from a control payload; nothing when it is not one (or out of range).
inline std::optional<TerminalSize> parse_window_size(std::string_view payload) {
  const auto j = nlohmann::json::parse(payload, nullptr, false);
  if (!j.is_object() || !j.contains("rows") || !j.contains("cols")) return std::nullopt;
  const auto& rows = j["rows"];
  const auto& cols = j["cols"];
  if (!rows.is_number_integer() || !cols.is_number_integer()) return std::nullopt;
  TerminalSize size{rows.get<int>(), cols.get<int>(), {}};
  if (size.rows < 0 || size.cols < 0 || size.rows > kMaxTerminalDimension ||
      size.cols > kMaxTerminalDimension)
    return std::nullopt;
  if (auto t = j.find("term"); t != j.end() && t->is_string() && valid_term(t->get<std::string>()))
    size.term = t->get<std::string>();
  return size;
}

// The escape character of a terminal_mode payload: nothing if it is not one, or has none.
inline std::optional<std::optional<unsigned char>> parse_terminal_mode(std::string_view payload) {
  const auto j = nlohmann::json::parse(payload, nullptr, false);
  if (!j.is_object() || !j.value("terminal", false)) return std::nullopt;
  std::optional<unsigned char> escape;
  if (auto e = j.find("escape");
      e != j.end() && e->is_number_unsigned() && e->get<unsigned>() < 256)
    escape = static_cast<unsigned char>(e->get<unsigned>());
  return escape;
}

}  // namespace automatelinux::sdk
