// Turns an argv into a running command: built-in help, option parsing against what the plugin
// registered, then the handler — with every exception a plugin throws turned into an error.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "automatelinux/sdk/audit.hpp"
#include "automatelinux/sdk/stream.hpp"
#include "core/command_registry.hpp"

namespace spdlog {
class logger;
}

namespace automatelinux::core {

class Dispatcher {
 public:
  // `audit` (may be null in tests) is where the requests it runs are audited.
  Dispatcher(const CommandRegistry& registry, std::shared_ptr<spdlog::logger> log,
             sdk::AuditLog* audit)
      : registry_(registry), log_(std::move(log)), audit_(audit) {}

  sdk::AuditLog* audit_log() const { return audit_; }

  // Runs the command on `stream`. A stream core made (a ServingStream) then keeps the command's
  // plugin loaded for as long as it lives.
  void dispatch(const std::vector<std::string>& argv, const sdk::ServedStreamPtr& stream) const;
  // The command line for an audit or log line: printable_command() with the values of the
  // command's secret options redacted.
  std::string printable(const std::vector<std::string>& argv) const;

 private:
  const CommandRegistry& registry_;
  std::shared_ptr<spdlog::logger> log_;
  sdk::AuditLog* audit_;
};

// " (did you mean NAME?)" for the known name closest to `typed`, or "" when none is close.
std::string did_you_mean(const std::string& typed, const std::vector<std::string>& known);

// A command line made safe for one log line: non-printable bytes escaped, arguments quoted, the
// secret of any join token in it redacted. Knows nothing of secret options: see printable().
std::string printable_command(const std::vector<std::string>& argv);

}  // namespace automatelinux::core
