// A request stream: the handle through which a plugin talks to whoever is on the other end of a
// request — the local `d`, or a peer. Core implements it and owns credit windows, relaying,
// timeouts, audit and exit-status mapping; plugins only read, write and finish.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/config.hpp>

namespace automatelinux::sdk {

// Each channel carries bytes in one direction and has its own EOF.
enum class Channel : std::uint8_t { in = 0, out = 1, err = 2, control = 3 };

// How a request ended. Only core turns this into an exit status.
struct Result {
  enum class Kind : std::uint8_t { exited, signaled, timeout, cancelled, error };
  Kind kind = Kind::exited;
  int code = 0;        // exit code for `exited`, signal number for `signaled`
  std::string reason;  // one line, for `error` (and optionally the others)

  static Result exited(int code) { return {Kind::exited, code, {}}; }
  static Result signaled(int signal) { return {Kind::signaled, signal, {}}; }
  static Result timeout() { return {Kind::timeout, 0, "timed out"}; }
  static Result cancelled() { return {Kind::cancelled, 0, "cancelled"}; }
  static Result error(std::string reason) { return {Kind::error, 0, std::move(reason)}; }
};

// Who asked for this request: the authenticated peer (empty for the local machine) and, for a
// local request, the caller's uid as the kernel reported it.
struct Requester {
  std::string peer;
  int uid = -1;
};

class BOOST_SYMBOL_VISIBLE Stream {
 public:
  // `ok` is false once the stream can no longer carry data (cancelled, finished, peer gone).
  using WriteHandler = std::function<void(bool ok)>;
  // `data` is valid only during the call; `eof` is true exactly once, with empty data.
  using ReadHandler = std::function<void(std::string_view data, bool eof)>;
  using CancelHandler = std::function<void(int signal)>;
  using ResultHandler = std::function<void(const Result&)>;

  virtual ~Stream() = default;

  // Sends bytes on a channel. `done` runs (never inline) once the stream's credit window has
  // room again: wait for it before writing more, and memory stays bounded.
  virtual void write(Channel channel, std::string bytes, WriteHandler done) = 0;
  // Ends a channel this side writes (EOF for the reader).
  virtual void close(Channel channel) = 0;
  // Asks for the next chunk on a channel; one read may be outstanding per channel. The sender
  // gets credit back only as chunks are consumed, so not reading applies backpressure.
  virtual void read(Channel channel, ReadHandler handler) = 0;

  // Serving side: called (never inline) when the requester cancels; the handler must still
  // finish() promptly, or core ends the request with an error.
  virtual void on_cancel(CancelHandler handler) = 0;
  // Serving side: ends the request. Later calls are ignored.
  virtual void finish(Result result) = 0;

  // Requesting side: asks the serving side to stop (it receives `signal` in on_cancel).
  virtual void cancel(int signal) = 0;
  // Requesting side: called once with how the request ended.
  virtual void on_result(ResultHandler handler) = 0;

  virtual bool finished() const = 0;
  virtual const Requester& requester() const = 0;
  // A short id that appears in the audit lines of every daemon the request passes through.
  virtual const std::string& request_id() const = 0;
};

using StreamPtr = std::shared_ptr<Stream>;

}  // namespace automatelinux::sdk
