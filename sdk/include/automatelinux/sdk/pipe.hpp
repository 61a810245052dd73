// Copies one stream channel into another with backpressure: the next chunk is read only once
// the destination's window has taken the previous one.
#pragma once

#include <functional>
#include <memory>

#include "automatelinux/sdk/stream.hpp"

namespace automatelinux::sdk {

// Calls `done` once, after EOF (forwarded as close()) or when the destination stops accepting.
inline void pipe(StreamPtr from, Channel from_channel, StreamPtr to, Channel to_channel,
                 std::function<void()> done) {
  struct Pump : std::enable_shared_from_this<Pump> {
    StreamPtr from, to;
    Channel from_channel, to_channel;
    std::function<void()> done;
    void next() {
      from->read(from_channel, [self = shared_from_this()](std::string_view data, bool eof) {
        if (eof) {
          self->to->close(self->to_channel);
          return self->finish();
        }
        self->to->write(self->to_channel, std::string(data), [self](bool ok) {
          if (ok) return self->next();
          self->finish();
        });
      });
    }
    void finish() {
      if (auto d = std::exchange(done, {})) d();
    }
  };
  auto pump = std::make_shared<Pump>();
  pump->from = std::move(from);
  pump->to = std::move(to);
  pump->from_channel = from_channel;
  pump->to_channel = to_channel;
  pump->done = std::move(done);
  pump->next();
}

}  // namespace automatelinux::sdk
