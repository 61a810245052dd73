#include "core/peer/tls_identity.hpp"

#include <ctime>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

namespace automatelinux::core::peer {
namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

[[noreturn]] void fail(const std::string& what) {
  char buffer[256] = "unknown error";
  if (unsigned long code = ERR_get_error(); code != 0)
    ERR_error_string_n(code, buffer, sizeof buffer);
  ERR_clear_error();
  throw TlsError(what + ": " + buffer);
}

void check(int ok, const char* what) {
  if (ok != 1) fail(what);
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

BioPtr read_bio(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) fail("BIO_new_mem_buf");
  return bio;
}

void set_random_serial(X509* cert) {
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_new(), BN_free);
  check(BN_rand(bn.get(), 120, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "BN_rand");
  check(BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) != nullptr, "serial");
}

void set_name(X509_NAME* name, const std::string& cn) {
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0),
        "X509_NAME_add_entry");
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) fail("X509V3_EXT_conf_nid");
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  check(ok, "X509_add_ext");
}

constexpr long kTenYears = 10L * 365 * 24 * 3600;

X509Ptr new_certificate(EVP_PKEY* subject_key, const std::string& cn, X509* issuer) {
  X509Ptr cert(X509_new());
  if (!cert) fail("X509_new");
  check(X509_set_version(cert.get(), 2), "X509_set_version");
  set_random_serial(cert.get());
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdatedBy.count());  // clock skew
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), kTenYears);
  check(X509_set_pubkey(cert.get(), subject_key), "X509_set_pubkey");
  set_name(X509_get_subject_name(cert.get()), cn);
  check(X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer)
                                                           : X509_get_subject_name(cert.get())),
        "X509_set_issuer_name");
  return cert;
}

}  // namespace

PkeyPtr generate_key() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) fail("EVP_PKEY_Q_keygen");
  return key;
}

std::string key_to_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
        "write key");
  return bio_text(bio.get());
}

PkeyPtr key_from_pem(const std::string& pem) {
  auto bio = read_bio(pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) fail("read private key");
  return key;
}

std::string cert_to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_X509(bio.get(), cert), "write certificate");
  return bio_text(bio.get());
}

X509Ptr cert_from_pem(const std::string& pem) {
  auto bio = read_bio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) fail("read certificate");
  return cert;
}

X509Ptr make_ca_certificate(EVP_PKEY* ca_key, const std::string& cluster_name) {
  auto cert = new_certificate(ca_key, cluster_name, nullptr);
  add_extension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  add_extension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  check(X509_sign(cert.get(), ca_key, EVP_sha256()) > 0, "X509_sign");
  return cert;
}

std::string make_csr_pem(EVP_PKEY* key, const std::string& id) {
  std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)> req(X509_REQ_new(), X509_REQ_free);
  check(X509_REQ_set_version(req.get(), 0), "X509_REQ_set_version");
  set_name(X509_REQ_get_subject_name(req.get()), id);
  check(X509_REQ_set_pubkey(req.get(), key), "X509_REQ_set_pubkey");
  check(X509_REQ_sign(req.get(), key, EVP_sha256()) > 0, "X509_REQ_sign");
  BioPtr bio(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_X509_REQ(bio.get(), req.get()), "write request");
  return bio_text(bio.get());
}

X509Ptr sign_key(EVP_PKEY* key, const std::string& id, X509* ca_cert, EVP_PKEY* ca_key,
                 bool server) {
  auto cert = new_certificate(key, id, ca_cert);
  add_extension(cert.get(), ca_cert, NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), ca_cert, NID_key_usage, "critical,digitalSignature");
  add_extension(cert.get(), ca_cert, NID_ext_key_usage,
                server ? "serverAuth,clientAuth" : "clientAuth");
  check(X509_sign(cert.get(), ca_key, EVP_sha256()) > 0, "X509_sign");
  return cert;
}

X509Ptr sign_csr(const std::string& csr_pem, const std::string& id, X509* ca_cert,
                 EVP_PKEY* ca_key) {
  auto bio = read_bio(csr_pem);
  std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)> req(
      PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr), X509_REQ_free);
  if (!req) fail("read certificate request");
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr || X509_REQ_verify(req.get(), key) != 1) fail("certificate request signature");
  return sign_key(key, id, ca_cert, ca_key, /*server=*/false);
}

bool can_serve(X509* cert) {
  const bool ok = X509_check_purpose(cert, X509_PURPOSE_SSL_SERVER, 0) == 1;
  ERR_clear_error();
  return ok;
}

std::string to_hex(const unsigned char* data, std::size_t size) {
  std::string out;
  out.reserve(2 * size);
  for (std::size_t i = 0; i < size; ++i) out += fmt::format("{:02x}", data[i]);
  return out;
}

bool is_lower_hex(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::int64_t issued_at(X509* cert) {
  std::tm tm{};
  if (cert == nullptr || ASN1_TIME_to_tm(X509_get0_notBefore(cert), &tm) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&tm)) + kBackdatedBy.count();
}

std::string fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  check(X509_digest(cert, EVP_sha256(), md, &size), "X509_digest");
  return to_hex(md, size);
}

std::string common_name(X509* cert) {
  X509_NAME* name = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return {};
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                     static_cast<std::size_t>(ASN1_STRING_length(data)));
}

bool issued_by(X509* cert, X509* ca_cert) {
  EVP_PKEY* ca_key = X509_get0_pubkey(ca_cert);
  const bool ok = ca_key != nullptr && X509_verify(cert, ca_key) == 1;
  ERR_clear_error();
  return ok;
}

std::string sign_hex(EVP_PKEY* key, const std::string& data) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx) fail("EVP_MD_CTX_new");
  check(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key), "EVP_DigestSignInit");
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t size = 0;
  check(EVP_DigestSign(ctx.get(), nullptr, &size, bytes, data.size()), "EVP_DigestSign");
  std::string signature(size, '\0');
  check(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size, bytes,
                       data.size()),
        "EVP_DigestSign");
  return to_hex(reinterpret_cast<const unsigned char*>(signature.data()), size);
}

bool verify_hex(X509* cert, const std::string& data, const std::string& signature_hex) {
  if (!is_lower_hex(signature_hex) || signature_hex.size() % 2 != 0 || signature_hex.size() > 1024)
    return false;
  std::string signature;
  for (std::size_t i = 0; i < signature_hex.size(); i += 2)
    signature += static_cast<char>(std::stoi(signature_hex.substr(i, 2), nullptr, 16));
  EVP_PKEY* key = X509_get0_pubkey(cert);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const bool ok =
      key != nullptr && ctx &&
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                       data.size()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace automatelinux::core::peer
