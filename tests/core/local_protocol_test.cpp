// Drives a real daemon process over its Unix socket with raw frames: malformed input must get a
// one-line error and must never stop the daemon from serving the next client.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "wire/frame.hpp"

namespace wire = automatelinux::wire;
namespace fs = std::filesystem;

namespace {

class Daemon {
 public:
  explicit Daemon(const char* plugin_dir = nullptr) {
    char templ[] = "/tmp/al-proto-XXXXXX";
    dir_ = ::mkdtemp(templ);
    socket_ = dir_ / "d.sock";
    pid_ = ::fork();
    if (pid_ == 0) {
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 2);
      const std::string state = (dir_ / "state").string();
      if (plugin_dir != nullptr)
        ::execl(AL_DAEMON_PATH, AL_DAEMON_PATH, "--socket", socket_.c_str(), "--state-dir",
                state.c_str(), "--log-level", "warn", "--plugin-dir", plugin_dir,
                static_cast<char*>(nullptr));
      else
        ::execl(AL_DAEMON_PATH, AL_DAEMON_PATH, "--socket", socket_.c_str(), "--state-dir",
                state.c_str(), "--log-level", "warn", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Ready once it accepts connections (the socket file exists a moment before listen()).
    for (int i = 0; i < 1000; ++i) {
      if (const int fd = connect(); fd >= 0) {
        ::close(fd);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~Daemon() {
    stop();
    fs::remove_all(dir_);
  }
  // SIGTERM, then the daemon's wait status (a sanitized build exits non-zero on a leak).
  int stop() {
    if (pid_ < 0) return status_;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, &status_, 0);
    pid_ = -1;
    return status_;
  }
  bool alive() const { return ::kill(pid_, 0) == 0; }

  int connect() const {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, socket_.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      return -1;
    }
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
  }

 private:
  fs::path dir_, socket_;
  pid_t pid_ = -1;
  int status_ = 0;
};

void send_all(int fd, const std::string& bytes) {
  ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(bytes.size()));
}

struct Reply {
  std::string out;
  std::optional<int> code;
  std::string reason;
};

// Reads frames until the exit frame or the connection ends.
Reply read_reply(int fd) {
  Reply reply;
  wire::Decoder decoder;
  char buffer[65536];
  while (true) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return reply;
    decoder.feed(buffer, static_cast<std::size_t>(n));
    while (auto frame = decoder.next()) {
      if (frame->type() == "data") reply.out += frame->body;
      if (frame->type() == "credit") continue;
      if (frame->type() == "exit") {
        reply.code = frame->header["code"].get<int>();
        reply.reason = frame->body;
        return reply;
      }
    }
  }
}

Reply request(const Daemon& daemon, const std::string& argv_nul) {
  const int fd = daemon.connect();
  EXPECT_GE(fd, 0);
  send_all(fd, wire::encode({{"t", "run"}}, argv_nul));
  Reply reply = read_reply(fd);
  ::close(fd);
  return reply;
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

class LocalProtocol : public ::testing::Test {
 protected:
  void expect_still_serving() {
    ASSERT_TRUE(daemon_.alive());
    const Reply ok = request(daemon_, std::string("help"));
    EXPECT_EQ(ok.code, 0);
    EXPECT_NE(ok.out.find("listPlugins"), std::string::npos);
  }
  Reply raw(const std::string& bytes) {
    const int fd = daemon_.connect();
    EXPECT_GE(fd, 0);
    send_all(fd, bytes);
    Reply reply = read_reply(fd);
    ::close(fd);
    return reply;
  }
  Daemon daemon_;
};

}  // namespace

TEST_F(LocalProtocol, OversizedFrameIsRefusedWithAReason) {
  const Reply reply = raw(be32(wire::kMaxFrameSize + 1) + be32(10));
  EXPECT_EQ(reply.code, 255);
  EXPECT_NE(reply.reason.find("exceeds the limit"), std::string::npos) << reply.reason;
  EXPECT_EQ(reply.reason.find('\n'), std::string::npos);
  expect_still_serving();
}

TEST_F(LocalProtocol, InvalidJsonHeaderIsRefused) {
  const std::string head = "{\"t\": run";
  const Reply reply = raw(be32(4 + head.size()) + be32(head.size()) + head);
  EXPECT_EQ(reply.code, 255);
  EXPECT_NE(reply.reason.find("not valid JSON"), std::string::npos) << reply.reason;
  expect_still_serving();
}

TEST_F(LocalProtocol, WrongFirstMessageAndWrongTypesAreRefused) {
  Reply reply = raw(wire::encode({{"t", "data"}, {"ch", 0}}, "x"));
  EXPECT_EQ(reply.code, 255);
  EXPECT_NE(reply.reason.find("'run'"), std::string::npos) << reply.reason;
  reply = raw(wire::encode({{"t", 7}}));
  EXPECT_EQ(reply.code, 255);
  expect_still_serving();
}

TEST_F(LocalProtocol, TruncatedFrameAndGarbageThenHangUpLeaveTheDaemonServing) {
  for (const std::string& bytes : {wire::encode({{"t", "run"}}, "help").substr(0, 9),
                                   std::string("\x00\x00", 2), std::string(100, '\xff')}) {
    const int fd = daemon_.connect();
    ASSERT_GE(fd, 0);
    send_all(fd, bytes);
    ::close(fd);
  }
  expect_still_serving();
}

TEST_F(LocalProtocol, InputBeyondGrantedCreditIsAProtocolError) {
  const int fd = daemon_.connect();
  ASSERT_GE(fd, 0);
  // getPeerStatus never asks for input, so any input data exceeds its (zero) credit.
  send_all(fd, wire::encode({{"t", "run"}}, "listPlugins") +
                   wire::encode({{"t", "data"}, {"ch", 0}}, "x"));
  const Reply reply = read_reply(fd);
  ::close(fd);
  ASSERT_TRUE(reply.code);
  // Either the command already finished (0) or the stray input was refused (255); never a crash.
  EXPECT_TRUE(*reply.code == 0 || *reply.code == 255);
  expect_still_serving();
}

TEST_F(LocalProtocol, ArgumentsAreNulSeparatedByteStrings) {
  const Reply reply = request(daemon_, std::string("help\0listPlugins", 16));
  EXPECT_EQ(reply.code, 0);
  EXPECT_NE(reply.out.find("Usage: d listPlugins"), std::string::npos);
  const Reply bad = request(daemon_, std::string("\xff\xfe", 2));
  EXPECT_EQ(bad.code, 255);
  EXPECT_NE(bad.reason.find("unknown command '\\xff\\xfe'"), std::string::npos) << bad.reason;
}

TEST_F(LocalProtocol, ManySimultaneousClientsAreAllServed) {
  std::vector<int> fds;
  for (int i = 0; i < 100; ++i) {
    const int fd = daemon_.connect();
    ASSERT_GE(fd, 0);
    send_all(fd, wire::encode({{"t", "run"}}, "getPeerStatus"));
    fds.push_back(fd);
  }
  for (int fd : fds) {
    EXPECT_EQ(read_reply(fd).code, 0);
    ::close(fd);
  }
}

TEST(LocalProtocolRunning, WrongFieldTypesInARunningRequestEndOnlyThatRequest) {
  Daemon daemon(AL_FIXTURE_PLUGIN_DIR);
  const std::pair<nlohmann::json, const char*> cases[] = {
      {{{"t", "credit"}, {"n", "x"}}, "field 'n'"},
      {{{"t", "data"}, {"ch", nullptr}}, "field 'ch'"},
      {{{"t", "cancel"}, {"signal", "INT"}}, "field 'signal'"}};
  for (const auto& [bad, complaint] : cases) {
    const int fd = daemon.connect();
    ASSERT_GE(fd, 0);
    // waitForCancel runs until cancelled, so the bad frame reaches a live request.
    send_all(fd, wire::encode({{"t", "run"}}, std::string("waitForCancel")) + wire::encode(bad));
    const Reply reply = read_reply(fd);
    ::close(fd);
    EXPECT_EQ(reply.code, 255) << bad.dump();
    EXPECT_NE(reply.reason.find(complaint), std::string::npos) << reply.reason;
    const Reply ok = request(daemon, "listPlugins");
    EXPECT_EQ(ok.code, 0);
  }
}

// A client that left while its request was still being cancelled, then a daemon stop: the
// request ends at shutdown and everything it held is released (under the sanitizers a leaked
// connection or stream makes the daemon exit non-zero).
TEST(LocalProtocolRunning, AStopWhileALeftClientsRequestIsCancellingReleasesIt) {
  Daemon daemon(AL_FIXTURE_PLUGIN_DIR);
  const int fd = daemon.connect();
  ASSERT_GE(fd, 0);
  send_all(fd, wire::encode({{"t", "run"}}, std::string("ignoreCancel")));
  char buffer[256];
  ASSERT_GT(::recv(fd, buffer, sizeof(buffer), 0), 0);  // the request runs
  ::close(fd);  // the requester leaves: a cancel the command ignores
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const int status = daemon.stop();
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}
