#include "core/peer/peer_session.hpp"

#include <spdlog/spdlog.h>

#include "core/peer/cluster_state.hpp"
#include "wire/messages.hpp"

namespace automatelinux::core::peer {

PeerSession::PeerSession(Tcp::socket socket, asio::ssl::context& context,
                         std::shared_ptr<spdlog::logger> log, bool is_tls_client)
    : channel_(std::make_shared<TlsChannel>(std::move(socket), context)),
      log_(std::move(log)),
      is_tls_client_(is_tls_client),
      deadline_(channel_->socket().get_executor()),
      ping_timer_(channel_->socket().get_executor()),
      silence_timer_(channel_->socket().get_executor()),
      next_sid_(is_tls_client ? 1 : 0) {
  boost::system::error_code ec;
  const auto endpoint = channel_->socket().remote_endpoint(ec);
  remote_ = ec ? "?" : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

PeerSession::~PeerSession() = default;

X509* PeerSession::peer_certificate() const {
  return SSL_get0_peer_certificate(channel_->native_handle());
}

void PeerSession::handshake(std::function<void(const std::string&)> done) {
  deadline_.expires_after(kHandshakeTimeout);
  deadline_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->close("TLS handshake timed out");
  });
  channel_->async_handshake(is_tls_client_, [self = shared_from_this(),
                                             done = std::move(done)](boost::system::error_code ec) {
    self->deadline_.cancel();
    if (self->closed_) return done(self->close_reason_);
    if (ec) {
      std::string reason = "TLS handshake failed: " + ec.message();
      self->handshake_cut_by_remote_ = ec == asio::error::eof ||
                                       ec == asio::ssl::error::stream_truncated ||
                                       ec == asio::error::connection_reset;
      self->close(reason);
      return done(reason);
    }
    done({});
  });
}

void PeerSession::start(Events events) {
  events_ = std::move(events);
  last_seen = unix_now();
  do_read();
}

void PeerSession::set_max_frame(std::size_t max_frame) {
  decoder_.set_max_frame(max_frame);
  const bool small = max_frame < kReadBuffer;
  read_room_ = small ? kPreauthReadBuffer : kReadBuffer;
  channel_->set_read_chunk(small ? kPreauthReadBuffer : kReceiveChunk);
}

void PeerSession::do_read() {
  // Decrypted straight into the decoder: no copy between the read and the frame.
  const auto [room, room_size] = decoder_.prepare(read_room_);
  channel_->async_read_some(asio::buffer(room, room_size),
                            [self = shared_from_this()](boost::system::error_code ec,
                                                        std::size_t n) { self->on_read(ec, n); });
}

void PeerSession::on_read(boost::system::error_code ec, std::size_t n) {
  if (closed_) return;
  if (ec)
    return close(ec == asio::error::eof || ec == asio::ssl::error::stream_truncated
                     ? "connection closed by peer"
                     : "read failed: " + ec.message());
  last_seen = unix_now();
  decoder_.commit(n);
  handle_frames();
}

void PeerSession::handle_frames() {
  // The peer is not silent while what it sent is still being handled: a read can carry a
  // hundred stream opens, each starting a process, which takes seconds on a loaded host.
  arm_silence_timer();
  const auto turn_ends = std::chrono::steady_clock::now() + kTurnBudget;
  try {
    while (auto frame = decoder_.next()) {
      if (closing_) return;  // nothing more is processed once we decided to close
      handle_frame(*frame);
      if (closed_) return;
      if (std::chrono::steady_clock::now() >= turn_ends) {
        // The rest waits for the next turn, so timers (heartbeats) and other connections are
        // served in between.
        return asio::post(channel_->socket().get_executor(), [self = shared_from_this()] {
          if (!self->closed_) self->handle_frames();
        });
      }
    }
  } catch (const wire::FrameError& e) {
    return close(std::string("bad frame: ") + e.what());
  } catch (const std::exception& e) {
    return close(std::string("bad message: ") + e.what());
  }
  do_read();
}

void PeerSession::handle_frame(wire::Frame& frame) {
  const std::string& type = frame.type();
  // Heartbeats are answered only on authenticated sessions (start_heartbeat was called).
  if (type == wire::msg::kPing && heartbeat_.count() > 0) {
    send({{"t", wire::msg::kPong}, {"n", wire::uint_field(frame.header, "n", 0)}});
    if (is_tls_client_) on_server_ping(frame.header);
  } else if (type == wire::msg::kPong && heartbeat_.count() > 0) {
    if (wire::uint_field(frame.header, "n", 0) == ping_seq_)
      rtt_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - ping_sent_)
              .count();
  } else {
    events_.on_frame(shared_from_this(), frame);
  }
}

void PeerSession::start_heartbeat(std::chrono::milliseconds interval) {
  heartbeat_ = interval;
  arm_silence_timer();
  send_ping();
}

// The TLS server says in its pings how often it pings and the round trip it measured. A client
// that has heard that pings only when it sent nothing else for an interval (its pongs keep the
// server's silence timer fed): half the heartbeat frames of an idle cluster, which is most of
// what an idle leader does. Busy with a backlog, it still pings between frames. A server that
// does not say (an older daemon) is pinged as before.
void PeerSession::on_server_ping(const nlohmann::json& ping) {
  const auto every = wire::uint_field(ping, "every", 0);
  if (every == 0) return;
  peer_interval_ = std::chrono::milliseconds(std::min<std::uint64_t>(every, 3'600'000));
  server_pings_ = true;
  if (auto rtt = ping.find("rtt"); rtt != ping.end() && rtt->is_number() && rtt->get<double>() >= 0)
    rtt_ms = std::min(rtt->get<double>(), 3'600'000.0);
  arm_silence_timer();  // by the server's interval from now on
}

void PeerSession::send_ping() {
  if (closed_) return;
  const auto now = std::chrono::steady_clock::now();
  const bool quiet = now - last_queued_ >= std::max(heartbeat_, peer_interval_);
  if (!server_pings_ || quiet) {
    ping_sent_ = now;
    nlohmann::json ping = {{"t", wire::msg::kPing}, {"n", ++ping_seq_}};
    if (!is_tls_client_) {
      ping["every"] = heartbeat_.count();
      if (rtt_ms) ping["rtt"] = *rtt_ms;
    }
    send(ping);
  }
  ping_timer_.expires_after(heartbeat_);
  ping_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->send_ping();
  });
}

void PeerSession::arm_silence_timer() {
  if (heartbeat_.count() == 0) return;
  silence_timer_.expires_after(std::max(heartbeat_, peer_interval_) * 3);
  silence_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->close("no heartbeat for 3 intervals");
  });
}

void PeerSession::send(const nlohmann::json& header, std::string_view body) {
  if (closed_ || closing_) return;
  enqueue({wire::encode(header, body), {}, nullptr, nullptr});
}

void PeerSession::send_encoded(std::string frame) {
  if (closed_ || closing_) return;
  enqueue({std::move(frame), {}, nullptr, nullptr});
}

void PeerSession::send_owned(const nlohmann::json& header, std::string body) {
  send_charged(header, std::move(body), nullptr, nullptr);
}

void PeerSession::send_charged(const nlohmann::json& header, std::string body,
                               const QueueChargePtr& stream, const QueueChargePtr& sender) {
  if (closed_ || closing_) return;
  auto head = wire::encode_head(header, body.size());
  enqueue({std::move(head), std::move(body), stream, sender});
}

void PeerSession::enqueue(Queued frame) {
  const std::size_t n = frame.size();
  last_queued_ = std::chrono::steady_clock::now();
  if (frame.stream) frame.stream->bytes += n;
  if (frame.sender) frame.sender->bytes += n;
  queue_.push_back(std::move(frame));
  queued_bytes_ += n;
  // Per-stream credit bounds data; this only catches a peer that stopped reading altogether.
  if (queued_bytes_ > kMaxQueuedBytes) return close("peer is not reading (write queue full)");
  if (writing_ || flush_posted_) return;
  // Not at once: the frames queued by the rest of this handler (a stream's open and its input's
  // end, a grown window's answer and a command's first output) go out in the same write, one
  // system call and one wake-up of the peer instead of several.
  flush_posted_ = true;
  asio::post(channel_->socket().get_executor(), [self = shared_from_this()] {
    self->flush_posted_ = false;
    if (!self->closed_ && !self->writing_) self->do_write();
  });
}

void PeerSession::release(Queued& q) {
  queued_bytes_ -= q.size();
  if (q.stream) q.stream->bytes -= q.size();
  if (q.sender) q.sender->bytes -= q.size();
}

void PeerSession::do_write() {
  if (queue_.empty()) {
    if (closing_) close("closed after flush");
    return;
  }
  // Every queued frame up to kWriteBatch goes in one write: the channel encrypts them at once
  // and hands the socket all their records.
  std::vector<std::string_view> batch;
  std::size_t bytes = 0;
  writing_ = 0;
  for (const auto& q : queue_) {
    if (writing_ > 0 && bytes + q.size() > kWriteBatch) break;
    ++writing_;
    batch.emplace_back(q.head);
    if (!q.body.empty()) batch.emplace_back(q.body);
    bytes += q.size();
  }
  channel_->async_write(batch, [self = shared_from_this()](boost::system::error_code ec) {
    if (self->closed_) return;
    for (; self->writing_ > 0; --self->writing_) {
      self->release(self->queue_.front());
      self->queue_.pop_front();
    }
    if (ec) return self->close("write failed: " + ec.message());
    self->do_write();
  });
}

void PeerSession::close_after_flush(const std::string& why) {
  if (closed_) return;
  if (!writing_ && queue_.empty()) return close(why);
  closing_ = true;
  deadline_.expires_after(std::chrono::seconds(2));
  deadline_.async_wait([self = shared_from_this(), why](boost::system::error_code ec) {
    if (!ec) self->close(why);
  });
}

void PeerSession::close(const std::string& why) {
  if (closed_) return;
  closed_ = true;
  close_reason_ = why;
  deadline_.cancel();
  ping_timer_.cancel();
  silence_timer_.cancel();
  channel_->close();
  // What was queued is dropped (its charges released): the channel encrypted the frames being
  // written into its own buffer, so none is referred to any more. Nothing more is decoded. The
  // decoder stays as it is: a read decrypts into its storage, and a cancelled read may still.
  for (auto& q : queue_) release(q);
  queue_.clear();
  writing_ = 0;
  queued_bytes_ = 0;
  auto on_closed = std::move(events_.on_closed);
  events_ = {};
  if (on_closed) on_closed(shared_from_this(), why);
}

}  // namespace automatelinux::core::peer
