// ServingStream against a recording transport: credit windows in both directions, cancellation
// with its grace period, core-owned timeouts, and the one audit line per request.
#include "core/serving_stream.hpp"

#include <csignal>
#include <sstream>

#include <gtest/gtest.h>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include "automatelinux/sdk/terminal.hpp"

namespace core = automatelinux::core;
namespace sdk = automatelinux::sdk;
namespace wire = automatelinux::wire;

namespace {

struct RecordingTransport : core::StreamTransport {
  std::vector<std::pair<nlohmann::json, std::string>> frames;
  std::optional<sdk::Result> result;
  void send(nlohmann::json header, std::string body) override {
    frames.emplace_back(std::move(header), std::move(body));
  }
  void send_result(const sdk::Result& r) override { result = r; }
  std::size_t data_bytes() const {
    std::size_t n = 0;
    for (const auto& [h, b] : frames)
      if (h["t"] == "data") n += b.size();
    return n;
  }
};

class ServingStreamTest : public ::testing::Test {
 protected:
  ServingStreamTest()
      : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text_)),
        log_(std::make_shared<spdlog::logger>("test", sink_)),
        transport_(std::make_shared<RecordingTransport>()),
        stream_(std::make_shared<core::ServingStream>(
            io_, log_, nullptr, transport_, sdk::Requester{.peer = "vps", .uid = -1}, "00aa")) {}

  void run() {
    io_.restart();
    io_.run_for(std::chrono::milliseconds(50));
  }
  static wire::Frame frame(nlohmann::json header, std::string body = {}) {
    return wire::Frame{std::move(header), std::move(body)};
  }

  std::ostringstream log_text_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> log_;
  automatelinux::asio::io_context io_;
  std::shared_ptr<RecordingTransport> transport_;
  std::shared_ptr<core::ServingStream> stream_;
};

TEST_F(ServingStreamTest, OutputStopsAtTheWindowUntilCreditComesBack) {
  bool released = false;
  stream_->write(sdk::Channel::out, std::string(2 * core::kStreamWindow, 'x'),
                 [&](bool ok) { released = ok; });
  run();
  EXPECT_EQ(transport_->data_bytes(), core::kStreamWindow);
  EXPECT_FALSE(released);  // the writer waits: memory stays bounded by the window
  stream_->on_frame(frame({{"t", "credit"}, {"n", core::kStreamWindow}}));
  run();
  EXPECT_EQ(transport_->data_bytes(), 2 * core::kStreamWindow);
  stream_->on_frame(frame({{"t", "credit"}, {"n", core::kStreamWindow}}));
  run();
  EXPECT_TRUE(released);
}

TEST_F(ServingStreamTest, CreditForBytesNeverSentIsAProtocolError) {
  stream_->write(sdk::Channel::out, "abc", {});
  EXPECT_THROW(stream_->on_frame(frame({{"t", "credit"}, {"n", 4}})), wire::FrameError);
}

TEST_F(ServingStreamTest, AGrowingWindowTakesCreditAheadOfDataAndEchoesRoundTripMarks) {
  stream_->enable_window_growth({});
  stream_->write(sdk::Channel::out, std::string(3 * core::kStreamWindow, 'x'), {});
  run();
  EXPECT_EQ(transport_->data_bytes(), core::kStreamWindow);
  // The requester credits the window and grows it by another one, with a mark to echo.
  stream_->on_frame(frame({{"t", "credit"}, {"n", 2 * core::kStreamWindow}, {"mark", 7U}}));
  run();
  EXPECT_EQ(transport_->data_bytes(), 3 * core::kStreamWindow);
  int marks = 0;
  for (const auto& [h, b] : transport_->frames)
    if (h.contains("mark")) marks += h["mark"] == 7U ? 1 : 100;
  EXPECT_EQ(marks, 1);  // echoed once, on the next data frame
  // Never past the largest window the protocol allows.
  EXPECT_THROW(stream_->on_frame(frame({{"t", "credit"}, {"n", core::kMaxStreamWindow + 1}})),
               wire::FrameError);
}

TEST_F(ServingStreamTest, InputBeyondGrantedCreditIsAProtocolError) {
  EXPECT_THROW(stream_->on_frame(frame({{"t", "data"}, {"ch", 0}}, "x")), wire::FrameError);
  std::string got;
  stream_->read(sdk::Channel::in, [&](std::string_view data, bool) { got = data; });
  ASSERT_EQ(transport_->frames.back().first["t"], "credit");
  EXPECT_EQ(transport_->frames.back().first["n"], core::kStreamWindow);
  stream_->on_frame(frame({{"t", "data"}, {"ch", 0}}, "hello"));
  run();
  EXPECT_EQ(got, "hello");
  EXPECT_THROW(stream_->on_frame(frame({{"t", "data"}, {"ch", 1}}, "x")), wire::FrameError);
  EXPECT_THROW(stream_->on_frame(
                   frame({{"t", "data"}, {"ch", 0}}, std::string(core::kStreamWindow + 1, 'y'))),
               wire::FrameError);
}

TEST_F(ServingStreamTest, WindowSizesReachTheControlReaderAndAreChecked) {
  std::vector<std::string> got;
  std::function<void(std::string_view, bool)> reader = [&](std::string_view data, bool eof) {
    if (eof) return got.push_back("eof");
    got.emplace_back(data);
    stream_->read(sdk::Channel::control, reader);
  };
  stream_->read(sdk::Channel::control, reader);
  // From a peer, the terminal type is not taken (it travels in the open request).
  stream_->on_frame(frame({{"t", "winsize"}, {"rows", 40}, {"cols", 120}, {"term", "xterm"}}));
  run();
  ASSERT_EQ(got.size(), 1u);
  const auto size = sdk::parse_window_size(got[0]);
  ASSERT_TRUE(size);
  EXPECT_EQ(size->rows, 40);
  EXPECT_EQ(size->cols, 120);
  EXPECT_EQ(size->term, "");
  EXPECT_THROW(stream_->on_frame(frame({{"t", "winsize"}, {"rows", -1}, {"cols", 1}})),
               wire::FrameError);
  EXPECT_THROW(stream_->on_frame(frame({{"t", "winsize"}, {"rows", 70000}, {"cols", 1}})),
               wire::FrameError);
  // The requester going away ends the control channel (for a handler still running).
  stream_->on_cancel([](int) {});
  stream_->on_transport_lost();
  run();
  EXPECT_EQ(got.back(), "eof");
  stream_->finish(sdk::Result::cancelled());
}

TEST_F(ServingStreamTest, TerminalModeGoesOnlyToALocalRequester) {
  // This stream serves a peer: a peer has no terminal to switch.
  bool ok = true;
  stream_->write(sdk::Channel::control, sdk::terminal_mode('~'), [&](bool r) { ok = r; });
  run();
  EXPECT_FALSE(ok);
  EXPECT_TRUE(transport_->frames.empty());
  auto local = std::make_shared<core::ServingStream>(
      io_, log_, nullptr, transport_,
      sdk::Requester{.peer = "", .uid = 0, .name = "root", .root = true});
  local->write(sdk::Channel::control, sdk::terminal_mode('~'), [&](bool r) { ok = r; });
  run();
  EXPECT_TRUE(ok);
  ASSERT_EQ(transport_->frames.size(), 1u);
  EXPECT_EQ(transport_->frames[0].first["t"], "tty");
  EXPECT_EQ(transport_->frames[0].first["escape"], 126);
  local->write(sdk::Channel::control, "{\"rows\":1,\"cols\":1}", [&](bool r) { ok = r; });
  run();
  EXPECT_FALSE(ok);  // a window size is not the server's to send
  EXPECT_EQ(transport_->frames.size(), 1u);
  local->finish(sdk::Result::exited(0));
}

TEST_F(ServingStreamTest, CancelReachesTheHandlerWithItsSignal) {
  int signal = 0;
  stream_->on_cancel([&](int s) {
    signal = s;
    stream_->finish(sdk::Result::cancelled());
  });
  stream_->on_frame(frame({{"t", "cancel"}, {"signal", SIGINT}}));
  run();
  EXPECT_EQ(signal, SIGINT);
  ASSERT_TRUE(transport_->result);
  EXPECT_EQ(transport_->result->kind, sdk::Result::Kind::cancelled);
}

TEST_F(ServingStreamTest, AHandlerThatIgnoresCancelIsEndedAfterTheGracePeriod) {
  stream_->on_cancel([](int) {});
  stream_->on_transport_lost();
  io_.run_for(core::kCancelGrace + std::chrono::milliseconds(500));
  ASSERT_TRUE(transport_->result);
  EXPECT_EQ(transport_->result->kind, sdk::Result::Kind::error);
  EXPECT_NE(log_text_.str().find("did not stop"), std::string::npos);
}

TEST_F(ServingStreamTest, TimeoutEndsAsTimeoutWhateverTheHandlerReports) {
  stream_->on_cancel([&](int) { stream_->finish(sdk::Result::signaled(SIGTERM)); });
  stream_->arm_timeout(std::chrono::milliseconds(10));
  io_.run_for(std::chrono::milliseconds(200));
  ASSERT_TRUE(transport_->result);
  EXPECT_EQ(transport_->result->kind, sdk::Result::Kind::timeout);
}

TEST_F(ServingStreamTest, OneAuditLineWithEscapedFieldsAndASequenceNumber) {
  auto other = std::make_shared<core::ServingStream>(
      io_, log_, nullptr, transport_, sdk::Requester{.peer = "evil\nline", .uid = -1}, "00aa");
  other->set_subject(std::string(10000, 'c'));
  other->finish(sdk::Result::error("no\nsuch"));
  other->finish(sdk::Result::exited(0));  // ignored: one line per request
  stream_->finish(sdk::Result::exited(0));
  const std::string text = log_text_.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
  EXPECT_NE(text.find("requester=evil\\x0aline"), std::string::npos) << text;
  EXPECT_NE(text.find("…(+5904 bytes)"), std::string::npos);
  EXPECT_NE(text.find("reason=no\\x0asuch"), std::string::npos) << text;
  // Same request id from the same requester, still two distinct records.
  const auto first = text.find(" seq="), second = text.rfind(" seq=");
  ASSERT_NE(first, second);
  EXPECT_NE(text.substr(first, text.find(' ', first + 1) - first),
            text.substr(second, text.find(' ', second + 1) - second));
}

}  // namespace
