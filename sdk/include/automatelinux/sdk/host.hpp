// The services core offers a plugin. A plugin receives its Host in init() and may keep the
// reference for its whole life (plugins are never unloaded while the daemon runs).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>
#include <boost/config.hpp>
#include <nlohmann/json.hpp>

#include "automatelinux/sdk/async.hpp"
#include "automatelinux/sdk/audit.hpp"
#include "automatelinux/sdk/command.hpp"
#include "automatelinux/sdk/peers.hpp"
#include "automatelinux/sdk/stream.hpp"

namespace automatelinux::sdk {

// A request arriving from a peer for a message type this plugin serves.
using PeerHandler = std::function<void(ServedStreamPtr stream, const nlohmann::json& header,
                                       const std::string& body)>;

class BOOST_SYMBOL_VISIBLE Host {
 public:
  virtual ~Host() = default;

  // Registration (only during init; a plugin whose init throws registers nothing).
  virtual void add_command(CommandSpec spec) = 0;
  virtual void add_peer_service(const std::string& type, PeerHandler handler) = 0;

  // Environment.
  // Asynchronous I/O on core's event loop (all plugin callbacks run there, never re-entered).
  // adopt_fd takes ownership of `fd` (it is made non-blocking).
  virtual AsyncFdPtr adopt_fd(int fd) = 0;
  virtual TimerPtr make_timer() = 0;
  virtual std::shared_ptr<spdlog::logger> logger() = 0;
  virtual const nlohmann::json& config() const = 0;  // this plugin's section of the config file
  // A named top-level section of the config file (e.g. "exec"), or an empty object.
  virtual const nlohmann::json& config_section(const std::string& key) const = 0;
  virtual const std::filesystem::path& state_dir() const = 0;
  // This daemon's structured audit log (see audit.hpp).
  virtual AuditLog& audit() = 0;

  // Peers.
  virtual PeerNetwork& peers() = 0;
  // Opens a request stream to `peer` carrying a message of `type` (served there by
  // add_peer_service), on behalf of the request `on_behalf_of` (its requester and request id
  // travel along, so both ends audit the same request). A number `timeout_ms` in `header` makes
  // the serving core cancel the handler after that long and end the request as a timeout. Failures
  // ("Peer not found: vps", "Peer is offline: vps") arrive through the stream's on_result as
  // Result::error.
  virtual RequestedStreamPtr open_peer_stream(const std::string& peer, const std::string& type,
                                              nlohmann::json header, std::string body,
                                              const Stream& on_behalf_of) = 0;

  // Composition: runs another registered command (parsed like a `d` request) on `stream`, which
  // that command then serves and finishes.
  virtual void run_command(const std::vector<std::string>& argv, ServedStreamPtr stream) = 0;
};

}  // namespace automatelinux::sdk
