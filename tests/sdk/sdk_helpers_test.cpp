// The SDK's header-only helpers (NUL lists, Outcome, peer_json) and the stream roles: the calls of
// one role are not part of the other, so misuse fails to compile (checked here with concepts).
#include <csignal>

#include <gtest/gtest.h>

#include "automatelinux/sdk/nul_list.hpp"
#include "automatelinux/sdk/outcome.hpp"
#include "automatelinux/sdk/peer_json.hpp"
#include "automatelinux/sdk/stream.hpp"

namespace sdk = automatelinux::sdk;

namespace {

template <class S>
concept can_cancel = requires(S& s) {
  s.cancel(SIGINT);
};
template <class S>
concept can_await_result = requires(S& s) {
  s.on_result([](const sdk::Result&) {});
};
template <class S>
concept can_finish = requires(S& s) {
  s.finish(sdk::Result::exited(0));
};
template <class S>
concept can_take_cancel = requires(S& s) {
  s.on_cancel([](int) {});
};
template <class S>
concept can_move_bytes = requires(S& s) {
  s.write(sdk::Channel::out, std::string(), [](bool) {});
  s.read(sdk::Channel::in, [](std::string_view, bool) {});
  s.close(sdk::Channel::out);
};

static_assert(can_finish<sdk::ServedStream> && can_take_cancel<sdk::ServedStream>);
static_assert(!can_cancel<sdk::ServedStream> && !can_await_result<sdk::ServedStream>);
static_assert(can_cancel<sdk::RequestedStream> && can_await_result<sdk::RequestedStream>);
static_assert(!can_finish<sdk::RequestedStream> && !can_take_cancel<sdk::RequestedStream>);
static_assert(can_move_bytes<sdk::ServedStream> && can_move_bytes<sdk::RequestedStream>);

TEST(NulList, JoinAndSplitRoundTripByteStrings) {
  using namespace std::string_literals;
  const std::vector<std::string> parts{"/opt/x", "", "caf\xc3\xa9 \xff", "-- a b"};
  const auto body = sdk::join_nul(parts);
  EXPECT_EQ(body, "/opt/x\0\0caf\xc3\xa9 \xff\0-- a b"s);
  EXPECT_EQ(sdk::split_nul(body), parts);
}

TEST(NulList, EdgeCases) {
  EXPECT_EQ(sdk::join_nul({}), "");
  EXPECT_EQ(sdk::split_nul(""), std::vector<std::string>{""});
  EXPECT_EQ(sdk::split_nul(std::string("\0", 1)), (std::vector<std::string>{"", ""}));
  EXPECT_EQ(sdk::join_nul({"only"}), "only");
}

TEST(Outcome, SuccessAndFailureAreNamed) {
  EXPECT_TRUE(sdk::Outcome::success().ok());
  EXPECT_EQ(sdk::Outcome::success().reason(), "");
  const auto bad = sdk::Outcome::failure("bad token: expired");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.reason(), "bad token: expired");
  // An empty reason cannot pass for success.
  EXPECT_FALSE(sdk::Outcome::failure("").ok());
  EXPECT_FALSE(sdk::Outcome::failure("").reason().empty());
}

TEST(PeerJson, TheContractKeysWithNullForUnsetValues) {
  sdk::PeerInfo p;
  p.id = "vps";
  p.role = "worker";
  const auto offline = sdk::peer_json(p);
  EXPECT_EQ(offline, nlohmann::json::parse(R"({"id": "vps", "role": "worker",
      "status": "offline", "address": null, "path": null, "last_seen": null, "rtt_ms": null,
      "version": null, "commands": []})"));
  p.online = true;
  p.address = "10.0.0.1:3600";
  p.path = "direct";
  p.last_seen = "2024-05-01T10:00:00Z";
  p.rtt_ms = 1.5;
  p.version = "0.3.0";
  p.commands = {"execOnPeer"};
  const auto online = sdk::peer_json(p);
  EXPECT_EQ(online["status"], "online");
  EXPECT_EQ(online["address"], "10.0.0.1:3600");
  EXPECT_EQ(online["path"], "direct");
  EXPECT_EQ(online["last_seen"], "2024-05-01T10:00:00Z");
  EXPECT_EQ(online["rtt_ms"], 1.5);
  EXPECT_EQ(online["version"], "0.3.0");
  EXPECT_EQ(online["commands"], nlohmann::json::array({"execOnPeer"}));
}

}  // namespace
