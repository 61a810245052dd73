#include "core/peer/enrollment.hpp"

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <spdlog/spdlog.h>

#include "core/peer/backoff.hpp"
#include "core/peer/peer_session.hpp"
#include "core/peer/tls_identity.hpp"
#include "wire/messages.hpp"

namespace automatelinux::core::peer {
namespace {

// A join that reaches no leader ends after 10 s. A leader busy with other joins closes
// connections beyond its pre-authentication caps (they count connections at once): it is there,
// so a join it turned away keeps trying, after jittered pauses that double, for up to 60 s.
constexpr std::chrono::seconds kEnrollTimeout{10}, kBusyLeaderTimeout{60};
constexpr std::chrono::milliseconds kFirstRetry{50}, kLongestRetry{1000};

bool is_hex(const std::string& s, std::size_t size) {
  return s.size() == size && is_lower_hex(s);
}

// One enrollment: attempts until one gets an answer or 10 s have passed; keeps itself alive
// through its handlers.
class Enrollment : public std::enable_shared_from_this<Enrollment> {
 public:
  Enrollment(asio::io_context& io, std::shared_ptr<spdlog::logger> log, const ClusterState& state,
             std::string id, std::string leader, ParsedToken token,
             std::function<void(const std::string&)> done)
      : io_(io),
        log_(std::move(log)),
        state_(state),
        id_(std::move(id)),
        leader_(std::move(leader)),
        token_(std::move(token)),
        done_(std::move(done)),
        resolver_(io),
        timer_(io),
        retry_timer_(io),
        context_(asio::ssl::context::tls_client) {}

  void start() {
    SSL_CTX_set_min_proto_version(context_.native_handle(), TLS1_3_VERSION);
    // The CA is not trusted yet: it is checked against the token's fingerprint after the handshake.
    context_.set_verify_mode(asio::ssl::verify_none);
    std::pair<std::string, std::uint16_t> hp;
    try {
      hp = split_host_port(leader_);
    } catch (const std::exception& e) {
      return finish(e.what());
    }
    timer_.expires_after(kEnrollTimeout);
    wait_for_deadline();
    resolver_.async_resolve(
        hp.first, std::to_string(hp.second),
        [self = shared_from_this()](boost::system::error_code ec,
                                    Tcp::resolver::results_type results) {
          if (ec) return self->finish("leader unreachable: cannot resolve " + self->leader_);
          self->endpoints_ = results;
          self->connect();
        });
  }

 private:
  void wait_for_deadline() {
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return;
      if (self->turned_away_ && !self->extended_) {
        self->extended_ = true;
        self->timer_.expires_after(kBusyLeaderTimeout - kEnrollTimeout);
        return self->wait_for_deadline();
      }
      if (self->extended_)
        return self->finish(fmt::format("{} closed every join attempt for {} s ({})", self->leader_,
                                        kBusyLeaderTimeout.count(), self->last_error_));
      self->finish(self->last_error_.empty()
                       ? "leader unreachable: no answer from " + self->leader_ + " within 10 s"
                       : self->last_error_);
    });
  }

  void connect() {
    tcp_ = std::make_unique<Tcp::socket>(io_);
    const auto& results = endpoints_;
    asio::async_connect(
        *tcp_, results,
        [self = shared_from_this()](boost::system::error_code ec, const Tcp::endpoint&) {
          if (self->finished_) return;
          if (ec) return self->finish("leader unreachable: " + self->leader_ + ": " + ec.message());
          // Something listens there: a leader busy with many joins may take longer than 10 s to
          // answer a handshake it has accepted, so the join waits for it as for one turned away.
          self->turned_away_ = true;
          self->session_ = std::make_shared<PeerSession>(std::move(*self->tcp_), self->context_,
                                                         self->log_, /*is_tls_client=*/true);
          self->session_->handshake([self](const std::string& error) {
            if (self->finished_) return;
            if (!error.empty()) {
              if (self->session_->handshake_cut_by_remote()) self->turned_away_ = true;
              return self->retry("leader unreachable: " + error);
            }
            self->after_handshake();
          });
        });
  }

  void after_handshake() {
    // Pin: the leader's chain must contain the CA named by the token, and the leaf must be its.
    STACK_OF(X509)* chain = SSL_get_peer_cert_chain(session_->native());
    X509* leaf = session_->peer_certificate();
    X509* ca = nullptr;
    for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
      X509* cert = sk_X509_value(chain, i);
      if (fingerprint(cert) == token_.ca_fingerprint) ca = cert;
    }
    if (leaf == nullptr || ca == nullptr || !issued_by(leaf, ca) || !can_serve(leaf))
      return finish("the leader at " + leader_ + " does not hold the CA this token was made for");
    ca_pem_ = cert_to_pem(ca);
    key_ = generate_key();
    session_->start({[self = shared_from_this()](const std::shared_ptr<PeerSession>&,
                                                 wire::Frame& f) { self->on_reply(f); },
                     [self = shared_from_this()](const std::shared_ptr<PeerSession>& s,
                                                 const std::string& why) {
                       // (Not the session a retry or finish is closing: that one is no longer
                       // session_.)
                       if (s == self->session_ && !self->answered_) {
                         self->turned_away_ = true;
                         self->retry("the leader closed the connection: " + why);
                       }
                     }});
    session_->send({{"t", wire::msg::kEnroll}, {"id", id_}, {"token", token_.secret}},
                   make_csr_pem(key_.get(), id_));
  }

  void on_reply(const wire::Frame& frame) {
    answered_ = true;
    if (frame.type() == wire::msg::kRefused) {
      auto reason = wire::string_field(frame.header, "reason", "refused").substr(0, 200);
      for (char& c : reason)
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
      return finish(reason);
    }
    if (frame.type() != wire::msg::kEnrolled)
      return finish("unexpected reply '" + frame.type() + "' from the leader");
    try {
      auto cert = cert_from_pem(frame.header.at("cert").get<std::string>());
      auto ca = cert_from_pem(ca_pem_);
      if (common_name(cert.get()) != id_ || !issued_by(cert.get(), ca.get()) ||
          EVP_PKEY_eq(X509_get0_pubkey(cert.get()), key_.get()) != 1)
        return finish("the leader returned a certificate that is not ours");
      state_.write_tls("node.key", key_to_pem(key_.get()), true);
      state_.write_tls("node.crt", cert_to_pem(cert.get()), false);
      state_.write_tls("ca.crt", ca_pem_, false);
    } catch (const std::exception& e) {
      return finish(std::string("bad enrollment reply: ") + e.what());
    }
    finish({});
  }

  // The connection ended before the leader answered (it may be at its limit of connections at
  // once): a new attempt after a pause that doubles, until the deadline ends the enrollment. The
  // pause is jittered so that many joins turned away at once do not all come back in step.
  void retry(const std::string& error) {
    if (finished_ || answered_) return;
    last_error_ = error;
    if (session_) std::exchange(session_, nullptr)->close("retrying");
    retry_timer_.expires_after(backoff_delay(kFirstRetry, kLongestRetry, failures_++, rng_));
    retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && !self->finished_) self->connect();
    });
  }

  void finish(const std::string& error) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    retry_timer_.cancel();
    resolver_.cancel();
    if (session_)
      std::exchange(session_, nullptr)->close("enrollment over");
    else if (tcp_)
      tcp_->close();
    auto done = std::move(done_);
    done(error);
  }

  asio::io_context& io_;
  std::shared_ptr<spdlog::logger> log_;
  const ClusterState& state_;
  std::string id_, leader_;
  ParsedToken token_;
  std::function<void(const std::string&)> done_;
  Tcp::resolver resolver_;
  Tcp::resolver::results_type endpoints_;
  asio::steady_timer timer_;        // the whole enrollment's deadline
  asio::steady_timer retry_timer_;  // the pause before the next attempt
  int failures_ = 0;
  std::mt19937 rng_{std::random_device{}()};
  // The leader was there: it accepted a connection, or closed an attempt before answering.
  bool turned_away_ = false;
  bool extended_ = false;  // the deadline already moved to kBusyLeaderTimeout
  std::string last_error_;
  bool answered_ = false;
  asio::ssl::context context_;
  std::unique_ptr<Tcp::socket> tcp_;
  std::shared_ptr<PeerSession> session_;
  PkeyPtr key_;
  std::string ca_pem_;
  bool finished_ = false;
};

}  // namespace

std::optional<ParsedToken> parse_token(const std::string& token) {
  const std::string prefix = "al1.";
  if (token.rfind(prefix, 0) != 0) return std::nullopt;
  const auto dot = token.find('.', prefix.size());
  if (dot == std::string::npos) return std::nullopt;
  ParsedToken parsed{token.substr(prefix.size(), dot - prefix.size()), token.substr(dot + 1)};
  if (!is_hex(parsed.secret, 32) || !is_hex(parsed.ca_fingerprint, 64)) return std::nullopt;
  return parsed;
}

std::string make_token_text(const std::string& secret, const std::string& ca_fingerprint) {
  return "al1." + secret + "." + ca_fingerprint;
}

std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), md, &size, EVP_sha256(), nullptr);
  return to_hex(md, size);
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(bytes)) != 1)
    throw std::runtime_error("no randomness available");
  return to_hex(raw.data(), raw.size());
}

bool valid_peer_id(const std::string& id) {
  // "all" names every member in `--peer all`, so no member may be called that.
  return !id.empty() && id.size() <= 63 && id != "all" &&
         id.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") ==
             std::string::npos;
}

void enroll_with_leader(asio::io_context& io, std::shared_ptr<spdlog::logger> log,
                        const ClusterState& state, const std::string& id, const std::string& leader,
                        const ParsedToken& token, std::function<void(const std::string&)> done) {
  std::make_shared<Enrollment>(io, std::move(log), state, id, leader, token, std::move(done))
      ->start();
}

}  // namespace automatelinux::core::peer
