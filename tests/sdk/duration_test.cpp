#include "automatelinux/sdk/duration.hpp"

#include <gtest/gtest.h>

using automatelinux::sdk::parse_duration;
using std::chrono::milliseconds;

TEST(Duration, AcceptsTheContractForms) {
  EXPECT_EQ(parse_duration("1.5"), milliseconds(1500));
  EXPECT_EQ(parse_duration("30s"), milliseconds(30000));
  EXPECT_EQ(parse_duration("10m"), milliseconds(600000));
  EXPECT_EQ(parse_duration("24h"), milliseconds(86400000));
  EXPECT_EQ(parse_duration("7"), milliseconds(7000));
  EXPECT_EQ(parse_duration("0.25s"), milliseconds(250));
}

TEST(Duration, RejectsEverythingElse) {
  for (const char* bad : {"", "s", "abc", "1..2", "-1", "1x", "1 s", ".", "1e5", "1.2.3m"})
    EXPECT_FALSE(parse_duration(bad)) << bad;
}

TEST(Duration, HasADocumentedMaximum) {
  EXPECT_EQ(parse_duration("365d"), automatelinux::sdk::kMaxDuration);
  EXPECT_EQ(parse_duration("8760h"), automatelinux::sdk::kMaxDuration);
  for (const char* big : {"366d", "8761h", "3000000h", "99999999999999999999", "1e400"})
    EXPECT_FALSE(parse_duration(big)) << big;
}
