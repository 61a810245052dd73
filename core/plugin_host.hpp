// The sdk::Host a plugin receives. It collects registrations during init so that a plugin whose
// init throws leaves nothing behind; commit() then publishes them to the registry.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/dll/shared_library.hpp>

#include "automatelinux/sdk/host.hpp"
#include "core/audit_log.hpp"
#include "core/command_registry.hpp"
#include "core/config.hpp"
#include "core/dispatcher.hpp"
#include "core/library_ref.hpp"
#include "core/peer/peer_manager.hpp"

namespace automatelinux::core {

// What core shares with every plugin host.
struct CoreServices {
  asio::io_context& io;
  std::shared_ptr<spdlog::logger> log;
  const DaemonConfig& config;
  CommandRegistry& registry;
  peer::PeerManager& peers;
  const Dispatcher& dispatcher;
  AuditLog& audit;
};

// The peer network as one plugin sees it: core's, with every callback the plugin passes wrapped
// so that it keeps the plugin's library loaded while core holds it (an enrollment in progress).
class PluginPeers final : public sdk::PeerNetwork {
 public:
  PluginPeers(peer::PeerManager& peers, LibraryRef library)
      : peers_(peers), library_(std::move(library)) {}
  sdk::LocalPeerStatus local() const override { return peers_.local(); }
  std::vector<sdk::PeerInfo> peers() const override { return peers_.peers(); }
  void become_leader(const std::string& id, const std::string& listen, Done done) override;
  void become_worker(const std::string& id, const std::string& leader, const std::string& listen,
                     const std::optional<std::string>& token, Done done) override;
  sdk::NewJoinToken create_join_token(std::chrono::seconds ttl,
                                      std::optional<std::uint32_t> uses) override {
    return peers_.create_join_token(ttl, uses);
  }
  std::vector<sdk::JoinTokenInfo> join_tokens() const override { return peers_.join_tokens(); }
  void revoke_token(const std::string& id) override { peers_.revoke_token(id); }
  std::vector<std::string> remove_peer(const std::string& id) override {
    return peers_.remove_peer(id);
  }

 private:
  peer::PeerManager& peers_;
  LibraryRef library_;
};

// The audit log as one plugin sees it: a follower's handler keeps the plugin's library loaded.
class PluginAudit final : public sdk::AuditLog {
 public:
  PluginAudit(AuditLog& audit, LibraryRef library) : audit_(audit), library_(std::move(library)) {}
  void record(nlohmann::json fields) override { audit_.record(std::move(fields)); }
  std::vector<std::string> read(const sdk::AuditQuery& query) const override {
    return audit_.read(query);
  }
  std::shared_ptr<void> subscribe(RecordHandler handler) override {
    return audit_.subscribe(keeping_loaded(library_, std::move(handler)));
  }

 private:
  AuditLog& audit_;
  LibraryRef library_;
};

class PluginHost final : public sdk::Host {
 public:
  PluginHost(CoreServices& core, std::string plugin, LibraryRef library);

  // Checks that nothing registered collides with what is already there; throws if it does.
  void check_conflicts() const;
  void commit();

  void add_command(sdk::CommandSpec spec) override;
  void add_peer_service(const std::string& type, sdk::PeerHandler handler) override;
  sdk::AsyncFdPtr adopt_fd(int fd) override;
  sdk::TimerPtr make_timer() override;
  std::shared_ptr<spdlog::logger> logger() override { return core_.log; }
  const nlohmann::json& config() const override { return core_.config.plugin_section(plugin_); }
  const nlohmann::json& config_section(const std::string& key) const override {
    return core_.config.plugin_section(key);
  }
  const std::filesystem::path& state_dir() const override { return core_.config.state_dir; }
  sdk::AuditLog& audit() override { return audit_; }
  sdk::PeerNetwork& peers() override { return peers_; }
  sdk::RequestedStreamPtr open_peer_stream(const std::string& peer, const std::string& type,
                                           nlohmann::json header, std::string body,
                                           const sdk::Stream& on_behalf_of) override;
  void run_command(const std::vector<std::string>& argv, sdk::ServedStreamPtr stream) override;

 private:
  CoreServices& core_;
  std::string plugin_;
  LibraryRef library_;
  PluginPeers peers_;
  PluginAudit audit_;
  bool committed_ = false;
  std::vector<sdk::CommandSpec> commands_;
  std::vector<std::pair<std::string, sdk::PeerHandler>> services_;
};

}  // namespace automatelinux::core
