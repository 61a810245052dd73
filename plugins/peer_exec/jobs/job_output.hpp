// How a job's output lies on disk, shared by the supervisor that writes it and the daemon that
// replays it. Each stream ("stdout", "stderr") is a series of segment files NAME.K in the job's
// directory: segment 0 holds the first `head` bytes, every later one `segment` bytes. Once more
// than `tail_segments` later segments exist the oldest is deleted, so at most the cap is kept:
// the first bytes and the newest ones. A reader that has a segment open keeps reading it even
// after it was deleted, and the positions of all bytes follow from the layout alone, so the
// writer never has to tell readers anything but "there is more" (the files grow).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "job_budget.hpp"

namespace automatelinux::peer_exec::jobs {

struct OutputLayout {
  std::uint64_t head = 0;     // size of segment 0
  std::uint64_t segment = 0;  // size of each later segment
  std::uint64_t tail_segments = 0;

  // The layout that keeps at most `cap` bytes (at least 64 KiB): the first min(1 MiB, cap/2)
  // bytes and the newest ones.
  static OutputLayout for_cap(std::uint64_t cap);

  std::uint64_t start(std::uint64_t k) const { return k == 0 ? 0 : head + (k - 1) * segment; }
  std::uint64_t size(std::uint64_t k) const { return k == 0 ? head : segment; }
  // The segment that holds logical byte `offset`.
  std::uint64_t index_of(std::uint64_t offset) const {
    return offset < head ? 0 : 1 + (offset - head) / segment;
  }
  // Bytes dropped so far once segment `newest` exists.
  std::uint64_t dropped(std::uint64_t newest) const {
    return newest > tail_segments ? (newest - tail_segments) * segment : 0;
  }
};

// "DIR/stdout.3"
std::string segment_path(const std::string& dir, const std::string& stream, std::uint64_t k);

// What is on disk for one stream: its newest segment, the bytes written in all, those kept
// (segment 0 and the later segments still present; jobs.max_total_bytes may have dropped more
// than the cap does).
struct OutputTally {
  std::uint64_t newest = 0;
  std::uint64_t total = 0;
  std::uint64_t kept = 0;
  std::uint64_t dropped = 0;
};
OutputTally tally_output(const std::string& dir, const std::string& stream,
                         const OutputLayout& layout);

// Appends a stream's bytes to its segments (the supervisor's side). Throws std::runtime_error when
// the disk refuses. With a budget, every byte written or deleted is counted in it, and while all
// jobs together hold more than `max_total` bytes, this stream drops its oldest later segments
// (never segment 0 nor the one being written), as the cap does: the middle goes.
class OutputWriter {
 public:
  OutputWriter(std::string dir, std::string stream, OutputLayout layout,
               std::shared_ptr<OutputBudget> budget = nullptr, std::uint64_t max_total = 0);
  ~OutputWriter();
  OutputWriter(const OutputWriter&) = delete;
  OutputWriter& operator=(const OutputWriter&) = delete;

  void append(const char* data, std::size_t size);
  // Drops this stream's oldest later segments while all jobs together are over the budget. A job
  // that has stopped writing calls it now and then (the supervisor does, every second), so the
  // output it holds also gives way to what other jobs write.
  void fit_budget();
  // Whether fit_budget() could drop anything.
  bool can_drop() const { return budget_ && oldest_ < index_; }
  std::uint64_t total() const { return total_; }
  // Segments 1 … oldest_ - 1 are gone.
  std::uint64_t dropped() const { return index_ == 0 ? 0 : (oldest_ - 1) * layout_.segment; }
  std::uint64_t kept() const { return total_ - dropped(); }

 private:
  void open_segment(std::uint64_t k);
  void drop_oldest();

  std::string dir_, stream_;
  OutputLayout layout_;
  std::shared_ptr<OutputBudget> budget_;
  std::uint64_t max_total_ = 0;
  std::uint64_t index_ = 0;       // the segment being written
  std::uint64_t oldest_ = 1;      // the oldest later segment still on disk
  std::uint64_t in_segment_ = 0;  // bytes in it
  std::uint64_t total_ = 0;
  int fd_ = -1;
};

}  // namespace automatelinux::peer_exec::jobs
