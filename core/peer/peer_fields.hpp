// What a member may say about itself (hello) and what a worker accepts from the leader's member
// list. Checked on arrival, so everything `listPeers` later prints is plain text of known shape:
// no member can put terminal escapes or fake rows into another member's screen.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace automatelinux::core::peer {

// A version such as "0.1.0", "1.2.3-rc1+deb12": letters, digits and ".+-~_", at most 32 bytes.
bool valid_version(std::string_view version);
// A command name such as "execOnPeer": a letter, then letters, digits and "_.-", at most 64 bytes.
bool valid_command_name(std::string_view name);

// The command names in a hello or welcome's "commands": valid names only, at most 128.
std::vector<std::string> checked_command_names(const nlohmann::json& header);

// One entry of a member list as the leader pushed it, reduced to fields of known shape: nothing
// when its id or role is not valid, else the entry with bad optional fields dropped or nulled.
std::optional<nlohmann::json> checked_member_entry(const nlohmann::json& entry);

}  // namespace automatelinux::core::peer
