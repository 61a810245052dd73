// One escaping rule for every string that did not originate in this daemon (peer- or
// client-supplied types, ids, reasons, versions, arguments) before it reaches a log line, an
// audit line or a terminal: nothing outside can forge a line, hide text or move the cursor.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace automatelinux::core {

// Longest untrusted string a log line shows; the rest is summarised as "…(+N bytes)".
inline constexpr std::size_t kMaxLoggedText = 256;

// Control characters (C0, DEL, C1), backslash and bytes that are not valid UTF-8 become \xNN;
// valid printable UTF-8 passes unchanged. At most `max` input bytes are shown.
std::string escape_untrusted(std::string_view text, std::size_t max = kMaxLoggedText);

}  // namespace automatelinux::core
