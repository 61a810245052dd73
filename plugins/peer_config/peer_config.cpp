// peer_config: joining and inspecting the cluster — setPeerConfig, joinToken, getPeerStatus,
// listPeers, removePeer, listTokens, revokeToken. A thin command layer over core's
// sdk::PeerNetwork.
#include <functional>
#include <memory>
#include <string_view>

#include <fmt/format.h>
#include <automatelinux/sdk/sdk.hpp>

#include "peer_table.hpp"

namespace sdk = automatelinux::sdk;
namespace po = boost::program_options;
using automatelinux::peer_config::peer_table;
using automatelinux::peer_config::table;
using nlohmann::json;

namespace {

json or_null(const std::optional<std::string>& value) {
  return value ? json(*value) : json();
}

std::string pretty(const json& j) {
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

void get_peer_status(sdk::Host& host, const sdk::ServedStreamPtr& stream,
                     const sdk::Invocation& call) {
  const auto s = host.peers().local();
  if (call.has("json")) {
    json out = {{"id", or_null(s.id)},         {"role", or_null(s.role)},
                {"leader", or_null(s.leader)}, {"listen", or_null(s.listen)},
                {"connected", s.connected},    {"since", or_null(s.since)}};
    if (s.notice) out["notice"] = *s.notice;  // absent when nothing needs the user
    return sdk::reply(stream, pretty(out));
  }
  auto show = [](const std::optional<std::string>& v) { return v ? *v : std::string("-"); };
  sdk::reply(stream, fmt::format("id:        {}\nrole:      {}\nleader:    {}\nlisten:    {}\n"
                                 "connected: {}\nsince:     {}\n{}",
                                 show(s.id), show(s.role), show(s.leader), show(s.listen),
                                 s.connected ? "yes" : "no", show(s.since),
                                 s.notice ? "notice:    " + *s.notice + "\n" : ""));
}

void list_peers(sdk::Host& host, const sdk::ServedStreamPtr& stream, const sdk::Invocation& call) {
  const auto peers = host.peers().peers();
  const std::string self = host.peers().local().id.value_or("");
  if (call.has("json")) {
    json out = json::array();
    for (const auto& p : peers) {
      auto entry = sdk::peer_json(p);
      entry["self"] = p.id == self;
      out.push_back(std::move(entry));
    }
    return sdk::reply(stream, pretty(out));
  }
  sdk::reply(stream, peer_table(peers, self));
}

// Reads a token from the request's standard input: the first line that looks like a join token
// (so the whole output of `d joinToken` may be fed in), else at EOF the last non-blank line
// (which then fails as a bad token), surrounding blanks removed. A terminal or /dev/null on `d`'s
// stdin gives EOF at once, hence an error.
class TokenReader : public std::enable_shared_from_this<TokenReader> {
 public:
  using Got = std::function<void(const std::string& token)>;
  TokenReader(sdk::ServedStreamPtr stream, Got got)
      : stream_(std::move(stream)), got_(std::move(got)) {}

  void next() {
    stream_->read(sdk::Channel::in, [self = shared_from_this()](std::string_view data, bool eof) {
      self->on_input(data, eof);
    });
  }

 private:
  static constexpr std::size_t kMaxInput = 4096;

  static std::string trimmed(const std::string& line) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) return {};
    return line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
  }

  void on_input(std::string_view data, bool eof) {
    buffer_.append(data);  // at most one chunk past kMaxInput
    std::string last;
    std::size_t start = 0;
    while (start < buffer_.size()) {
      auto end = buffer_.find('\n', start);
      if (end == std::string::npos) {
        if (!eof) break;  // an incomplete line: wait for the rest
        end = buffer_.size();
      }
      const std::string line = trimmed(buffer_.substr(start, end - start));
      if (line.rfind("al1.", 0) == 0) return got_(line);
      if (!line.empty()) last = line;
      start = end + 1;
    }
    if (!eof && buffer_.size() > kMaxInput)
      return sdk::fail(stream_, "--token -: no token in the first 4 KiB of standard input");
    if (!eof) return next();
    if (last.empty()) return sdk::fail(stream_, "--token -: no token on standard input");
    got_(last);
  }

  sdk::ServedStreamPtr stream_;
  Got got_;
  std::string buffer_;
};

void set_peer_config(sdk::Host& host, const sdk::ServedStreamPtr& stream,
                     const sdk::Invocation& call) {
  const auto& role = call.get<std::string>("role");
  const auto& id = call.get<std::string>("id");
  auto done = [stream, role, id](const sdk::Outcome& outcome) {
    if (!outcome.ok()) return sdk::fail(stream, outcome.reason());
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
    if (!call.has("leader")) return sdk::fail(stream, "--role worker needs --leader HOST[:PORT]");
    const auto leader = call.get<std::string>("leader");
    const auto listen = call.has("listen") ? call.get<std::string>("listen") : "";
    if (!call.has("token"))
      return host.peers().become_worker(id, leader, listen, std::nullopt, done);
    if (call.get<std::string>("token") != "-")
      return host.peers().become_worker(id, leader, listen, call.get<std::string>("token"), done);
    // `--token -`: the token comes on the request's standard input, so it is in no argv.
    auto reader = std::make_shared<TokenReader>(
        stream, [&host, stream, id, leader, listen, done](const std::string& token) {
          try {
            host.peers().become_worker(id, leader, listen, token, done);
          } catch (const std::runtime_error& e) {
            sdk::fail(stream, e.what());
          }
        });
    return reader->next();
  }
  sdk::fail(stream, "--role must be 'leader' or 'worker', not '" + role + "'");
}

void join_token(sdk::Host& host, const sdk::ServedStreamPtr& stream, const sdk::Invocation& call) {
  std::chrono::seconds ttl{24 * 3600};
  if (call.has("ttl")) {
    const auto& text = call.get<std::string>("ttl");
    const auto parsed = sdk::parse_duration(text);
    if (!parsed || parsed->count() < 1000)
      return sdk::fail(stream,
                       "invalid --ttl '" + text + "' (use e.g. 30s, 10m, 24h; at least 1s)");
    ttl = std::chrono::duration_cast<std::chrono::seconds>(*parsed);
  }
  std::optional<std::uint32_t> uses;
  if (call.has("uses")) {
    const auto& text = call.get<std::string>("uses");
    const bool digits = !text.empty() && text.size() <= 9 &&
                        text.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::stoul(text) == 0)
      return sdk::fail(stream, "invalid --uses '" + text + "' (a whole number, at least 1)");
    uses = static_cast<std::uint32_t>(std::stoul(text));
  }
  const auto token = host.peers().create_join_token(ttl, uses);
  sdk::reply(stream,
             fmt::format("Join token {} (valid {}s, {}; on the worker: 'd setPeerConfig --role "
                         "worker --id ID --leader HOST --token -' with the token on stdin):\n{}\n",
                         token.id, ttl.count(),
                         uses ? fmt::format("{} use{}", *uses, *uses == 1 ? "" : "s")
                              : std::string("any number of workers"),
                         token.token));
}

void list_tokens(sdk::Host& host, const sdk::ServedStreamPtr& stream, const sdk::Invocation& call) {
  const auto tokens = host.peers().join_tokens();
  if (call.has("json")) {
    json out = json::array();
    for (const auto& t : tokens) {
      out.push_back({{"id", t.id},
                     {"created", t.created},
                     {"expires", t.expires},
                     {"status", t.status},
                     {"uses", t.uses ? json(*t.uses) : json()},
                     {"used", t.used},
                     {"uses_left", t.uses ? json(*t.uses > t.used ? *t.uses - t.used : 0) : json()},
                     {"revoked", or_null(t.revoked)},
                     {"enrolled", t.enrolled}});
    }
    return sdk::reply(stream, pretty(out));
  }
  std::vector<std::array<std::string, 6>> rows{
      {"ID", "CREATED", "EXPIRES", "STATUS", "USED", "ENROLLED"}};
  for (const auto& t : tokens) {
    std::string enrolled;
    for (const auto& id : t.enrolled) enrolled += (enrolled.empty() ? "" : ",") + id;
    rows.push_back({t.id, t.created, t.expires, t.status,
                    t.uses ? fmt::format("{}/{}", t.used, *t.uses) : fmt::format("{}/-", t.used),
                    enrolled.empty() ? "-" : enrolled});
  }
  sdk::reply(stream, table(rows));
}

void revoke_token(sdk::Host& host, const sdk::ServedStreamPtr& stream,
                  const sdk::Invocation& call) {
  if (call.positional.size() != 1) return sdk::fail(stream, "usage: d revokeToken ID");
  host.peers().revoke_token(call.positional.front());
  sdk::reply(stream, "revoked join token " + call.positional.front() + "\n");
}

void remove_peer(sdk::Host& host, const sdk::ServedStreamPtr& stream, const sdk::Invocation& call) {
  if (call.positional.size() != 1) return sdk::fail(stream, "usage: d removePeer ID");
  const auto& id = call.positional.front();
  const auto tokens = host.peers().remove_peer(id);
  std::string out = "removed " + id + "; its certificate is revoked\n";
  for (const auto& token : tokens)
    out += "revoked join token " + token + ", which enrolled " + id + "\n";
  sdk::reply(stream, out);
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
                     void (*fn)(sdk::Host&, const sdk::ServedStreamPtr&, const sdk::Invocation&)) {
    spec.handler = [&host, fn](sdk::ServedStreamPtr stream, const sdk::Invocation& call) {
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
              "HOST[:PORT] [--token -|TOKEN] [--listen HOST:PORT]");
  set.options.add_options()("role", po::value<std::string>()->required(), "leader or worker")(
      "id", po::value<std::string>()->required(), "this daemon's peer id (e.g. desktop, vps)")(
      "listen", po::value<std::string>(),
      "address to listen on (default 0.0.0.0:3600): the leader's for workers, a worker's for "
      "direct sessions from other workers")(
      "leader", po::value<std::string>(),
      "worker: the leader's HOST[:PORT] (port 3600 by default)")(
      "token", po::value<std::string>(),
      "worker: join token from 'd joinToken' (first join only); '-' reads it from standard "
      "input, which keeps it out of ps");
  set.secret_options = {"token"};
  set.requires_root = true;
  add(std::move(set), set_peer_config);

  auto token = command("joinToken", "On the leader: print a join token for new workers",
                       "[--ttl DURATION] [--uses N]");
  token.options.add_options()("ttl", po::value<std::string>(),
                              "how long the token stays valid (default 24h)")(
      "uses", po::value<std::string>(),
      "how many workers it may enroll (default: any number until it expires)");
  token.requires_root = true;
  add(std::move(token), join_token);

  auto tokens = command("listTokens",
                        "On the leader: list join tokens (id, expiry, uses, members enrolled; "
                        "never the secret)",
                        "[--json]");
  tokens.options.add_options()("json", "print JSON");
  tokens.requires_root = true;
  add(std::move(tokens), list_tokens);

  auto revoke = command("revokeToken", "On the leader: make a join token unusable", "ID");
  revoke.positional_label = "ID";
  revoke.requires_root = true;
  add(std::move(revoke), revoke_token);

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

  auto remove = command(
      "removePeer",
      "On the leader: forget a worker, revoke its certificate and the token that enrolled it",
      "ID");
  remove.positional_label = "ID";
  remove.requires_root = true;
  add(std::move(remove), remove_peer);
}

}  // namespace

AUTOMATELINUX_PLUGIN_WITH_CONFIG("peer_config", "0.2.0", init, sdk::no_config_keys)
