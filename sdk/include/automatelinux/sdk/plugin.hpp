// The one ABI entry point of a plugin. A plugin defines exactly one entry with
// AUTOMATELINUX_PLUGIN(name, version, init), or AUTOMATELINUX_PLUGIN_WITH_CONFIG(name, version,
// init, schema) when it reads config keys (sdk/config_schema.hpp). Core reads the descriptor's
// first field, the ABI version, before anything else, then compares the versions of everything that
// crosses the boundary, and only then calls init().
#pragma once

#include <cstdint>

#include <fmt/core.h>
#include <spdlog/version.h>
#include <boost/config.hpp>
#include <boost/version.hpp>
#include <nlohmann/json.hpp>

#include "automatelinux/sdk/config_schema.hpp"
#include "automatelinux/sdk/host.hpp"

namespace automatelinux::sdk {

// Bump on any change to the SDK's types or virtual interfaces.
// 2: CommandSpec::secret_options; PeerNetwork join-token management (uses, list, revoke).
// 3: Stream split into ServedStream (on_cancel, finish) and RequestedStream (cancel, on_result);
//    PeerNetwork::Done takes an Outcome; nul_list.hpp and peer_json.hpp helpers.
// 4: sdk/terminal.hpp — terminal mode and window sizes on Channel::control (a core of ABI 3
//    would pass such payloads on uninterpreted).
// 5: PluginDescriptor::config_schema and sdk/config_schema.hpp — the keys a plugin reads, for
//    --check-config, readable without init; sdk/audit.hpp — Host::audit() (records, reading,
//    following) and ServedStream::describe_for_audit(); sdk/peer_list.hpp.
// 6: PeerInfo::path — how this daemon reaches the peer (direct, relayed, unreachable, local);
//    PeerNetwork::become_worker takes the address the worker listens on for direct sessions.
// 7: sdk/untrusted_text.hpp — escape_untrusted, header-only (no vtable change): a plugin built
//    for 7 expects foreign text to be escaped by the SDK's rule, core's own since this version;
//    LocalPeerStatus::notice (getPeerStatus's `notice`); Requester::name and Requester::root —
//    the caller's login name and root-ness on the machine where it asked;
//    CommandSpec::requires_root — administrative commands need local root.
inline constexpr std::uint32_t kAbiVersion = 7;
inline constexpr const char* kEntrySymbol = "automatelinux_plugin_entry";

// Versions of the libraries whose types cross the plugin boundary, as compiled.
struct BoundaryVersions {
  std::uint32_t boost = BOOST_VERSION;
  std::uint32_t nlohmann_json = NLOHMANN_JSON_VERSION_MAJOR * 10000 +
                                NLOHMANN_JSON_VERSION_MINOR * 100 + NLOHMANN_JSON_VERSION_PATCH;
  std::uint32_t spdlog = SPDLOG_VER_MAJOR * 10000 + SPDLOG_VER_MINOR * 100 + SPDLOG_VER_PATCH;
  std::uint32_t fmt = FMT_VERSION;
  std::uint32_t cxx11_abi = _GLIBCXX_USE_CXX11_ABI;
};

struct PluginDescriptor {
  std::uint32_t abi_version;  // must stay the first member, whatever else changes
  const char* name;           // what `plugins.enabled`/`disabled` refer to
  const char* version;
  BoundaryVersions built_with;
  void (*init)(Host& host);  // registers commands and peer services; may throw
  // The config keys the plugin reads, callable without init; null: it declares none, and its
  // own section (the key equal to its name) is left unchecked.
  const ConfigSchema& (*config_schema)();
};

using EntryFunction = const PluginDescriptor* (*)();

}  // namespace automatelinux::sdk

#define AUTOMATELINUX_PLUGIN_WITH_CONFIG(NAME, VERSION, INIT, SCHEMA)          \
  extern "C" BOOST_SYMBOL_EXPORT const ::automatelinux::sdk::PluginDescriptor* \
  automatelinux_plugin_entry() {                                               \
    static const ::automatelinux::sdk::PluginDescriptor descriptor{            \
        ::automatelinux::sdk::kAbiVersion,        NAME, VERSION,               \
        ::automatelinux::sdk::BoundaryVersions{}, INIT, SCHEMA};               \
    return &descriptor;                                                        \
  }

#define AUTOMATELINUX_PLUGIN(NAME, VERSION, INIT) \
  AUTOMATELINUX_PLUGIN_WITH_CONFIG(NAME, VERSION, INIT, nullptr)
