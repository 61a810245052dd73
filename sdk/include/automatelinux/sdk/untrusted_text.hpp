// One escaping rule for every string that did not originate on this host (what peers and local
// clients send: ids, names, reasons, versions, arguments, command lines) before it reaches a log
// line, an audit line or a terminal: nothing outside can forge a line, hide text or move the
// cursor. Header-only, so core and every plugin (out-of-tree ones included) apply the same rule
// without a call across the plugin boundary.
//
// For metadata only: a command's output is the user's data and is passed on byte for byte.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace automatelinux::sdk {

// Longest untrusted string a log line shows; the rest is summarised as "…(+N bytes)".
inline constexpr std::size_t kMaxLoggedText = 256;

namespace detail {

// Length of the valid, printable-class UTF-8 sequence starting at `s[i]` (1–4), or 0 when it is
// not one: invalid, overlong, a surrogate, beyond U+10FFFF, or a C1 control (U+0080–U+009F;
// U+009B is a CSI on some terminals).
inline std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  std::size_t n = 0;
  unsigned min = 0;
  unsigned cp = 0;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) {
    n = 2, min = 0x80, cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3, min = 0x800, cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4, min = 0x10000, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  if (cp >= 0x80 && cp <= 0x9f) return 0;
  return n;
}

}  // namespace detail

// Control characters (C0, DEL, C1), backslash and bytes that are not valid UTF-8 become \xNN;
// valid printable UTF-8 passes unchanged. At most `max` input bytes are shown; a character cut
// by the cap is escaped, never split into invalid output.
inline std::string escape_untrusted(std::string_view text, std::size_t max = kMaxLoggedText) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::size_t shown = text.size() < max ? text.size() : max;
  std::string out;
  out.reserve(shown + 16);
  std::size_t i = 0;
  while (i < shown) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t n = detail::utf8_length(text, i);
    if (n == 1 && c >= 0x20 && c != 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else if (n > 1 && i + n <= shown) {
      out.append(text.substr(i, n));
      i += n;
      continue;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
    ++i;
  }
  if (text.size() > shown) out += "…(+" + std::to_string(text.size() - shown) + " bytes)";
  return out;
}

}  // namespace automatelinux::sdk
