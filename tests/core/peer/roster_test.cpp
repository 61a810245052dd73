#include "core/peer/roster.hpp"

#include <filesystem>

#include <gtest/gtest.h>

#include "core/peer/tls_identity.hpp"

using namespace automatelinux::core::peer;

namespace {

struct Cluster {
  PkeyPtr ca_key = generate_key();
  X509Ptr ca = make_ca_certificate(ca_key.get(), "test cluster");
};

Roster sample() {
  Roster r;
  r.version = 7;
  r.issued_at = 1'800'000'000;
  r.leader = "desktop";
  r.members = {{"desktop", std::string(64, 'a'), "10.0.0.1:3600"},
               {"laptop", std::string(64, 'b'), "10.0.0.2:3600"},
               {"vps", std::string(64, 'c'), ""}};
  r.revoked = {std::string(64, 'd')};
  return r;
}

}  // namespace

TEST(Roster, ASignedRosterChecksAgainstItsCaAndSurvivesTheWire) {
  Cluster cluster;
  const auto signed_roster = sign_roster(sample(), cluster.ca_key.get());
  // As a member receives it: serialized, parsed again.
  const auto received = nlohmann::json::parse(signed_roster.dump());
  const Roster r = verified_roster(received, cluster.ca.get());
  EXPECT_EQ(r.version, 7u);
  EXPECT_EQ(r.leader, "desktop");
  ASSERT_NE(r.find("laptop"), nullptr);
  EXPECT_EQ(r.find("laptop")->address, "10.0.0.2:3600");
  EXPECT_EQ(r.find("nobody"), nullptr);
  EXPECT_TRUE(r.is_revoked(std::string(64, 'd')));
  EXPECT_FALSE(r.is_revoked(std::string(64, 'b')));
  EXPECT_TRUE(r.same_content(sample()));
}

TEST(Roster, AnyChangeToASignedRosterOrAnotherCaIsRefused) {
  Cluster ours, theirs;
  const auto signed_roster = sign_roster(sample(), ours.ca_key.get());
  EXPECT_THROW(verified_roster(signed_roster, theirs.ca.get()), TlsError);
  auto changed = signed_roster;
  changed["roster"]["revoked"] = nlohmann::json::array();  // un-revoke a stolen certificate
  EXPECT_THROW(verified_roster(changed, ours.ca.get()), TlsError);
  changed = signed_roster;
  changed["roster"]["version"] = 99;  // replay as newer
  EXPECT_THROW(verified_roster(changed, ours.ca.get()), TlsError);
  changed = signed_roster;
  changed["sig"] = "zz";
  EXPECT_THROW(verified_roster(changed, ours.ca.get()), TlsError);
  EXPECT_THROW(verified_roster(nlohmann::json::array(), ours.ca.get()), std::invalid_argument);
}

TEST(Roster, MalformedRostersNameWhatIsWrong) {
  auto j = sample().to_json();
  j["members"][0].erase("fingerprint");
  try {
    Roster::from_json(j);
    FAIL() << "accepted a member without a fingerprint";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("fingerprint"), std::string::npos) << e.what();
  }
  j = sample().to_json();
  std::swap(j["members"][0], j["members"][1]);
  EXPECT_THROW(Roster::from_json(j), std::invalid_argument);  // unsorted
  j = sample().to_json();
  j["version"] = -1;
  EXPECT_THROW(Roster::from_json(j), std::invalid_argument);
  j = sample().to_json();
  j["revoked"] = {"not hex"};
  EXPECT_THROW(Roster::from_json(j), std::invalid_argument);
}

TEST(Roster, SavedAndLoadedFromTheStateDir) {
  Cluster cluster;
  const auto dir = std::filesystem::temp_directory_path() / "al-roster-test";
  std::filesystem::remove_all(dir);
  EXPECT_FALSE(load_roster(dir).has_value());
  const auto signed_roster = sign_roster(sample(), cluster.ca_key.get());
  save_roster(dir, signed_roster);
  const auto loaded = load_roster(dir);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(verified_roster(*loaded, cluster.ca.get()).version, 7u);
  std::filesystem::remove_all(dir);
}
