// One `d` connection: reads frames, opens the request, and carries its stream's frames both ways.
#pragma once

#include <deque>
#include <memory>
#include <string>

#include "core/asio.hpp"
#include "core/dispatcher.hpp"
#include "core/serving_stream.hpp"
#include "wire/frame.hpp"

namespace automatelinux::core {

class LocalConnection final : public StreamTransport,
                              public std::enable_shared_from_this<LocalConnection> {
 public:
  LocalConnection(asio::local::stream_protocol::socket socket, std::shared_ptr<spdlog::logger> log,
                  const Dispatcher& dispatcher);

  void start();
  // Daemon shutdown: end the request (if any) and close.
  void shutdown();

  void send(nlohmann::json header, std::string body) override;
  void send_result(const sdk::Result& result) override;

 private:
  void do_read();
  void on_read(boost::system::error_code ec, std::size_t n);
  void handle(wire::Frame frame);
  void open_request(const wire::Frame& frame);
  void fail(const std::string& reason);  // protocol error: report and close
  void do_write();
  void close();

  asio::local::stream_protocol::socket socket_;
  std::shared_ptr<spdlog::logger> log_;
  const Dispatcher& dispatcher_;
  asio::steady_timer open_deadline_;
  int uid_ = -1;
  wire::Decoder decoder_;
  std::array<char, 64 * 1024> read_buffer_{};
  struct Queued {
    std::string head, body;  // sent apart in one gathered write: the body is never copied
  };
  std::deque<Queued> write_queue_;
  std::size_t writing_ = 0;  // frames at the queue's front being written, in one gathered write
  bool result_sent_ = false;
  bool closed_ = false;
  std::shared_ptr<ServingStream> stream_;
};

}  // namespace automatelinux::core
