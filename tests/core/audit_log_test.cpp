#include "core/audit_log.hpp"

#include "core/config.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

namespace automatelinux {
namespace {
namespace fs = std::filesystem;

class AuditLogTest : public ::testing::Test {
 protected:
  AuditLogTest() {
    char templ[] = "/tmp/al-audit-XXXXXX";
    dir_ = ::mkdtemp(templ);
  }
  ~AuditLogTest() override { fs::remove_all(dir_); }

  std::unique_ptr<core::AuditLog> open(core::AuditLimits limits = {}) {
    auto log = std::make_unique<core::AuditLog>(io_, dir_ / "audit.jsonl", limits, logger_);
    log->identify_with([] { return std::string("vps"); });
    return log;
  }
  std::string file_text() const {
    std::ifstream in(dir_ / "audit.jsonl");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  asio::io_context io_;
  fs::path dir_;
  std::shared_ptr<spdlog::logger> logger_ =
      std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
};

TEST_F(AuditLogTest, WritesOneLinePerRecordWithTimeFirstAndTheHost) {
  auto log = open();
  log->record({{"event", "request"}, {"command", "exec 'a\nb'"}});
  log->record({{"event", "job_end"}, {"job", 7}});
  const auto records = log->read({});
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].rfind("{\"time\":\"", 0), 0u);
  const auto first = nlohmann::json::parse(records[0]);
  EXPECT_EQ(first["host"], "vps");
  EXPECT_EQ(first["command"], "exec 'a\nb'");  // a newline stays inside the one record
  EXPECT_EQ(nlohmann::json::parse(records[1])["job"], 7);
  EXPECT_TRUE(sdk::parse_audit_time(sdk::audit_record_time(records[1])).has_value());
  // Two records, two lines: the newline in the command is escaped in the file.
  const auto text = file_text();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
}

TEST_F(AuditLogTest, RecordsCannotOverrideTimeOrHost) {
  auto log = open();
  log->record({{"time", "2000-01-01T00:00:00.000Z"}, {"host", "forged"}, {"event", "x"}});
  const auto record = nlohmann::json::parse(log->read({}).at(0));
  EXPECT_EQ(record["host"], "vps");
  EXPECT_NE(record["time"], "2000-01-01T00:00:00.000Z");
}

TEST_F(AuditLogTest, SkipsALineTornByACrashAndKeepsItApartFromTheNextRecord) {
  {
    auto log = open();
    log->record({{"event", "before"}});
  }
  std::ofstream(dir_ / "audit.jsonl", std::ios::app)
      << "{\"time\":\"2026-11-27T10:00:00.000Z\",\"ev";
  auto log = open();
  log->record({{"event", "after"}});
  const auto records = log->read({});
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(records[0])["event"], "before");
  EXPECT_EQ(nlohmann::json::parse(records[1])["event"], "after");
}

TEST_F(AuditLogTest, RotatesBySizeKeepingTheConfiguredNumberOfFiles) {
  // keep_for 0: no file is young enough to outlive `keep`.
  auto log = open({.max_bytes = 64 * 1024, .keep = 2, .keep_for = std::chrono::seconds(0)});
  const std::string filler(1000, 'x');
  for (int i = 0; i < 300; ++i) log->record({{"event", "request"}, {"n", i}, {"command", filler}});
  EXPECT_TRUE(fs::exists(dir_ / "audit.jsonl.1"));
  EXPECT_TRUE(fs::exists(dir_ / "audit.jsonl.2"));
  EXPECT_FALSE(fs::exists(dir_ / "audit.jsonl.3"));
  for (const auto* name : {"audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"})
    EXPECT_LE(fs::file_size(dir_ / name), 64u * 1024);
  // Reading spans the files, oldest first, and ends with the newest record.
  const auto records = log->read({});
  ASSERT_GT(records.size(), 100u);
  EXPECT_LT(records.size(), 300u);
  EXPECT_EQ(nlohmann::json::parse(records.back())["n"], 299);
  int previous = -1;
  for (const auto& r : records) {
    const int n = nlohmann::json::parse(r)["n"];
    EXPECT_EQ(n, previous < 0 ? n : previous + 1);
    previous = n;
  }
}

// Finding 2 of issue #25: a flood of records must not rotate away a recent history. Rotated
// files younger than audit.keep_days (30 by default) stay beyond audit.keep.
TEST_F(AuditLogTest, RotationKeepsFilesYoungerThanKeepDaysBeyondKeep) {
  auto log = open({.max_bytes = 64 * 1024, .keep = 1});
  const std::string filler(1000, 'x');
  for (int i = 0; i < 300; ++i) log->record({{"event", "request"}, {"n", i}, {"command", filler}});
  EXPECT_TRUE(fs::exists(dir_ / "audit.jsonl.2"));
  EXPECT_TRUE(fs::exists(dir_ / "audit.jsonl.4"));
  const auto records = log->read({});
  ASSERT_EQ(records.size(), 300u);  // nothing was lost, and reading spans every file
  EXPECT_EQ(nlohmann::json::parse(records.front())["n"], 0);
  EXPECT_EQ(nlohmann::json::parse(records.back())["n"], 299);
}

TEST_F(AuditLogTest, RotationRemovesFilesPastKeepAndKeepDays) {
  auto log = open({.max_bytes = 64 * 1024, .keep = 1});
  const std::string filler(1000, 'x');
  int n = 0;
  while (!fs::exists(dir_ / "audit.jsonl.3"))
    log->record({{"event", "request"}, {"n", n++}, {"command", filler}});
  // The two oldest were last written 40 days ago.
  const auto old = fs::file_time_type::clock::now() - std::chrono::days(40);
  fs::last_write_time(dir_ / "audit.jsonl.2", old);
  fs::last_write_time(dir_ / "audit.jsonl.3", old);
  // Up to the next rotation (the file shrinks).
  for (auto size = fs::file_size(dir_ / "audit.jsonl");;) {
    log->record({{"event", "request"}, {"n", n++}, {"command", filler}});
    const auto now = fs::file_size(dir_ / "audit.jsonl");
    if (now < size) break;
    size = now;
  }
  // After the next rotation: .1 (young), .2 (young, the former .1); the old ones went.
  EXPECT_TRUE(fs::exists(dir_ / "audit.jsonl.1"));
  EXPECT_TRUE(fs::exists(dir_ / "audit.jsonl.2"));
  EXPECT_FALSE(fs::exists(dir_ / "audit.jsonl.3"));
  EXPECT_FALSE(fs::exists(dir_ / "audit.jsonl.4"));
}

TEST_F(AuditLogTest, RotationRemovesTheOldestHoweverYoungOnceTheTotalPassesMaxTotalBytes) {
  auto log = open({.max_bytes = 64 * 1024, .keep = 100, .max_total_bytes = 256 * 1024});
  const std::string filler(1000, 'x');
  for (int i = 0; i < 1000; ++i) {
    log->record({{"event", "request"}, {"n", i}, {"command", filler}});
    std::uint64_t total = 0;
    for (const auto& entry : fs::directory_iterator(dir_)) total += entry.file_size();
    ASSERT_LE(total, 256u * 1024) << "after record " << i;
  }
  EXPECT_TRUE(fs::exists(dir_ / "audit.jsonl.3"));
  EXPECT_FALSE(fs::exists(dir_ / "audit.jsonl.4"));
  EXPECT_EQ(nlohmann::json::parse(log->read({}).back())["n"], 999);
}

TEST_F(AuditLogTest, TheFileIs0640EvenWhenAnOlderDaemonMadeIt0644) {
  std::ofstream(dir_ / "audit.jsonl") << "";
  fs::permissions(dir_ / "audit.jsonl", fs::perms(0644));
  auto log = open();
  log->record({{"event", "request"}});
  EXPECT_EQ(fs::status(dir_ / "audit.jsonl").permissions(), fs::perms(0640));
}

// The rule alone: which rotated files (newest first) a rotation keeps.
TEST(AuditRetention, KeepsTheNewestKeepThenTheYoungThenStopsAtTheBudget) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const core::AuditFile young{100, now - days(1)}, old{100, now - days(40)};
  core::AuditLimits limits{
      .max_bytes = 100, .keep = 2, .keep_for = days(30), .max_total_bytes = 10000};
  // Past `keep`, the young stay and the old go.
  EXPECT_EQ(core::audit_files_kept({young, young, young, young, old, old}, limits, now, 100), 4u);
  // Within `keep`, old ones stay.
  EXPECT_EQ(core::audit_files_kept({old, old, old}, limits, now, 100), 2u);
  // The budget (the current file counted full) removes the oldest however young.
  limits.max_total_bytes = 350;
  EXPECT_EQ(core::audit_files_kept({young, young, young, young}, limits, now, 100), 2u);
  limits.max_total_bytes = 50;
  EXPECT_EQ(core::audit_files_kept({young}, limits, now, 100), 0u);
}

TEST_F(AuditLogTest, ReadsByTimeAndKeepsTheNewestWhenLimited) {
  auto log = open();
  for (int i = 0; i < 5; ++i) log->record({{"n", i}});
  const auto all = log->read({});
  ASSERT_EQ(all.size(), 5u);
  const auto third = *sdk::parse_audit_time(sdk::audit_record_time(all[2]));
  const auto limited = log->read({.since = {}, .until = {}, .limit = 2});
  ASSERT_EQ(limited.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(limited[1])["n"], 4);
  const auto since = log->read({.since = third, .until = {}, .limit = 0});
  for (const auto& r : since) EXPECT_GE(sdk::audit_record_time(r), sdk::audit_record_time(all[2]));
  EXPECT_GE(since.size(), 3u);
  const auto until = log->read({.since = {}, .until = third, .limit = 0});
  for (const auto& r : until) EXPECT_LT(sdk::audit_record_time(r), sdk::audit_record_time(all[2]));
  EXPECT_EQ(since.size() + until.size(), 5u);
  const auto future = log->read(
      {.since = std::chrono::system_clock::now() + std::chrono::hours(1), .until = {}, .limit = 0});
  EXPECT_TRUE(future.empty());
}

TEST_F(AuditLogTest, FollowersHearOfNewRecordsUntilTheyLetGo) {
  auto log = open();
  std::vector<std::string> heard;
  auto handle = log->subscribe([&](const std::string& record) { heard.push_back(record); });
  log->record({{"n", 1}});
  EXPECT_TRUE(heard.empty());  // not inline: the writer is in the middle of finishing a request
  io_.run();
  io_.restart();
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(heard[0])["n"], 1);
  handle.reset();
  log->record({{"n", 2}});
  io_.run();
  EXPECT_EQ(heard.size(), 1u);
}

TEST(AuditTime, FormatsAndParsesUtcWithMilliseconds) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1795790401123));
  const auto text = sdk::format_audit_time(t);
  EXPECT_EQ(text.size(), 24u);
  EXPECT_EQ(text.back(), 'Z');
  EXPECT_EQ(sdk::parse_audit_time(text), t);
  EXPECT_FALSE(sdk::parse_audit_time("2026-11-27 14:00:00").has_value());
  EXPECT_FALSE(sdk::parse_audit_time("").has_value());
}

// The limits as the config file sets them (checked by core's key declarations).
core::AuditLimits audit_limits_from(const nlohmann::json& section) {
  core::DaemonConfig config;
  core::apply_config_json(
      config, section.is_null() ? nlohmann::json::object() : nlohmann::json{{"audit", section}},
      "test.json");
  return config.audit_limits;
}

TEST(AuditLimits, RefusesWrongTypesAndValuesNamingTheKey) {
  EXPECT_EQ(audit_limits_from(nullptr).keep, 4u);
  const auto limits = audit_limits_from({{"max_bytes", 1 << 20}, {"keep", 2}});
  EXPECT_EQ(limits.max_bytes, 1u << 20);
  EXPECT_EQ(limits.keep, 2u);
  EXPECT_EQ(audit_limits_from(nullptr).keep_for, std::chrono::days(30));
  EXPECT_EQ(audit_limits_from(nullptr).max_total_bytes, 1ULL << 30);
  const auto retention = audit_limits_from({{"keep_days", 7}, {"max_total_bytes", 1 << 24}});
  EXPECT_EQ(retention.keep_for, std::chrono::days(7));
  EXPECT_EQ(retention.max_total_bytes, 1u << 24);
  for (const auto& bad : {nlohmann::json{{"max_bytes", "1M"}}, nlohmann::json{{"max_bytes", 10}},
                          nlohmann::json{{"keep", -1}}, nlohmann::json{{"keep", 5000}},
                          nlohmann::json{{"keep_days", -1}}, nlohmann::json{{"keep_days", "30d"}},
                          nlohmann::json{{"max_total_bytes", 1000}}}) {
    try {
      audit_limits_from(bad);
      ADD_FAILURE() << bad.dump();
    } catch (const core::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("audit." + bad.begin().key()), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace automatelinux
