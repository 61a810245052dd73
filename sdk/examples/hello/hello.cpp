// The smallest useful plugin: `d hello [--name NAME]` greets, and says who asked.
#include <automatelinux/sdk/sdk.hpp>

namespace sdk = automatelinux::sdk;
namespace po = boost::program_options;

namespace {

void init(sdk::Host& host) {
  sdk::CommandSpec spec;
  spec.name = "hello";
  spec.summary = "Print a greeting (example plugin)";
  spec.usage = "[--name NAME]";
  spec.options.add_options()("name", po::value<std::string>()->default_value("world"),
                             "who to greet");
  spec.handler = [](sdk::ServedStreamPtr stream, const sdk::Invocation& call) {
    sdk::reply(stream, "hello, " + call.get<std::string>("name") + "\n");
  };
  host.add_command(std::move(spec));
}

}  // namespace

AUTOMATELINUX_PLUGIN("hello", "1.0.0", init)
