#include "core/command_registry.hpp"

namespace automatelinux::core {

std::string CommandRegistry::owner_of(const std::string& name) const {
  auto it = commands_.find(name);
  return it == commands_.end() ? std::string{} : it->second.plugin;
}

void CommandRegistry::add(CommandEntry entry) {
  const std::string name = entry.spec.name;
  commands_.emplace(name, std::move(entry));
}

const CommandEntry* CommandRegistry::find(const std::string& name) const {
  auto it = commands_.find(name);
  return it == commands_.end() ? nullptr : &it->second;
}

std::vector<std::string> CommandRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : commands_) out.push_back(name);
  return out;
}

std::string CommandRegistry::service_owner(const std::string& type) const {
  auto it = services_.find(type);
  return it == services_.end() ? std::string{} : it->second.plugin;
}

void CommandRegistry::add_service(const std::string& type, PeerServiceEntry entry) {
  services_.emplace(type, std::move(entry));
}

const PeerServiceEntry* CommandRegistry::find_service(const std::string& type) const {
  auto it = services_.find(type);
  return it == services_.end() ? nullptr : &it->second;
}

}  // namespace automatelinux::core
