// One TLS connection between two daemons: handshake with a deadline, a frame read loop, a
// single-writer queue, and heartbeats. What the frames mean is the PeerManager's business.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ssl.hpp>

#include "core/asio.hpp"
#include "core/peer/tls_channel.hpp"
#include "wire/frame.hpp"

namespace spdlog {
class logger;
}

namespace automatelinux::core::peer {

using Tcp = asio::ip::tcp;

inline constexpr std::chrono::seconds kHandshakeTimeout{10};
inline constexpr std::size_t kMaxQueuedBytes = 256 * 1024 * 1024;
// Reads: into little room of the decoder until the peer is authenticated (an enroll request is
// a few KiB). After that, one receive takes up to kReceiveChunk of records and one write up to
// kWriteBatch of queued frames: fewer system calls per byte, which is what bulk streams spend
// most on.
inline constexpr std::size_t kPreauthReadBuffer = 4 * 1024;
inline constexpr std::size_t kReadBuffer = 64 * 1024;
inline constexpr std::size_t kReceiveChunk = 128 * 1024;
inline constexpr std::size_t kWriteBatch = 1024 * 1024;
// Frames are handled for at most this long per turn of the event loop (at least one per turn).
inline constexpr std::chrono::microseconds kTurnBudget{1000};

// Bytes waiting in a session's write queue on someone's behalf (one direction of a relayed
// stream, one sending member). Released as the bytes are written or dropped, so whoever queues
// on another session's connection can be held to a bound of its own.
struct QueueCharge {
  std::size_t bytes = 0;
};
using QueueChargePtr = std::shared_ptr<QueueCharge>;

class PeerSession : public std::enable_shared_from_this<PeerSession> {
 public:
  struct Events {
    std::function<void(const std::shared_ptr<PeerSession>&, wire::Frame&)> on_frame;
    std::function<void(const std::shared_ptr<PeerSession>&, const std::string& why)> on_closed;
  };

  // The TLS session is made from `context` (which may be freed afterwards).
  PeerSession(Tcp::socket socket, asio::ssl::context& context, std::shared_ptr<spdlog::logger> log,
              bool is_tls_client);
  ~PeerSession();

  // Handshake (bounded by kHandshakeTimeout), then `done` with an empty error or the reason.
  void handshake(std::function<void(const std::string& error)> done);
  // Starts the frame loop; frames and the close go to `events`.
  void start(Events events);
  // Heartbeats: a ping every `interval` (once the server's pings say how often it pings, the TLS
  // client pings only when it sent nothing else for that long); silence for 3 intervals (the
  // longer of the two) closes the session.
  void start_heartbeat(std::chrono::milliseconds interval);

  void send(const nlohmann::json& header, std::string_view body = {});
  // A whole frame wire::encode made: what goes to many sessions (the member list, the roster) is
  // serialized once and copied to each, instead of serialized per session.
  void send_encoded(std::string frame);
  // As send, taking the body over: it is encrypted from where it lies, never copied.
  void send_owned(const nlohmann::json& header, std::string body);
  // As send_owned, counting the frame's bytes against `stream` and `sender` until written or
  // dropped.
  void send_charged(const nlohmann::json& header, std::string body, const QueueChargePtr& stream,
                    const QueueChargePtr& sender);
  // Largest frame accepted from the peer (default wire::kMaxFrameSize). Also sizes the room each
  // read asks of the decoder (allocated only when the first read starts).
  void set_max_frame(std::size_t max_frame);
  // Closes after what is queued has been written (bounded by a short deadline).
  void close_after_flush(const std::string& why);
  void close(const std::string& why);

  bool is_tls_client() const { return is_tls_client_; }
  bool closed() const { return closed_; }
  // The other end closed or reset the connection during the handshake (a leader at its cap of
  // unauthenticated connections does that), as opposed to a failed or slow handshake.
  bool handshake_cut_by_remote() const { return handshake_cut_by_remote_; }
  const std::string& remote() const { return remote_; }
  // The peer's certificate after the handshake (null when it presented none).
  X509* peer_certificate() const;
  // Lower-level SSL object, for the caller's own checks (e.g. pinning).
  SSL* native() { return channel_->native_handle(); }

  // Identity, set by the PeerManager once the peer is authenticated.
  std::string id;
  std::string version;
  std::vector<std::string> commands;
  std::optional<double> rtt_ms;
  // The peer protocol version the other end speaks (its hello, or the leader's welcome).
  std::int64_t protocol = 1;
  std::int64_t last_seen = 0;  // unix seconds of the last frame received
  // A session between two workers (core/peer/direct_paths.hpp), not one with the leader.
  bool direct = false;

  // Stream ids this side opens: odd when we are the TLS client, even otherwise.
  std::uint64_t next_sid() { return next_sid_ += 2; }

 private:
  struct Queued {
    std::string head, body;  // the frame up to its body, and the body
    QueueChargePtr stream, sender;
    std::size_t size() const { return head.size() + body.size(); }
  };
  void enqueue(Queued frame);
  void release(Queued& q);
  void do_read();
  void on_read(boost::system::error_code ec, std::size_t n);
  void handle_frames();  // what the decoder holds, for at most kTurnBudget per turn
  void handle_frame(wire::Frame& frame);
  void do_write();
  void arm_silence_timer();
  void send_ping();
  void on_server_ping(const nlohmann::json& ping);

  std::shared_ptr<TlsChannel> channel_;
  std::shared_ptr<spdlog::logger> log_;
  bool is_tls_client_;
  std::string remote_;
  Events events_;
  asio::steady_timer deadline_;
  asio::steady_timer ping_timer_;
  asio::steady_timer silence_timer_;
  std::chrono::milliseconds heartbeat_{0};
  std::chrono::milliseconds peer_interval_{0};  // how often the TLS server says it pings
  bool server_pings_ = false;  // client: the server pings, so we ping only when quiet
  std::chrono::steady_clock::time_point last_queued_{};  // the last frame we queued
  std::chrono::steady_clock::time_point ping_sent_;
  std::uint64_t ping_seq_ = 0;
  wire::Decoder decoder_;
  std::size_t read_room_ = kReadBuffer;  // asked of the decoder for each read
  std::deque<Queued> queue_;
  std::size_t queued_bytes_ = 0;
  std::size_t writing_ = 0;    // frames at the queue's front being written
  bool flush_posted_ = false;  // a write of the queue is due at the end of this handler
  bool closing_ = false;
  bool closed_ = false;
  bool handshake_cut_by_remote_ = false;
  std::string close_reason_;
  std::uint64_t next_sid_;
};

}  // namespace automatelinux::core::peer
