#include "core/local_connection.hpp"

#include <sys/socket.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "core/exit_status.hpp"
#include "core/requester.hpp"
#include "core/untrusted_text.hpp"
#include "wire/messages.hpp"

namespace automatelinux::core {
namespace {

constexpr std::chrono::seconds kOpenTimeout{10};
constexpr std::size_t kMaxArgs = 4096;
constexpr std::size_t kMaxGatheredFrames =
    64;  // 2 iovecs each, of Linux's 1024; 64 x 64 KiB is plenty

std::vector<std::string> split_argv(const std::string& body) {
  if (body.empty()) return {};
  auto argv = wire::split_nul(body);
  if (argv.size() > kMaxArgs) throw wire::FrameError("more than 4096 arguments");
  return argv;
}

}  // namespace

LocalConnection::LocalConnection(asio::local::stream_protocol::socket socket,
                                 std::shared_ptr<spdlog::logger> log, const Dispatcher& dispatcher)
    : socket_(std::move(socket)),
      log_(std::move(log)),
      dispatcher_(dispatcher),
      open_deadline_(socket_.get_executor()) {}

void LocalConnection::start() {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
    uid_ = static_cast<int>(cred.uid);
  log_->debug("local client connected: uid={} pid={}", uid_, cred.pid);
  open_deadline_.expires_after(kOpenTimeout);
  open_deadline_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec && !self->stream_) self->fail("no request within 10 s");
  });
  do_read();
}

void LocalConnection::do_read() {
  socket_.async_read_some(asio::buffer(read_buffer_),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                            self->on_read(ec, n);
                          });
}

void LocalConnection::on_read(boost::system::error_code ec, std::size_t n) {
  if (closed_) return;
  if (ec) {
    // The client went away. A running request is cancelled as if its requester disappeared.
    auto stream = stream_;
    close();
    if (stream && !stream->finished()) stream->on_transport_lost();
    return;
  }
  try {
    decoder_.feed(read_buffer_.data(), n);
    while (auto frame = decoder_.next()) {
      handle(std::move(*frame));
      if (closed_) return;
    }
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  do_read();
}

void LocalConnection::handle(wire::Frame frame) {
  if (!stream_) return open_request(frame);
  if (result_sent_) return;  // late frames after the result are harmless
  stream_->on_frame(std::move(frame));
}

void LocalConnection::open_request(const wire::Frame& frame) {
  if (frame.type() != wire::msg::kRun) throw wire::FrameError("expected a 'run' request first");
  open_deadline_.cancel();
  const auto argv = split_argv(frame.body);
  stream_ = std::make_shared<ServingStream>(
      static_cast<asio::io_context&>(socket_.get_executor().context()), log_,
      dispatcher_.audit_log(), shared_from_this(), local_requester(uid_));
  stream_->set_subject(dispatcher_.printable(argv));
  dispatcher_.dispatch(argv, stream_);
}

void LocalConnection::fail(const std::string& reason) {
  log_->warn("local client uid={}: bad request: {}", uid_, escape_untrusted(reason));
  const auto result = sdk::Result::error("bad request: " + reason);
  if (stream_ && !stream_->finished()) {
    auto stream = stream_;
    stream->finish(result);  // reaches send_result below through the stream
  } else {
    send_result(result);
  }
}

void LocalConnection::shutdown() {
  if (stream_ && !stream_->finished())
    stream_->finish(sdk::Result::error("daemon is shutting down"));
  close();
  // The stream and this connection hold each other. After a client left, a finish posts the
  // release (send_result), but the event loop stops without running what is still queued, so
  // break the cycle here: called by the server, never from inside the stream.
  if (stream_ && stream_->finished()) stream_.reset();
}

void LocalConnection::send(nlohmann::json header, std::string body) {
  if (closed_ || result_sent_) return;
  write_queue_.push_back({wire::encode_head(header, body.size()), std::move(body)});
  if (!writing_) do_write();
}

void LocalConnection::send_result(const sdk::Result& result) {
  if (closed_) {
    // The request ended after its client left: release it (not inline, the stream is mid-call).
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->stream_.reset(); });
    return;
  }
  if (result_sent_) return;
  // One line, bounded: a reason may come from a peer.
  std::string reason = exit_status(result) == kExitFailure ? result.reason.substr(0, 4096) : "";
  std::replace(reason.begin(), reason.end(), '\n', ' ');
  write_queue_.push_back(
      {wire::encode({{"t", wire::msg::kExit}, {"code", exit_status(result)}}, reason), {}});
  result_sent_ = true;
  if (!writing_) do_write();
}

void LocalConnection::do_write() {
  if (write_queue_.empty()) {
    if (result_sent_) close();  // the request is over once its result is out
    return;
  }
  // Every queued frame (up to what one sendmsg takes) in one gathered write: `d` gets several
  // frames per wake-up when output arrives faster than it reads.
  std::vector<asio::const_buffer> batch;
  writing_ = 0;
  for (const auto& frame : write_queue_) {
    if (writing_ == kMaxGatheredFrames) break;
    ++writing_;
    batch.push_back(asio::buffer(frame.head));
    if (!frame.body.empty()) batch.push_back(asio::buffer(frame.body));
  }
  asio::async_write(socket_, batch,
                    [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                      if (self->closed_) return;
                      for (; self->writing_ > 0; --self->writing_) self->write_queue_.pop_front();
                      if (ec) {
                        auto stream = self->stream_;
                        self->close();
                        if (stream && !stream->finished()) stream->on_transport_lost();
                        return;
                      }
                      self->do_write();
                    });
}

void LocalConnection::close() {
  if (closed_) return;
  closed_ = true;
  open_deadline_.cancel();
  boost::system::error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
  write_queue_.clear();
  writing_ = 0;
  // Keep stream_ until it finishes: it may still call send()/send_result(), which are no-ops now.
  if (stream_ && stream_->finished()) stream_.reset();
}

}  // namespace automatelinux::core
