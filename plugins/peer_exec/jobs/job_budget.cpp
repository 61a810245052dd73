#include "job_budget.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "job_files.hpp"

namespace automatelinux::peer_exec::jobs {
namespace {

constexpr const char* kFile = "budget";
constexpr std::size_t kSize = 4096;
constexpr int kRunning = 0, kFinished = 1;

static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free,
              "the counters are shared between processes: lock-free atomics only");

}  // namespace

std::shared_ptr<OutputBudget> OutputBudget::open(const std::string& jobs_dir) {
  const std::string path = jobs_dir + "/" + kFile;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, files::kFileMode);
  if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  // A new file is all zeros once extended: both counters start at 0.
  if (::fstat(fd, &st) != 0 ||
      (static_cast<std::size_t>(st.st_size) < kSize && ::ftruncate(fd, kSize) != 0)) {
    const int error = errno;
    ::close(fd);
    throw std::runtime_error("cannot size " + path + ": " + std::strerror(error));
  }
  void* map = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int error = errno;
  ::close(fd);  // the mapping stays; no descriptor for a job to inherit
  if (map == MAP_FAILED)
    throw std::runtime_error("cannot map " + path + ": " + std::strerror(error));
  return std::shared_ptr<OutputBudget>(new OutputBudget(map));
}

OutputBudget::~OutputBudget() {
  ::munmap(map_, kSize);
}

std::uint64_t* OutputBudget::counter(int index) const {
  return static_cast<std::uint64_t*>(map_) + index;
}

void OutputBudget::add_running(std::int64_t delta) {
  std::atomic_ref<std::uint64_t> running(*counter(kRunning));
  if (delta >= 0) {
    running.fetch_add(static_cast<std::uint64_t>(delta));
    return;
  }
  // Clamped at 0: the daemon may have reset the counter since these bytes were added.
  const auto minus = static_cast<std::uint64_t>(-delta);
  auto now = running.load();
  while (!running.compare_exchange_weak(now, now > minus ? now - minus : 0)) {
  }
}

void OutputBudget::set_running(std::uint64_t bytes) {
  std::atomic_ref<std::uint64_t>(*counter(kRunning)).store(bytes);
}

void OutputBudget::add_finished(std::uint64_t bytes) {
  std::atomic_ref<std::uint64_t>(*counter(kFinished)).fetch_add(bytes);
}

void OutputBudget::set_finished(std::uint64_t bytes) {
  std::atomic_ref<std::uint64_t>(*counter(kFinished)).store(bytes);
}

std::uint64_t OutputBudget::running() const {
  return std::atomic_ref<std::uint64_t>(*counter(kRunning)).load(std::memory_order_relaxed);
}

std::uint64_t OutputBudget::finished() const {
  return std::atomic_ref<std::uint64_t>(*counter(kFinished)).load(std::memory_order_relaxed);
}

}  // namespace automatelinux::peer_exec::jobs
