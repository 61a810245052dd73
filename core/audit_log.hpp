// The daemon's structured audit log: JSON lines in state_dir/audit.jsonl, one record per ended
// request and per plugin event. Each record is one write(2) of a whole line to a file opened
// with O_APPEND, so a crash loses at most the record being written and never corrupts earlier
// ones (a torn last line is skipped by readers and closed off at the next start). Rotated by
// size: audit.jsonl → audit.jsonl.1 → audit.jsonl.2 → …; see AuditLimits for which old files go.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "automatelinux/sdk/audit.hpp"
#include "core/asio.hpp"

namespace spdlog {
class logger;
}

namespace automatelinux::core {

// The `audit` section of the config file (declared and checked in core/config_keys.cpp).
// Retention, applied at each rotation: the newest `keep` rotated files stay; older ones stay too
// while they are younger than `keep_for` (their last record is), so a flood of records cannot
// rotate away a recent history; and whatever their age, the oldest go once all audit files
// together (the current one counted full) would pass `max_total_bytes`, so the disk is bounded.
struct AuditLimits {
  std::uint64_t max_bytes = 16 * 1024 * 1024;  // per file, before it is rotated
  unsigned keep = 4;                           // rotated files kept whatever their age
  std::chrono::seconds keep_for = std::chrono::days(30);
  std::uint64_t max_total_bytes = 1ULL << 30;
};

// One rotated audit file as retention sees it.
struct AuditFile {
  std::uint64_t bytes = 0;
  std::chrono::system_clock::time_point modified;  // its newest record
};

// How many of the rotated files (newest first: audit.jsonl.1, .2, …) a rotation keeps; the rest,
// the oldest, are removed. `current_bytes` is what the file being written may hold.
std::size_t audit_files_kept(const std::vector<AuditFile>& rotated, const AuditLimits& limits,
                             std::chrono::system_clock::time_point now,
                             std::uint64_t current_bytes);

class AuditLog final : public sdk::AuditLog {
 public:
  AuditLog(asio::io_context& io, std::filesystem::path file, AuditLimits limits,
           std::shared_ptr<spdlog::logger> log);
  ~AuditLog() override;
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // What records name as their `host` (the peer id, asked per record: it changes on joining).
  void identify_with(std::function<std::string()> host) { host_ = std::move(host); }

  void record(nlohmann::json fields) override;
  std::vector<std::string> read(const sdk::AuditQuery& query) const override;
  std::shared_ptr<void> subscribe(RecordHandler handler) override;

 private:
  void open();
  void rotate();
  std::filesystem::path rotated(std::size_t n) const;
  std::size_t rotated_count() const;  // audit.jsonl.1 … .N present

  asio::io_context& io_;
  std::filesystem::path file_;
  AuditLimits limits_;
  std::shared_ptr<spdlog::logger> log_;
  std::function<std::string()> host_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  bool write_failed_ = false;  // logged once, not per record
  std::vector<std::weak_ptr<RecordHandler>> subscribers_;
};

}  // namespace automatelinux::core
