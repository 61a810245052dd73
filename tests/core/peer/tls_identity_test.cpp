#include "core/peer/tls_identity.hpp"

#include <gtest/gtest.h>

using namespace automatelinux::core::peer;

namespace {
struct Cluster {
  PkeyPtr ca_key = generate_key();
  X509Ptr ca = make_ca_certificate(ca_key.get(), "test cluster");
};
}  // namespace

TEST(TlsIdentity, WorkerCertificateCarriesTheLeadersChosenIdAndCannotServe) {
  Cluster cluster;
  auto worker_key = generate_key();
  // The request asks for "desktop"; the leader signs it for "vps" regardless.
  auto cert = sign_csr(make_csr_pem(worker_key.get(), "desktop"), "vps", cluster.ca.get(),
                       cluster.ca_key.get());
  EXPECT_EQ(common_name(cert.get()), "vps");
  EXPECT_TRUE(issued_by(cert.get(), cluster.ca.get()));
  EXPECT_FALSE(can_serve(cert.get()));  // a worker cannot pose as the leader
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(cert.get()), worker_key.get()), 1);
}

TEST(TlsIdentity, LeaderCertificateCanServe) {
  Cluster cluster;
  auto key = generate_key();
  auto cert = sign_key(key.get(), "desktop", cluster.ca.get(), cluster.ca_key.get());
  EXPECT_TRUE(can_serve(cert.get()));
  EXPECT_EQ(common_name(cert.get()), "desktop");
}

TEST(TlsIdentity, ForeignCaIsNotTheIssuer) {
  Cluster ours, theirs;
  auto key = generate_key();
  auto cert = sign_key(key.get(), "vps", theirs.ca.get(), theirs.ca_key.get());
  EXPECT_FALSE(issued_by(cert.get(), ours.ca.get()));
  EXPECT_NE(fingerprint(ours.ca.get()), fingerprint(theirs.ca.get()));
}

TEST(TlsIdentity, PemRoundTripsAndFingerprintsAreStable) {
  Cluster cluster;
  const std::string pem = cert_to_pem(cluster.ca.get());
  auto again = cert_from_pem(pem);
  EXPECT_EQ(fingerprint(again.get()), fingerprint(cluster.ca.get()));
  EXPECT_EQ(fingerprint(cluster.ca.get()).size(), 64u);
  auto key = key_from_pem(key_to_pem(cluster.ca_key.get()));
  EXPECT_EQ(EVP_PKEY_eq(key.get(), cluster.ca_key.get()), 1);
}

TEST(TlsIdentity, TamperedRequestsAndGarbageAreRefused) {
  Cluster cluster;
  auto key = generate_key();
  std::string csr = make_csr_pem(key.get(), "vps");
  csr[csr.size() / 2] = csr[csr.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_THROW(sign_csr(csr, "vps", cluster.ca.get(), cluster.ca_key.get()), TlsError);
  EXPECT_THROW(cert_from_pem("not a certificate"), TlsError);
  EXPECT_THROW(key_from_pem(""), TlsError);
}
