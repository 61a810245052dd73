// One `d` request over the daemon's Unix socket: send the argv, then relay stdin, stdout, stderr
// and signals until the daemon reports the exit status.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace automatelinux::cli {

inline constexpr int kExitFailure = 255;       // `d` itself failed
inline constexpr int kExitStdoutClosed = 141;  // 128 + SIGPIPE, as a shell pipeline expects

// Returns the exit status `d` should exit with. Prints at most one line on stderr for its own
// failures.
int run_request(const std::string& socket_path, const std::vector<std::string>& argv);

// True when something accepts connections on the daemon's socket.
bool daemon_reachable(const std::string& socket_path);

// Once at start, before anything opens a descriptor: parks /dev/null on a closed stdin, stdout
// or stderr (else the daemon socket could land on one of those numbers and be read as "stdin")
// and keeps the ~64 KiB frames of each read in the heap. False if that cannot be done.
bool prepare_client_process();

// The name our own one-line failures start with ("d", or "d-ssh").
void set_program_name(const char* name);

// Runs a request with no input and returns what it printed on stdout when it exited 0 (for
// short answers such as `help execOnPeer`); nothing otherwise, without printing anything.
std::optional<std::string> query(const std::string& socket_path,
                                 const std::vector<std::string>& argv);

}  // namespace automatelinux::cli
