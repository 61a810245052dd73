// Config keys as core and plugins declare them: one list per owner, so that
// `automatelinux-daemon --check-config` knows every key, and one checker, so that the check and
// each owner's own parsing accept exactly the same values.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "automatelinux/sdk/duration.hpp"

namespace automatelinux::sdk {

enum class ConfigType {
  string,
  path,           // a non-empty string
  absolute_path,  // a string starting with '/'
  integer,        // within [min, max]
  boolean,
  duration,  // parse_duration's text, above zero
  string_list,
  choice,  // one of `choices`
  object,  // any object: its contents are the owner's business
  // {"MEMBER:NAME": ["USER", …]}: who may run as whom (exec.user_map). MEMBER, NAME and USER are
  // non-empty and contain no ':'; each may be "*".
  user_map,
};

// Every member has an initializer, so designated initializers may leave any out (-Wextra).
struct ConfigKey {
  std::string key{};  // dotted from the top of the file: "exec.default_timeout"
  ConfigType type = ConfigType::string;
  std::string default_text{};  // as the documentation shows it
  std::string description{};   // one line
  std::int64_t min = std::numeric_limits<std::int64_t>::min();
  std::int64_t max = std::numeric_limits<std::int64_t>::max();
  std::vector<std::string> choices{};
};

using ConfigSchema = std::vector<ConfigKey>;

struct ConfigProblem {
  std::string key;       // dotted; empty for the file as a whole
  std::string message;   // one line that names the key
  bool unknown = false;  // an undeclared key: logged at start-up, a problem for --check-config
};

namespace config_detail {

inline std::string quoted_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "\"" : ", \"") + item + "\"";
  return out;
}

inline std::string integer_phrase(const ConfigKey& k) {
  const bool low = k.min != std::numeric_limits<std::int64_t>::min();
  const bool high = k.max != std::numeric_limits<std::int64_t>::max();
  if (low && high)
    return "an integer from " + std::to_string(k.min) + " to " + std::to_string(k.max);
  if (low) return "an integer of at least " + std::to_string(k.min);
  if (high) return "an integer of at most " + std::to_string(k.max);
  return "an integer";
}

// What the key holds, as "'key' must be …" ends.
inline std::string type_phrase(const ConfigKey& k) {
  switch (k.type) {
    case ConfigType::string:
      return "a string";
    case ConfigType::path:
      return "a string";  // the value, once a string, is named as a path
    case ConfigType::absolute_path:
      return "an absolute path";
    case ConfigType::integer:
      return integer_phrase(k);
    case ConfigType::boolean:
      return "true or false";
    case ConfigType::duration:
      return "a duration such as \"30s\", \"10m\", \"1h\"";
    case ConfigType::string_list:
      return "a list of strings";
    case ConfigType::choice:
      return "one of " + quoted_list(k.choices);
    case ConfigType::object:
      return "an object";
    case ConfigType::user_map:
      return "an object of \"MEMBER:NAME\": [\"USER\", …]";
  }
  return "something else";
}

inline bool has_json_type(ConfigType type, const nlohmann::json& v) {
  switch (type) {
    case ConfigType::integer:
      return v.is_number_integer();
    case ConfigType::boolean:
      return v.is_boolean();
    case ConfigType::object:
      return v.is_object();
    case ConfigType::user_map:
      if (!v.is_object()) return false;
      for (const auto& [from, to] : v.items())
        if (!has_json_type(ConfigType::string_list, to)) return false;
      return true;
    case ConfigType::string_list:
      if (!v.is_array()) return false;
      for (const auto& item : v)
        if (!item.is_string()) return false;
      return true;
    default:
      return v.is_string();
  }
}

// JSON keeps non-negative numbers unsigned; compare without wrapping either way.
inline bool in_range(const ConfigKey& k, const nlohmann::json& v) {
  if (v.is_number_unsigned()) {
    const auto n = v.get<std::uint64_t>();
    return k.max >= 0 && n <= std::uint64_t(k.max) && (k.min <= 0 || n >= std::uint64_t(k.min));
  }
  const auto n = v.get<std::int64_t>();
  return n >= k.min && n <= k.max;
}

// Why a value of the right JSON type is still wrong, or "".
inline std::string value_problem(const ConfigKey& k, const nlohmann::json& v) {
  const std::string shown = k.key + ": " + v.dump();
  switch (k.type) {
    case ConfigType::path:
      return v.get<std::string>().empty() ? shown + " is not a path" : "";
    case ConfigType::absolute_path:
      return v.get<std::string>().rfind('/', 0) == 0 ? "" : shown + " is not an absolute path";
    case ConfigType::integer:
      return in_range(k, v) ? "" : shown + " is out of range (" + integer_phrase(k) + ")";
    case ConfigType::duration: {
      const auto parsed = parse_duration(v.get<std::string>());
      if (!parsed) return shown + " is not a duration (e.g. \"30s\", \"10m\")";
      return parsed->count() > 0 ? "" : shown + " is not a duration above zero";
    }
    case ConfigType::choice:
      for (const auto& choice : k.choices)
        if (v == choice) return "";
      return shown + " is not one of " + quoted_list(k.choices);
    case ConfigType::user_map:
      for (const auto& [from, to] : v.items()) {
        const auto colon = from.find(':');
        if (colon == 0 || colon == std::string::npos || colon + 1 == from.size() ||
            from.find(':', colon + 1) != std::string::npos)
          return k.key + ": key \"" + from + "\" is not MEMBER:NAME";
        for (const auto& user : to)
          if (user.get<std::string>().empty() ||
              user.get<std::string>().find(':') != std::string::npos)
            return k.key + ": \"" + from + "\" maps to " + user.dump() + ", not a user name";
      }
      return "";
    default:
      return "";
  }
}

inline const ConfigKey* find_key(const ConfigSchema& schema, const std::string& key) {
  for (const auto& k : schema)
    if (k.key == key) return &k;
  return nullptr;
}

// Whether some declared key lies below `key`, making it a section (an object of keys).
inline bool is_section(const ConfigSchema& schema, const std::string& key) {
  for (const auto& k : schema)
    if (k.key.size() > key.size() && k.key.compare(0, key.size(), key) == 0 &&
        k.key[key.size()] == '.')
      return true;
  return false;
}

// The names declared directly below `section`, in order, each once.
inline std::vector<std::string> names_below(const ConfigSchema& schema,
                                            const std::string& section) {
  std::vector<std::string> names;
  const std::string prefix = section + ".";
  for (const auto& k : schema) {
    if (k.key.rfind(prefix, 0) != 0) continue;
    const auto rest = k.key.substr(prefix.size());
    const auto name = rest.substr(0, rest.find('.'));
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

// "unknown key 'log.lvl' (log takes: level)": a misspelt key shows what was meant.
inline ConfigProblem unknown_key(const ConfigSchema& schema, const std::string& key,
                                 const std::string& section) {
  std::string message = "unknown key '" + key + "'";
  const auto names = section.empty() ? std::vector<std::string>{} : names_below(schema, section);
  for (std::size_t i = 0; i < names.size(); ++i)
    message += (i == 0 ? " (" + section + " takes: " : ", ") + names[i];
  if (!names.empty()) message += ")";
  return {key, message, true};
}

inline void check_object(const ConfigSchema& schema, const nlohmann::json& object,
                         const std::string& section, std::vector<ConfigProblem>& out) {
  for (const auto& [name, value] : object.items()) {
    const std::string key = section.empty() ? name : section + "." + name;
    if (const ConfigKey* k = find_key(schema, key)) {
      if (!has_json_type(k->type, value))
        out.push_back({key, "'" + key + "' must be " + type_phrase(*k)});
      else if (auto problem = value_problem(*k, value); !problem.empty())
        out.push_back({key, problem});
    } else if (is_section(schema, key)) {
      if (!value.is_object())
        out.push_back({key, "'" + key + "' must be an object"});
      else
        check_object(schema, value, key, out);
    } else {
      out.push_back(unknown_key(schema, key, section));
    }
  }
}

}  // namespace config_detail

// Every problem of `json` against `schema`. `json` is the whole file when `section` is empty,
// else the object found at that dotted key (a plugin checking only its own section).
inline std::vector<ConfigProblem> check_config(const ConfigSchema& schema,
                                               const nlohmann::json& json,
                                               const std::string& section = {}) {
  std::vector<ConfigProblem> out;
  if (!json.is_object()) {
    out.push_back({section, section.empty() ? "the top level must be a JSON object"
                                            : "'" + section + "' must be an object"});
    return out;
  }
  config_detail::check_object(schema, json, section, out);
  return out;
}

// The schema of a plugin that reads no config keys, so that a section written for it is reported.
inline const ConfigSchema& no_config_keys() {
  static const ConfigSchema none;
  return none;
}

// For an owner's own parsing: throws std::runtime_error with the first problem that is not an
// unknown key (unknown keys are only logged at start-up, so that a newer file still loads).
inline void require_valid(const std::vector<ConfigProblem>& problems) {
  for (const auto& problem : problems)
    if (!problem.unknown) throw std::runtime_error(problem.message);
}

}  // namespace automatelinux::sdk
