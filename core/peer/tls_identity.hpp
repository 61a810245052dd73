// The cluster's certificates, with OpenSSL 3: a small CA on the leader, one key and certificate
// per daemon (subject CN = peer id), fingerprints for pinning. PEM text in, PEM text out.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <openssl/evp.h>
#include <openssl/x509.h>

namespace automatelinux::core::peer {

class TlsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Deleter {
  void operator()(X509* p) const { X509_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

PkeyPtr generate_key();  // EC P-256
std::string key_to_pem(EVP_PKEY* key);
PkeyPtr key_from_pem(const std::string& pem);
std::string cert_to_pem(X509* cert);
X509Ptr cert_from_pem(const std::string& pem);

// A self-signed CA certificate for the cluster.
X509Ptr make_ca_certificate(EVP_PKEY* ca_key, const std::string& cluster_name);
// A certificate request for `id`, signed with `key`.
std::string make_csr_pem(EVP_PKEY* key, const std::string& id);
// Signs a worker's request for `id` (the subject is set to `id` whatever the request says) as a
// client-only certificate valid for ten years: a worker cannot pose as a TLS server (the leader).
// Throws if the request's signature is bad.
X509Ptr sign_csr(const std::string& csr_pem, const std::string& id, X509* ca_cert,
                 EVP_PKEY* ca_key);
// Signs a certificate for `key` directly: the leader's own, client and server.
X509Ptr sign_key(EVP_PKEY* key, const std::string& id, X509* ca_cert, EVP_PKEY* ca_key,
                 bool server = true);
// True when `cert` may act as a TLS server (the leader's certificate).
bool can_serve(X509* cert);

// Lowercase hex of `size` bytes; whether `s` is non-empty and only lowercase hex digits.
std::string to_hex(const unsigned char* data, std::size_t size);
bool is_lower_hex(std::string_view s);

// Every certificate made here starts this long before it was signed (clock skew between members).
inline constexpr std::chrono::seconds kBackdatedBy{3600};
// When `cert` was signed: its notBefore plus kBackdatedBy (unix seconds; 0 if unreadable).
std::int64_t issued_at(X509* cert);
std::string fingerprint(X509* cert);        // lowercase hex SHA-256 of the DER encoding
std::string common_name(X509* cert);        // subject CN, empty if none
bool issued_by(X509* cert, X509* ca_cert);  // signature check only

// Detached signatures (ECDSA with SHA-256), hex-encoded: signed with a private key, checked
// with the public key of a certificate.
std::string sign_hex(EVP_PKEY* key, const std::string& data);
bool verify_hex(X509* cert, const std::string& data, const std::string& signature_hex);

}  // namespace automatelinux::core::peer
