// Request streams: the handles through which a plugin talks to whoever is on the other end of a
// request — the local `d`, or a peer. Core implements them and owns credit windows, relaying,
// timeouts, audit and exit-status mapping; plugins only read, write, and finish or cancel.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
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

// What a request's audit record says beyond what core knows (see ServedStream).
struct AuditDetails {
  std::string directory;             // where the command ran (or would have)
  bool denied = false;               // refused by this host's policy (not merely malformed)
  std::optional<std::uint64_t> job;  // the durable job the request is about
};

// Who asked for this request: the authenticated peer (empty for the local machine); for a local
// request, the caller's uid as the kernel reported it (SO_PEERCRED, never what the client says);
// and the caller's login name on the machine where the command was typed, and whether the caller
// is root there (uid 0). For a peer, name and root are what that member's daemon stamped on the
// request (the member is trusted for who its local users are, as for the command itself); a peer
// that sent no name is never root.
// Every member has an initializer, so a brace list may leave the later ones out (-Wextra).
struct Requester {
  std::string peer{};
  int uid = -1;
  std::string name{};
  bool root = false;
};

// What both ends of a request have in common: bytes on channels, and who asked. A plugin never
// holds a bare Stream; it is given a ServedStream (it serves the request) or a RequestedStream (it
// asked a peer), and each role has only the calls that make sense for it, so using the wrong one
// does not compile.
class BOOST_SYMBOL_VISIBLE Stream {
 public:
  // `ok` is false once the stream can no longer carry data (cancelled, finished, peer gone).
  using WriteHandler = std::function<void(bool ok)>;
  // `data` is valid only during the call; `eof` is true exactly once, with empty data.
  using ReadHandler = std::function<void(std::string_view data, bool eof)>;

  virtual ~Stream() = default;

  // Sends bytes on a channel this side writes (a served request: out/err; a requested one: in).
  // `done` runs (never inline) once the stream's credit window has room again: wait for it before
  // writing more, and memory stays bounded.
  virtual void write(Channel channel, std::string bytes, WriteHandler done) = 0;
  // Ends a channel this side writes (EOF for the reader).
  virtual void close(Channel channel) = 0;
  // Asks for the next chunk on a channel this side reads; one read may be outstanding per
  // channel. The sender gets credit back only as chunks are consumed, so not reading applies
  // backpressure.
  virtual void read(Channel channel, ReadHandler handler) = 0;

  // Served: finish() was called. Requested: the result arrived.
  virtual bool finished() const = 0;
  virtual const Requester& requester() const = 0;
  // A short id that appears in the audit lines of every daemon the request passes through.
  virtual const std::string& request_id() const = 0;
};

// The serving role: what a command handler and a peer-service handler are given.
class BOOST_SYMBOL_VISIBLE ServedStream : public Stream {
 public:
  using CancelHandler = std::function<void(int signal)>;

  // Called (never inline) when the requester cancels; the handler must still finish() promptly,
  // or core ends the request with an error.
  virtual void on_cancel(CancelHandler handler) = 0;
  // Ends the request. Later calls are ignored.
  virtual void finish(Result result) = 0;
  // What this request's audit record adds to core's (directory, a policy denial, a job); the
  // last call before finish() counts.
  virtual void describe_for_audit(AuditDetails details) = 0;
};

// The requesting role: what Host::open_peer_stream returns.
class BOOST_SYMBOL_VISIBLE RequestedStream : public Stream {
 public:
  using ResultHandler = std::function<void(const Result&)>;

  // Asks the serving side to stop (it receives `signal` in its on_cancel handler).
  virtual void cancel(int signal) = 0;
  // Called once (never inline) with how the request ended.
  virtual void on_result(ResultHandler handler) = 0;
};

using StreamPtr = std::shared_ptr<Stream>;
using ServedStreamPtr = std::shared_ptr<ServedStream>;
using RequestedStreamPtr = std::shared_ptr<RequestedStream>;

}  // namespace automatelinux::sdk
