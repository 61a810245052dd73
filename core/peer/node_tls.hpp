// This member's TLS contexts, made from its key, certificate and the cluster CA in the state dir:
// TLS 1.3 only, the CA as the only trust anchor, and per role who must show a certificate.
#pragma once

#include <memory>

#include <boost/asio/ssl.hpp>

#include "core/peer/cluster_state.hpp"

namespace automatelinux::core::peer {

enum class TlsRole {
  leader,            // asks for a certificate but takes none too (enrollment comes without)
  worker_to_leader,  // requires the leader's, which must be a TLS server certificate
  direct_server,     // a worker taking a direct session: requires the dialer's
  direct_client,     // a worker dialing one: takes the other's client-only certificate, which
                     // the roster pins (core/peer/direct_trust.hpp)
};

// Throws when this member has no cluster certificate.
std::shared_ptr<boost::asio::ssl::context> node_tls_context(const ClusterState& state,
                                                            TlsRole role);

}  // namespace automatelinux::core::peer
