// The sdk::Host a plugin receives. It collects registrations during init so that a plugin whose
// init throws leaves nothing behind; commit() then publishes them to the registry.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/dll/shared_library.hpp>

#include "automatelinux/sdk/host.hpp"
#include "core/command_registry.hpp"
#include "core/config.hpp"
#include "core/dispatcher.hpp"
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
};

class PluginHost final : public sdk::Host {
 public:
  PluginHost(CoreServices& core, std::string plugin,
             std::shared_ptr<boost::dll::shared_library> library);

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
  sdk::PeerNetwork& peers() override { return core_.peers; }
  sdk::StreamPtr open_peer_stream(const std::string& peer, const std::string& type,
                                  nlohmann::json header, std::string body,
                                  const sdk::StreamPtr& on_behalf_of) override;
  void run_command(const std::vector<std::string>& argv, sdk::StreamPtr stream) override;

 private:
  CoreServices& core_;
  std::string plugin_;
  std::shared_ptr<boost::dll::shared_library> library_;
  bool committed_ = false;
  std::vector<sdk::CommandSpec> commands_;
  std::vector<std::pair<std::string, sdk::PeerHandler>> services_;
};

}  // namespace automatelinux::core
