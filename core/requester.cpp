#include "core/requester.hpp"

#include <pwd.h>

#include <algorithm>
#include <cctype>
#include <vector>

namespace automatelinux::core {

sdk::Requester local_requester(int uid) {
  sdk::Requester requester;
  requester.uid = uid;
  requester.root = uid == 0;
  if (uid < 0) return requester;
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (::getpwuid_r(static_cast<uid_t>(uid), &entry, buffer.data(), buffer.size(), &found) == 0 &&
      found != nullptr && found->pw_name != nullptr && valid_login_name(found->pw_name))
    requester.name = found->pw_name;
  return requester;
}

nlohmann::json caller_field(const sdk::Requester& requester) {
  // Root-ness is this host's to vouch for only when the caller is on this host.
  const bool root = requester.peer.empty() && requester.uid == 0 && requester.root;
  return {{"name", requester.name}, {"root", root}};
}

sdk::Requester peer_requester(const std::string& from, const nlohmann::json& request) {
  sdk::Requester requester;
  requester.peer = from;
  const auto caller = request.find(kCallerKey);
  if (caller == request.end() || !caller->is_object()) return requester;
  const auto name = caller->find("name");
  const auto root = caller->find("root");
  if (name == caller->end() || !name->is_string() || root == caller->end() || !root->is_boolean())
    return requester;
  const auto& text = name->get_ref<const std::string&>();
  if (!valid_login_name(text)) return requester;
  requester.name = text;
  requester.root = root->get<bool>();
  return requester;
}

bool valid_login_name(std::string_view name) {
  if (name.empty() || name.size() > 32 || name.front() == '-' || name == "." || name == "..")
    return false;
  const auto body = name.back() == '$' ? name.substr(0, name.size() - 1) : name;
  return !body.empty() && std::all_of(body.begin(), body.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

std::string requester_label(const sdk::Requester& requester) {
  const std::string who = requester.peer.empty() ? "local" : requester.peer;
  return requester.name.empty() ? who : who + "/" + requester.name;
}

}  // namespace automatelinux::core
