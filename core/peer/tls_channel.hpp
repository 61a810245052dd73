// TLS over a TCP socket through OpenSSL memory BIOs. Boost.Asio's ssl::stream moves at most one
// 16 KiB record per socket call (its BIO pair holds 17 KiB), so a 64 KiB frame cost four sends
// and four receives. Here a write encrypts a whole batch of frames and hands the socket all its
// records at once, and a read takes up to a read chunk of records per receive
// (docs/architecture.md, "Peer transport"; figures in docs/performance.md).
//
// One read and one write may be outstanding at a time, on one thread (the daemon's io_context).
// Handlers are never called from inside the initiating function. They are held by the pending
// operations, not by the channel (a handler usually owns the channel's owner: keeping it in a
// member would be a cycle that outlives a destroyed io_context).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "core/asio.hpp"

namespace automatelinux::core::peer {
namespace detail {
// OpenSSL reads ciphertext from `received` and appends what it produces to `pending`: its BIOs
// are these two buffers (tls_channel.cpp), so records are copied once on each side.
struct TlsBuffers {
  std::vector<char> received;
  std::size_t consumed = 0;  // of received
  std::size_t filled = 0;    // of received
  std::string pending;       // records not yet handed to the socket
};
}  // namespace detail

// Plaintext bytes of a full TLS record.
inline constexpr std::size_t kTlsRecord = 16 * 1024;

class TlsChannel : public std::enable_shared_from_this<TlsChannel> {
 public:
  using Tcp = asio::ip::tcp;
  using Done = std::function<void(boost::system::error_code)>;
  using ReadDone = std::function<void(boost::system::error_code, std::size_t)>;

  TlsChannel(Tcp::socket socket, asio::ssl::context& context);
  ~TlsChannel();
  TlsChannel(const TlsChannel&) = delete;
  TlsChannel& operator=(const TlsChannel&) = delete;

  void async_handshake(bool as_client, Done done);
  // At least one byte of plaintext into `into`; asio::error::eof after the peer's close_notify,
  // asio::ssl::error::stream_truncated when the connection ends without one.
  void async_read_some(asio::mutable_buffer into, ReadDone done);
  // Encrypts every part now (the caller may free them on return), packed into full records, and
  // calls `done` once the socket has taken all their records.
  void async_write(const std::vector<std::string_view>& parts, Done done);
  // Ciphertext read from the socket per receive (small until the peer is authenticated).
  void set_read_chunk(std::size_t bytes) { read_chunk_ = bytes; }

  // Closes the socket: pending operations end with an error.
  void close();

  SSL* native_handle() { return ssl_; }
  Tcp::socket& socket() { return socket_; }

 private:
  void handshake_step(Done done);
  void read_step(bool initiating, ReadDone done);
  void fill(Done then);  // one receive of ciphertext for OpenSSL, then `then`
  void flush();          // hands pending records to the socket when no write is in flight
  void start_write(Done done);
  void finish_write(boost::system::error_code ec, Done done, Done waiting);
  boost::system::error_code encrypt(const std::vector<std::string_view>& parts);
  boost::system::error_code ssl_error(int result) const;

  Tcp::socket socket_;
  SSL* ssl_;
  detail::TlsBuffers buffers_;
  std::size_t read_chunk_ = 64 * 1024;

  asio::mutable_buffer read_into_;

  std::string in_flight_;  // records the socket is writing now
  std::string staging_;    // small parts packed into one record (see encrypt)
  bool writing_ = false;
  std::weak_ptr<Done> waiting_slot_;  // where a write behind the one in flight leaves its handler
  boost::system::error_code write_error_;
};

}  // namespace automatelinux::core::peer
