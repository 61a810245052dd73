// peer_config: joining and inspecting the cluster — setPeerConfig, joinToken, getPeerStatus,
// listPeers, removePeer. A thin command layer over core's sdk::PeerNetwork.
#include <fmt/format.h>
#include <automatelinux/sdk/sdk.hpp>

namespace sdk = automatelinux::sdk;
namespace po = boost::program_options;
using nlohmann::json;

namespace {

json or_null(const std::optional<std::string>& value) {
  return value ? json(*value) : json();
}

std::string pretty(const json& j) {
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

void get_peer_status(sdk::Host& host, const sdk::StreamPtr& stream, const sdk::Invocation& call) {
  const auto s = host.peers().local();
  if (call.has("json")) {
    return sdk::reply(stream, pretty({{"id", or_null(s.id)},
                                      {"role", or_null(s.role)},
                                      {"leader", or_null(s.leader)},
                                      {"listen", or_null(s.listen)},
                                      {"connected", s.connected},
                                      {"since", or_null(s.since)}}));
  }
  auto show = [](const std::optional<std::string>& v) { return v ? *v : std::string("-"); };
  sdk::reply(stream, fmt::format("id:        {}\nrole:      {}\nleader:    {}\nlisten:    {}\n"
                                 "connected: {}\nsince:     {}\n",
                                 show(s.id), show(s.role), show(s.leader), show(s.listen),
                                 s.connected ? "yes" : "no", show(s.since)));
}

void list_peers(sdk::Host& host, const sdk::StreamPtr& stream, const sdk::Invocation& call) {
  const auto peers = host.peers().peers();
  if (call.has("json")) {
    json out = json::array();
    for (const auto& p : peers) {
      out.push_back({{"id", p.id},
                     {"role", p.role},
                     {"status", p.online ? "online" : "offline"},
                     {"address", p.address.empty() ? json() : json(p.address)},
                     {"last_seen", or_null(p.last_seen)},
                     {"rtt_ms", p.rtt_ms ? json(*p.rtt_ms) : json()},
                     {"version", p.version.empty() ? json() : json(p.version)},
                     {"commands", p.commands}});
    }
    return sdk::reply(stream, pretty(out));
  }
  std::vector<std::array<std::string, 7>> rows{
      {"ID", "ROLE", "STATUS", "ADDRESS", "LAST SEEN", "RTT", "VERSION"}};
  for (const auto& p : peers) {
    rows.push_back({p.id, p.role, p.online ? "online" : "offline",
                    p.address.empty() ? "-" : p.address, p.last_seen.value_or("-"),
                    p.rtt_ms ? fmt::format("{:.1f}ms", *p.rtt_ms) : "-",
                    p.version.empty() ? "-" : p.version});
  }
  std::array<std::size_t, 7> width{};
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i)
      out += i + 1 < row.size() ? fmt::format("{:<{}}  ", row[i], width[i]) : row[i] + "\n";
  }
  sdk::reply(stream, out);
}

void set_peer_config(sdk::Host& host, const sdk::StreamPtr& stream, const sdk::Invocation& call) {
  const auto& role = call.get<std::string>("role");
  const auto& id = call.get<std::string>("id");
  auto done = [stream, role, id](const std::string& error) {
    if (!error.empty()) return sdk::fail(stream, error);
    sdk::reply(stream, fmt::format("{} is now {} of the cluster\n", id,
                                   role == "leader" ? "the leader" : "a worker"));
  };
  if (role == "leader") {
    if (call.has("leader") || call.has("token"))
      return sdk::fail(stream, "--leader and --token are for --role worker");
    return host.peers().become_leader(id, call.has("listen") ? call.get<std::string>("listen") : "",
                                      done);
  }
  if (role == "worker") {
    if (call.has("listen")) return sdk::fail(stream, "--listen is for --role leader");
    if (!call.has("leader")) return sdk::fail(stream, "--role worker needs --leader HOST[:PORT]");
    std::optional<std::string> token;
    if (call.has("token")) token = call.get<std::string>("token");
    return host.peers().become_worker(id, call.get<std::string>("leader"), token, done);
  }
  sdk::fail(stream, "--role must be 'leader' or 'worker', not '" + role + "'");
}

void join_token(sdk::Host& host, const sdk::StreamPtr& stream, const sdk::Invocation& call) {
  std::chrono::seconds ttl{24 * 3600};
  if (call.has("ttl")) {
    const auto& text = call.get<std::string>("ttl");
    const auto parsed = sdk::parse_duration(text);
    if (!parsed || parsed->count() < 1000)
      return sdk::fail(stream,
                       "invalid --ttl '" + text + "' (use e.g. 30s, 10m, 24h; at least 1s)");
    ttl = std::chrono::duration_cast<std::chrono::seconds>(*parsed);
  }
  const std::string token = host.peers().create_join_token(ttl);
  sdk::reply(
      stream,
      fmt::format("Join token (valid {}s; give it to a worker's 'd setPeerConfig --role worker "
                  "--id ID --leader HOST --token TOKEN'):\n{}\n",
                  ttl.count(), token));
}

void remove_peer(sdk::Host& host, const sdk::StreamPtr& stream, const sdk::Invocation& call) {
  if (call.positional.size() != 1) return sdk::fail(stream, "usage: d removePeer ID");
  host.peers().remove_peer(call.positional.front());
  sdk::reply(stream, "removed " + call.positional.front() + "; its certificate is revoked\n");
}

sdk::CommandSpec command(std::string name, std::string summary, std::string usage) {
  sdk::CommandSpec spec;
  spec.name = std::move(name);
  spec.summary = std::move(summary);
  spec.usage = std::move(usage);
  return spec;
}

void init(sdk::Host& host) {
  // Handlers that throw std::runtime_error (e.g. joinToken on a worker) become one-line errors.
  auto add = [&host](sdk::CommandSpec spec,
                     void (*fn)(sdk::Host&, const sdk::StreamPtr&, const sdk::Invocation&)) {
    spec.handler = [&host, fn](sdk::StreamPtr stream, const sdk::Invocation& call) {
      try {
        fn(host, stream, call);
      } catch (const std::runtime_error& e) {
        sdk::fail(stream, e.what());
      }
    };
    host.add_command(std::move(spec));
  };

  auto set =
      command("setPeerConfig", "Make this daemon the cluster's leader, or a worker joining it",
              "--role leader --id ID [--listen HOST:PORT] | --role worker --id ID --leader "
              "HOST[:PORT] [--token TOKEN]");
  set.options.add_options()("role", po::value<std::string>()->required(), "leader or worker")(
      "id", po::value<std::string>()->required(), "this daemon's peer id (e.g. desktop, vps)")(
      "listen", po::value<std::string>(), "leader: address to listen on (default 0.0.0.0:3600)")(
      "leader", po::value<std::string>(),
      "worker: the leader's HOST[:PORT] (port 3600 by default)")(
      "token", po::value<std::string>(), "worker: join token from 'd joinToken' (first join only)");
  add(std::move(set), set_peer_config);

  auto token =
      command("joinToken", "On the leader: print a join token for new workers", "[--ttl DURATION]");
  token.options.add_options()("ttl", po::value<std::string>(),
                              "how long the token stays valid (default 24h)");
  add(std::move(token), join_token);

  auto status = command("getPeerStatus",
                        "Show this daemon's id, role, leader, listen address and connection state",
                        "[--json]");
  status.options.add_options()("json", "print JSON");
  add(std::move(status), get_peer_status);

  auto list = command("listPeers",
                      "List every peer of the cluster with its status, address, rtt and commands",
                      "[--json]");
  list.options.add_options()("json", "print JSON");
  add(std::move(list), list_peers);

  auto remove =
      command("removePeer", "On the leader: forget a worker and revoke its certificate", "ID");
  remove.positional_label = "ID";
  add(std::move(remove), remove_peer);
}

}  // namespace

AUTOMATELINUX_PLUGIN("peer_config", "0.2.0", init)
