// execOnPeer on several peers at once (`--peer vps,laptop`, `--peer all`): every peer gets an
// ordinary exec request; this side starts them together (at most `fanout` at a time), prefixes
// each whole output line with the peer's id (or groups identical outputs, or prints one JSON
// record per peer), reports peers that failed as they fail, and ends with a summary and the
// largest exit status. Entirely on the requesting side, on top of the SDK.
#pragma once

#include <cstdio>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <automatelinux/sdk/sdk.hpp>

#include "line_splitter.hpp"

namespace automatelinux::peer_exec {

struct FanoutRequest {
  std::vector<std::string> peers;    // in the order given, no duplicates
  std::vector<std::string> skipped;  // left out by --skip-offline
  nlohmann::json header;             // the exec request's header (mode, timeout_ms)
  std::string body;                  // directory and command, NUL-joined
  enum class Output { prefixed, grouped, json } output = Output::prefixed;
  std::size_t fanout = 32;  // requests running at once
};

// How one peer's request ended, as fan-out reports it.
struct PeerOutcome {
  std::string status;   // exited signaled timeout offline not_found denied lost cancelled error
  int exit_status = 0;  // what it counts for d's own status (255: did not run or report)
  std::string summary;  // "exit 1", "signal 9", "offline", …
};
PeerOutcome peer_outcome(const sdk::Result& result);

class Fanout : public std::enable_shared_from_this<Fanout> {
 public:
  Fanout(sdk::Host& host, sdk::ServedStreamPtr local, FanoutRequest request);
  ~Fanout();
  void start();

 private:
  struct Capture {  // one output channel of one peer
    explicit Capture(const std::string& prefix) : lines(prefix) {}
    LineSplitter lines;  // prefixed output
    std::string text;    // --json: kept up to kJsonCap
    bool truncated = false;
    std::FILE* spool = nullptr;  // --group: kept up to kSpoolCap
    std::uint64_t spooled = 0, dropped = 0;
    bool spool_ends_line = true;  // so a block, or the marker after it, ends with a newline
    sdk::TimerPtr idle;  // flushes a partial line after a pause
    bool eof = false;
  };
  struct Target {
    std::string id;
    sdk::RequestedStreamPtr remote;
    std::unique_ptr<Capture> out, err;
    std::optional<sdk::Result> result;
    std::chrono::steady_clock::time_point started;
    double duration_ms = 0;
    bool done = false;
  };
  struct Emit {  // a piece of output, written in order with backpressure
    sdk::Channel channel;
    std::string text;
    std::FILE* file = nullptr;   // a rewound spool to copy instead of `text`
    std::function<void()> then;  // runs once it is written (a pump reads its next chunk)
  };

  void launch_more();
  void launch(std::size_t index);
  void read_next(std::size_t index, sdk::Channel channel);
  void on_output(std::size_t index, sdk::Channel channel, std::string_view data, bool eof);
  void maybe_done(std::size_t index);
  void on_cancel(int signal);
  void finish_all();
  void emit(Emit item);
  void drain();
  void end_when_drained();
  std::string json_record(const Target& target) const;
  std::vector<std::vector<std::size_t>> identical_groups() const;
  Capture& capture(Target& target, sdk::Channel channel);

  sdk::Host& host_;
  sdk::ServedStreamPtr local_;
  FanoutRequest request_;
  std::vector<std::unique_ptr<Target>> targets_;
  std::size_t next_ = 0, running_ = 0, finished_ = 0;
  bool cancelled_ = false;
  std::deque<Emit> queue_;
  bool draining_ = false;
  bool requester_gone_ = false;
  std::optional<sdk::Result> final_;  // set once everything is decided; sent after the queue
};

}  // namespace automatelinux::peer_exec
