// The on-disk layout of a job's output: what the writer keeps under a cap (the first bytes and the
// newest, in segments) and what a reader finds, computed from the layout alone.
#include "plugins/peer_exec/jobs/job_output.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>

using namespace automatelinux::peer_exec::jobs;
namespace fs = std::filesystem;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("job_output_test." + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

std::string pattern(std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 7919) % 251);
  return bytes;
}

}  // namespace

TEST(OutputLayout, KeepsTheFirstMebibyteAndEightTailSegmentsWithinTheCap) {
  const auto big = OutputLayout::for_cap(64ULL << 20);
  EXPECT_EQ(big.head, 1ULL << 20);
  EXPECT_EQ(big.tail_segments, 8u);
  EXPECT_LE(big.head + big.tail_segments * big.segment, 64ULL << 20);
  // A small cap keeps half of it as the head.
  const auto small = OutputLayout::for_cap(131072);
  EXPECT_EQ(small.head, 65536u);
  EXPECT_EQ(small.segment, 8192u);
  // Below the minimum, the minimum applies.
  EXPECT_EQ(OutputLayout::for_cap(10).head, 32768u);
  EXPECT_EQ(small.index_of(0), 0u);
  EXPECT_EQ(small.index_of(65535), 0u);
  EXPECT_EQ(small.index_of(65536), 1u);
  EXPECT_EQ(small.start(3), 65536u + 2 * 8192u);
}

TEST(OutputWriter, UnderTheCapEverythingIsKeptInOrder) {
  TempDir dir;
  const auto layout = OutputLayout::for_cap(131072);
  const auto bytes = pattern(100000);
  {
    OutputWriter writer(dir.path, "stdout", layout);
    for (std::size_t at = 0; at < bytes.size(); at += 333)
      writer.append(bytes.data() + at, std::min<std::size_t>(333, bytes.size() - at));
    EXPECT_EQ(writer.total(), 100000u);
    EXPECT_EQ(writer.dropped(), 0u);
  }
  std::string joined;
  for (std::uint64_t k = 0; fs::exists(segment_path(dir.path, "stdout", k)); ++k)
    joined += read_all(segment_path(dir.path, "stdout", k));
  EXPECT_EQ(joined, bytes);
  const auto tally = tally_output(dir.path, "stdout", layout);
  EXPECT_EQ(tally.total, 100000u);
  EXPECT_EQ(tally.kept, 100000u);
  EXPECT_EQ(tally.dropped, 0u);
}

TEST(OutputWriter, PastTheCapTheHeadAndTheNewestSegmentsStay) {
  TempDir dir;
  const auto layout = OutputLayout::for_cap(131072);
  const auto bytes = pattern(1000000);
  OutputWriter writer(dir.path, "stderr", layout);
  writer.append(bytes.data(), bytes.size());
  EXPECT_EQ(writer.total(), 1000000u);
  EXPECT_LE(writer.kept(), 131072u);
  EXPECT_EQ(writer.kept() + writer.dropped(), 1000000u);
  // Segment 0 is the first 64 KiB, exactly.
  EXPECT_EQ(read_all(segment_path(dir.path, "stderr", 0)), bytes.substr(0, 65536));
  // The segments present after it are the newest bytes, at the offsets the layout gives.
  const auto tally = tally_output(dir.path, "stderr", layout);
  EXPECT_EQ(tally.total, 1000000u);
  EXPECT_EQ(tally.dropped, writer.dropped());
  std::size_t present = 0;
  for (std::uint64_t k = 1; k <= tally.newest; ++k) {
    const auto path = segment_path(dir.path, "stderr", k);
    if (!fs::exists(path)) continue;
    ++present;
    EXPECT_EQ(read_all(path), bytes.substr(layout.start(k), layout.size(k))) << "segment " << k;
  }
  EXPECT_EQ(present, layout.tail_segments);
  EXPECT_FALSE(fs::exists(segment_path(dir.path, "stderr", 1)));
}

TEST(OutputTally, NoOutputYetIsZero) {
  TempDir dir;
  const auto tally = tally_output(dir.path, "stdout", OutputLayout::for_cap(1 << 20));
  EXPECT_EQ(tally.total, 0u);
  EXPECT_EQ(tally.kept, 0u);
}

// jobs.max_total_bytes across supervisors: every process maps the same counters.
TEST(OutputBudget, CountersAreSharedByEveryMappingAndNeverGoBelowZero) {
  TempDir dir;
  auto one = OutputBudget::open(dir.path);
  auto two = OutputBudget::open(dir.path);  // another supervisor's mapping of the same file
  EXPECT_EQ(one->total(), 0u);
  one->add_running(1000);
  two->add_running(500);
  two->add_finished(300);
  EXPECT_EQ(one->running(), 1500u);
  EXPECT_EQ(one->total(), 1800u);
  one->set_running(100);  // the daemon reset it; a supervisor then takes out more than is left
  two->add_running(-400);
  EXPECT_EQ(one->running(), 0u);
  EXPECT_EQ(fs::status(dir.path / "budget").permissions(), fs::perms(0600));
}

// Running jobs count against the budget: three jobs whose caps (512 KiB each) together pass a
// 1 MiB budget drop their middle as at the cap, keeping the head and the segment being written,
// and what they hold on disk stays within the budget plus one write.
TEST(OutputWriter, RunningJobsTogetherStayWithinTheSharedBudget) {
  TempDir dir;
  constexpr std::uint64_t kBudget = 1 << 20, kChunk = 65536;
  const auto layout = OutputLayout::for_cap(512 * 1024);
  auto budget = OutputBudget::open(dir.path);
  std::vector<std::unique_ptr<OutputWriter>> writers;
  for (int job = 0; job < 3; ++job) {
    fs::create_directories(dir.path / std::to_string(job));
    writers.push_back(std::make_unique<OutputWriter>(
        dir.path / std::to_string(job), "stdout", layout, OutputBudget::open(dir.path), kBudget));
  }
  const auto bytes = pattern(2000000);
  auto on_disk = [&] {
    std::uint64_t sum = 0;
    for (const auto& entry : fs::recursive_directory_iterator(dir.path))
      if (entry.is_regular_file() && entry.path().filename() != "budget") sum += entry.file_size();
    return sum;
  };
  for (std::size_t at = 0; at < bytes.size(); at += kChunk)
    for (auto& writer : writers) {
      writer->append(bytes.data() + at, std::min<std::size_t>(kChunk, bytes.size() - at));
      EXPECT_LE(on_disk(), kBudget + kChunk);
    }
  EXPECT_EQ(budget->running(), on_disk());
  for (int job = 0; job < 3; ++job) {
    const auto& writer = *writers[job];
    EXPECT_EQ(writer.total(), 2000000u);
    EXPECT_GT(writer.dropped(), 2000000u - 512 * 1024);  // more than the cap alone drops
    EXPECT_EQ(writer.kept() + writer.dropped(), 2000000u);
    const auto path = (dir.path / std::to_string(job)).string();
    EXPECT_EQ(read_all(segment_path(path, "stdout", 0)), bytes.substr(0, layout.head));
    // What a reader finds agrees with the writer, and the newest bytes are there.
    const auto tally = tally_output(path, "stdout", layout);
    EXPECT_EQ(tally.kept, writer.kept());
    EXPECT_EQ(tally.dropped, writer.dropped());
    const auto newest = segment_path(path, "stdout", tally.newest);
    EXPECT_EQ(read_all(newest), bytes.substr(layout.start(tally.newest)));
  }
}

// A job that wrote first and then went quiet gives way too, when its supervisor looks again.
TEST(OutputWriter, AJobThatStoppedWritingDropsItsMiddleWhenItChecksTheBudget) {
  TempDir dir;
  constexpr std::uint64_t kBudget = 1 << 20;
  const auto layout = OutputLayout::for_cap(512 * 1024);
  auto budget = OutputBudget::open(dir.path);
  std::vector<std::unique_ptr<OutputWriter>> writers;
  const auto bytes = pattern(2000000);
  for (int job = 0; job < 3; ++job) {  // one after the other: the first two are quiet by the end
    fs::create_directories(dir.path / std::to_string(job));
    writers.push_back(std::make_unique<OutputWriter>(dir.path / std::to_string(job), "stdout",
                                                     layout, budget, kBudget));
    writers.back()->append(bytes.data(), bytes.size());
  }
  EXPECT_GT(budget->total(), kBudget);  // the third could not make room alone
  EXPECT_FALSE(writers[2]->can_drop());
  for (auto& writer : writers) writer->fit_budget();
  EXPECT_LE(budget->total(), kBudget);
  EXPECT_GT(writers[0]->dropped(), 2000000u - 512 * 1024);  // more than its cap alone drops
}
