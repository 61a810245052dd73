// The requesting side of execOnPeer: validate, open an "exec" stream to the peer, and relay
// stdin/stdout/stderr and cancellation between the local request and the remote one.
#include "exec_command.hpp"

namespace automatelinux::peer_exec {
namespace po = boost::program_options;
namespace {

// Joins byte strings with NUL separators: arguments and directories never travel as JSON text.
std::string nul_joined(const std::vector<std::string>& parts) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out.push_back('\0');
    out += parts[i];
  }
  return out;
}

// Ends the local request once the remote result and both output channels are in.
struct Relay : std::enable_shared_from_this<Relay> {
  sdk::StreamPtr local, remote;
  int pending = 3;
  sdk::Result result = sdk::Result::error("Failed to send command to peer");
  void step() {
    if (--pending == 0) local->finish(result);
  }
};

void exec_on_peer(sdk::Host& host, sdk::StreamPtr stream, const sdk::Invocation& call) {
  const auto& peer = call.get<std::string>("peer");
  const auto& directory = call.get<std::string>("directory");
  const bool has_command = call.has("command");
  if (has_command && !call.positional.empty())
    return sdk::fail(stream, "use either --command CMD or -- PROG ARGS..., not both");
  if (!has_command && call.positional.empty())
    return sdk::fail(stream,
                     "execOnPeer needs --command CMD or -- PROG ARGS... (see 'd help execOnPeer')");
  if (peer.empty()) return sdk::fail(stream, "--peer must not be empty");
  if (directory.empty()) return sdk::fail(stream, "--directory must not be empty");
  nlohmann::json header = {{"mode", has_command ? "shell" : "argv"}};
  if (call.has("timeout")) {
    const auto& text = call.get<std::string>("timeout");
    const auto timeout = sdk::parse_duration(text);
    if (!timeout || timeout->count() <= 0)
      return sdk::fail(stream, "invalid --timeout '" + text +
                                   "' (use e.g. 1.5, 30s, 10m, 24h; at most " +
                                   sdk::kMaxDurationText + ")");
    header["timeout_ms"] = timeout->count();
  }
  if (const auto self = host.peers().local().id; self && *self == peer)
    return sdk::fail(stream, "Cannot exec on self (" + peer + ")");

  std::vector<std::string> body_parts{directory};
  if (has_command) {
    body_parts.push_back(call.get<std::string>("command"));
  } else {
    body_parts.insert(body_parts.end(), call.positional.begin(), call.positional.end());
  }
  auto relay = std::make_shared<Relay>();
  relay->local = stream;
  relay->remote = host.open_peer_stream(peer, "exec", header, nul_joined(body_parts), stream);
  relay->remote->on_result([relay](const sdk::Result& result) {
    relay->result = result;
    relay->step();
  });
  sdk::pipe(relay->remote, sdk::Channel::out, stream, sdk::Channel::out,
            [relay] { relay->step(); });
  sdk::pipe(relay->remote, sdk::Channel::err, stream, sdk::Channel::err,
            [relay] { relay->step(); });
  if (call.has("no-stdin")) {
    relay->remote->close(sdk::Channel::in);
  } else {
    sdk::pipe(stream, sdk::Channel::in, relay->remote, sdk::Channel::in, [] {});
  }
  stream->on_cancel([relay](int signal) { relay->remote->cancel(signal); });
}

}  // namespace

sdk::CommandSpec exec_command(sdk::Host& host) {
  sdk::CommandSpec spec;
  spec.name = "execOnPeer";
  spec.summary = "Run a command in a directory on a peer, streaming its output";
  spec.usage =
      "--peer ID --directory DIR (--command CMD | -- PROG ARGS...) [--timeout DURATION] "
      "[--no-stdin]";
  spec.options.add_options()("peer", po::value<std::string>()->required(), "the peer to run on")(
      "directory", po::value<std::string>()->required(),
      "absolute directory to run in (entered with chdir)")("command", po::value<std::string>(),
                                                           "command line for /bin/sh -c")(
      "timeout", po::value<std::string>(), "kill the command after this long (1.5, 30s, 10m, 24h)")(
      "no-stdin,n", "do not forward stdin (like ssh -n)");
  spec.positional_label = "PROG ARGS...";
  spec.handler = [&host](sdk::StreamPtr stream, const sdk::Invocation& call) {
    exec_on_peer(host, std::move(stream), call);
  };
  return spec;
}

}  // namespace automatelinux::peer_exec
