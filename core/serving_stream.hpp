// The serving side of a request stream: what a command handler writes to and reads from.
// It owns the stream's credit windows, cancellation deadline and audit line; the transport
// underneath (a CLI connection, or a peer session) only moves frames.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "automatelinux/sdk/audit.hpp"
#include "automatelinux/sdk/stream.hpp"
#include "core/asio.hpp"
#include "core/credit_window.hpp"
#include "core/library_ref.hpp"
#include "core/member_requests.hpp"
#include "wire/frame.hpp"

namespace spdlog {
class logger;
}

namespace automatelinux::core {

// How long a cancelled handler has to finish before core ends the request itself.
inline constexpr std::chrono::seconds kCancelGrace{5};
// Longest command line or reason an audit line shows (a command may be up to a frame long).
inline constexpr std::size_t kMaxAuditText = 4096;

class StreamTransport {
 public:
  virtual ~StreamTransport() = default;
  // The body is handed over: a transport that can send it from where it is need not copy it.
  virtual void send(nlohmann::json header, std::string body) = 0;
  virtual void send_result(const sdk::Result& result) = 0;
};

class ServingStream final : public sdk::ServedStream,
                            public std::enable_shared_from_this<ServingStream> {
 public:
  // `audit` (may be null in tests) receives the request's record when it ends.
  ServingStream(asio::io_context& io, std::shared_ptr<spdlog::logger> log, sdk::AuditLog* audit,
                std::shared_ptr<StreamTransport> transport, sdk::Requester requester,
                std::string request_id = {});
  ~ServingStream() override;

  // Requests of this daemon not yet finished: a daemon that stops waits for its cancellations
  // (the kill cascade of running commands) until this is zero, within a bound.
  static std::size_t unfinished() { return unfinished_; }

  // What the audit line names (the command line, already printable; capped here).
  void set_subject(std::string subject);
  // A request from a member: its refusals are audited in summary once the member repeats them
  // (core/member_requests.hpp).
  void summarise_refusals_with(std::shared_ptr<MemberRequests> member_requests) {
    member_requests_ = std::move(member_requests);
  }
  // The library of a plugin this stream is handed to: the stream then holds that plugin's
  // callbacks, so it keeps the library loaded (one request may pass through several plugins).
  void keep_loaded(LibraryRef library);

  // Frames from the requester, after the one that opened the request. Throws wire::FrameError
  // on a protocol violation.
  void on_frame(wire::Frame frame);
  // The requester went away: treated as a cancel with SIGHUP semantics.
  void on_transport_lost();
  // Core-owned timeout: when it expires the handler is cancelled and the request ends as
  // Result::timeout, whatever the handler reports.
  void arm_timeout(std::chrono::milliseconds timeout);
  // The requester understands grown windows (a peer speaking protocol 2): its output credit may
  // run ahead of what was sent, and the input window grows within `limits`.
  void enable_window_growth(WindowLimits limits);

  // sdk::ServedStream
  void write(sdk::Channel channel, std::string bytes, WriteHandler done) override;
  void close(sdk::Channel channel) override;
  void read(sdk::Channel channel, ReadHandler handler) override;
  void on_cancel(CancelHandler handler) override;
  void finish(sdk::Result result) override;
  void describe_for_audit(sdk::AuditDetails details) override { details_ = std::move(details); }
  bool finished() const override { return finished_; }
  const sdk::Requester& requester() const override { return requester_; }
  const std::string& request_id() const override { return id_; }

 private:
  template <class F>
  void guarded(F&& f);
  void deliver_input();
  void on_window_size(const wire::Frame& frame);
  void deliver_control();
  void write_control(const std::string& payload, WriteHandler done);
  void flush_output();
  void start_cancel(int signal);
  void audit(const sdk::Result& result);

  static inline std::size_t unfinished_ = 0;  // the event loop's thread only

  // First, so it is released last: every plugin callback below is destroyed before it.
  std::vector<LibraryRef> libraries_;
  asio::io_context& io_;
  std::shared_ptr<spdlog::logger> log_;
  sdk::AuditLog* audit_;
  std::shared_ptr<StreamTransport> transport_;
  sdk::Requester requester_;
  std::string id_;
  std::uint64_t seq_;
  std::string subject_;
  sdk::AuditDetails details_;
  std::shared_ptr<MemberRequests> member_requests_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();

  // Output (out/err share one window, as SSH's extended data does).
  std::int64_t unacked_ = 0;  // sent, not credited; negative once the requester grew the window
  std::int64_t max_credit_ahead_ = 0;  // how far credit may run ahead of the bytes sent
  std::uint64_t echo_mark_ = 0;        // the requester's round-trip mark, for our next output
  std::uint64_t bytes_out_ = 0;
  std::deque<std::pair<sdk::Channel, std::string>> pending_out_;  // waiting for window room
  std::vector<WriteHandler> waiting_writers_;

  // Input.
  std::deque<std::string> input_;
  std::size_t input_credit_ = 0;  // bytes the requester may still send
  std::size_t input_buffered_ = 0;
  CreditWindow input_window_;
  bool input_requested_ = false;
  bool input_eof_ = false;
  bool input_eof_delivered_ = false;
  ReadHandler reader_;
  std::uint64_t bytes_in_ = 0;

  // Control (terminal requests): window sizes from the requester, waiting for the handler.
  std::deque<std::string> control_in_;
  ReadHandler control_reader_;
  bool control_eof_delivered_ = false;

  CancelHandler cancel_handler_;
  bool cancelled_ = false;
  bool timed_out_ = false;
  bool transport_lost_ = false;
  bool finished_ = false;
  asio::steady_timer cancel_deadline_;
  asio::steady_timer timeout_;
};

}  // namespace automatelinux::core
