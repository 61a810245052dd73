#include "core/peer/peer_fields.hpp"

#include "core/peer/enrollment.hpp"

namespace automatelinux::core::peer {
namespace {

bool only(std::string_view text, std::string_view allowed) {
  return text.find_first_not_of(allowed) == std::string_view::npos;
}

constexpr std::string_view kAlnum =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

bool is_string_of(const nlohmann::json& entry, const char* key, bool (*valid)(std::string_view)) {
  auto it = entry.find(key);
  return it != entry.end() && it->is_string() && valid(it->get_ref<const std::string&>());
}

bool valid_address(std::string_view a) {
  return a.size() <= 64 && only(a, "0123456789abcdefABCDEF.:[]");
}

bool valid_timestamp(std::string_view t) {
  return t.size() <= 32 && only(t, "0123456789-:TZ.");
}

}  // namespace

bool valid_version(std::string_view version) {
  return !version.empty() && version.size() <= 32 &&
         version.find_first_not_of(std::string(kAlnum) + ".+-~_") == std::string_view::npos;
}

bool valid_command_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 &&
         kAlnum.substr(0, 52).find(name[0]) != std::string_view::npos &&
         name.find_first_not_of(std::string(kAlnum) + "_.-") == std::string_view::npos;
}

std::vector<std::string> checked_command_names(const nlohmann::json& header) {
  std::vector<std::string> names;
  if (auto cmds = header.find("commands"); cmds != header.end() && cmds->is_array())
    for (const auto& c : *cmds)
      if (c.is_string() && valid_command_name(c.get_ref<const std::string&>()) &&
          names.size() < 128)
        names.push_back(c.get<std::string>());
  return names;
}

std::optional<nlohmann::json> checked_member_entry(const nlohmann::json& entry) {
  if (!entry.is_object()) return std::nullopt;
  auto id = entry.find("id");
  auto role = entry.find("role");
  if (id == entry.end() || !id->is_string() || !valid_peer_id(id->get<std::string>()))
    return std::nullopt;
  if (role == entry.end() || (*role != "leader" && *role != "worker")) return std::nullopt;
  nlohmann::json out = {{"id", *id}, {"role", *role}};
  out["status"] = entry.value("status", nlohmann::json()) == "online" ? "online" : "offline";
  out["address"] = is_string_of(entry, "address", valid_address) ? entry["address"] : "";
  out["last_seen"] =
      is_string_of(entry, "last_seen", valid_timestamp) ? entry["last_seen"] : nlohmann::json();
  auto rtt = entry.find("rtt_ms");
  out["rtt_ms"] = rtt != entry.end() && rtt->is_number() ? *rtt : nlohmann::json();
  out["version"] = is_string_of(entry, "version", valid_version) ? entry["version"] : "?";
  out["commands"] = nlohmann::json::array();
  if (auto cmds = entry.find("commands"); cmds != entry.end() && cmds->is_array())
    for (const auto& c : *cmds)
      if (c.is_string() && valid_command_name(c.get_ref<const std::string&>()) &&
          out["commands"].size() < 128)
        out["commands"].push_back(c);
  return out;
}

}  // namespace automatelinux::core::peer
