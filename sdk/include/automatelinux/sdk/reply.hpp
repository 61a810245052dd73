// Small conveniences for commands that answer with text.
#pragma once

#include <string>

#include "automatelinux/sdk/stream.hpp"

namespace automatelinux::sdk {

// Writes `text` to stdout, then finishes with exit status 0.
inline void reply(const ServedStreamPtr& stream, std::string text) {
  stream->write(Channel::out, std::move(text),
                [stream](bool) { stream->finish(Result::exited(0)); });
}

// Ends the request as a failure of `d` (exit 255) with a one-line reason.
inline void fail(const ServedStreamPtr& stream, std::string reason) {
  stream->finish(Result::error(std::move(reason)));
}

}  // namespace automatelinux::sdk
