// Writes whole lines to one channel of a served stream, in order, in batches, waiting for credit.
// Stored records (bounded by the audit files' size) are queued whole; live ones only up to a cap
// beyond that: a reader that does not keep up overflows the writer, and its owner ends the
// request rather than hold unbounded memory.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <automatelinux/sdk/sdk.hpp>

namespace automatelinux::audit_log {

class LineWriter : public std::enable_shared_from_this<LineWriter> {
 public:
  static constexpr std::size_t kMaxLive = 8 * 1024 * 1024;  // live bytes waiting, at most
  static constexpr std::size_t kBatch = 256 * 1024;         // bytes per stream write

  LineWriter(sdk::ServedStreamPtr stream, sdk::Channel channel)
      : stream_(std::move(stream)), channel_(channel) {}

  // Queues stored lines (a newline is added to each).
  void write_stored(std::vector<std::string> lines);
  // Queues a live line. False when the queue is over its cap: the line is dropped.
  bool write(std::string line);
  // Runs `then` once everything queued so far has been written (or the stream is gone).
  void when_drained(std::function<void()> then);

 private:
  void flush();

  sdk::ServedStreamPtr stream_;
  sdk::Channel channel_;
  std::deque<std::string> lines_;
  std::size_t queued_ = 0;            // bytes in lines_
  std::size_t allowance_ = kMaxLive;  // grows by what write_stored queued
  bool writing_ = false;
  std::function<void()> drained_;
};

}  // namespace automatelinux::audit_log
