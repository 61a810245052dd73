// git: `gitOnPeer` — git in a directory on a peer, built on peer_exec's execOnPeer through the
// SDK (Host::run_command), without touching core.
#include <automatelinux/sdk/sdk.hpp>

namespace sdk = automatelinux::sdk;
namespace po = boost::program_options;

namespace {

void init(sdk::Host& host) {
  sdk::CommandSpec spec;
  spec.name = "gitOnPeer";
  spec.summary = "Run git with the given arguments in a directory on a peer";
  spec.usage =
      "--peer ID[,ID...]|all --directory DIR [--timeout DURATION] [--no-stdin] [--json | --group] "
      "[--skip-offline] [--fanout N] GIT_ARGS...";
  spec.options.add_options()("peer", po::value<std::string>()->required(),
                             "the peer to run on; a comma-separated list or 'all' for several")(
      "directory", po::value<std::string>()->required(), "the repository directory on the peer")(
      "timeout", po::value<std::string>(), "kill git after this long (1.5, 30s, 10m, 24h)")(
      "no-stdin,n", "do not forward stdin")(
      "json", "print one JSON record per peer when it ends instead of its output")(
      "group", "several peers: print each distinct output once, after all have ended")(
      "skip-offline", "several peers: leave out peers known to be offline")(
      "fanout", po::value<std::string>(), "several peers: how many run at once (default 32)");
  spec.positional_label = "GIT_ARGS...";
  spec.rest_is_positional = true;  // `log --oneline -5` belongs to git
  spec.handler = [&host](sdk::ServedStreamPtr stream, const sdk::Invocation& call) {
    if (call.positional.empty())
      return sdk::fail(stream,
                       "gitOnPeer needs git arguments, e.g. 'status' (see 'd help gitOnPeer')");
    std::vector<std::string> argv{"execOnPeer", "--peer", call.get<std::string>("peer"),
                                  "--directory", call.get<std::string>("directory")};
    if (call.has("timeout")) {
      argv.push_back("--timeout");
      argv.push_back(call.get<std::string>("timeout"));
    }
    // Everything else is execOnPeer's to check, so both commands answer alike.
    for (const char* flag : {"no-stdin", "json", "group", "skip-offline"})
      if (call.has(flag)) argv.push_back(std::string("--") + flag);
    if (call.has("fanout")) {
      argv.push_back("--fanout");
      argv.push_back(call.get<std::string>("fanout"));
    }
    argv.push_back("--");
    argv.push_back("git");
    argv.insert(argv.end(), call.positional.begin(), call.positional.end());
    host.run_command(argv, stream);
  };
  host.add_command(std::move(spec));
}

}  // namespace

AUTOMATELINUX_PLUGIN_WITH_CONFIG("git", "0.1.0", init, sdk::no_config_keys)
