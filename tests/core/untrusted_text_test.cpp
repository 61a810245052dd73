#include "core/untrusted_text.hpp"

#include <gtest/gtest.h>

using automatelinux::core::escape_untrusted;

TEST(UntrustedText, PlainTextPassesUnchanged) {
  EXPECT_EQ(escape_untrusted("exec vps git pull"), "exec vps git pull");
  EXPECT_EQ(escape_untrusted("héllo — ✓"), "héllo — ✓");
}

TEST(UntrustedText, LineBreaksAndControlsCannotForgeLines) {
  EXPECT_EQ(escape_untrusted("x\n2026 info audit decision=ran"),
            "x\\x0a2026 info audit decision=ran");
  EXPECT_EQ(escape_untrusted("a\rb\tc\x7f"), "a\\x0db\\x09c\\x7f");
  EXPECT_EQ(escape_untrusted("\x1b[2J"), "\\x1b[2J");
  EXPECT_EQ(escape_untrusted("back\\slash"), "back\\x5cslash");
}

TEST(UntrustedText, InvalidUtf8AndC1ControlsAreEscaped) {
  EXPECT_EQ(escape_untrusted("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(escape_untrusted("\xc2\x9b"
                             "31m"),
            "\\xc2\\x9b31m");                                      // C1 CSI
  EXPECT_EQ(escape_untrusted("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(escape_untrusted("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // surrogate
  EXPECT_EQ(escape_untrusted("\xe2\x9c"), "\\xe2\\x9c");           // truncated
}

TEST(UntrustedText, LongTextIsCapped) {
  const std::string big(1024 * 1024, 'a');
  const std::string out = escape_untrusted(big, 10);
  EXPECT_EQ(out, "aaaaaaaaaa…(+1048566 bytes)");
  // A multi-byte character cut by the cap is escaped, never split into invalid output.
  EXPECT_EQ(escape_untrusted("ab✓", 3), "ab\\xe2…(+2 bytes)");
}
