// The requesting side of execOnPeer: validate, open an "exec" stream to the peer, and relay
// stdin/stdout/stderr and cancellation between the local request and the remote one.
#include "exec_command.hpp"

#include <automatelinux/sdk/terminal.hpp>

#include <algorithm>
#include <cctype>

#include <map>
#include <stdexcept>

#include "fanout.hpp"
#include "jobs/job_name.hpp"
#include "jobs/job_service.hpp"
#include "remote_call.hpp"

namespace automatelinux::peer_exec {
namespace po = boost::program_options;
namespace {

// `--peer vps,laptop` or `--peer all`: the peers to fan out to, in order and without
// duplicates; throws std::invalid_argument with a one-line reason.
FanoutRequest fanout_targets(sdk::Host& host, const std::string& spec, bool skip_offline) {
  FanoutRequest request;
  const auto self = host.peers().local().id.value_or("");
  if (spec == "all") {
    for (const auto& p : host.peers().peers()) {
      if (p.id == self) continue;
      if (skip_offline && !p.online) {
        request.skipped.push_back(p.id);
      } else {
        request.peers.push_back(p.id);
      }
    }
    if (request.peers.empty() && request.skipped.empty())
      throw std::invalid_argument("--peer all: this cluster has no other member");
    return request;
  }
  std::map<std::string, bool> online;
  if (skip_offline)
    for (const auto& p : host.peers().peers()) online[p.id] = p.online;
  for (const auto& id : sdk::split_peer_list(spec))
    (skip_offline && online.contains(id) && !online[id] ? request.skipped : request.peers)
        .push_back(id);
  return request;
}

// `execOnPeer --detach`: the command becomes a durable job on the peer (jobs/job_service.hpp);
// the peer answers with the job's id once it runs.
void start_job(sdk::Host& host, const sdk::ServedStreamPtr& stream, const sdk::Invocation& call,
               nlohmann::json header, std::string body) {
  const auto& peer = call.get<std::string>("peer");
  // --user travels in the header: the job's host chooses the user as for any command.
  for (const char* option : {"json", "group", "skip-offline", "fanout"})
    if (call.has(option))
      return sdk::fail(stream, std::string("--detach cannot be combined with --") + option);
  if (peer == "all" || peer.find(',') != std::string::npos)
    return sdk::fail(stream, "--detach starts a job on one peer, not on '" + peer + "'");
  if (call.has("name")) {
    const auto& name = call.get<std::string>("name");
    if (!jobs::valid_job_name(name))
      return sdk::fail(stream, jobs::invalid_job_name_reason("--name", name));
    header["name"] = name;
  }
  if (const auto self = host.peers().local().id; self && *self == peer)
    return sdk::fail(stream, "Cannot exec on self (" + peer + ")");
  // The job's own timeout, enforced by its supervisor: "timeout_ms" would time out this request.
  if (header.contains("timeout_ms")) {
    header["job_timeout_ms"] = header["timeout_ms"];
    header.erase("timeout_ms");
  }
  relay_to_peer(host, stream, peer, jobs::kStartJob, std::move(header), std::move(body), false);
}

// The IP part of a listPeers address ("10.0.0.1:3600", "[::1]:3600", "10.0.0.1").
std::string address_host(const std::string& address) {
  if (!address.empty() && address.front() == '[') {
    const auto end = address.find(']');
    return end == std::string::npos ? address : address.substr(1, end - 1);
  }
  const auto colon = address.find(':');
  if (colon != std::string::npos && address.find(':', colon + 1) == std::string::npos)
    return address.substr(0, colon);
  return address;
}

// d-ssh's HOST: a peer id, else the address of exactly one peer as listPeers shows it. Unknown
// names stay as they are (the request then fails with "Peer not found: HOST").
std::string resolve_host(sdk::Host& host, const std::string& name) {
  const auto peers = host.peers().peers();
  for (const auto& p : peers)
    if (p.id == name) return name;
  std::vector<std::string> matches;
  for (const auto& p : peers)
    if (!p.address.empty() && (p.address == name || address_host(p.address) == name))
      matches.push_back(p.id);
  if (matches.size() > 1) {
    std::string ids;
    for (const auto& id : matches) ids += (ids.empty() ? "" : ", ") + id;
    throw std::invalid_argument("Ambiguous host " + name + ": it is the address of " + ids);
  }
  return matches.empty() ? name : matches.front();
}

bool valid_environment_entry(const std::string& entry) {
  const auto eq = entry.find('=');
  if (eq == std::string::npos || eq == 0 || std::isdigit(static_cast<unsigned char>(entry[0])))
    return false;
  return std::all_of(entry.begin(), entry.begin() + static_cast<std::ptrdiff_t>(eq), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

void exec_on_terminal(sdk::Host& host, const sdk::ServedStreamPtr& stream,
                      const sdk::Invocation& call, const std::string& peer, nlohmann::json header,
                      std::string body);

// `execOnPeer --login` (what d-ssh sends): an ssh session as sshd runs one — the command line
// (none: a login shell) by the user's shell, in the user's home, as USER (default: the caller's
// login name), with the environment entries it was given.
void login_on_peer(sdk::Host& host, const sdk::ServedStreamPtr& stream,
                   const sdk::Invocation& call) {
  for (const char* option :
       {"directory", "detach", "name", "json", "group", "skip-offline", "fanout"})
    if (call.has(option))
      return sdk::fail(stream, std::string("--login cannot be combined with --") + option);
  if (!call.positional.empty())
    return sdk::fail(stream, "--login takes its command line as --command CMD");
  std::string peer;
  try {
    peer = resolve_host(host, call.get<std::string>("peer"));
  } catch (const std::invalid_argument& e) {
    return sdk::fail(stream, e.what());
  }
  if (peer.empty()) return sdk::fail(stream, "--peer must not be empty");
  nlohmann::json header = {{"mode", "login"}};
  // Without USER the peer decides from who asked, which core sends with every request: a
  // non-root caller's own login name, root's the host's default user (docs/security.md).
  if (call.has("user")) header["user"] = call.get<std::string>("user");
  if (call.has("subsystem")) {
    if (call.has("command")) return sdk::fail(stream, "use either --subsystem or --command");
    header["subsystem"] = call.get<std::string>("subsystem");
  }
  if (call.has("timeout")) {
    const auto& text = call.get<std::string>("timeout");
    const auto timeout = sdk::parse_duration(text);
    if (!timeout || timeout->count() <= 0)
      return sdk::fail(stream, "invalid --timeout '" + text + "'");
    header["timeout_ms"] = timeout->count();
  }
  std::vector<std::string> body_parts{call.has("command") ? call.get<std::string>("command") : ""};
  if (call.has("env")) {
    for (const auto& entry : call.get<std::vector<std::string>>("env")) {
      if (!valid_environment_entry(entry))
        return sdk::fail(stream, "invalid --env '" + entry + "' (use NAME=VALUE)");
      body_parts.push_back(entry);
    }
  }
  if (const auto self = host.peers().local().id; self && *self == peer)
    return sdk::fail(stream, "Cannot exec on self (" + peer + ")");
  if (call.has("escape-char") && !call.has("tty"))
    return sdk::fail(stream, "--escape-char is for --tty");
  // d-ssh asks for a terminal by ssh's rules (-t, a login shell on a terminal).
  if (call.has("tty"))
    return exec_on_terminal(host, stream, call, peer, header, sdk::join_nul(body_parts));
  relay_to_peer(host, stream, peer, "exec", header, sdk::join_nul(body_parts),
                !call.has("no-stdin"));
}

// `-e CHAR`: the escape character of terminal mode, as ssh's -e: one character, `^X` for a
// control character, or `none`.
std::optional<std::optional<unsigned char>> escape_char(const std::string& text) {
  if (text == "none") return std::optional<unsigned char>{};
  if (text.size() == 1) return static_cast<unsigned char>(text[0]);
  if (text.size() == 2 && text[0] == '^' && text[1] >= '@' && text[1] <= '_')
    return static_cast<unsigned char>(text[1] & 0x1f);
  return std::nullopt;
}

// `execOnPeer --tty`: switch `d` into terminal mode, wait for its window size and terminal type,
// then run the command on a pseudo-terminal on the peer and pass window changes on.
void exec_on_terminal(sdk::Host& host, const sdk::ServedStreamPtr& stream,
                      const sdk::Invocation& call, const std::string& peer, nlohmann::json header,
                      std::string body) {
  const std::string escape_text =
      call.has("escape-char") ? call.get<std::string>("escape-char") : "~";
  const auto escape = escape_char(escape_text);
  if (!escape)
    return sdk::fail(stream,
                     "invalid --escape-char '" + escape_text + "' (one character, ^X, or none)");
  stream->write(sdk::Channel::control, sdk::terminal_mode(*escape), [](bool) {});
  stream->read(sdk::Channel::control,
               [&host, stream, peer, header, body, forward_stdin = !call.has("no-stdin")](
                   std::string_view data, bool eof) mutable {
                 if (eof) return;  // `d` went away: the request is cancelled
                 const auto size = sdk::parse_window_size(data);
                 if (!size) return sdk::fail(stream, "bad request: no window size from d");
                 header["tty"] = {{"rows", size->rows}, {"cols", size->cols}};
                 if (!size->term.empty()) header["tty"]["term"] = size->term;
                 relay_to_peer(host, stream, peer, "exec", std::move(header), std::move(body),
                               forward_stdin, true);
               });
}

void exec_on_peer(sdk::Host& host, sdk::ServedStreamPtr stream, const sdk::Invocation& call) {
  if (call.has("login")) return login_on_peer(host, stream, call);
  for (const char* option : {"env", "subsystem"})
    if (call.has(option)) return sdk::fail(stream, std::string("--") + option + " is for --login");
  if (!call.has("directory"))
    return sdk::fail(stream,
                     "the option 'directory' is required but missing (see 'd help execOnPeer')");
  const auto& peer = call.get<std::string>("peer");
  const auto& directory = call.get<std::string>("directory");
  const bool has_command = call.has("command");
  if (has_command && !call.positional.empty())
    return sdk::fail(stream, "use either --command CMD or -- PROG ARGS..., not both");
  if (!has_command && call.positional.empty())
    return sdk::fail(stream,
                     "execOnPeer needs --command CMD or -- PROG ARGS... (see 'd help execOnPeer')");
  if (peer.empty()) return sdk::fail(stream, "--peer must not be empty");
  if (directory.empty()) return sdk::fail(stream, "--directory must not be empty");
  nlohmann::json header = {{"mode", has_command ? "shell" : "argv"}};
  if (call.has("user")) header["user"] = call.get<std::string>("user");
  if (call.has("timeout")) {
    const auto& text = call.get<std::string>("timeout");
    const auto timeout = sdk::parse_duration(text);
    if (!timeout || timeout->count() <= 0)
      return sdk::fail(stream, "invalid --timeout '" + text +
                                   "' (use e.g. 1.5, 30s, 10m, 24h; at most " +
                                   sdk::kMaxDurationText + ")");
    header["timeout_ms"] = timeout->count();
  }

  std::vector<std::string> body_parts{directory};
  if (has_command) {
    body_parts.push_back(call.get<std::string>("command"));
  } else {
    body_parts.insert(body_parts.end(), call.positional.begin(), call.positional.end());
  }

  if (call.has("escape-char") && !call.has("tty"))
    return sdk::fail(stream, "--escape-char is for --tty");
  if (call.has("tty")) {
    for (const char* option : {"detach", "json", "group", "skip-offline", "fanout"})
      if (call.has(option))
        return sdk::fail(stream, std::string("--tty cannot be combined with --") + option);
    if (peer == "all" || peer.find(',') != std::string::npos)
      return sdk::fail(stream, "--tty runs on one peer, not on '" + peer + "'");
    if (const auto self = host.peers().local().id; self && *self == peer)
      return sdk::fail(stream, "Cannot exec on self (" + peer + ")");
    return exec_on_terminal(host, stream, call, peer, header, sdk::join_nul(body_parts));
  }
  if (call.has("detach")) return start_job(host, stream, call, header, sdk::join_nul(body_parts));
  if (call.has("name")) return sdk::fail(stream, "--name is for --detach");

  // A list or `all` fans out (prefixed even when it names one peer); so do --json and --group.
  const bool several = peer == "all" || peer.find(',') != std::string::npos;
  if (several || call.has("json") || call.has("group")) {
    if (call.has("json") && call.has("group"))
      return sdk::fail(stream, "use either --json or --group, not both");
    FanoutRequest request;
    try {
      request = fanout_targets(host, peer, call.has("skip-offline"));
    } catch (const std::invalid_argument& e) {
      return sdk::fail(stream, e.what());
    }
    if (call.has("fanout")) {
      const int n = call.get<int>("fanout");
      if (n < 1 || n > 1024) return sdk::fail(stream, "--fanout must be from 1 to 1024");
      request.fanout = static_cast<std::size_t>(n);
    }
    request.output = call.has("json")    ? FanoutRequest::Output::json
                     : call.has("group") ? FanoutRequest::Output::grouped
                                         : FanoutRequest::Output::prefixed;
    request.header = header;
    request.body = sdk::join_nul(body_parts);
    return std::make_shared<Fanout>(host, stream, std::move(request))->start();
  }
  if (call.has("skip-offline") || call.has("fanout"))
    return sdk::fail(stream,
                     "--skip-offline and --fanout are for several peers (--peer A,B or all)");
  if (const auto self = host.peers().local().id; self && *self == peer)
    return sdk::fail(stream, "Cannot exec on self (" + peer + ")");
  relay_to_peer(host, stream, peer, "exec", header, sdk::join_nul(body_parts),
                !call.has("no-stdin"));
}

}  // namespace

sdk::CommandSpec exec_command(sdk::Host& host) {
  sdk::CommandSpec spec;
  spec.name = "execOnPeer";
  spec.summary = "Run a command in a directory on a peer, streaming its output";
  spec.usage =
      "--peer ID[,ID...]|all --directory DIR (--command CMD | -- PROG ARGS...) "
      "[--timeout DURATION] [--no-stdin] [--json | --group] [--skip-offline] [--fanout N] "
      "[--detach [--name NAME]] [--user USER] [--tty [--escape-char C]]\n"
      "       --peer ID|ADDRESS --login [--user USER] [--command CMD | --subsystem NAME] "
      "[--env NAME=VALUE]... (an ssh session, as d-ssh sends it)";
  spec.options.add_options()("peer", po::value<std::string>()->required(),
                             "the peer to run on; a comma-separated list or 'all' for several")(
      "directory", po::value<std::string>(),
      "absolute directory to run in (entered with chdir); required unless --login")(
      "command", po::value<std::string>(), "command line for /bin/sh -c")(
      "timeout", po::value<std::string>(), "kill the command after this long (1.5, 30s, 10m, 24h)")(
      "no-stdin,n", "do not forward stdin (like ssh -n)")(
      "json", "print one JSON record per peer when it ends instead of its output")(
      "group", "several peers: print each distinct output once, after all have ended")(
      "skip-offline", "several peers: leave out peers known to be offline")(
      "fanout", po::value<int>(), "several peers: how many run at once (default 32)")(
      "detach", "start the command as a durable job and print its id (see listJobs)")(
      "name", po::value<std::string>(), "with --detach: the job's name (one running at a time)")(
      "user", po::value<std::string>(),
      "run as this user on the peer (without root here, only where its exec.user_map allows; "
      "its exec.allowed_users bounds everyone; see d-ssh)")(
      "login",
      "an ssh session as sshd runs it: the command (none: a login shell) by the user's shell "
      "in the user's home, with the user's environment; without --user, the peer runs it as "
      "the caller's own login name (root: the peer's default user)")(
      "env", po::value<std::vector<std::string>>()->composing(),
      "with --login: set NAME=VALUE in the command's environment (ssh's SendEnv/SetEnv)")(
      "subsystem", po::value<std::string>(), "with --login: run a subsystem (sftp)")(
      "tty,t", "run on a pseudo-terminal (interactive programs; stderr merged, not byte-exact)")(
      "escape-char,e", po::value<std::string>(),
      "with --tty: escape character (default ~; ~. after a newline disconnects; 'none')");
  spec.positional_label = "PROG ARGS...";
  spec.handler = [&host](sdk::ServedStreamPtr stream, const sdk::Invocation& call) {
    exec_on_peer(host, std::move(stream), call);
  };
  return spec;
}

}  // namespace automatelinux::peer_exec
