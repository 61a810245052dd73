#include "core/peer/direct_trust.hpp"

#include <cstdlib>

#include <gtest/gtest.h>

#include "core/peer/cluster_state.hpp"
#include "core/peer/tls_identity.hpp"

using namespace automatelinux::core::peer;

namespace {

constexpr std::int64_t kNow = 1'900'000'000;
constexpr std::int64_t kDay = 24 * 3600;

struct Cluster {
  PkeyPtr ca_key = generate_key();
  X509Ptr ca = make_ca_certificate(ca_key.get(), "test cluster");

  X509Ptr worker(const std::string& id) {
    auto key = generate_key();
    return sign_csr(make_csr_pem(key.get(), id), id, ca.get(), ca_key.get());
  }
};

struct Fixture {
  Cluster cluster;
  X509Ptr vps = cluster.worker("vps");
  X509Ptr laptop = cluster.worker("laptop");
  std::optional<Roster> roster = Roster{};
  DirectTrust trust{"laptop", &roster, kNow - kDay, kDefaultTrustUnseenFor};

  Fixture() {
    roster->version = 1;
    roster->leader = "desktop";
    roster->members = {{"desktop", std::string(64, 'a'), "10.0.0.2:3600"},
                       {"laptop", fingerprint(laptop.get()), "10.0.0.4:3600"},
                       {"vps", fingerprint(vps.get()), "10.0.0.1:3600"}};
  }
};

}  // namespace

TEST(DirectTrust, AMemberTheRosterPinsIsTakenWhenAcceptingAndWhenDialed) {
  Fixture f;
  EXPECT_EQ(direct_refusal(f.vps.get(), "", f.trust, kNow), "");
  EXPECT_EQ(direct_refusal(f.vps.get(), "vps", f.trust, kNow), "");
}

TEST(DirectTrust, TheDialedAddressMustAnswerWithThePeerItWasDialedFor) {
  Fixture f;
  EXPECT_EQ(direct_refusal(f.vps.get(), "nas", f.trust, kNow),
            "certificate of 'vps', not of 'nas'");
  EXPECT_EQ(direct_refusal(f.laptop.get(), "", f.trust, kNow), "certificate of this member itself");
  EXPECT_EQ(direct_refusal(nullptr, "", f.trust, kNow), "no certificate");
}

TEST(DirectTrust, ARevokedCertificateIsRefusedWhateverElseHolds) {
  Fixture f;
  f.roster->revoked = {fingerprint(f.vps.get())};
  EXPECT_EQ(direct_refusal(f.vps.get(), "", f.trust, kNow), "certificate revoked");
  // Also once it is no longer listed, and with the leader heard from a moment ago.
  f.roster->members.pop_back();
  f.trust.leader_heard_at = kNow;
  EXPECT_EQ(direct_refusal(f.vps.get(), "vps", f.trust, kNow), "certificate revoked");
}

TEST(DirectTrust, AnotherCertificateUnderAPinnedIdIsRefused) {
  Fixture f;
  auto impostor = f.cluster.worker("vps");  // signed by the cluster CA, but not the pinned one
  EXPECT_EQ(direct_refusal(impostor.get(), "vps", f.trust, kNow),
            "certificate not the one the roster holds for vps");
}

TEST(DirectTrust, AMemberNewerThanTheRosterIsTakenOnlyWhileTheLeaderIsRecent) {
  Fixture f;
  auto nas = f.cluster.worker("nas");
  EXPECT_EQ(direct_refusal(nas.get(), "", f.trust, kNow), "");
  f.trust.leader_heard_at = kNow - 8 * kDay;
  EXPECT_EQ(direct_refusal(nas.get(), "", f.trust, kNow),
            "'nas' is not in the roster, and the leader has not been heard from for more than "
            "604800 s");
  f.trust.leader_heard_at = 0;  // never
  EXPECT_NE(direct_refusal(nas.get(), "", f.trust, kNow), "");
  // Members the roster pins stay trusted however long the leader is away.
  EXPECT_EQ(direct_refusal(f.vps.get(), "", f.trust, kNow), "");
  // The limit is configurable.
  f.trust.leader_heard_at = kNow - 100;
  f.trust.trust_unseen_for = std::chrono::seconds(60);
  EXPECT_NE(direct_refusal(nas.get(), "", f.trust, kNow), "");
}

TEST(DirectTrust, AnUnlistedCertificateOlderThanTheRosterIsRefused) {
  // A roster lists every member enrolled before it was issued: an unlisted certificate signed
  // before it belongs to a removed member, even when the roster lost that revocation.
  Fixture f;
  f.trust.leader_heard_at = kNow;
  auto nas = f.cluster.worker("nas");
  const auto signed_at = issued_at(nas.get());
  ASSERT_GT(signed_at, 0);
  EXPECT_LE(std::abs(signed_at - unix_now()), 5);  // notBefore is backdated; issued_at is not
  f.roster->issued_at = signed_at + 1;
  EXPECT_EQ(direct_refusal(nas.get(), "", f.trust, kNow),
            "'nas' is not in the roster, and its certificate is older than the roster");
  f.roster->issued_at = signed_at;  // the same second: newer than the roster is what it can be
  EXPECT_EQ(direct_refusal(nas.get(), "", f.trust, kNow), "");
}

TEST(DirectTrust, WithoutARosterNothingIsTaken) {
  Fixture f;
  f.roster.reset();
  EXPECT_EQ(direct_refusal(f.vps.get(), "vps", f.trust, kNow), "no roster held yet");
}
