#include "core/plugin_host.hpp"

#include <stdexcept>

#include "core/async_primitives.hpp"
#include "core/failed_stream.hpp"
#include "core/requester.hpp"

namespace automatelinux::core {

void PluginPeers::become_leader(const std::string& id, const std::string& listen, Done done) {
  peers_.become_leader(id, listen, keeping_loaded(library_, std::move(done)));
}

void PluginPeers::become_worker(const std::string& id, const std::string& leader,
                                const std::string& listen,
                                const std::optional<std::string>& token, Done done) {
  peers_.become_worker(id, leader, listen, token, keeping_loaded(library_, std::move(done)));
}

PluginHost::PluginHost(CoreServices& core, std::string plugin, LibraryRef library)
    : core_(core),
      plugin_(std::move(plugin)),
      library_(std::move(library)),
      peers_(core.peers, library_),
      audit_(core.audit, library_) {}

void PluginHost::add_command(sdk::CommandSpec spec) {
  if (committed_) throw std::logic_error("commands can only be added during init");
  if (spec.name.empty() || spec.name.find_first_of(" \t\n/") != std::string::npos)
    throw std::invalid_argument("invalid command name '" + spec.name + "'");
  if (!spec.handler) throw std::invalid_argument("command '" + spec.name + "' has no handler");
  for (const auto& secret : spec.secret_options) {
    const auto* desc = spec.options.find_nothrow(secret, /*approx=*/false);
    if (desc == nullptr || desc->semantic()->max_tokens() == 0)
      throw std::invalid_argument("command '" + spec.name + "': secret option '" + secret +
                                  "' is not an option that takes a value");
  }
  commands_.push_back(std::move(spec));
}

void PluginHost::add_peer_service(const std::string& type, sdk::PeerHandler handler) {
  if (committed_) throw std::logic_error("peer services can only be added during init");
  if (!handler) throw std::invalid_argument("peer service '" + type + "' has no handler");
  services_.emplace_back(type, std::move(handler));
}

void PluginHost::check_conflicts() const {
  for (std::size_t i = 0; i < commands_.size(); ++i) {
    const auto& name = commands_[i].name;
    if (auto owner = core_.registry.owner_of(name); !owner.empty())
      throw std::runtime_error("command '" + name + "' is already provided by '" + owner + "'");
    for (std::size_t j = 0; j < i; ++j)
      if (commands_[j].name == name)
        throw std::runtime_error("command '" + name + "' is registered twice");
  }
  for (const auto& [type, handler] : services_) {
    if (auto owner = core_.registry.service_owner(type); !owner.empty())
      throw std::runtime_error("peer service '" + type + "' is already provided by '" + owner +
                               "'");
  }
}

void PluginHost::commit() {
  for (auto& spec : commands_) core_.registry.add(CommandEntry{library_, plugin_, std::move(spec)});
  for (auto& [type, handler] : services_)
    core_.registry.add_service(type, PeerServiceEntry{library_, plugin_, std::move(handler)});
  commands_.clear();
  services_.clear();
  committed_ = true;
}

sdk::RequestedStreamPtr PluginHost::open_peer_stream(const std::string& peer,
                                                     const std::string& type, nlohmann::json header,
                                                     std::string body,
                                                     const sdk::Stream& on_behalf_of) {
  const auto& requester = on_behalf_of.requester();
  // The peer decides whom the request runs as from this name: a local caller without one (a uid
  // with no password entry) asks nothing of a peer.
  if (requester.name.empty())
    return std::make_shared<FailedStream>(core_.io, requester,
                                          "cannot tell the caller's login name (uid " +
                                              std::to_string(requester.uid) +
                                              " has no password entry on this host)",
                                          library_);
  if (!header.is_object()) header = nlohmann::json::object();
  header[kCallerKey] = caller_field(requester);
  return core_.peers.open_stream(peer, type, std::move(header), std::move(body), requester,
                                 on_behalf_of.request_id(), library_);
}

void PluginHost::run_command(const std::vector<std::string>& argv, sdk::ServedStreamPtr stream) {
  core_.dispatcher.dispatch(argv, stream);
}

sdk::AsyncFdPtr PluginHost::adopt_fd(int fd) {
  return make_async_fd(core_.io, core_.log, fd, library_);
}

sdk::TimerPtr PluginHost::make_timer() {
  return make_timer_for(core_.io, core_.log, library_);
}

}  // namespace automatelinux::core
