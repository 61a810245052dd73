// Core's name for the SDK's escaping rule (automatelinux/sdk/untrusted_text.hpp): one function
// for core and plugins alike, so a log line and a plugin's listing escape the same bytes.
#pragma once

#include <automatelinux/sdk/untrusted_text.hpp>

namespace automatelinux::core {

using sdk::escape_untrusted;
using sdk::kMaxLoggedText;

}  // namespace automatelinux::core
