#include "core/peer/enrollment.hpp"

#include <gtest/gtest.h>

#include "core/peer/cluster_state.hpp"

using namespace automatelinux::core::peer;

TEST(JoinToken, RoundTripsAndRejectsAnythingElse) {
  const std::string secret = random_hex(16);
  const std::string fp(64, 'a');
  const auto parsed = parse_token(make_token_text(secret, fp));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->secret, secret);
  EXPECT_EQ(parsed->ca_fingerprint, fp);
  for (const std::string& bad :
       std::vector<std::string>{"", "al1.", "al2." + secret + "." + fp, "al1." + secret,
                                "al1." + secret + "." + fp.substr(1), "al1.XYZ." + fp,
                                "al1." + secret + "." + std::string(64, 'G')})
    EXPECT_FALSE(parse_token(bad)) << bad;
}

TEST(JoinToken, SecretsAreRandomAndOnlyTheirHashIsStored) {
  EXPECT_NE(random_hex(16), random_hex(16));
  EXPECT_EQ(random_hex(16).size(), 32u);
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(PeerId, OnlySafeCharacters) {
  for (const std::string ok : {"vps", "desktop-2", "a.b_c"}) EXPECT_TRUE(valid_peer_id(ok)) << ok;
  for (const std::string& bad :
       std::vector<std::string>{"", "a b", "a/b", std::string(64, 'x'), "x\n", "\xff", "all"})
    EXPECT_FALSE(valid_peer_id(bad)) << bad;
}

TEST(HostPort, DefaultsToPort3600AndNamesBadInput) {
  EXPECT_EQ(split_host_port("10.0.0.2"), (std::pair<std::string, std::uint16_t>{"10.0.0.2", 3600}));
  EXPECT_EQ(split_host_port("10.0.0.2:4000"),
            (std::pair<std::string, std::uint16_t>{"10.0.0.2", 4000}));
  EXPECT_EQ(split_host_port("vps.lan"), (std::pair<std::string, std::uint16_t>{"vps.lan", 3600}));
  for (const char* bad : {"", ":3600", "host:", "host:0", "host:65536", "host:12ab"})
    EXPECT_THROW(split_host_port(bad), std::invalid_argument) << bad;
}

TEST(Iso8601, FormatsUtc) {
  EXPECT_EQ(iso8601_utc(0), "1970-01-01T00:00:00Z");
}
