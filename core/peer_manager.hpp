// This daemon's place in the cluster and the way to reach other peers. For now it knows only
// the persisted local configuration; the TLS peer network plugs in here (issue: peer network).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "automatelinux/sdk/host.hpp"
#include "core/asio.hpp"

namespace automatelinux::core {

class PeerManager {
 public:
  PeerManager(asio::io_context& io, std::filesystem::path state_dir);

  sdk::LocalPeerStatus local_status() const;
  sdk::StreamPtr open_stream(const std::string& peer, const std::string& type,
                             const sdk::Requester& requester);

 private:
  asio::io_context& io_;
  std::filesystem::path state_dir_;
};

}  // namespace automatelinux::core
