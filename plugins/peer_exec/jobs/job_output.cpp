#include "job_output.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace automatelinux::peer_exec::jobs {

OutputLayout OutputLayout::for_cap(std::uint64_t cap) {
  constexpr std::uint64_t kMinCap = 64 * 1024, kHead = 1024 * 1024, kTail = 8;
  cap = std::max(cap, kMinCap);
  OutputLayout layout;
  layout.head = std::min(kHead, cap / 2);
  layout.tail_segments = kTail;
  layout.segment = (cap - layout.head) / kTail;
  return layout;
}

std::string segment_path(const std::string& dir, const std::string& stream, std::uint64_t k) {
  return dir + "/" + stream + "." + std::to_string(k);
}

OutputTally tally_output(const std::string& dir, const std::string& stream,
                         const OutputLayout& layout) {
  OutputTally tally;
  bool any = false;
  std::uint64_t oldest = 0;  // the oldest later segment present (0: none)
  const std::string prefix = stream + ".";
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size()) continue;
      const std::string digits = name.substr(prefix.size());
      if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
      const std::uint64_t k = std::stoull(digits);
      tally.newest = std::max(tally.newest, k);
      if (k > 0 && (oldest == 0 || k < oldest)) oldest = k;
      any = true;
    }
    ::closedir(d);
  }
  struct stat st {};
  if (!any || ::stat(segment_path(dir, stream, tally.newest).c_str(), &st) != 0) return tally;
  tally.total = layout.start(tally.newest) + static_cast<std::uint64_t>(st.st_size);
  tally.dropped = oldest == 0 ? 0 : (oldest - 1) * layout.segment;
  tally.kept = tally.total - tally.dropped;
  return tally;
}

OutputWriter::OutputWriter(std::string dir, std::string stream, OutputLayout layout,
                           std::shared_ptr<OutputBudget> budget, std::uint64_t max_total)
    : dir_(std::move(dir)),
      stream_(std::move(stream)),
      layout_(layout),
      budget_(std::move(budget)),
      max_total_(max_total) {
  open_segment(0);
}

OutputWriter::~OutputWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void OutputWriter::open_segment(std::uint64_t k) {
  if (fd_ >= 0) ::close(fd_);
  const auto path = segment_path(dir_, stream_, k);
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd_ < 0) throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
  index_ = k;
  in_segment_ = 0;
  // Keep the first segment and the newest `tail_segments` later ones.
  while (k > layout_.tail_segments && oldest_ <= k - layout_.tail_segments) drop_oldest();
}

void OutputWriter::drop_oldest() {
  ::unlink(segment_path(dir_, stream_, oldest_).c_str());
  ++oldest_;
  if (budget_) budget_->add_running(-static_cast<std::int64_t>(layout_.segment));
}

void OutputWriter::fit_budget() {
  while (can_drop() && budget_->total() > max_total_) drop_oldest();
}

void OutputWriter::append(const char* data, std::size_t size) {
  while (size > 0) {
    if (in_segment_ == layout_.size(index_)) open_segment(index_ + 1);
    const auto n = static_cast<std::size_t>(
        std::min<std::uint64_t>(size, layout_.size(index_) - in_segment_));
    const ssize_t written = ::write(fd_, data, n);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0)
      throw std::runtime_error("cannot write " + segment_path(dir_, stream_, index_) + ": " +
                               std::strerror(errno));
    const auto w = static_cast<std::uint64_t>(written);
    data += w;
    size -= static_cast<std::size_t>(w);
    in_segment_ += w;
    total_ += w;
    if (budget_) {
      budget_->add_running(static_cast<std::int64_t>(w));
      fit_budget();
    }
  }
}

}  // namespace automatelinux::peer_exec::jobs
