#include "core/peer/node_tls.hpp"

#include "core/peer/tls_identity.hpp"

namespace automatelinux::core::peer {
namespace ssl = boost::asio::ssl;

std::shared_ptr<ssl::context> node_tls_context(const ClusterState& state, TlsRole role) {
  const bool server = role == TlsRole::leader || role == TlsRole::direct_server;
  auto ctx =
      std::make_shared<ssl::context>(server ? ssl::context::tls_server : ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_3_VERSION);
  const auto key = state.read_tls("node.key");
  const auto cert = state.read_tls("node.crt");
  const auto ca = state.read_tls("ca.crt");
  if (!key || !cert || !ca) throw std::runtime_error("this daemon has no cluster certificate");
  ctx->use_certificate(boost::asio::buffer(*cert), ssl::context::pem);
  ctx->use_private_key(boost::asio::buffer(*key), ssl::context::pem);
  ctx->add_certificate_authority(boost::asio::buffer(*ca));
  auto ca_cert = cert_from_pem(*ca);
  SSL_CTX_add1_chain_cert(ctx->native_handle(), ca_cert.get());  // send the CA for pinning
  ctx->set_verify_mode(role == TlsRole::leader
                           ? ssl::verify_peer
                           : ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  // A worker's certificate is for TLS clients only, so that no worker can pose as the leader;
  // on a direct session the dialed worker serves with it, and the roster pins it instead.
  if (role == TlsRole::direct_client) SSL_CTX_set_purpose(ctx->native_handle(), X509_PURPOSE_ANY);
  return ctx;
}

}  // namespace automatelinux::core::peer
