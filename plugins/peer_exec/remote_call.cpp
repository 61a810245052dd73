#include "remote_call.hpp"

namespace automatelinux::peer_exec {
namespace {

// Ends the local request once the remote result and both output channels are in.
struct Relay : std::enable_shared_from_this<Relay> {
  sdk::ServedStreamPtr local;
  sdk::RequestedStreamPtr remote;
  int pending = 3;
  sdk::Result result = sdk::Result::error("Failed to send command to peer");
  void step() {
    if (--pending == 0) local->finish(result);
  }
};

// A terminal request's window changes, from the local `d` to the peer, until either ends.
void forward_window_sizes(const sdk::ServedStreamPtr& local,
                          const sdk::RequestedStreamPtr& remote) {
  local->read(sdk::Channel::control, [local, remote](std::string_view data, bool eof) {
    if (eof || remote->finished()) return;
    remote->write(sdk::Channel::control, std::string(data), [](bool) {});
    forward_window_sizes(local, remote);
  });
}

struct Collector : std::enable_shared_from_this<Collector> {
  static constexpr std::size_t kLimit = 64 << 20;
  sdk::RequestedStreamPtr remote;
  std::string out, err;
  sdk::Result result = sdk::Result::error("Failed to send command to peer");
  int pending = 3;
  Collected done;
  void read(sdk::Channel channel, std::string& into) {
    remote->read(channel, [self = shared_from_this(), channel, &into](std::string_view data, bool eof) {
      if (eof) return self->step();
      if (into.size() < kLimit) into.append(data.substr(0, kLimit - into.size()));
      self->read(channel, into);
    });
  }
  void step() {
    if (--pending == 0)
      if (auto d = std::exchange(done, {})) d(result, std::move(out), std::move(err));
  }
};

}  // namespace

void relay_to_peer(sdk::Host& host, const sdk::ServedStreamPtr& local, const std::string& peer,
                   const std::string& type, nlohmann::json header, std::string body,
                   bool forward_stdin, bool forward_window_size) {
  auto relay = std::make_shared<Relay>();
  relay->local = local;
  relay->remote = host.open_peer_stream(peer, type, std::move(header), std::move(body), *local);
  relay->remote->on_result([relay](const sdk::Result& result) {
    relay->result = result;
    relay->step();
  });
  sdk::pipe(relay->remote, sdk::Channel::out, local, sdk::Channel::out, [relay] { relay->step(); });
  sdk::pipe(relay->remote, sdk::Channel::err, local, sdk::Channel::err, [relay] { relay->step(); });
  if (forward_stdin) {
    sdk::pipe(local, sdk::Channel::in, relay->remote, sdk::Channel::in, [] {});
  } else {
    relay->remote->close(sdk::Channel::in);
  }
  local->on_cancel([relay](int signal) { relay->remote->cancel(signal); });
  if (forward_window_size) forward_window_sizes(local, relay->remote);
}

void collect_from_peer(sdk::Host& host, const sdk::ServedStreamPtr& on_behalf_of,
                       const std::string& peer, const std::string& type, nlohmann::json header,
                       std::string body, Collected done) {
  auto collector = std::make_shared<Collector>();
  collector->done = std::move(done);
  collector->remote =
      host.open_peer_stream(peer, type, std::move(header), std::move(body), *on_behalf_of);
  collector->remote->close(sdk::Channel::in);
  collector->remote->on_result([collector](const sdk::Result& result) {
    collector->result = result;
    collector->step();
  });
  collector->read(sdk::Channel::out, collector->out);
  collector->read(sdk::Channel::err, collector->err);
}

}  // namespace automatelinux::peer_exec
