// The one rule for job names, applied where a name is typed (`execOnPeer --detach --name`) and
// again where it is stored (the job's host, which never trusts that the sender checked): a letter,
// then letters, digits, '.', '_' or '-', at most 64 bytes. So a name can never be a path, hold a
// control character, or be taken for a job number.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>

#include <automatelinux/sdk/untrusted_text.hpp>

namespace automatelinux::peer_exec::jobs {

inline constexpr std::size_t kMaxJobName = 64;

inline bool valid_job_name(const std::string& name) {
  // ASCII only: std::isalpha would follow the locale.
  const auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (name.empty() || name.size() > kMaxJobName || !letter(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) {
    return letter(c) || digit(c) || c == '.' || c == '_' || c == '-';
  });
}

// The one-line refusal, the name shown escaped and cut (it may be anything a member sent).
inline std::string invalid_job_name_reason(const std::string& what, const std::string& name) {
  return "invalid " + what + " '" + sdk::escape_untrusted(name, kMaxJobName) +
         "' (a letter, then letters, digits, '.', '_' or '-'; at most 64)";
}

}  // namespace automatelinux::peer_exec::jobs
