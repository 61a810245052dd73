#include "plugins/peer_exec/line_splitter.hpp"

#include <gtest/gtest.h>

using automatelinux::peer_exec::LineSplitter;

TEST(LineSplitter, EmitsOnlyWholeLinesWithTheirPrefix) {
  LineSplitter lines("vps: ");
  EXPECT_EQ(lines.feed("Already up"), "");
  EXPECT_TRUE(lines.has_partial());
  EXPECT_EQ(lines.feed(" to date.\nnext"), "vps: Already up to date.\n");
  EXPECT_EQ(lines.feed("\n\n"), "vps: next\nvps: \n");
  EXPECT_FALSE(lines.has_partial());
}

TEST(LineSplitter, AFinalLineWithoutNewlineGetsOne) {
  LineSplitter lines("a: ");
  lines.feed("x\ny");
  EXPECT_EQ(lines.flush(), "a: y\n");
  EXPECT_EQ(lines.flush(), "");
}

TEST(LineSplitter, OverlongLinesAreCutAndContinueUnderThePrefix) {
  LineSplitter lines("p: ");
  const std::string big(LineSplitter::kMaxLine + 10, 'x');
  const std::string out = lines.feed(big + "\n");
  EXPECT_EQ(out, "p: " + std::string(LineSplitter::kMaxLine, 'x') + "\np: " + std::string(10, 'x') +
                     "\n");
}

TEST(LineSplitter, BytesPassUnchanged) {
  LineSplitter lines("p: ");
  EXPECT_EQ(lines.feed(std::string("\xff\0\x1b", 3) + "\n"), std::string("p: \xff\0\x1b\n", 7));
}
