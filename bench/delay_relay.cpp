// A test-only TCP relay that simulates a long link on loopback: it listens on 127.0.0.1:PORT,
// forwards every connection to 127.0.0.1:TARGET and delivers every chunk a fixed one-way delay
// after it arrived, in both directions (--delay-ms 25 gives a 50 ms round trip), optionally
// capped at --rate-mbps per direction. Each direction is a queue of timestamped large chunks
// with one timer, so without a delay it forwards well over 1 GB/s and is never the bottleneck.
//
//   delay_relay --listen PORT --target PORT [--delay-ms MS] [--rate-mbps MBPS]
//
// Loopback only, by construction: both addresses are 127.0.0.1.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio.hpp>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kChunk = 1024 * 1024;
// Bytes queued per direction before the relay stops reading, so a slow receiver slows the
// sender through TCP instead of growing this queue (well above any window we measure).
constexpr std::size_t kMaxQueued = 128 * 1024 * 1024;
constexpr auto kSlack = std::chrono::milliseconds(1);
constexpr std::size_t kMaxBatch = 64;  // chunks per write (Asio writes 16 buffers per writev)

struct Options {
  unsigned short listen = 0;
  unsigned short target = 0;
  Clock::duration delay{};
  double bytes_per_second = 0;  // 0: no cap
};

// One direction: reads from `from`, delivers to `to` after the delay, paced by the rate cap.
class Direction : public std::enable_shared_from_this<Direction> {
 public:
  Direction(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to,
            const Options& options)
      : from_(std::move(from)),
        to_(std::move(to)),
        options_(options),
        timer_(to_->get_executor()) {}

  void start() { read(); }

 private:
  // Buffers are never zero-filled or shrunk: a read fills `size` bytes of one.
  using Buffer = std::unique_ptr<char[]>;
  struct Chunk {
    Clock::time_point due;
    Buffer bytes;
    std::size_t size = 0;  // 0: end of stream
  };

  void read() {
    if (queued_ >= kMaxQueued) {
      reading_paused_ = true;
      return;
    }
    auto buffer = std::make_shared<Buffer>(take_buffer());
    from_->async_read_some(
        asio::buffer(buffer->get(), kChunk),
        [self = shared_from_this(), buffer](boost::system::error_code ec, std::size_t n) {
          self->on_read(std::move(*buffer), ec ? 0 : n);
        });
  }

  void on_read(Buffer bytes, std::size_t n) {
    queued_ += n;
    queue_.push_back({Clock::now() + options_.delay, std::move(bytes), n});
    if (!writing_) write_next();
    if (n > 0) read();
  }

  Buffer take_buffer() {
    if (spare_.empty()) return Buffer(new char[kChunk]);
    auto b = std::move(spare_.back());
    spare_.pop_back();
    return b;
  }

  // Writes what is due, or waits for the front chunk's time (and the rate cap). Chunks due
  // within kSlack go out together without a timer: re-arming the timer for every chunk cost more
  // CPU than the copies (timerfd_settime is slow under a hypervisor), and a millisecond is noise
  // against the delays simulated.
  void write_next() {
    if (queue_.empty()) {
      writing_ = false;
      return;
    }
    writing_ = true;
    const auto due = std::max(queue_.front().due, next_free_);
    if (due <= Clock::now() + kSlack) return write_due();
    timer_.expires_at(due);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return;
      self->write_due();
    });
  }

  // Writes every chunk due within kSlack from the front, in one gathered write. Under a rate
  // cap a batch holds at most what the link carries in kSlack (or one chunk), and the link's
  // schedule accumulates (next_free_ grows from itself, not from now): a link sends evenly, not
  // in bursts followed by silence, and starting up to kSlack early never adds up.
  void write_due() {
    if (queue_.front().size == 0) {
      boost::system::error_code ignored;
      to_->shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    const auto now = Clock::now();
    const auto horizon = now + kSlack;
    const bool capped = options_.bytes_per_second > 0;
    const double per_slack =
        options_.bytes_per_second * std::chrono::duration<double>(kSlack).count();
    batch_.clear();
    std::size_t bytes = 0;
    for (const Chunk& c : queue_) {
      if (c.size == 0 || c.due > horizon || batch_.size() == kMaxBatch) break;
      if (capped && !batch_.empty() && static_cast<double>(bytes + c.size) > per_slack) break;
      batch_.emplace_back(c.bytes.get(), c.size);
      bytes += c.size;
    }
    if (capped)
      next_free_ = std::max(next_free_, now) +
                   std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                       static_cast<double>(bytes) / options_.bytes_per_second));
    asio::async_write(*to_, batch_,
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        self->on_written(ec);
                      });
  }

  void on_written(boost::system::error_code ec) {
    if (ec) {
      boost::system::error_code ignored;
      from_->close(ignored);
      to_->close(ignored);
      return;
    }
    for (std::size_t i = 0; i < batch_.size(); ++i) {
      queued_ -= queue_.front().size;
      spare_.push_back(std::move(queue_.front().bytes));
      queue_.pop_front();
    }
    if (reading_paused_ && queued_ < kMaxQueued / 2) {
      reading_paused_ = false;
      read();
    }
    write_next();
  }

  std::shared_ptr<tcp::socket> from_, to_;
  const Options& options_;
  asio::steady_timer timer_;
  std::deque<Chunk> queue_;
  std::vector<asio::const_buffer> batch_;  // the chunks being written, from the front of queue_
  // Written buffers, all kept for reuse (as many as were ever in flight): a fresh buffer costs a
  // page fault per 4 KiB the first time it is filled.
  std::vector<Buffer> spare_;
  std::size_t queued_ = 0;
  bool writing_ = false;
  bool reading_paused_ = false;
  Clock::time_point next_free_{};
};

const auto kLoopback = asio::ip::make_address_v4("127.0.0.1");

void relay(asio::io_context& io, std::shared_ptr<tcp::socket> client, const Options& options) {
  auto server = std::make_shared<tcp::socket>(io);
  server->async_connect(tcp::endpoint(kLoopback, options.target),
                        [client, server, &options](boost::system::error_code ec) {
                          if (ec) return;  // the client sees its connection close
                          client->set_option(tcp::no_delay(true));
                          server->set_option(tcp::no_delay(true));
                          std::make_shared<Direction>(client, server, options)->start();
                          std::make_shared<Direction>(server, client, options)->start();
                        });
}

void accept(asio::io_context& io, tcp::acceptor& acceptor, const Options& options) {
  acceptor.async_accept([&io, &acceptor, &options](boost::system::error_code ec, tcp::socket s) {
    if (!ec) relay(io, std::make_shared<tcp::socket>(std::move(s)), options);
    accept(io, acceptor, options);
  });
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--listen")
      o.listen = static_cast<unsigned short>(std::atoi(value));
    else if (flag == "--target")
      o.target = static_cast<unsigned short>(std::atoi(value));
    else if (flag == "--delay-ms")
      o.delay = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double, std::milli>(std::atof(value)));
    else if (flag == "--rate-mbps")
      o.bytes_per_second = std::atof(value) * 1e6 / 8;
    else
      throw std::invalid_argument("unknown option " + flag);
  }
  if (o.listen == 0 || o.target == 0) throw std::invalid_argument("--listen and --target needed");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options options = parse(argc, argv);
    asio::io_context io(1);
    tcp::acceptor acceptor(io, tcp::endpoint(kLoopback, options.listen));
    accept(io, acceptor, options);
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "delay_relay: " << e.what()
              << "\nusage: delay_relay --listen PORT --target PORT [--delay-ms MS] "
                 "[--rate-mbps MBPS]\n";
    return 2;
  }
}
