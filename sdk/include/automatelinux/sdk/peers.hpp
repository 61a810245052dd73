// The peer network as plugins see it. Core owns the sessions, the TLS identities and the
// membership; peer_config is a thin command layer over this interface.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/config.hpp>

namespace automatelinux::sdk {

// This daemon's place in the cluster. Unset values are empty optionals.
struct LocalPeerStatus {
  std::optional<std::string> id;
  std::optional<std::string> role;    // "leader" or "worker"
  std::optional<std::string> leader;  // HOST:PORT (workers)
  std::optional<std::string> listen;  // HOST:PORT (leaders)
  bool connected = false;             // leader: listening; worker: welcomed by the leader
  std::optional<std::string> since;   // ISO 8601 UTC of the last connection change
};

struct PeerInfo {
  std::string id;
  std::string role;
  bool online = false;
  std::string address;
  std::optional<std::string> last_seen;  // ISO 8601 UTC
  std::optional<double> rtt_ms;
  std::string version;
  std::vector<std::string> commands;
};

class BOOST_SYMBOL_VISIBLE PeerNetwork {
 public:
  // Empty on success, else a one-line reason.
  using Done = std::function<void(const std::string& error)>;

  virtual ~PeerNetwork() = default;
  virtual LocalPeerStatus local() const = 0;
  // Every peer known to the cluster, this daemon included.
  virtual std::vector<PeerInfo> peers() const = 0;

  virtual void become_leader(const std::string& id, const std::string& listen, Done done) = 0;
  // With a token: enrolls synchronously (done runs once the leader signed our certificate, or
  // with the reason it did not; nothing is saved on failure). Without: saves and reconnects.
  virtual void become_worker(const std::string& id, const std::string& leader,
                             const std::optional<std::string>& token, Done done) = 0;
  // Leader only; throws std::runtime_error with a one-line reason.
  virtual std::string create_join_token(std::chrono::seconds ttl) = 0;
  virtual void remove_peer(const std::string& id) = 0;
};

}  // namespace automatelinux::sdk
