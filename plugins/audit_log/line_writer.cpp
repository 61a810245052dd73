#include "line_writer.hpp"

namespace automatelinux::audit_log {

void LineWriter::write_stored(std::vector<std::string> lines) {
  for (auto& line : lines) {
    queued_ += line.size() + 1;
    allowance_ += line.size() + 1;
    lines_.push_back(std::move(line));
  }
  flush();
}

bool LineWriter::write(std::string line) {
  if (queued_ + line.size() + 1 > allowance_) return false;
  queued_ += line.size() + 1;
  lines_.push_back(std::move(line));
  flush();
  return true;
}

void LineWriter::when_drained(std::function<void()> then) {
  drained_ = std::move(then);
  flush();
}

void LineWriter::flush() {
  if (writing_) return;
  if (lines_.empty() || stream_->finished()) {
    if (drained_) std::exchange(drained_, {})();
    return;
  }
  std::string batch;
  while (!lines_.empty() && (batch.empty() || batch.size() + lines_.front().size() < kBatch)) {
    batch += lines_.front();
    batch += '\n';
    lines_.pop_front();
  }
  queued_ -= batch.size();
  writing_ = true;
  stream_->write(channel_, std::move(batch), [self = shared_from_this()](bool ok) {
    self->writing_ = false;
    if (!ok) {
      self->lines_.clear();
      self->queued_ = 0;
    }
    self->flush();
  });
}

}  // namespace automatelinux::audit_log
