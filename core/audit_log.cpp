#include "core/audit_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace automatelinux::core {
namespace fs = std::filesystem;
namespace {

// The newest record a file can hold is no newer than the file's last write. File times come from
// the kernel's coarse clock (a few ms behind the one records are stamped with), hence the margin.
bool written_before(const fs::path& file, std::chrono::system_clock::time_point time) {
  time -= std::chrono::seconds(1);
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return false;
  const auto mtime = std::chrono::system_clock::from_time_t(st.st_mtim.tv_sec) +
                     std::chrono::nanoseconds(st.st_mtim.tv_nsec);
  return mtime < time;
}

std::chrono::system_clock::time_point modified_at(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return {};
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
}

}  // namespace

std::size_t audit_files_kept(const std::vector<AuditFile>& rotated, const AuditLimits& limits,
                             std::chrono::system_clock::time_point now,
                             std::uint64_t current_bytes) {
  std::uint64_t total = current_bytes;
  for (const auto& file : rotated) total += file.bytes;
  // Oldest first: a file goes when it is past both `keep` and `keep_for`, or when the budget
  // needs it; the first one that stays keeps every newer one (newer is younger and in `keep`).
  std::size_t kept = rotated.size();
  while (kept > 0) {
    const auto& oldest = rotated[kept - 1];
    const bool expired = kept > limits.keep && now - oldest.modified > limits.keep_for;
    if (!expired && total <= limits.max_total_bytes) break;
    total -= oldest.bytes;
    --kept;
  }
  return kept;
}

AuditLog::AuditLog(asio::io_context& io, fs::path file, AuditLimits limits,
                   std::shared_ptr<spdlog::logger> log)
    : io_(io), file_(std::move(file)), limits_(limits), log_(std::move(log)) {
  open();
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
}

void AuditLog::open() {
  fd_ = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0)
    throw std::runtime_error("cannot open " + file_.string() + ": " + std::strerror(errno));
  // 0640 whatever the umask, and also for a file an older daemon made.
  ::fchmod(fd_, 0640);
  struct stat st {};
  ::fstat(fd_, &st);
  size_ = static_cast<std::uint64_t>(st.st_size);
  // A record torn by a crash stays a line of its own, never the start of the next record.
  if (size_ > 0) {
    char last = '\n';
    const int reader = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC);
    if (reader >= 0) {
      if (::pread(reader, &last, 1, st.st_size - 1) != 1) last = '\n';
      ::close(reader);
    }
    if (last != '\n' && ::write(fd_, "\n", 1) == 1) ++size_;
  }
}

fs::path AuditLog::rotated(std::size_t n) const {
  return file_.string() + "." + std::to_string(n);
}

std::size_t AuditLog::rotated_count() const {
  std::size_t n = 0;
  while (::access(rotated(n + 1).c_str(), F_OK) == 0) ++n;
  return n;
}

void AuditLog::rotate() {
  ::close(fd_);
  fd_ = -1;
  std::error_code ec;
  // Every file moves up one; then retention removes the oldest it does not keep.
  const std::size_t count = rotated_count();
  for (std::size_t n = count; n >= 1; --n) fs::rename(rotated(n), rotated(n + 1), ec);
  fs::rename(file_, rotated(1), ec);
  std::vector<AuditFile> files;
  for (std::size_t n = 1; n <= count + 1; ++n) {
    const auto path = rotated(n);
    files.push_back({fs::file_size(path, ec), modified_at(path)});
    if (ec) files.back().bytes = 0;
  }
  const auto kept =
      audit_files_kept(files, limits_, std::chrono::system_clock::now(), limits_.max_bytes);
  for (std::size_t n = files.size(); n > kept; --n) fs::remove(rotated(n), ec);
  open();
}

void AuditLog::record(nlohmann::json fields) {
  // Ordered: "time" first, so readers find it without parsing the record.
  nlohmann::ordered_json record = {
      {"time", sdk::format_audit_time(std::chrono::system_clock::now())},
      {"host", host_ ? host_() : std::string()}};
  for (auto& [key, value] : fields.items())
    if (key != "time" && key != "host") record[key] = std::move(value);
  // Invalid UTF-8 (a command's bytes) is replaced, never a reason to lose the record.
  std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  try {
    if (size_ > 0 && size_ + line.size() > limits_.max_bytes) rotate();
    const auto written = fd_ >= 0 ? ::write(fd_, line.data(), line.size()) : -1;
    if (written != static_cast<ssize_t>(line.size()))
      throw std::runtime_error(std::strerror(errno));
    size_ += line.size();
    write_failed_ = false;
  } catch (const std::exception& e) {
    if (!write_failed_) log_->error("cannot write the audit log {}: {}", file_.string(), e.what());
    write_failed_ = true;
  }
  // Followers hear of it after the caller is done (a request in the middle of finishing).
  std::erase_if(subscribers_, [](const auto& weak) { return weak.expired(); });
  line.pop_back();
  for (const auto& weak : subscribers_)
    asio::post(io_, [weak, line] {
      if (auto handler = weak.lock()) (*handler)(line);
    });
}

std::vector<std::string> AuditLog::read(const sdk::AuditQuery& query) const {
  std::deque<std::string> found;
  for (std::size_t n = rotated_count() + 1; n-- > 0;) {
    const fs::path file = n == 0 ? file_ : rotated(n);
    if (query.since && written_before(file, *query.since)) continue;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
      // A line torn by a crash has no time, or does not parse.
      const auto time = sdk::parse_audit_time(sdk::audit_record_time(line));
      if (!time || (query.since && *time < *query.since) || (query.until && *time >= *query.until))
        continue;
      if (!nlohmann::json::accept(line)) continue;
      found.push_back(std::move(line));
      if (query.limit > 0 && found.size() > query.limit) found.pop_front();
    }
  }
  return {std::make_move_iterator(found.begin()), std::make_move_iterator(found.end())};
}

std::shared_ptr<void> AuditLog::subscribe(RecordHandler handler) {
  auto shared = std::make_shared<RecordHandler>(std::move(handler));
  subscribers_.push_back(shared);
  return shared;
}

}  // namespace automatelinux::core
