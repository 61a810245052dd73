#include "core/serving_stream.hpp"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "automatelinux/sdk/terminal.hpp"
#include "core/dispatcher.hpp"
#include "core/exit_status.hpp"
#include "core/requester.hpp"
#include "core/untrusted_text.hpp"
#include "wire/messages.hpp"

namespace automatelinux::core {
namespace {

// Window sizes a handler has not read yet: only the newest few matter.
constexpr std::size_t kMaxQueuedControl = 16;

// A request id from a peer is used only if it looks like one of ours (no log injection).
bool plausible_request_id(const std::string& id) {
  return !id.empty() && id.size() <= 32 &&
         id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The request id is chosen by whoever asked (both ends log the same one), so it is not unique on
// its own: each audit record also carries this daemon's own sequence number.
std::uint64_t next_audit_seq() {
  static std::uint64_t seq = 0;
  return ++seq;
}

std::string new_request_id() {
  static std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:012x}", rng() & 0xffffffffffffULL);
}

}  // namespace

ServingStream::ServingStream(asio::io_context& io, std::shared_ptr<spdlog::logger> log,
                             sdk::AuditLog* audit, std::shared_ptr<StreamTransport> transport,
                             sdk::Requester requester, std::string request_id)
    : io_(io),
      log_(std::move(log)),
      audit_(audit),
      transport_(std::move(transport)),
      requester_(std::move(requester)),
      id_(plausible_request_id(request_id) ? std::move(request_id) : new_request_id()),
      seq_(next_audit_seq()),
      cancel_deadline_(io),
      timeout_(io) {
  ++unfinished_;
}

ServingStream::~ServingStream() {
  if (!finished_) --unfinished_;
}

void ServingStream::set_subject(std::string subject) {
  // Already printable (escaped by the caller); only its length is bounded here.
  if (subject.size() > kMaxAuditText)
    subject = fmt::format("{}…(+{} bytes)", subject.substr(0, kMaxAuditText),
                          subject.size() - kMaxAuditText);
  subject_ = std::move(subject);
}

void ServingStream::keep_loaded(LibraryRef library) {
  if (library && std::find(libraries_.begin(), libraries_.end(), library) == libraries_.end())
    libraries_.push_back(std::move(library));
}

// Every call into plugin code goes through here: an exception ends the request, never the daemon.
template <class F>
void ServingStream::guarded(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    log_->error("request {}: command failed: {}", id_, escape_untrusted(e.what()));
    finish(sdk::Result::error(std::string("internal error: ") + e.what()));
  } catch (...) {
    log_->error("request {}: command threw a non-exception", id_);
    finish(sdk::Result::error("internal error"));
  }
}

void ServingStream::on_frame(wire::Frame frame) {
  const std::string& type = frame.type();
  if (type == wire::msg::kData) {
    if (wire::int_field(frame.header, "ch", -1) != static_cast<int>(sdk::Channel::in))
      throw wire::FrameError("requester may only send data on the input channel");
    if (input_eof_) throw wire::FrameError("input data after EOF");
    if (frame.body.size() > input_credit_)
      throw wire::FrameError("input data beyond granted credit");
    input_credit_ -= frame.body.size();
    bytes_in_ += frame.body.size();
    // input_credit_ is the stricter check; the window measures round trips and grows.
    input_window_.on_received(frame.body.size(), wire::uint_field(frame.header, "mark", 0),
                              CreditWindow::Clock::now());
    input_buffered_ += frame.body.size();
    if (!frame.body.empty()) input_.push_back(std::move(frame.body));
    deliver_input();
  } else if (type == wire::msg::kEof) {
    input_eof_ = true;
    deliver_input();
  } else if (type == wire::msg::kCredit) {
    const auto n = wire::uint_field(frame.header, "n", 0);
    if (n > static_cast<std::uint64_t>(unacked_ + max_credit_ahead_))
      throw wire::FrameError("credit for more bytes than were sent");
    unacked_ -= static_cast<std::int64_t>(n);
    // A round-trip mark from the requester: echoed on the next output we send.
    if (const auto mark = wire::uint_field(frame.header, "mark", 0); mark != 0) echo_mark_ = mark;
    flush_output();
  } else if (type == wire::msg::kWinsize) {
    on_window_size(frame);
  } else if (type == wire::msg::kCancel) {
    const auto signal = wire::int_field(frame.header, "signal", SIGINT);
    start_cancel(signal > 0 && signal < 65 ? static_cast<int>(signal) : SIGINT);
  } else {
    throw wire::FrameError("unexpected message type '" + type + "' in a request");
  }
}

// A terminal request's window size from the requester, queued for the handler's control reads.
void ServingStream::on_window_size(const wire::Frame& frame) {
  const auto rows = wire::int_field(frame.header, "rows", 0);
  const auto cols = wire::int_field(frame.header, "cols", 0);
  if (rows < 0 || cols < 0 || rows > sdk::kMaxTerminalDimension ||
      cols > sdk::kMaxTerminalDimension)
    throw wire::FrameError("window size out of range");
  sdk::TerminalSize size{static_cast<int>(rows), static_cast<int>(cols), {}};
  // Only `d` names the terminal type; a peer passes it on in the open request.
  if (requester_.peer.empty()) {
    const auto term = wire::string_field(frame.header, "term", "");
    if (sdk::valid_term(term)) size.term = term;
  }
  if (finished_) return;
  if (control_in_.size() >= kMaxQueuedControl) control_in_.pop_front();
  control_in_.push_back(sdk::window_size(size));
  deliver_control();
}

void ServingStream::on_transport_lost() {
  transport_lost_ = true;
  asio::post(io_, [self = shared_from_this()] { self->deliver_control(); });
  start_cancel(SIGHUP);
}

void ServingStream::arm_timeout(std::chrono::milliseconds timeout) {
  timeout_.expires_after(timeout);
  timeout_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->finished_) return;
    self->timed_out_ = true;
    self->start_cancel(SIGTERM);
  });
}

void ServingStream::enable_window_growth(WindowLimits limits) {
  max_credit_ahead_ = static_cast<std::int64_t>(kMaxStreamWindow - kStreamWindow);
  input_window_.enable_growth(std::move(limits));
}

void ServingStream::start_cancel(int signal) {
  if (finished_ || cancelled_) return;
  cancelled_ = true;
  if (!cancel_handler_) {
    finish(sdk::Result::cancelled());
    return;
  }
  asio::post(io_, [self = shared_from_this(), signal] {
    if (self->finished_ || !self->cancel_handler_) return;
    // A copy: the handler usually calls finish(), which drops the stored one.
    auto handler = self->cancel_handler_;
    self->guarded([&] { handler(signal); });
  });
  cancel_deadline_.expires_after(kCancelGrace);
  cancel_deadline_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->finished_) return;
    self->log_->warn("request {}: command did not stop within {}s of cancel", self->id_,
                     kCancelGrace.count());
    self->finish(sdk::Result::error("command did not stop after being cancelled"));
  });
}

void ServingStream::write(sdk::Channel channel, std::string bytes, WriteHandler done) {
  if (channel == sdk::Channel::control) return write_control(bytes, std::move(done));
  if (finished_ || transport_lost_ ||
      (channel != sdk::Channel::out && channel != sdk::Channel::err)) {
    if (done)
      asio::post(io_, [self = shared_from_this(), done] { self->guarded([&] { done(false); }); });
    return;
  }
  bytes_out_ += bytes.size();
  if (bytes.size() <= wire::kMaxChunk) {
    pending_out_.emplace_back(channel, std::move(bytes));
  } else {
    for (std::size_t pos = 0; pos < bytes.size(); pos += wire::kMaxChunk)
      pending_out_.emplace_back(channel, bytes.substr(pos, wire::kMaxChunk));
  }
  if (done) waiting_writers_.push_back(std::move(done));
  flush_output();
}

// Sends chunks while the window has room (so the receiver never holds more than a window plus
// one chunk), and releases writers once everything they wrote is on its way.
void ServingStream::flush_output() {
  constexpr auto window = static_cast<std::int64_t>(kStreamWindow);
  // A send can end the stream at once (a session over its queue limit closes, which finishes
  // this stream and empties pending_out_): the chunk leaves the queue before it is sent.
  const auto self = shared_from_this();
  while (!pending_out_.empty() && unacked_ < window) {
    auto [channel, chunk] = std::move(pending_out_.front());
    pending_out_.pop_front();
    nlohmann::json header = {{"t", wire::msg::kData}, {"ch", static_cast<int>(channel)}};
    if (echo_mark_ != 0) header["mark"] = std::exchange(echo_mark_, 0);
    unacked_ += static_cast<std::int64_t>(chunk.size());
    transport_->send(std::move(header), std::move(chunk));
  }
  if (!pending_out_.empty() || unacked_ >= window || waiting_writers_.empty()) return;
  asio::post(io_, [self = shared_from_this(), writers = std::exchange(waiting_writers_, {})] {
    for (const auto& done : writers) self->guarded([&] { done(!self->finished_); });
  });
}

void ServingStream::close(sdk::Channel channel) {
  if (finished_ || transport_lost_) return;
  transport_->send({{"t", wire::msg::kEof}, {"ch", static_cast<int>(channel)}}, {});
}

// Control from the handler: only the switch to terminal mode, and only towards a local `d` (a
// peer's requester is a daemon, which has no terminal to switch).
void ServingStream::write_control(const std::string& payload, WriteHandler done) {
  const auto mode = sdk::parse_terminal_mode(payload);
  const bool ok = mode && !finished_ && !transport_lost_ && requester_.peer.empty();
  if (ok) {
    nlohmann::json header = {{"t", wire::msg::kTty}};
    if (*mode) header["escape"] = **mode;
    transport_->send(std::move(header), {});
  }
  if (done)
    asio::post(io_, [self = shared_from_this(), done, ok] { self->guarded([&] { done(ok); }); });
}

void ServingStream::deliver_control() {
  if (!control_reader_) return;
  if (!control_in_.empty()) {
    std::string payload = std::move(control_in_.front());
    control_in_.pop_front();
    auto reader = std::exchange(control_reader_, {});
    guarded([&] { reader(payload, false); });
  } else if ((transport_lost_ || finished_) && !control_eof_delivered_) {
    control_eof_delivered_ = true;
    auto reader = std::exchange(control_reader_, {});
    guarded([&] { reader({}, true); });
  }
}

void ServingStream::read(sdk::Channel channel, ReadHandler handler) {
  if (channel == sdk::Channel::control) {
    if (control_reader_) throw std::logic_error("a read is already outstanding on this channel");
    if (finished_) {
      asio::post(io_, [self = shared_from_this(), handler = std::move(handler)] {
        self->guarded([&] { handler({}, true); });
      });
      return;
    }
    control_reader_ = std::move(handler);
    asio::post(io_, [self = shared_from_this()] { self->deliver_control(); });
    return;
  }
  if (channel != sdk::Channel::in) throw std::logic_error("a served request reads only its input");
  if (reader_) throw std::logic_error("a read is already outstanding on this channel");
  if (finished_) {
    // Storing it would keep whatever it captures alive forever: answer EOF instead.
    asio::post(io_, [self = shared_from_this(), handler = std::move(handler)] {
      self->guarded([&] { handler({}, true); });
    });
    return;
  }
  reader_ = std::move(handler);
  if (!input_requested_ && !finished_ && !transport_lost_) {
    input_requested_ = true;
    input_credit_ = kStreamWindow;
    transport_->send({{"t", wire::msg::kCredit}, {"n", kStreamWindow}}, {});
  }
  asio::post(io_, [self = shared_from_this()] { self->deliver_input(); });
}

void ServingStream::deliver_input() {
  if (!reader_ || finished_) return;
  if (!input_.empty()) {
    std::string chunk = std::move(input_.front());
    input_.pop_front();
    auto reader = std::exchange(reader_, {});
    guarded([&] { reader(chunk, false); });
    // Credit goes back only once the handler has taken the bytes: that is the backpressure.
    input_buffered_ -= chunk.size();
    const auto credit =
        input_window_.on_consumed(chunk.size(), input_buffered_, CreditWindow::Clock::now());
    if (credit.n > 0 && !finished_ && !transport_lost_ && !input_eof_) {
      input_credit_ += credit.n;
      nlohmann::json header = {{"t", wire::msg::kCredit}, {"n", credit.n}};
      if (credit.mark != 0) header["mark"] = credit.mark;
      transport_->send(std::move(header), {});
    }
  } else if ((input_eof_ || transport_lost_) && !input_eof_delivered_) {
    input_eof_delivered_ = true;
    auto reader = std::exchange(reader_, {});
    guarded([&] { reader({}, true); });
  }
}

void ServingStream::on_cancel(CancelHandler handler) {
  if (!finished_) cancel_handler_ = std::move(handler);
}

void ServingStream::finish(sdk::Result result) {
  if (finished_) return;
  finished_ = true;
  --unfinished_;
  cancel_deadline_.cancel();
  timeout_.cancel();
  if (timed_out_ && result.kind != sdk::Result::Kind::error) result = sdk::Result::timeout();
  audit(result);
  transport_->send_result(result);  // the transport drops it if the requester is gone
  // Drop plugin callbacks now: they usually hold this stream and would keep it alive forever.
  cancel_handler_ = {};
  reader_ = {};
  control_reader_ = {};
  pending_out_.clear();
  input_window_.release();
  if (!waiting_writers_.empty()) {
    // `self` goes along: it keeps the plugin's library loaded while the writers exist.
    asio::post(io_, [self = shared_from_this(), writers = std::exchange(waiting_writers_, {})] {
      for (const auto& done : writers) {
        try {
          done(false);
        } catch (...) {
        }
      }
    });
  }
}

// One line in the daemon's log and one record in the structured audit log per request,
// whatever the outcome.
void ServingStream::audit(const sdk::Result& result) {
  const double elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_)
          .count();
  const char* decision = result.kind != sdk::Result::Kind::error ? "ran"
                         : details_.denied                       ? "denied"
                                                                 : "refused";
  const std::string reason = result.reason.substr(0, kMaxAuditText);
  // Refusals a member repeats are counted into one summary, so that it cannot rotate this
  // host's history away (a request that ran always has its own record).
  if (member_requests_ && result.kind == sdk::Result::Kind::error &&
      !member_requests_->audit_in_full(requester_.peer, decision, reason))
    return;
  log_->info(
      "audit request={} requester={} uid={} command=[{}] decision={} result={} code={} exit={} "
      "duration_ms={:.1f} bytes_out={} bytes_in={} seq={}{}{}{}{}",
      id_, requester_.peer.empty() ? "local" : escape_untrusted(requester_.peer), requester_.uid,
      subject_, decision, result_kind_name(result.kind), result.code, exit_status(result),
      elapsed_ms, bytes_out_, bytes_in_, seq_,
      // Who asked, as member/login name ("vps/alice", "local/alice").
      requester_.name.empty() ? "" : " by=",
      requester_.name.empty() ? "" : escape_untrusted(requester_label(requester_)),
      reason.empty() ? "" : " reason=", printable_command({reason}));
  if (audit_ == nullptr) return;
  nlohmann::json record = {{"event", "request"},
                           {"request", id_},
                           {"seq", seq_},
                           {"requester", requester_.peer.empty() ? "local" : requester_.peer},
                           {"command", subject_},
                           {"decision", decision},
                           {"result", result_kind_name(result.kind)},
                           {"exit", exit_status(result)},
                           {"duration_ms", std::round(elapsed_ms * 10) / 10},
                           {"bytes_out", bytes_out_},
                           {"bytes_in", bytes_in_}};
  if (requester_.uid >= 0) record["uid"] = requester_.uid;
  if (!requester_.name.empty()) record["caller"] = requester_.name;
  if (result.kind == sdk::Result::Kind::signaled) record["signal"] = result.code;
  if (!reason.empty()) record["reason"] = reason;
  if (!details_.directory.empty()) record["directory"] = details_.directory;
  if (details_.job) record["job"] = *details_.job;
  audit_->record(std::move(record));
}

}  // namespace automatelinux::core
