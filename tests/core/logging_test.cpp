// daemon.log: its size and rotated files come from the config, and every file of it is 0640
// whatever the umask, at creation and at every rotation (finding 5 of issue #25: it holds every
// audited command line, and a state dir may be 0755).
#include "core/logging.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <spdlog/sinks/sink.h>
#include <spdlog/spdlog.h>

namespace automatelinux {
namespace {
namespace fs = std::filesystem;

TEST(Logging, DaemonLogAndItsRotatedFilesAre0640AndFollowTheConfiguredSizes) {
  char templ[] = "/tmp/al-logging-XXXXXX";
  const fs::path dir = ::mkdtemp(templ);
  // A log an older daemon made 0644, and the usual umask.
  std::ofstream(dir / "daemon.log") << "old line\n";
  fs::permissions(dir / "daemon.log", fs::perms(0644));
  const auto previous_umask = ::umask(022);
  const auto previous_logger = spdlog::default_logger();
  {
    auto log = core::make_logger(dir, "info", false, {.max_bytes = 65536, .keep = 2});
    log->sinks().front()->set_level(spdlog::level::off);  // not on the test's stderr
    const std::string line(1000, 'x');
    for (int i = 0; i < 300; ++i) log->info("{} {}", i, line);
    log->flush();
  }
  spdlog::set_default_logger(previous_logger);
  ::umask(previous_umask);
  for (const auto* name : {"daemon.log", "daemon.1.log", "daemon.2.log"}) {
    ASSERT_TRUE(fs::exists(dir / name)) << name;
    EXPECT_EQ(fs::status(dir / name).permissions(), fs::perms(0640)) << name;
    EXPECT_LE(fs::file_size(dir / name), 65536u) << name;
  }
  EXPECT_FALSE(fs::exists(dir / "daemon.3.log"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace automatelinux
