// Every command the daemon offers, with the plugin library that provides it. An entry holds its
// library, so nothing a plugin handed out can outlive the code behind it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/dll/shared_library.hpp>

#include "automatelinux/sdk/command.hpp"
#include "automatelinux/sdk/host.hpp"

namespace automatelinux::core {

// The library is the first member so it is destroyed last, after the plugin code it backs.
struct CommandEntry {
  std::shared_ptr<boost::dll::shared_library> library;  // null for built-ins
  std::string plugin;                                   // "core" for built-ins
  sdk::CommandSpec spec;
};

struct PeerServiceEntry {
  std::shared_ptr<boost::dll::shared_library> library;
  std::string plugin;
  sdk::PeerHandler handler;
};

class CommandRegistry {
 public:
  // Returns the plugin that already owns `name`, or empty if it is free.
  std::string owner_of(const std::string& name) const;
  void add(CommandEntry entry);
  const CommandEntry* find(const std::string& name) const;
  const std::map<std::string, CommandEntry>& commands() const { return commands_; }
  std::vector<std::string> names() const;

  std::string service_owner(const std::string& type) const;
  void add_service(const std::string& type, PeerServiceEntry entry);
  const PeerServiceEntry* find_service(const std::string& type) const;

 private:
  std::map<std::string, CommandEntry> commands_;
  std::map<std::string, PeerServiceEntry> services_;
};

}  // namespace automatelinux::core
