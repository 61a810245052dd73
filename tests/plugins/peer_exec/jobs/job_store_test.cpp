// The daemon's view of jobs on disk: numbers never reused, names, and the rules that tell a
// running job from a finished or a lost one, and what retention removes.
#include "plugins/peer_exec/jobs/job_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include "plugins/peer_exec/jobs/job_files.hpp"

using namespace automatelinux::peer_exec::jobs;
namespace fs = std::filesystem;

namespace {

struct StoreTest : ::testing::Test {
  fs::path root = fs::temp_directory_path() / ("job_store_test." + std::to_string(::getpid()));
  std::shared_ptr<spdlog::logger> log =
      std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  void TearDown() override { fs::remove_all(root); }

  std::string boot_id() {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string id;
    std::getline(in, id);
    return id;
  }
  // A job as job.start leaves it: spec.json written, supervisor confirmed.
  std::uint64_t make_job(JobStore& store, const std::string& name) {
    const auto n = store.create();
    nlohmann::json spec = {{"name", name.empty() ? nlohmann::json() : nlohmann::json(name)},
                           {"boot_id", boot_id()},
                           {"started", "2026-11-27T10:00:00Z"},
                           {"command", "true"},
                           {"directory", "/"}};
    files::write_atomically(store.dir(n), files::kSpec, spec.dump());
    store.started(n);
    return n;
  }
  void finish_job(JobStore& store, std::uint64_t n, int code) {
    files::write_atomically(store.dir(n), files::kStatus,
                            nlohmann::json{{"state", "exited"},
                                           {"exit_code", code},
                                           {"signal", nullptr},
                                           {"ended", "2026-11-27T10:00:01Z"}}
                                .dump());
  }
  // `count` finished jobs of 100 000 bytes of output each, ended an hour apart, oldest first
  // (status.json's time orders them).
  std::vector<std::uint64_t> finished_jobs(JobStore& store, int count) {
    std::vector<std::uint64_t> jobs;
    for (int i = 0; i < count; ++i) {
      const auto n = make_job(store, "");
      std::ofstream(store.dir(n) + "/stdout.0") << std::string(100000, 'x');
      finish_job(store, n, 0);
      const auto when = fs::file_time_type::clock::now() - std::chrono::hours(count - i);
      fs::last_write_time(store.dir(n) + "/" + files::kStatus, when);
      jobs.push_back(n);
    }
    return jobs;
  }
};

// Holds a job's lock as its supervisor would.
struct FakeSupervisor {
  int fd;
  explicit FakeSupervisor(const std::string& dir)
      : fd(::open((dir + "/" + files::kLock).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    ::flock(fd, LOCK_EX);
  }
  ~FakeSupervisor() { ::close(fd); }
};

}  // namespace

TEST_F(StoreTest, NumbersOnlyGoUpEvenWhenJobsAreRemoved) {
  JobStore store(root, {}, log);
  const auto a = store.create();
  const auto b = store.create();
  EXPECT_EQ(b, a + 1);
  store.discard(b);
  EXPECT_EQ(store.create(), b + 1);
  // A lost counter file does not bring a number back while a newer directory exists.
  fs::remove(root / "next-id");
  EXPECT_EQ(store.create(), b + 2);
}

TEST_F(StoreTest, NumbersContinueAfterARestartWhenEveryJobIsGone) {
  std::uint64_t last = 0;
  {
    JobStore store(root, {}, log);
    for (int i = 0; i < 12; ++i) last = store.create();
    for (const auto n : store.numbers()) store.discard(n);
  }
  // Only the counter remembers the numbers used (rewritten in place, never a shorter record).
  JobStore restarted(root, {}, log);
  EXPECT_EQ(restarted.create(), last + 1);
}

TEST_F(StoreTest, ACounterDeletedWhileRunningIsWrittenAgain) {
  std::uint64_t last = 0;
  {
    JobStore store(root, {}, log);
    store.create();
    fs::remove(root / "next-id");
    last = store.create();
    for (const auto n : store.numbers()) store.discard(n);
  }
  JobStore restarted(root, {}, log);
  EXPECT_EQ(restarted.create(), last + 1);
}

TEST_F(StoreTest, ANameMeansTheNewestJobOfThatName) {
  JobStore store(root, {}, log);
  const auto first = make_job(store, "build");
  FakeSupervisor running(store.dir(first));
  EXPECT_EQ(store.running_named("build"), first);
  finish_job(store, first, 0);
  EXPECT_FALSE(store.running_named("build"));
  const auto second = make_job(store, "build");
  EXPECT_EQ(store.resolve("build"), second);
  EXPECT_EQ(store.resolve(std::to_string(first)), first);
  EXPECT_FALSE(store.resolve("deploy"));
  EXPECT_FALSE(store.resolve("999"));
}

TEST_F(StoreTest, RunningWhileItsSupervisorHoldsTheLockLostWhenNobodyDoes) {
  JobStore store(root, {}, log);
  const auto n = make_job(store, "");
  {
    FakeSupervisor supervisor(store.dir(n));
    EXPECT_EQ(store.state(n).state, "running");
    EXPECT_EQ(store.check_running(), 1u);
  }
  // The supervisor vanished without writing status.json: lost, and recorded as such.
  EXPECT_EQ(store.state(n).state, "lost");
  EXPECT_TRUE(fs::exists(store.dir(n) + "/" + files::kStatus));
  EXPECT_EQ(store.check_running(), 0u);
}

TEST_F(StoreTest, AJobFromAnotherBootIsLostEvenIfSomethingHoldsItsLock) {
  JobStore store(root, {}, log);
  const auto n = store.create();
  files::write_atomically(store.dir(n), files::kSpec,
                          nlohmann::json{{"boot_id", "another-boot"}}.dump());
  store.started(n);
  FakeSupervisor impostor(store.dir(n));
  EXPECT_EQ(store.state(n).state, "lost");
}

TEST_F(StoreTest, AFinishedJobReportsItsStatusAndItsEndIsAuditedOnce) {
  JobStore store(root, {}, log);
  const auto n = make_job(store, "");
  finish_job(store, n, 3);
  const auto state = store.state(n);
  EXPECT_EQ(state.state, "exited");
  EXPECT_EQ(state.exit_code, 3);
  EXPECT_TRUE(fs::exists(store.dir(n) + "/" + files::kAudited));
  const auto record = store.describe(n, "vps");
  EXPECT_EQ(record["id"], "vps:" + std::to_string(n));
  EXPECT_EQ(record["exit_code"], 3);
  EXPECT_TRUE(record["signal"].is_null());
}

TEST_F(StoreTest, PruneRemovesExpiredJobsThenTheOldestBeyondTheTotal) {
  JobLimits limits;
  limits.max_total_bytes = 250000;
  JobStore store(root, limits, log);
  const auto jobs = finished_jobs(store, 3);
  const auto running = make_job(store, "");
  FakeSupervisor supervisor(store.dir(running));
  store.prune();
  EXPECT_FALSE(fs::exists(store.dir(jobs[0])));
  EXPECT_TRUE(fs::exists(store.dir(jobs[1])));
  EXPECT_TRUE(fs::exists(store.dir(jobs[2])));
  EXPECT_TRUE(fs::exists(store.dir(running)));  // never a running job
}

// Finding 8 of issue #25: running jobs count against jobs.max_total_bytes (their supervisors
// count what they hold in the shared budget), so finished jobs make room for them.
TEST_F(StoreTest, RunningJobsCountInTheTotalAndAStaleCountIsResetWhenNoneRuns) {
  JobLimits limits;
  limits.max_total_bytes = 250000;
  JobStore store(root, limits, log);
  ASSERT_TRUE(store.budget());
  const auto jobs = finished_jobs(store, 2);
  const auto running = make_job(store, "");
  auto supervisor = std::make_unique<FakeSupervisor>(store.dir(running));
  store.budget()->add_running(100000);  // what the running job's supervisor counted
  store.prune();
  EXPECT_FALSE(fs::exists(store.dir(jobs[0])));
  EXPECT_TRUE(fs::exists(store.dir(jobs[1])));
  EXPECT_TRUE(fs::exists(store.dir(running)));
  // What supervisors compare with the budget: the finished job left, and the running one.
  EXPECT_GT(store.budget()->finished(), 100000u);
  EXPECT_LT(store.budget()->finished(), 101000u);
  EXPECT_FALSE(store.over_budget());
  // Its supervisor vanishes without taking its bytes out: once no job runs, the count is 0.
  supervisor.reset();
  store.check_running();
  EXPECT_EQ(store.state(running).state, "lost");
  EXPECT_EQ(store.budget()->running(), 0u);
  EXPECT_EQ(fs::status(root / "budget").permissions(), fs::perms(0600));
}

TEST(JobLimits, BadValuesAreRefusedByName) {
  EXPECT_THROW(JobLimits::from_json({{"max_output_bytes", "big"}}), std::runtime_error);
  EXPECT_THROW(JobLimits::from_json({{"max_total_bytes", 10}}), std::runtime_error);
  EXPECT_THROW(JobLimits::from_json({{"keep", "forever"}}), std::runtime_error);
  const auto limits = JobLimits::from_json({{"keep", "2d"}, {"max_output_bytes", 1048576}});
  EXPECT_EQ(limits.keep, std::chrono::seconds(2 * 86400));
  EXPECT_EQ(limits.max_output_bytes, 1048576u);
  try {
    JobLimits::from_json({{"keep", 5}});
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("jobs.keep"), std::string::npos);
  }
}
