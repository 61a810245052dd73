// The requesting side of a stream opened to a peer: what a plugin gets from open_peer_stream.
// Output arrives with end-to-end credit (returned as the plugin consumes it); input is sent only
// within the credit the serving side granted.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "automatelinux/sdk/stream.hpp"
#include "core/asio.hpp"
#include "core/credit_window.hpp"
#include "core/library_ref.hpp"
#include "core/peer/peer_session.hpp"

namespace automatelinux::core::peer {

class ClientStream final : public sdk::RequestedStream,
                           public std::enable_shared_from_this<ClientStream> {
 public:
  // `library`: the plugin that opened the stream (it holds that plugin's callbacks). `limits`:
  // how far the output window may grow once the server confirms it understands growth.
  ClientStream(asio::io_context& io, std::shared_ptr<PeerSession> session, std::uint64_t sid,
               sdk::Requester requester, std::string request_id, LibraryRef library = {},
               WindowLimits limits = {});

  // Frames for this stream from the session (data/eof/credit/result).
  void on_frame(wire::Frame frame);
  // The session died before the result arrived.
  void on_lost(const std::string& reason);

  void write(sdk::Channel channel, std::string bytes, WriteHandler done) override;
  void close(sdk::Channel channel) override;
  void read(sdk::Channel channel, ReadHandler handler) override;
  void cancel(int signal) override;
  void on_result(ResultHandler handler) override;
  bool finished() const override { return result_.has_value(); }
  const sdk::Requester& requester() const override { return requester_; }
  const std::string& request_id() const override { return request_id_; }

 private:
  struct Output {
    std::deque<std::string> chunks;
    bool eof = false;
    bool eof_delivered = false;
    ReadHandler reader;
  };
  Output& output(sdk::Channel channel);
  void deliver(sdk::Channel channel);
  void flush_input();
  void on_credit(const wire::Frame& frame);
  void complete(sdk::Result result);

  LibraryRef library_;  // first, so it is released after every plugin callback below
  asio::io_context& io_;
  std::shared_ptr<PeerSession> session_;
  std::uint64_t sid_;
  sdk::Requester requester_;
  std::string request_id_;
  Output out_, err_;
  std::deque<std::string> input_;  // waiting for credit
  bool input_close_pending_ = false;
  bool input_closed_ = false;
  std::size_t input_credit_ = 0;
  bool input_grows_ = false;     // the server may grant input credit ahead of data
  std::uint64_t echo_mark_ = 0;  // the server's round-trip mark, for our next input
  std::size_t buffered_ = 0;     // output bytes received, not yet taken by the plugin
  WindowLimits limits_;
  CreditWindow window_;  // output (channels 1 and 2 share it)
  WriteHandler input_done_;
  std::optional<sdk::Result> result_;
  ResultHandler result_handler_;
};

}  // namespace automatelinux::core::peer
