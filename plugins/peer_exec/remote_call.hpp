// Running one request on another peer on behalf of a local one, the two ways commands need it:
// relayed (the peer's stdout/stderr become the local request's, its result ends it, Ctrl-C is
// passed on) or collected (the peer's stdout comes back as a string, e.g. a JSON answer).
#pragma once

#include <functional>
#include <string>

#include <automatelinux/sdk/sdk.hpp>

namespace automatelinux::peer_exec {

void relay_to_peer(sdk::Host& host, const sdk::ServedStreamPtr& local, const std::string& peer,
                   const std::string& type, nlohmann::json header, std::string body,
                   bool forward_stdin, bool forward_window_size = false);

// `done` gets the result, the stdout (at most 64 MiB are kept) and the stderr.
using Collected = std::function<void(const sdk::Result&, std::string out, std::string err)>;
void collect_from_peer(sdk::Host& host, const sdk::ServedStreamPtr& on_behalf_of,
                       const std::string& peer, const std::string& type, nlohmann::json header,
                       std::string body, Collected done);

}  // namespace automatelinux::peer_exec
