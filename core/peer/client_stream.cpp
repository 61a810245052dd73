#include "core/peer/client_stream.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "automatelinux/sdk/terminal.hpp"
#include "core/serving_stream.hpp"
#include "wire/messages.hpp"

namespace automatelinux::core::peer {
namespace {

// Plugin callbacks must never unwind into the event loop. (Posted callbacks carry `self` along:
// the stream keeps the plugin's library loaded while they exist.)
template <class F>
void guarded(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    spdlog::error("plugin callback on a peer stream threw: {}", e.what());
  } catch (...) {
    spdlog::error("plugin callback on a peer stream threw a non-exception");
  }
}

// A result from a peer, made safe: a bounded, printable, single-line reason.
sdk::Result result_from(const wire::Frame& frame) {
  const std::string kind = wire::string_field(frame.header, "kind", "error");
  sdk::Result r;
  r.code =
      static_cast<int>(std::clamp<std::int64_t>(wire::int_field(frame.header, "code", 0), 0, 255));
  r.reason = frame.body.substr(0, 1024);
  for (char& c : r.reason)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  if (kind == "exited")
    r.kind = sdk::Result::Kind::exited;
  else if (kind == "signaled")
    r.kind = sdk::Result::Kind::signaled;
  else if (kind == "timeout")
    r.kind = sdk::Result::Kind::timeout;
  else if (kind == "cancelled")
    r.kind = sdk::Result::Kind::cancelled;
  else
    r.kind = sdk::Result::Kind::error;
  return r;
}

}  // namespace

ClientStream::ClientStream(asio::io_context& io, std::shared_ptr<PeerSession> session,
                           std::uint64_t sid, sdk::Requester requester, std::string request_id,
                           LibraryRef library, WindowLimits limits)
    : library_(std::move(library)),
      io_(io),
      session_(std::move(session)),
      sid_(sid),
      requester_(std::move(requester)),
      request_id_(std::move(request_id)),
      limits_(std::move(limits)) {}

ClientStream::Output& ClientStream::output(sdk::Channel channel) {
  if (channel == sdk::Channel::out) return out_;
  if (channel == sdk::Channel::err) return err_;
  throw std::logic_error("a requester reads only stdout and stderr");
}

void ClientStream::on_frame(wire::Frame frame) {
  const std::string& type = frame.type();
  if (type == wire::msg::kData) {
    const auto ch = wire::int_field(frame.header, "ch", -1);
    if (ch != 1 && ch != 2) throw wire::FrameError("output data on an unknown channel");
    auto channel = static_cast<sdk::Channel>(ch);
    auto& o = output(channel);
    if (o.eof) throw wire::FrameError("output after EOF");
    // The sender may have at most its window (plus one chunk) of bytes we have not credited.
    if (!window_.on_received(frame.body.size(), wire::uint_field(frame.header, "mark", 0),
                             CreditWindow::Clock::now()))
      throw wire::FrameError("peer sent beyond its credit window");
    buffered_ += frame.body.size();
    if (!frame.body.empty()) o.chunks.push_back(std::move(frame.body));
    deliver(channel);
  } else if (type == wire::msg::kEof) {
    const auto ch = wire::int_field(frame.header, "ch", -1);
    if (ch == 1 || ch == 2) {
      output(static_cast<sdk::Channel>(ch)).eof = true;
      deliver(static_cast<sdk::Channel>(ch));
    }
  } else if (type == wire::msg::kCredit) {
    on_credit(frame);
  } else if (type == wire::msg::kResult) {
    complete(result_from(frame));
  } else {
    throw wire::FrameError("unexpected message '" + type + "' on a stream");
  }
}

// Input credit; `grow` (with no credit) is the server's sign that it understands grown windows,
// which it sends only when our open asked for them.
void ClientStream::on_credit(const wire::Frame& frame) {
  if (wire::bool_field(frame.header, "grow", false) && !input_grows_ && session_ &&
      session_->protocol >= wire::kGrowingWindowsProtocol) {
    input_grows_ = true;
    window_.enable_growth(limits_);
  }
  const auto n = wire::uint_field(frame.header, "n", 0);
  const std::size_t max = input_grows_ ? kMaxStreamWindow : kStreamWindow;
  if (n > max || input_credit_ + n > max + wire::kMaxChunk)
    throw wire::FrameError("credit larger than a window");
  input_credit_ += n;
  // A round-trip mark from the server: echoed on the next input we send.
  if (const auto mark = wire::uint_field(frame.header, "mark", 0); mark != 0) echo_mark_ = mark;
  flush_input();
}

void ClientStream::on_lost(const std::string& reason) {
  complete(sdk::Result::error(reason));
}

void ClientStream::complete(sdk::Result result) {
  if (result_) return;
  result_ = std::move(result);
  // Nothing more can arrive: what is buffered is all there is.
  out_.eof = err_.eof = true;
  deliver(sdk::Channel::out);
  deliver(sdk::Channel::err);
  input_.clear();
  window_.release();
  if (auto done = std::exchange(input_done_, {}))
    asio::post(io_, [self = shared_from_this(), done] { guarded([&] { done(false); }); });
  if (result_handler_)
    asio::post(io_, [self = shared_from_this()] {
      if (auto handler = std::exchange(self->result_handler_, {}))
        guarded([&] { handler(*self->result_); });
    });
  session_.reset();
}

void ClientStream::on_result(ResultHandler handler) {
  result_handler_ = std::move(handler);
  if (result_)
    asio::post(io_, [self = shared_from_this()] {
      if (auto handler = std::exchange(self->result_handler_, {}))
        guarded([&] { handler(*self->result_); });
    });
}

void ClientStream::read(sdk::Channel channel, ReadHandler handler) {
  auto& o = output(channel);
  if (o.reader) throw std::logic_error("a read is already outstanding on this channel");
  if (o.eof_delivered) {
    asio::post(io_, [self = shared_from_this(), handler = std::move(handler)] {
      guarded([&] { handler({}, true); });
    });
    return;
  }
  o.reader = std::move(handler);
  asio::post(io_, [self = shared_from_this(), channel] { self->deliver(channel); });
}

void ClientStream::deliver(sdk::Channel channel) {
  auto& o = output(channel);
  if (!o.reader) return;
  if (!o.chunks.empty()) {
    std::string chunk = std::move(o.chunks.front());
    o.chunks.pop_front();
    auto reader = std::exchange(o.reader, {});
    guarded([&] { reader(chunk, false); });
    // Credit returns only once the plugin has taken the bytes, end to end (batched, and grown
    // while the stream is throughput-bound: CreditWindow).
    buffered_ -= chunk.size();
    const auto credit = window_.on_consumed(chunk.size(), buffered_, CreditWindow::Clock::now());
    if (credit.n > 0 && session_ && !result_) {
      nlohmann::json header = {{"t", wire::msg::kCredit}, {"sid", sid_}, {"n", credit.n}};
      if (credit.mark != 0) header["mark"] = credit.mark;
      session_->send(header);
    }
  } else if (o.eof && !o.eof_delivered) {
    o.eof_delivered = true;
    auto reader = std::exchange(o.reader, {});
    guarded([&] { reader({}, true); });
  }
}

void ClientStream::write(sdk::Channel channel, std::string bytes, WriteHandler done) {
  if (channel == sdk::Channel::control) {
    // A new window size for a terminal request; it needs no credit. The terminal type went in
    // the open request.
    const auto size = sdk::parse_window_size(bytes);
    const bool ok = size && session_ && !result_;
    if (ok)
      session_->send(
          {{"t", wire::msg::kWinsize}, {"sid", sid_}, {"rows", size->rows}, {"cols", size->cols}});
    if (done)
      asio::post(io_, [self = shared_from_this(), done, ok] { guarded([&] { done(ok); }); });
    return;
  }
  if (channel != sdk::Channel::in || result_ || input_closed_ || input_close_pending_ ||
      input_done_) {
    if (done) asio::post(io_, [self = shared_from_this(), done] { guarded([&] { done(false); }); });
    return;
  }
  for (std::size_t pos = 0; pos < bytes.size(); pos += wire::kMaxChunk)
    input_.push_back(bytes.substr(pos, wire::kMaxChunk));
  input_done_ = std::move(done);
  flush_input();
}

void ClientStream::flush_input() {
  while (session_ && !input_.empty() && input_credit_ > 0) {
    std::string& chunk = input_.front();
    const std::size_t n = std::min(chunk.size(), input_credit_);
    nlohmann::json header = {{"t", wire::msg::kData}, {"sid", sid_}, {"ch", 0}};
    if (echo_mark_ != 0) header["mark"] = std::exchange(echo_mark_, 0);
    session_->send(header, std::string_view(chunk).substr(0, n));
    input_credit_ -= n;
    if (n == chunk.size())
      input_.pop_front();
    else
      chunk.erase(0, n);
  }
  if (!input_.empty()) return;
  if (auto done = std::exchange(input_done_, {}))
    asio::post(io_, [self = shared_from_this(), done] { guarded([&] { done(true); }); });
  if (input_close_pending_ && session_ && !input_closed_) {
    input_closed_ = true;
    session_->send({{"t", wire::msg::kEof}, {"sid", sid_}, {"ch", 0}});
  }
}

void ClientStream::close(sdk::Channel channel) {
  if (channel != sdk::Channel::in || input_closed_) return;
  input_close_pending_ = true;
  flush_input();
}

void ClientStream::cancel(int signal) {
  if (session_ && !result_)
    session_->send({{"t", wire::msg::kCancel}, {"sid", sid_}, {"signal", signal}});
}

}  // namespace automatelinux::core::peer
