// Who asked for a request, as core establishes it: a local caller from the socket's credentials,
// a peer from its certificate plus what its daemon says about its own local caller. See
// sdk::Requester and docs/security.md ("What the `automatelinux` group grants").
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "automatelinux/sdk/stream.hpp"

namespace automatelinux::core {

// The key core stamps into every request it opens to a peer ("req" object), overwriting whatever
// the plugin put there, so neither a plugin nor `d` chooses who the peer thinks asked.
inline constexpr const char* kCallerKey = "caller";

// A local caller: `uid` from SO_PEERCRED, its login name from the password database (empty when
// it has none; such a caller can ask nothing of a peer).
sdk::Requester local_requester(int uid);

// What travels with a request to a peer: {"name": NAME, "root": BOOL}. Root only for a local
// caller with uid 0; a request made on behalf of a peer's request is never root here either.
nlohmann::json caller_field(const sdk::Requester& requester);

// A peer's request: the member from its certificate (`from`), the name and root-ness from the
// request's caller field when it is well-formed; otherwise no name and not root.
sdk::Requester peer_requester(const std::string& from, const nlohmann::json& request);

// A login name as useradd accepts one: letters, digits, '.', '_', '-' (not first), a trailing
// '$'; at most 32 bytes.
bool valid_login_name(std::string_view name);

// "vps/alice", "local/alice": who asked, for audit lines; "vps" when the name is unknown.
std::string requester_label(const sdk::Requester& requester);

}  // namespace automatelinux::core
