#include "config_keys.hpp"

namespace automatelinux::peer_exec {

using sdk::ConfigType;

const sdk::ConfigSchema& config_keys() {
  static const sdk::ConfigSchema keys{
      {.key = "exec.allowed_peers",
       .type = ConfigType::string_list,
       .default_text = "every member",
       .description = "peers allowed to run commands on this host"},
      {.key = "exec.allowed_roots",
       .type = ConfigType::string_list,
       .default_text = "[\"/\"]",
       .description = "directories commands may run in, checked after realpath"},
      {.key = "exec.run_as",
       .type = ConfigType::string,
       .default_text = "the daemon's user",
       .description = "user commands run as by default"},
      {.key = "exec.allowed_users",
       .type = ConfigType::string_list,
       .default_text = "any user, or [run_as] when run_as is set",
       .description = "users a request may run as"},
      {.key = "exec.user_map",
       .type = ConfigType::user_map,
       .default_text = "{} (a non-root caller runs only as its own login name)",
       .description =
           "{\"MEMBER:NAME\": [\"USER\", ...]}: other users a non-root caller may run as"},
      {.key = "exec.sftp_server",
       .type = ConfigType::absolute_path,
       .default_text = "/usr/lib/openssh/sftp-server",
       .description = "what `d-ssh -s sftp` runs"},
      {.key = "exec.default_timeout",
       .type = ConfigType::duration,
       .default_text = "none",
       .description = "timeout of commands that did not ask for one"},
      {.key = "exec.max_concurrent",
       .type = ConfigType::integer,
       .default_text = "256",
       .description = "commands running at once before new ones get busy",
       .min = 1},
      {.key = "exec.isolation",
       .type = ConfigType::choice,
       .default_text = "auto",
       .description = "how a command's processes are tracked",
       .choices = {"auto", "cgroup", "subreaper"}},
      {.key = "jobs.max_output_bytes",
       .type = ConfigType::integer,
       .default_text = "67108864",
       .description = "output kept per job and stream",
       .min = 65536},
      {.key = "jobs.keep",
       .type = ConfigType::duration,
       .default_text = "7d",
       .description = "how long finished jobs are kept"},
      {.key = "jobs.max_total_bytes",
       .type = ConfigType::integer,
       .default_text = "1073741824",
       .description = "output of all finished jobs together",
       .min = 65536},
      {.key = "jobs.supervisor",
       .type = ConfigType::path,
       .default_text = "<libdir>/automatelinux/job-supervisor",
       .description = "the program that owns each job"},
  };
  return keys;
}

}  // namespace automatelinux::peer_exec
