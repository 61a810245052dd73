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
  spec.usage = "--peer ID --directory DIR [--timeout DURATION] [--no-stdin] GIT_ARGS...";
  spec.options.add_options()("peer", po::value<std::string>()->required(), "the peer to run on")(
      "directory", po::value<std::string>()->required(), "the repository directory on the peer")(
      "timeout", po::value<std::string>(), "kill git after this long (1.5, 30s, 10m, 24h)")(
      "no-stdin,n", "do not forward stdin");
  spec.positional_label = "GIT_ARGS...";
  spec.rest_is_positional = true;  // `log --oneline -5` belongs to git
  spec.handler = [&host](sdk::StreamPtr stream, const sdk::Invocation& call) {
    if (call.positional.empty())
      return sdk::fail(stream,
                       "gitOnPeer needs git arguments, e.g. 'status' (see 'd help gitOnPeer')");
    std::vector<std::string> argv{"execOnPeer", "--peer", call.get<std::string>("peer"),
                                  "--directory", call.get<std::string>("directory")};
    if (call.has("timeout")) {
      argv.push_back("--timeout");
      argv.push_back(call.get<std::string>("timeout"));
    }
    if (call.has("no-stdin")) argv.push_back("--no-stdin");
    argv.push_back("--");
    argv.push_back("git");
    argv.insert(argv.end(), call.positional.begin(), call.positional.end());
    host.run_command(argv, stream);
  };
  host.add_command(std::move(spec));
}

}  // namespace

AUTOMATELINUX_PLUGIN("git", "0.1.0", init)
