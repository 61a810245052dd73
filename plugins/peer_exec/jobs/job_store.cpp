#include "job_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>

#include <automatelinux/sdk/duration.hpp>

#include "../config_keys.hpp"
#include "../unique_fd.hpp"
#include "job_files.hpp"
#include "job_output.hpp"

namespace automatelinux::peer_exec::jobs {
namespace fs = std::filesystem;
namespace {

constexpr const char* kCounter = "next-id";

std::string read_boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

bool is_number(const std::string& text) {
  return !text.empty() && text.size() <= 18 &&
         text.find_first_not_of("0123456789") == std::string::npos;
}

std::uint64_t directory_bytes(const std::string& dir) {
  std::uint64_t bytes = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_regular_file(ec)) bytes += entry.file_size(ec);
  return bytes;
}

// When a finished job ended: the time its status.json was written (to the nanosecond, so that
// jobs.keep holds to the second).
std::chrono::system_clock::time_point ended_at(const std::string& dir) {
  struct stat st {};
  if (::stat((dir + "/" + files::kStatus).c_str(), &st) != 0)
    return std::chrono::system_clock::now();
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
}

}  // namespace

JobLimits JobLimits::from_json(const nlohmann::json& section) {
  JobLimits limits;
  if (!section.is_object()) return limits;
  // Types and values are checked against the declarations; what follows only reads them.
  sdk::require_valid(sdk::check_config(config_keys(), section, "jobs"));
  if (section.contains("max_output_bytes"))
    limits.max_output_bytes = section["max_output_bytes"].get<std::uint64_t>();
  if (section.contains("max_total_bytes"))
    limits.max_total_bytes = section["max_total_bytes"].get<std::uint64_t>();
  if (section.contains("keep"))
    limits.keep = std::chrono::duration_cast<std::chrono::seconds>(
        *sdk::parse_duration(section["keep"].get<std::string>()));
  if (section.contains("supervisor")) limits.supervisor = section["supervisor"].get<std::string>();
  return limits;
}

JobStore::JobStore(fs::path root, JobLimits limits, std::shared_ptr<spdlog::logger> log,
                   sdk::AuditLog* audit)
    : root_(std::move(root)),
      limits_(std::move(limits)),
      log_(std::move(log)),
      audit_(audit),
      boot_id_(read_boot_id()) {
  fs::create_directories(root_);
  fs::permissions(root_, fs::perms::owner_all, fs::perm_options::replace);
  try {
    budget_ = OutputBudget::open(root_.string());
  } catch (const std::exception& e) {
    log_->warn("jobs: {}; running jobs are capped per stream only", e.what());
  }
  // Whatever was running when this daemon last stopped is checked from now on. Numbers continue
  // past the counter and past every directory present (a lost counter file must not make an id
  // come back).
  if (auto counter = files::read_json(root_.string(), kCounter);
      counter && counter->is_number_unsigned())
    next_ = counter->get<std::uint64_t>();
  for (const auto n : numbers()) {
    next_ = std::max(next_, n + 1);
    if (!fs::exists(dir(n) + "/" + files::kStatus)) running_.insert(n);
  }
}

// The counter is rewritten in place, as one fixed-width record (the number padded with spaces,
// which JSON reads as the number), not written to a temporary file renamed over it: ext4 flushes
// a file's data before a rename replaces another (auto_da_alloc), 0.57 ms on every detached start
// here against microseconds. Opened each time, so a counter deleted meanwhile comes back. Neither
// way syncs: after a power loss the counter may be stale (the constructor still continues past
// every job directory present).
void JobStore::store_counter(std::uint64_t next) {
  const auto path = (root_ / kCounter).string();
  char record[22];
  std::snprintf(record, sizeof record, "%-20llu\n", static_cast<unsigned long long>(next));
  const UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, files::kFileMode));
  const ssize_t written = fd ? ::pwrite(fd.get(), record, 21, 0) : -1;
  if (written != 21)
    throw std::runtime_error("cannot write " + path + ": " +
                             (written < 0 ? std::strerror(errno) : "short write"));
}

std::string JobStore::dir(std::uint64_t number) const {
  return (root_ / std::to_string(number)).string();
}

std::uint64_t JobStore::create() {
  const std::uint64_t number = next_;
  store_counter(number + 1);
  next_ = number + 1;
  if (::mkdir(dir(number).c_str(), 0700) != 0)
    throw std::runtime_error("cannot create " + dir(number) + ": " + std::strerror(errno));
  starting_.insert(number);
  return number;
}

void JobStore::discard(std::uint64_t number) {
  starting_.erase(number);
  running_.erase(number);
  if (finished_) finished_->erase(number);
  std::error_code ignored;
  fs::remove_all(dir(number), ignored);
}

std::vector<std::uint64_t> JobStore::numbers() const {
  std::vector<std::uint64_t> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    const auto name = entry.path().filename().string();
    if (is_number(name) && entry.is_directory(ec)) out.push_back(std::stoull(name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<nlohmann::json> JobStore::spec(std::uint64_t number) const {
  return files::read_json(dir(number), files::kSpec);
}

namespace {
// A job's name; "" for one without (stored as null, which nlohmann's value() does not default).
std::string name_of(const nlohmann::json& spec) {
  const auto it = spec.find("name");
  return it != spec.end() && it->is_string() ? it->get<std::string>() : std::string();
}
}  // namespace

std::optional<std::uint64_t> JobStore::resolve(
    const std::string& ref, const std::function<bool(std::uint64_t)>& visible) const {
  const auto all = numbers();
  if (is_number(ref)) {
    const auto n = std::stoull(ref);
    if (std::binary_search(all.begin(), all.end(), n) && spec(n) && visible(n)) return n;
    return std::nullopt;
  }
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    if (auto s = spec(*it); s && name_of(*s) == ref && visible(*it)) return *it;
  return std::nullopt;
}

std::optional<std::uint64_t> JobStore::running_named(const std::string& name) {
  // Starting ones too: two starts of one name at once must not both run.
  std::set<std::uint64_t> candidates(running_);
  candidates.insert(starting_.begin(), starting_.end());
  for (const auto n : candidates)
    if (auto s = spec(n); s && name_of(*s) == name && state(n).running()) return n;
  return std::nullopt;
}

bool JobStore::supervised(std::uint64_t number) const {
  // The supervisor holds the lock as long as it lives; if we can take it, nobody attends the job.
  UniqueFd lock(::open((dir(number) + "/" + files::kLock).c_str(), O_RDWR | O_CLOEXEC));
  if (!lock) return false;
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) == 0) {
    ::flock(lock.get(), LOCK_UN);
    return false;
  }
  return errno == EWOULDBLOCK;
}

JobState JobStore::state(std::uint64_t number) {
  if (starting_.count(number) > 0) return {"running", std::nullopt, std::nullopt, std::nullopt};
  const auto d = dir(number);
  auto status = files::read_json(d, files::kStatus);
  if (!status) {
    auto s = spec(number);
    const bool same_boot = s && s->value("boot_id", "") == boot_id_;
    if (same_boot && supervised(number))
      return {"running", std::nullopt, std::nullopt, std::nullopt};
    // Rebooted, or the supervisor is gone without a word: nothing will ever record how it ended.
    // (Re-read first: the supervisor may have finished between the two looks.)
    status = files::read_json(d, files::kStatus);
    if (!status) {
      const auto out =
          tally_output(d, files::kStdout, OutputLayout::for_cap(limits_.max_output_bytes));
      const auto err =
          tally_output(d, files::kStderr, OutputLayout::for_cap(limits_.max_output_bytes));
      // Its supervisor can no longer take its bytes out of the running jobs' count.
      if (budget_) budget_->add_running(-static_cast<std::int64_t>(out.kept + err.kept));
      status = nlohmann::json{{"state", "lost"},
                              {"exit_code", nullptr},
                              {"signal", nullptr},
                              {"ended", nullptr},
                              {"stdout_bytes", out.kept},
                              {"stderr_bytes", err.kept},
                              {"dropped_bytes", out.dropped + err.dropped}};
      try {
        files::write_atomically(d, files::kStatus, status->dump() + "\n");
      } catch (const std::exception& e) {
        log_->warn("job {}: {}", number, e.what());
      }
    }
  }
  JobState state;
  state.state = status->value("state", "lost");
  if ((*status)["exit_code"].is_number_integer())
    state.exit_code = (*status)["exit_code"].get<int>();
  if ((*status)["signal"].is_number_integer()) state.signal = (*status)["signal"].get<int>();
  if ((*status)["ended"].is_string()) state.ended = (*status)["ended"].get<std::string>();
  if (!state.running() && running_.erase(number) > 0) ended(number, state);
  return state;
}

void JobStore::ended(std::uint64_t number, const JobState& state) {
  audit_end(number, state);
  if (finished_) {
    (*finished_)[number] = {ended_at(dir(number)), directory_bytes(dir(number))};
    publish_finished();
  }
}

void JobStore::publish_finished() {
  if (!budget_ || !finished_) return;
  std::uint64_t total = 0;
  for (const auto& [n, f] : *finished_) total += f.bytes;
  budget_->set_finished(total);
}

void JobStore::audit_end(std::uint64_t number, const JobState& state) {
  const auto d = dir(number);
  if (fs::exists(d + "/" + files::kAudited)) return;
  try {
    files::write_private(d + "/" + files::kAudited, "\n");
  } catch (const std::exception& e) {
    log_->warn("job {}: {}", number, e.what());
  }
  const auto s = spec(number).value_or(nlohmann::json::object());
  // JSON text: whatever bytes the command line holds, the line stays one line.
  log_->info("audit job={} event=end state={} exit_code={} signal={} request={} command={}", number,
             state.state, state.exit_code ? std::to_string(*state.exit_code) : "null",
             state.signal ? std::to_string(*state.signal) : "null", s.value("request_id", ""),
             nlohmann::json(s.value("command", ""))
                 .dump(-1, ' ', true, nlohmann::json::error_handler_t::replace));
  if (audit_ == nullptr) return;
  nlohmann::json record = {{"event", "job_end"},
                           {"job", number},
                           {"request", s.value("request_id", "")},
                           {"requester", s.value("requester", "")},
                           {"command", s.value("command", "")},
                           {"directory", s.value("directory", "")},
                           {"result", state.state}};
  if (state.exit_code) record["exit"] = *state.exit_code;
  if (state.signal) record["signal"] = *state.signal;
  audit_->record(std::move(record));
}

nlohmann::json JobStore::describe(std::uint64_t number, const std::string& peer) {
  const auto d = dir(number);
  const auto s = spec(number).value_or(nlohmann::json::object());
  const auto st = state(number);
  auto status = files::read_json(d, files::kStatus).value_or(nlohmann::json::object());
  nlohmann::json record = {{"id", peer + ":" + std::to_string(number)},
                           {"peer", peer},
                           {"name", s.contains("name") ? s["name"] : nlohmann::json()},
                           {"state", st.state},
                           {"exit_code", st.exit_code ? nlohmann::json(*st.exit_code) : nullptr},
                           {"signal", st.signal ? nlohmann::json(*st.signal) : nullptr},
                           {"started", s.value("started", "")},
                           {"ended", st.ended ? nlohmann::json(*st.ended) : nullptr},
                           {"directory", s.value("directory", "")},
                           {"command", s.value("command", "")}};
  if (st.running()) {
    const auto layout =
        OutputLayout::for_cap(s.value("max_output_bytes", limits_.max_output_bytes));
    const auto out = tally_output(d, files::kStdout, layout);
    const auto err = tally_output(d, files::kStderr, layout);
    record["stdout_bytes"] = out.kept;
    record["stderr_bytes"] = err.kept;
    record["dropped_bytes"] = out.dropped + err.dropped;
  } else {
    record["stdout_bytes"] = status.value("stdout_bytes", 0);
    record["stderr_bytes"] = status.value("stderr_bytes", 0);
    record["dropped_bytes"] = status.value("dropped_bytes", 0);
  }
  return record;
}

std::size_t JobStore::check_running() {
  for (const auto n : std::set<std::uint64_t>(running_)) state(n);
  // No supervisor runs: whatever the count still holds (one killed without a word) is stale.
  if (budget_ && running_.empty() && starting_.empty()) budget_->set_running(0);
  return running_.size() + starting_.size();
}

bool JobStore::over_budget() const {
  return budget_ && finished_ && !finished_->empty() && budget_->total() > limits_.max_total_bytes;
}

void JobStore::index_finished() {
  finished_.emplace();
  for (const auto n : numbers()) {
    if (running_.count(n) > 0 || starting_.count(n) > 0) continue;
    const auto d = dir(n);
    if (!fs::exists(d + "/" + files::kStatus)) continue;
    (*finished_)[n] = {ended_at(d), directory_bytes(d)};
  }
}

void JobStore::prune() {
  check_running();  // a job that has just ended counts as finished
  if (!finished_) index_finished();
  std::vector<std::pair<std::uint64_t, Finished>> oldest_first(finished_->begin(),
                                                               finished_->end());
  std::sort(oldest_first.begin(), oldest_first.end(),
            [](const auto& a, const auto& b) { return a.second.ended < b.second.ended; });
  std::uint64_t total = budget_ ? budget_->running() : 0;
  for (const auto& [n, f] : oldest_first) total += f.bytes;
  const auto now = std::chrono::system_clock::now();
  for (const auto& [n, f] : oldest_first) {
    const bool expired = now - f.ended > limits_.keep;
    if (!expired && total <= limits_.max_total_bytes) break;
    std::error_code ec;
    fs::remove_all(dir(n), ec);
    finished_->erase(n);
    total -= f.bytes;
    log_->info("job {}: removed ({})", n, expired ? "jobs.keep passed" : "jobs.max_total_bytes");
  }
  publish_finished();
}

}  // namespace automatelinux::peer_exec::jobs
