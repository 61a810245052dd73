// The SDK's escaper (header-only, used by core and by the plugins); core/untrusted_text.hpp only
// names it, so these tests keep both.
#include <automatelinux/sdk/untrusted_text.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/untrusted_text.hpp"

using automatelinux::sdk::escape_untrusted;

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

TEST(UntrustedText, EveryC1ControlIsEscapedAndTheCharactersAroundThemAreNot) {
  for (unsigned c = 0x80; c <= 0x9f; ++c) {
    const std::string text{'\xc2', static_cast<char>(c)};
    EXPECT_EQ(escape_untrusted(text), fmt::format("\\xc2\\x{:02x}", c)) << c;
  }
  EXPECT_EQ(escape_untrusted("\xc2\xa0"), "\xc2\xa0");  // U+00A0, the first after C1
  EXPECT_EQ(escape_untrusted("\x9b"), "\\x9b");         // a bare C1 byte is not UTF-8 either
  EXPECT_EQ(escape_untrusted("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // beyond U+10FFFF
  EXPECT_EQ(escape_untrusted("\xf0\x9f\x99\x82"), "\xf0\x9f\x99\x82");      // U+1F642 stays
}

TEST(UntrustedText, CoreUsesTheSdkFunction) {
  EXPECT_EQ(automatelinux::core::escape_untrusted("a\xc2\x9b"), escape_untrusted("a\xc2\x9b"));
  EXPECT_EQ(automatelinux::core::kMaxLoggedText, automatelinux::sdk::kMaxLoggedText);
}
