#include "job_commands.hpp"

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstring>
#include <ctime>
#include <map>
#include <sstream>

#include "../remote_call.hpp"

namespace automatelinux::peer_exec::jobs {
namespace po = boost::program_options;
namespace {

struct JobId {
  std::string peer, ref;
};

// "vps:7" or "vps:build"; nullopt when malformed.
std::optional<JobId> parse_id(const std::string& text) {
  const auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return std::nullopt;
  return JobId{text.substr(0, colon), text.substr(colon + 1)};
}

// INT, SIGINT, int or 2; 0 when it is none of these.
int parse_signal(std::string text) {
  if (!text.empty() && std::all_of(text.begin(), text.end(), ::isdigit)) {
    const int n = text.size() < 3 ? std::stoi(text) : 0;
    return n > 0 && n < NSIG ? n : 0;
  }
  std::transform(text.begin(), text.end(), text.begin(), ::toupper);
  if (text.rfind("SIG", 0) == 0) text = text.substr(3);
  for (int n = 1; n < NSIG; ++n)
    if (const char* name = ::sigabbrev_np(n); name != nullptr && text == name) return n;
  return 0;
}

// Runs the job request on the job's peer, or here when the job is this host's.
void route(sdk::Host& host, JobService& local, const sdk::ServedStreamPtr& stream, const JobId& id,
           const char* type, nlohmann::json header,
           void (JobService::*serve)(const sdk::ServedStreamPtr&, const nlohmann::json&,
                                     const std::string&)) {
  header["job"] = id.ref;
  if (host.peers().local().id.value_or("") == id.peer) return (local.*serve)(stream, header, {});
  relay_to_peer(host, stream, id.peer, type, std::move(header), {}, false);
}

std::optional<JobId> job_argument(const sdk::ServedStreamPtr& stream, const sdk::Invocation& call) {
  if (call.positional.size() != 1) {
    sdk::fail(stream, "d " + call.command + " needs one job id (PEER:N or PEER:NAME)");
    return std::nullopt;
  }
  auto id = parse_id(call.positional[0]);
  if (!id) sdk::fail(stream, "invalid job id '" + call.positional[0] + "' (use PEER:N or PEER:NAME)");
  return id;
}

std::time_t parse_iso(const std::string& text) {
  std::tm tm{};
  if (::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm) == nullptr) return 0;
  return ::timegm(&tm);
}

std::string human_duration(long long seconds) {
  if (seconds < 60) return std::to_string(seconds) + "s";
  if (seconds < 3600) return std::to_string(seconds / 60) + "m" + std::to_string(seconds % 60) + "s";
  if (seconds < 86400) return std::to_string(seconds / 3600) + "h" + std::to_string(seconds / 60 % 60) + "m";
  return std::to_string(seconds / 86400) + "d" + std::to_string(seconds / 3600 % 24) + "h";
}

// A table cell shows text from other machines (a name, a command line, a directory): C0/C1
// controls and invalid UTF-8 are escaped, so a cell can neither break the table nor drive the
// terminal. Core caps what a job's spec holds; a longer cell is cut here.
constexpr std::size_t kMaxCell = 4096;
std::string printable(const std::string& text) {
  return sdk::escape_untrusted(text, kMaxCell);
}

std::string text_or(const nlohmann::json& v, const std::string& fallback = "-") {
  if (v.is_string()) return printable(v.get<std::string>());
  if (v.is_number()) return v.dump();
  return fallback;
}

std::string table(const nlohmann::json& jobs) {
  std::vector<std::vector<std::string>> rows = {{"ID", "NAME", "STATE", "EXIT", "STARTED",
                                                 "DURATION", "OUT", "ERR", "DROPPED", "DIRECTORY",
                                                 "COMMAND"}};
  const std::time_t now = std::time(nullptr);
  for (const auto& job : jobs) {
    std::string exit = "-";
    if (job["exit_code"].is_number()) exit = job["exit_code"].dump();
    if (job["signal"].is_number()) exit = std::to_string(128 + job["signal"].get<int>());
    if (job.value("state", "") == "timeout") exit = "124";
    const auto started = parse_iso(job.value("started", ""));
    const auto ended = job["ended"].is_string() ? parse_iso(job["ended"].get<std::string>()) : now;
    rows.push_back({text_or(job["id"]), text_or(job["name"]), text_or(job["state"]), exit,
                    text_or(job["started"]),
                    started > 0 && job["state"] != "lost" ? human_duration(ended - started) : "-",
                    text_or(job["stdout_bytes"]), text_or(job["stderr_bytes"]),
                    text_or(job["dropped_bytes"]), text_or(job["directory"]),
                    text_or(job["command"])});
  }
  std::vector<std::size_t> width(rows[0].size(), 0);
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  std::ostringstream out;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      out << row[i];
      if (i + 1 < row.size()) out << std::string(width[i] - row[i].size() + 2, ' ');
    }
    out << '\n';
  }
  return out.str();
}

// listJobs: asks each peer (the online ones, or --peer) for its jobs and prints them together.
struct Listing : std::enable_shared_from_this<Listing> {
  sdk::ServedStreamPtr stream;
  bool json = false;
  std::map<std::string, nlohmann::json> by_peer;
  std::vector<std::string> errors;
  std::size_t pending = 0;

  void add(const std::string& peer, const sdk::Result& result, const std::string& out,
           const std::string& err) {
    auto parsed = nlohmann::json::parse(out, nullptr, false);
    if (result.kind == sdk::Result::Kind::exited && result.code == 0 && parsed.is_array()) {
      by_peer[peer] = std::move(parsed);
    } else {
      std::string why = result.reason.empty() ? err : result.reason;
      while (!why.empty() && why.back() == '\n') why.pop_back();
      // `err` is the peer's own text: one escaped line.
      errors.push_back("listJobs: " + printable(peer) + ": " +
                       (why.empty() ? "no answer" : sdk::escape_untrusted(why, 1024)));
    }
    if (--pending == 0) finish();
  }
  void finish() {
    nlohmann::json all = nlohmann::json::array();
    for (auto& [peer, jobs] : by_peer)
      for (auto& job : jobs) all.push_back(std::move(job));
    const std::string text =
        // ASCII JSON: a C1 control in a name or command is \u009b to jq, never raw on a terminal.
        json ? all.dump(2, ' ', true, nlohmann::json::error_handler_t::replace) + "\n" : table(all);
    stream->write(sdk::Channel::out, text,
                  [self = shared_from_this()](bool) { self->report_errors(); });
  }
  // Each peer that could not answer gets a line; the last one is the request's own (255).
  void report_errors() {
    if (errors.empty()) return stream->finish(sdk::Result::exited(0));
    std::string earlier;
    for (std::size_t i = 0; i + 1 < errors.size(); ++i) earlier += errors[i] + "\n";
    if (earlier.empty()) return sdk::fail(stream, errors.back());
    stream->write(sdk::Channel::err, earlier,
                  [self = shared_from_this()](bool) { sdk::fail(self->stream, self->errors.back()); });
  }
};

void list_jobs(sdk::Host& host, JobService& local, const sdk::ServedStreamPtr& stream,
               const sdk::Invocation& call) {
  auto listing = std::make_shared<Listing>();
  listing->stream = stream;
  listing->json = call.has("json");
  const std::string self = host.peers().local().id.value_or("");
  std::vector<std::string> peers;
  if (call.has("peer")) {
    peers.push_back(call.get<std::string>("peer"));
  } else {
    for (const auto& p : host.peers().peers())
      if (p.online || p.id == self) peers.push_back(p.id);
    if (peers.empty()) peers.push_back(self);  // not in a cluster yet: this host's own jobs
  }
  listing->pending = peers.size();
  for (const auto& peer : peers) {
    if (peer == self || peer.empty()) {
      listing->add(peer, sdk::Result::exited(0), local.list_json(stream->requester()).dump(), "");
      continue;
    }
    collect_from_peer(host, stream, peer, kListJobs, nlohmann::json::object(), {},
                      [listing, peer](const sdk::Result& result, std::string out, std::string err) {
                        listing->add(peer, result, out, err);
                      });
  }
}

sdk::CommandSpec command(std::string name, std::string summary, std::string usage) {
  sdk::CommandSpec spec;
  spec.name = std::move(name);
  spec.summary = std::move(summary);
  spec.usage = std::move(usage);
  return spec;
}

}  // namespace

std::vector<sdk::CommandSpec> job_commands(sdk::Host& host, std::shared_ptr<JobService> local) {
  std::vector<sdk::CommandSpec> specs;

  auto list = command("listJobs", "List the durable jobs of a peer, or of every online peer",
                      "[--peer ID] [--json]");
  list.options.add_options()("peer", po::value<std::string>(), "only this peer's jobs")(
      "json", "print a JSON array");
  list.handler = [&host, local](sdk::ServedStreamPtr stream, const sdk::Invocation& call) {
    list_jobs(host, *local, stream, call);
  };
  specs.push_back(std::move(list));

  auto attach = command("attachJob",
                        "Print a job's output so far, then follow it; exit with its status",
                        "PEER:N|PEER:NAME [--no-follow]");
  attach.options.add_options()("no-follow", "stop after the output stored so far");
  attach.positional_label = "ID";
  attach.handler = [&host, local](sdk::ServedStreamPtr stream, const sdk::Invocation& call) {
    auto id = job_argument(stream, call);
    if (!id) return;
    route(host, *local, stream, *id, kAttachJob, {{"follow", !call.has("no-follow")}},
          &JobService::attach);
  };
  specs.push_back(std::move(attach));

  auto wait = command("waitJob", "Wait for a job to end and exit with its status (75: still running)",
                      "PEER:N|PEER:NAME [--timeout DURATION]");
  wait.options.add_options()("timeout", po::value<std::string>(),
                             "stop waiting after this long: 'still running', exit 75");
  wait.positional_label = "ID";
  wait.handler = [&host, local](sdk::ServedStreamPtr stream, const sdk::Invocation& call) {
    auto id = job_argument(stream, call);
    if (!id) return;
    nlohmann::json header = nlohmann::json::object();
    if (call.has("timeout")) {
      const auto& text = call.get<std::string>("timeout");
      const auto timeout = sdk::parse_duration(text);
      if (!timeout)
        return sdk::fail(stream, "invalid --timeout '" + text + "' (use e.g. 1.5, 30s, 10m, 24h)");
      header["wait_ms"] = timeout->count();
    }
    route(host, *local, stream, *id, kWaitJob, header, &JobService::wait);
  };
  specs.push_back(std::move(wait));

  auto kill = command("killJob",
                      "End a job's whole process group (SIGINT, then SIGTERM, then SIGKILL)",
                      "PEER:N|PEER:NAME [--signal SIG]");
  kill.options.add_options()("signal", po::value<std::string>(),
                             "the first signal of the cascade (default INT)");
  kill.positional_label = "ID";
  kill.handler = [&host, local](sdk::ServedStreamPtr stream, const sdk::Invocation& call) {
    auto id = job_argument(stream, call);
    if (!id) return;
    int signal = SIGINT;
    if (call.has("signal")) {
      signal = parse_signal(call.get<std::string>("signal"));
      if (signal == 0)
        return sdk::fail(stream, "invalid --signal '" + call.get<std::string>("signal") +
                                     "' (a name such as TERM or a number)");
    }
    route(host, *local, stream, *id, kKillJob, {{"signal", signal}}, &JobService::kill);
  };
  specs.push_back(std::move(kill));
  return specs;
}

}  // namespace automatelinux::peer_exec::jobs
