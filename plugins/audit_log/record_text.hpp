// How `auditLog` shows one record as a line of text.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace automatelinux::audit_log {

// One line, no newline: time, host, what happened, who asked, where, and the command. Control
// characters in any field are escaped, so a record can never look like two.
std::string record_line(const nlohmann::json& record);

}  // namespace automatelinux::audit_log
