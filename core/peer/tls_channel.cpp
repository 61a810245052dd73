#include "core/peer/tls_channel.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <stdexcept>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <boost/asio/ssl/error.hpp>

namespace automatelinux::core::peer {
namespace {

using detail::TlsBuffers;

// A buffer grown by a burst larger than this goes back to the allocator once written.
constexpr std::size_t kKeptWriteBuffer = 2 * 1024 * 1024;

TlsBuffers& buffers_of(BIO* bio) {
  return *static_cast<TlsBuffers*>(BIO_get_data(bio));
}

int bio_read(BIO* bio, char* out, int size) {
  auto& b = buffers_of(bio);
  BIO_clear_retry_flags(bio);
  const std::size_t n = std::min<std::size_t>(size, b.filled - b.consumed);
  if (n == 0) {
    BIO_set_retry_read(bio);  // "want read": the channel receives more, then OpenSSL retries
    return -1;
  }
  std::memcpy(out, b.received.data() + b.consumed, n);
  b.consumed += n;
  return static_cast<int>(n);
}

int bio_write(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  buffers_of(bio).pending.append(data, size);
  return size;
}

long bio_ctrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;  // nothing is buffered inside the BIO itself
}

BIO_METHOD* buffer_bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "automatelinux");
    if (!m || !BIO_meth_set_read(m, bio_read) || !BIO_meth_set_write(m, bio_write) ||
        !BIO_meth_set_ctrl(m, bio_ctrl))
      throw std::runtime_error("cannot create the TLS buffer BIO");
    return m;
  }();
  return method;
}

}  // namespace

TlsChannel::TlsChannel(Tcp::socket socket, asio::ssl::context& context)
    : socket_(std::move(socket)), ssl_(SSL_new(context.native_handle())) {
  BIO* bio = ssl_ ? BIO_new(buffer_bio_method()) : nullptr;
  if (!bio) {
    SSL_free(ssl_);
    throw std::runtime_error("cannot create a TLS session");
  }
  BIO_set_data(bio, &buffers_);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);  // one BIO both ways; ssl_ owns it
}

TlsChannel::~TlsChannel() {
  SSL_free(ssl_);
}

boost::system::error_code TlsChannel::ssl_error(int result) const {
  switch (SSL_get_error(ssl_, result)) {
    case SSL_ERROR_ZERO_RETURN:
      return asio::error::eof;
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) return asio::ssl::error::stream_truncated;
      [[fallthrough]];
    default:
      return {static_cast<int>(ERR_get_error()), asio::error::get_ssl_category()};
  }
}

void TlsChannel::async_handshake(bool as_client, Done done) {
  if (as_client)
    SSL_set_connect_state(ssl_);
  else
    SSL_set_accept_state(ssl_);
  asio::post(socket_.get_executor(), [self = shared_from_this(), done = std::move(done)]() mutable {
    self->handshake_step(std::move(done));
  });
}

void TlsChannel::handshake_step(Done done) {
  ERR_clear_error();
  const int result = SSL_do_handshake(ssl_);
  const bool want_read = result != 1 && SSL_get_error(ssl_, result) == SSL_ERROR_WANT_READ;
  const auto error = result == 1 || want_read ? boost::system::error_code{} : ssl_error(result);
  flush();  // our next handshake message, or the alert that ends it
  if (!want_read) return done(error);
  fill([self = shared_from_this(), done = std::move(done)](boost::system::error_code ec) mutable {
    if (ec) return done(ec);
    self->handshake_step(std::move(done));
  });
}

void TlsChannel::fill(Done then) {
  buffers_.received.resize(read_chunk_);
  buffers_.consumed = buffers_.filled = 0;
  socket_.async_read_some(asio::buffer(buffers_.received),
                          [self = shared_from_this(), then = std::move(then)](
                              boost::system::error_code ec, std::size_t n) {
                            // OpenSSL asked for more, so a close_notify has not come: the end is a
                            // truncation.
                            if (ec == asio::error::eof)
                              return then(asio::ssl::error::stream_truncated);
                            if (ec) return then(ec);
                            self->buffers_.filled = n;
                            then({});
                          });
}

void TlsChannel::async_read_some(asio::mutable_buffer into, ReadDone done) {
  read_into_ = into;
  read_step(/*initiating=*/true, std::move(done));
}

void TlsChannel::read_step(bool initiating, ReadDone done) {
  // Every record already received is decrypted in this one step, as far as `into` has room.
  auto* out = static_cast<char*>(read_into_.data());
  std::size_t total = 0;
  int result = 1;
  while (total < read_into_.size()) {
    ERR_clear_error();
    result = SSL_read(ssl_, out + total,
                      static_cast<int>(std::min<std::size_t>(read_into_.size() - total, INT_MAX)));
    if (result <= 0) break;
    total += static_cast<std::size_t>(result);
  }
  const bool want_read = result <= 0 && SSL_get_error(ssl_, result) == SSL_ERROR_WANT_READ;
  const auto error = total > 0 || want_read ? boost::system::error_code{} : ssl_error(result);
  flush();  // e.g. the answer to a key update
  if (total > 0 || read_into_.size() == 0 || !want_read) {
    if (!initiating) return done(error, total);
    // Never from inside async_read_some: the caller's handler comes on a later turn.
    return asio::post(socket_.get_executor(),
                      [done = std::move(done), error, total] { done(error, total); });
  }
  fill([self = shared_from_this(), done = std::move(done)](boost::system::error_code ec) mutable {
    if (ec) return done(ec, 0);
    self->read_step(/*initiating=*/false, std::move(done));
  });
}

// Parts are packed into full records: small ones (frame headers, credits, pings) are gathered in
// `staging` with the start of whatever follows, and whole records of a large part (a frame's
// body) are encrypted from where it lies. So a body is never copied behind its header, and a
// batch of small frames costs one record, not one each.
boost::system::error_code TlsChannel::encrypt(const std::vector<std::string_view>& parts) {
  auto seal = [this](std::string_view bytes) -> boost::system::error_code {
    while (!bytes.empty()) {
      ERR_clear_error();
      const int n = SSL_write(ssl_, bytes.data(),
                              static_cast<int>(std::min<std::size_t>(bytes.size(), INT_MAX)));
      if (n <= 0) return ssl_error(n);
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
  };
  staging_.clear();
  for (auto part : parts) {
    if (!staging_.empty()) {  // top the record up first
      const auto take = std::min(part.size(), kTlsRecord - staging_.size());
      staging_.append(part.substr(0, take));
      part.remove_prefix(take);
      if (staging_.size() < kTlsRecord) continue;
      if (auto ec = seal(staging_)) return ec;
      staging_.clear();
    }
    const auto whole = part.size() - part.size() % kTlsRecord;
    if (auto ec = seal(part.substr(0, whole))) return ec;
    staging_.append(part.substr(whole));
  }
  return seal(staging_);
}

void TlsChannel::async_write(const std::vector<std::string_view>& parts, Done done) {
  auto fail = [&](boost::system::error_code ec) {
    asio::post(socket_.get_executor(), [done = std::move(done), ec] { done(ec); });
  };
  if (write_error_) return fail(write_error_);
  if (auto ec = encrypt(parts)) return fail(ec);
  // Behind a write in flight (OpenSSL's own output, e.g. session tickets), these records go out
  // with the next one; that write's operation holds the handler, not the channel.
  if (writing_) {
    if (auto slot = waiting_slot_.lock()) *slot = std::move(done);
    return;
  }
  start_write(std::move(done));
}

void TlsChannel::flush() {
  if (!writing_) start_write(nullptr);
}

void TlsChannel::start_write(Done done) {
  if (buffers_.pending.empty()) {
    if (done) asio::post(socket_.get_executor(), [done = std::move(done)] { done({}); });
    return;
  }
  writing_ = true;
  in_flight_.swap(buffers_.pending);
  buffers_.pending.clear();
  auto next = std::make_shared<Done>();
  waiting_slot_ = next;
  asio::async_write(socket_, asio::buffer(in_flight_),
                    [self = shared_from_this(), done = std::move(done), next](
                        boost::system::error_code ec, std::size_t) mutable {
                      self->finish_write(ec, std::move(done), std::move(*next));
                    });
}

void TlsChannel::finish_write(boost::system::error_code ec, Done done, Done waiting) {
  writing_ = false;
  in_flight_.clear();
  if (in_flight_.capacity() > kKeptWriteBuffer) std::string().swap(in_flight_);
  if (ec) {
    write_error_ = ec;
    buffers_.pending.clear();
    if (waiting) waiting(ec);
  } else if (waiting || !buffers_.pending.empty()) {
    start_write(std::move(waiting));
  }
  if (done) done(ec);
}

void TlsChannel::close() {
  boost::system::error_code ignored;
  socket_.shutdown(Tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace automatelinux::core::peer
