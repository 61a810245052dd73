// The daemon's structured audit log: JSON lines in state_dir/audit.jsonl, one record per ended
// request and per plugin event. Each record is one write(2) of a whole line to a file opened
// with O_APPEND, so a crash loses at most the record being written and never corrupts earlier
// ones (a torn last line is skipped by readers and closed off at the next start). Rotated by
// size: audit.jsonl → audit.jsonl.1 → … → audit.jsonl.KEEP.
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
struct AuditLimits {
  std::uint64_t max_bytes = 16 * 1024 * 1024;  // per file, before it is rotated
  unsigned keep = 4;                           // rotated files kept
};

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
  std::filesystem::path rotated(unsigned n) const;

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
