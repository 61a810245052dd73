#include "plugins/audit_log/record_text.hpp"

#include <gtest/gtest.h>

namespace automatelinux::audit_log {
namespace {

TEST(RecordLine, ShowsWhatRanWhereWhoAskedAndHowItEnded) {
  const auto line = record_line({{"time", "2026-11-27T14:40:01.123Z"},
                                 {"host", "vps"},
                                 {"event", "request"},
                                 {"request", "a1b2c3d4e5f6"},
                                 {"requester", "laptop"},
                                 {"command", "exec git pull"},
                                 {"directory", "/opt/x"},
                                 {"decision", "ran"},
                                 {"exit", 0},
                                 {"duration_ms", 12.5}});
  EXPECT_EQ(line,
            "2026-11-27T14:40:01.123Z vps ran exit=0 12.5ms req=a1b2c3d4e5f6 by laptop in "
            "/opt/x: exec git pull");
}

TEST(RecordLine, NamesALocalCallerByUidAndADenialWithItsReason) {
  const auto line = record_line({{"time", "2026-11-27T14:40:01.123Z"},
                                 {"host", "laptop"},
                                 {"requester", "local"},
                                 {"uid", 1000},
                                 {"decision", "denied"},
                                 {"exit", 255},
                                 {"command", "exec rm"},
                                 {"reason", "Denied on laptop: no"}});
  EXPECT_NE(line.find("laptop denied exit=255"), std::string::npos);
  EXPECT_NE(line.find("by uid 1000"), std::string::npos);
  EXPECT_NE(line.find("(Denied on laptop: no)"), std::string::npos);
}

TEST(RecordLine, ASummaryShowsHowManyRequestsItStandsFor) {
  const auto line = record_line({{"time", "t"},
                                 {"host", "laptop"},
                                 {"event", "summary"},
                                 {"requester", "vps"},
                                 {"decision", "denied"},
                                 {"count", 24987},
                                 {"window_s", 10},
                                 {"reason", "Denied on laptop: no"}});
  EXPECT_EQ(line, "t laptop 24987 more requests denied in 10 s by vps (Denied on laptop: no)");
}

TEST(RecordLine, DescribesTheEndOfAJob) {
  const auto line = record_line({{"time", "t"},
                                 {"host", "vps"},
                                 {"event", "job_end"},
                                 {"job", 7},
                                 {"result", "killed"},
                                 {"signal", 15},
                                 {"requester", "laptop"},
                                 {"command", "sleep 100"}});
  EXPECT_NE(line.find("vps job 7 ended killed signal=15"), std::string::npos);
}

TEST(RecordLine, EscapesControlCharactersSoOneRecordIsOneLine) {
  const auto line = record_line({{"time", "t"},
                                 {"host", "vps\n2026 forged"},
                                 {"command", "a\nb\x1b[2J"},
                                 {"requester", "x"}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\x1b'), std::string::npos);
  EXPECT_NE(line.find("a\\x0ab\\x1b[2J"), std::string::npos);
}

TEST(RecordLine, EscapesC1ControlsAndInvalidUtf8InEveryField) {
  // U+009B (CSI, "\xc2\x9b" in UTF-8) starts an escape sequence on some terminals.
  const auto line = record_line({{"time", "t"},
                                 {"host", "vps"},
                                 {"request", "r\xc2\x9b"},
                                 {"requester", "lap\xc2\x9btop"},
                                 {"directory", "/tmp/\xff"},
                                 {"command",
                                  "echo \xc2\x9b"
                                  "31m"},
                                 {"reason", "no \xc2\x85"}});
  EXPECT_EQ(line.find("\xc2\x9b"), std::string::npos);
  EXPECT_EQ(line.find("\xc2\x85"), std::string::npos);
  EXPECT_NE(line.find("req=r\\xc2\\x9b"), std::string::npos);
  EXPECT_NE(line.find("by lap\\xc2\\x9btop"), std::string::npos);
  EXPECT_NE(line.find("in /tmp/\\xff"), std::string::npos);
  EXPECT_NE(line.find(": echo \\xc2\\x9b31m"), std::string::npos);
  EXPECT_NE(line.find("(no \\xc2\\x85)"), std::string::npos);
  // Printable UTF-8 stays as it is.
  EXPECT_NE(record_line({{"command", "echo h\xc3\xa9"}}).find("echo h\xc3\xa9"), std::string::npos);
}

TEST(RecordLine, ShowsCoresEscapedCommandLinesAsTheyAreAndKeepsBackslashes) {
  // Core writes a command line with \xNN escapes already: shown once, not escaped again.
  const auto line = record_line({{"time", "t"},
                                 {"host", "vps"},
                                 {"requester", "laptop"},
                                 {"command", "exec /tmp 'printf \\x27a\\x5cn\\x27 # \\xc2\\x9b'"}});
  EXPECT_NE(line.find(": exec /tmp 'printf \\x27a\\x5cn\\x27 # \\xc2\\x9b'"), std::string::npos);
  EXPECT_NE(record_line({{"command", "a\\\\b\\x5c\x1b"}}).find(": a\\\\b\\x5c\\x1b"),
            std::string::npos);
}

TEST(TerminalSafeJson, C1AndDelBecomeUnicodeEscapesAndTheRecordStaysTheSame) {
  const std::string record =
      "{\"time\":\"t\",\"command\":\"a\xc2\x9b"
      "b\x7f h\xc3\xa9\"}";
  const std::string safe = terminal_safe_json(record);
  EXPECT_EQ(safe, "{\"time\":\"t\",\"command\":\"a\\u009bb\\u007f h\xc3\xa9\"}");
  EXPECT_EQ(nlohmann::json::parse(safe), nlohmann::json::parse(record));
  EXPECT_EQ(terminal_safe_json("{\"a\":\"plain \xe2\x9c\x93\"}"), "{\"a\":\"plain \xe2\x9c\x93\"}");
}

}  // namespace
}  // namespace automatelinux::audit_log
