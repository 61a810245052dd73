// The real job-supervisor process: it reports the start, records output and status on its own,
// runs the kill cascade on request, and enforces the timeout.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "plugins/peer_exec/jobs/job_files.hpp"

using namespace automatelinux::peer_exec::jobs;
namespace fs = std::filesystem;

namespace {

struct Started {
  pid_t supervisor;
  std::string line;  // what it told the daemon
};

struct SupervisorTest : ::testing::Test {
  fs::path dir = fs::temp_directory_path() / ("supervisor_test." + std::to_string(::getpid()));
  void SetUp() override { fs::create_directories(dir); }
  void TearDown() override { fs::remove_all(dir); }

  // Starts job-supervisor as the daemon does and reads its one line.
  Started start(std::vector<std::string> command, long long timeout_ms = 0) {
    int out[2];
    EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
    std::vector<std::string> args = {AL_JOB_SUPERVISOR, dir.string(), "", std::to_string(timeout_ms),
                                     "1048576", "--"};
    args.insert(args.end(), command.begin(), command.end());
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(out[1], 1);
      ::chdir(dir.c_str());
      ::setsid();
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line.push_back(c);
    ::close(out[0]);
    return {pid, line};
  }
  // Waits for the supervisor to exit and returns status.json.
  nlohmann::json finished(pid_t supervisor) {
    int status = 0;
    ::waitpid(supervisor, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return files::read_json(dir, files::kStatus).value_or(nlohmann::json());
  }
  std::string file(const std::string& name) {
    std::ifstream in(dir / name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
};

}  // namespace

TEST_F(SupervisorTest, RecordsOutputAndExitStatus) {
  const auto s = start({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(s.line.rfind("ok ", 0), 0u) << s.line;
  const auto status = finished(s.supervisor);
  EXPECT_EQ(status["state"], "exited");
  EXPECT_EQ(status["exit_code"], 3);
  EXPECT_EQ(status["stdout_bytes"], 4);
  EXPECT_EQ(file("stdout.0"), "out\n");
  EXPECT_EQ(file("stderr.0"), "err\n");
  EXPECT_FALSE(fs::exists(dir / files::kControl));
}

TEST_F(SupervisorTest, AProgramThatCannotStartIsReportedAndNothingRuns) {
  const auto s = start({"/nonexistent/program"});
  EXPECT_EQ(s.line, "error /nonexistent/program: No such file or directory");
  int status = 0;
  ::waitpid(s.supervisor, &status, 0);
  EXPECT_FALSE(fs::exists(dir / files::kStatus));
}

TEST_F(SupervisorTest, AKillRequestRunsTheCascadeAndRecordsKilled) {
  // Ignores SIGINT: only the SIGTERM step ends it.
  const auto s = start({"/bin/sh", "-c", "trap '' INT; echo ready; sleep 30 & wait"});
  ASSERT_EQ(s.line.rfind("ok ", 0), 0u) << s.line;
  const pid_t group = std::stoi(s.line.substr(3));
  for (int i = 0; i < 500 && file("stdout.0").empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  {
    std::ofstream control(dir / files::kControl);
    control << "kill 2\n";
  }
  const auto status = finished(s.supervisor);
  EXPECT_EQ(status["state"], "killed");
  EXPECT_EQ(status["signal"], 15);
  EXPECT_NE(::kill(-group, 0), 0);  // nothing of the group is left
}

TEST_F(SupervisorTest, TheTimeoutEndsTheJobAsTimeout) {
  const auto started = std::chrono::steady_clock::now();
  const auto s = start({"/bin/sleep", "30"}, 300);
  ASSERT_EQ(s.line.rfind("ok ", 0), 0u) << s.line;
  const auto status = finished(s.supervisor);
  EXPECT_EQ(status["state"], "timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}
