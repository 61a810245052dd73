// The on-disk layout of a job's output: what the writer keeps under a cap (the first bytes and the
// newest, in segments) and what a reader finds, computed from the layout alone.
#include "plugins/peer_exec/jobs/job_output.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

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
