#include "audit_command.hpp"

#include <stdexcept>

#include "audit_gather.hpp"

namespace automatelinux::audit_log {
namespace po = boost::program_options;
namespace {

using Clock = std::chrono::system_clock;

// --since/--until: a duration ago ("10m", "2h", "7d") or a UTC time ("2026-11-27T14:00:00Z",
// milliseconds optional).
Clock::time_point parse_time(const std::string& option, std::string text, Clock::time_point now) {
  if (const auto ago = sdk::parse_duration(text)) return now - *ago;
  if (text.size() == 20 && text.back() == 'Z') text.insert(19, ".000");
  if (const auto at = sdk::parse_audit_time(text)) return *at;
  throw std::invalid_argument("--" + option + ": '" + text +
                              "' is neither a duration (\"10m\", \"2h\", \"7d\") nor a UTC time "
                              "(\"2026-11-27T14:00:00Z\")");
}

// No --peer: this host. `all`: every member, this one included. Otherwise the ids listed.
std::vector<std::string> hosts(sdk::Host& host, const sdk::Invocation& call) {
  const std::string self = host.peers().local().id.value_or("");
  if (!call.has("peer")) return {self};
  const auto& spec = call.get<std::string>("peer");
  if (spec != "all") return sdk::split_peer_list(spec);
  std::vector<std::string> ids{self};
  for (const auto& peer : host.peers().peers())
    if (peer.id != self) ids.push_back(peer.id);
  return ids;
}

void run(sdk::Host& host, const sdk::ServedStreamPtr& stream, const sdk::Invocation& call) {
  FeedRequest request;
  request.follow = call.has("follow");
  const auto now = Clock::now();
  if (call.has("since"))
    request.query.since = parse_time("since", call.get<std::string>("since"), now);
  if (call.has("until")) {
    if (request.follow) throw std::invalid_argument("--until cannot be combined with --follow");
    request.query.until = parse_time("until", call.get<std::string>("until"), now);
  }
  if (call.has("limit")) {
    const long long limit = call.get<long long>("limit");
    if (limit < 1) throw std::invalid_argument("--limit must be at least 1");
    request.query.limit = static_cast<std::size_t>(limit);
  } else if (request.follow && !request.query.since) {
    request.query.limit = 10;  // as tail -f and journalctl -f: a little context, then live
  }
  auto gather =
      std::make_shared<Gather>(host, stream, hosts(host, call), request, call.has("json"));
  gather->start();
}

}  // namespace

sdk::CommandSpec audit_command(sdk::Host& host) {
  sdk::CommandSpec spec;
  spec.name = "auditLog";
  spec.summary = "what ran where: audit records of this and other members, in time order";
  spec.usage = "[--peer ID[,ID…]|all] [--since T] [--until T] [--follow] [--json] [--limit N]";
  // Every user's command lines, on every host: root's to read, like audit.jsonl itself (0640).
  spec.requires_root = true;
  spec.options.add_options()("peer", po::value<std::string>(),
                             "whose records: peer ids, comma-separated, or all (default: this "
                             "host)")("since", po::value<std::string>(),
                                      "records from this time on: a duration ago (10m, 2h, 7d) "
                                      "or a UTC time (2026-11-27T14:00:00Z)")(
      "until", po::value<std::string>(), "records before this time (same forms as --since)")(
      "follow", "keep printing new records as they are made (Ctrl-C ends)")(
      "json", "one JSON object per record, with the stored keys")(
      "limit", po::value<long long>(), "only the newest N records (with --follow: 10 by default)");
  spec.handler = [&host](sdk::ServedStreamPtr stream, const sdk::Invocation& call) {
    try {
      run(host, stream, call);
    } catch (const std::invalid_argument& e) {
      sdk::fail(stream, e.what());
    }
  };
  return spec;
}

}  // namespace automatelinux::audit_log
