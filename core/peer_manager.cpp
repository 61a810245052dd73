#include "core/peer_manager.hpp"

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/failed_stream.hpp"

namespace automatelinux::core {
namespace {

std::optional<std::string> optional_string(const nlohmann::json& json, const char* key) {
  auto it = json.find(key);
  if (it == json.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

PeerManager::PeerManager(asio::io_context& io, std::filesystem::path state_dir)
    : io_(io), state_dir_(std::move(state_dir)) {}

sdk::LocalPeerStatus PeerManager::local_status() const {
  sdk::LocalPeerStatus status;
  std::ifstream in(state_dir_ / "peer.json");
  if (!in) return status;
  const auto json = nlohmann::json::parse(in, nullptr, false);
  if (!json.is_object()) return status;
  status.id = optional_string(json, "id");
  status.role = optional_string(json, "role");
  status.leader = optional_string(json, "leader");
  status.listen = optional_string(json, "listen");
  return status;
}

sdk::StreamPtr PeerManager::open_stream(const std::string& peer, const std::string& /*type*/,
                                        const sdk::Requester& requester) {
  // No peer sessions exist yet, so no peer can be found.
  return std::make_shared<FailedStream>(io_, requester, "Peer not found: " + peer);
}

}  // namespace automatelinux::core
