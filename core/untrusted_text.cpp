#include "core/untrusted_text.hpp"

#include <fmt/format.h>

namespace automatelinux::core {
namespace {

// Length of the valid UTF-8 sequence starting at `s[i]` (1–4), or 0 when it is not one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  std::size_t n = 0;
  unsigned min = 0;
  unsigned cp = 0;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0)
    n = 2, min = 0x80, cp = c & 0x1f;
  else if ((c & 0xf0) == 0xe0)
    n = 3, min = 0x800, cp = c & 0x0f;
  else if ((c & 0xf8) == 0xf0)
    n = 4, min = 0x10000, cp = c & 0x07;
  else
    return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;  // overlong, surrogate
  if (cp >= 0x80 && cp <= 0x9f) return 0;  // C1 controls (0x9b is a CSI on some terminals)
  return n;
}

}  // namespace

std::string escape_untrusted(std::string_view text, std::size_t max) {
  const std::size_t shown = std::min(text.size(), max);
  std::string out;
  out.reserve(shown + 16);
  std::size_t i = 0;
  while (i < shown) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t n = utf8_length(text, i);
    if (n == 1 && c >= 0x20 && c != 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else if (n > 1 && i + n <= shown) {
      out.append(text.substr(i, n));
      i += n;
      continue;
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
    ++i;
  }
  if (text.size() > shown) out += fmt::format("…(+{} bytes)", text.size() - shown);
  return out;
}

}  // namespace automatelinux::core
