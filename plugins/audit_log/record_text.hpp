// How `auditLog` shows one record as a line of text.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace automatelinux::audit_log {

// One line, no newline: time, host, what happened, who asked, where, and the command. Every field
// goes through sdk::escape_untrusted (C0/C1 controls, DEL, backslash, invalid UTF-8 → \xNN), so
// a record can never look like two nor drive the terminal.
std::string record_line(const nlohmann::json& record);

// A stored record (valid JSON, so valid UTF-8 with no raw C0 control) as `auditLog --json` prints
// it: unchanged but for DEL and the C1 controls (U+0080–U+009F), which JSON allows raw in a string
// and a terminal would obey; they become \u00XX, the same string to any JSON reader.
std::string terminal_safe_json(const std::string& record);

}  // namespace automatelinux::audit_log
