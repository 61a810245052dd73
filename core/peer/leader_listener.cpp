#include "core/peer/leader_listener.hpp"

#include <malloc.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/peer/enrollment.hpp"
#include "core/peer/peer_fields.hpp"
#include "core/peer/tls_identity.hpp"
#include "core/untrusted_text.hpp"
#include "wire/messages.hpp"

namespace automatelinux::core::peer {
namespace msg = wire::msg;
namespace {

constexpr std::chrono::seconds kEnrollRequestTimeout{10};
// Unauthenticated connections held at once that count as a flood (memory is trimmed after it).
constexpr std::size_t kFloodPeak = 8;

}  // namespace

LeaderListener::LeaderListener(asio::io_context& io, std::shared_ptr<spdlog::logger> log,
                               ClusterState& state, Membership& membership,
                               std::chrono::milliseconds heartbeat, PeerSession::Events established)
    : io_(io),
      log_(std::move(log)),
      state_(state),
      membership_(membership),
      heartbeat_(heartbeat),
      established_(std::move(established)),
      acceptor_(
          io, preauth_,
          [this](Tcp::socket socket, std::shared_ptr<PreauthGate::Slot> slot) {
            on_connection(std::move(socket), slot);
          },
          [this](const std::string& line) {
            log_preauth(line);
            trim_memory_soon();
          }),
      preauth_summary_timer_(io),
      trim_timer_(io) {}

void LeaderListener::start(const std::string& listen, std::shared_ptr<asio::ssl::context> context) {
  stop();
  context_ = std::move(context);
  acceptor_.start(listen);
  log_->info("leader {} listening on {}", state_.self_id(), listen);
}

void LeaderListener::stop() {
  acceptor_.stop();
}

void LeaderListener::shutdown() {
  preauth_summary_timer_.cancel();
  trim_timer_.cancel();
  stop();
}

void LeaderListener::on_connection(Tcp::socket socket,
                                   const std::shared_ptr<PreauthGate::Slot>& slot) {
  auto session = std::make_shared<PeerSession>(std::move(socket), *context_, log_, false);
  session->set_max_frame(kMaxPreauthFrame);
  // The slot is held until the connection is authenticated or gone (the callbacks own it).
  session->handshake(
      [this, session, slot](const std::string& error) { on_handshake(session, slot, error); });
  if (preauth_->active() >= kFloodPeak) trim_memory_soon();
}

void LeaderListener::log_preauth(const std::string& line) {
  if (preauth_log_.admit(std::chrono::steady_clock::now())) return log_->warn("{}", line);
  if (std::exchange(preauth_summary_armed_, true)) return;
  preauth_summary_timer_.expires_after(kPreauthLogInterval);
  preauth_summary_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    preauth_summary_armed_ = false;
    if (const auto n = preauth_log_.take_suppressed(); n > 0)
      log_->warn("{} more pre-authentication failures suppressed in the last {} s", n,
                 kPreauthLogInterval.count());
  });
}

void LeaderListener::trim_memory_soon() {
  flood_seen_ = true;
  if (std::exchange(trim_armed_, true)) return;
  trim_timer_.expires_after(std::chrono::seconds(2));
  trim_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    trim_armed_ = false;
    // Still under way: look again later. Over: give the freed buffers back to the system.
    if (preauth_->take_peak() >= kFloodPeak) return trim_memory_soon();
    if (std::exchange(flood_seen_, false)) ::malloc_trim(0);
  });
}

// Only the handshake runs before authentication; then either a verified certificate (admit) or,
// without one, exactly one enroll request.
void LeaderListener::on_handshake(const SessionPtr& session,
                                  const std::shared_ptr<PreauthGate::Slot>& slot,
                                  const std::string& error) {
  if (!error.empty()) {
    log_preauth(fmt::format("peer connection from {} refused: {}", session->remote(),
                            escape_untrusted(error, kPreauthLoggedText)));
    return;
  }
  if (session->peer_certificate() != nullptr) return admit(session);
  expect_enroll(session, slot);
}

// No certificate: one enroll request within the deadline, then the connection closes.
void LeaderListener::expect_enroll(const SessionPtr& session,
                                   const std::shared_ptr<PreauthGate::Slot>& slot) {
  auto timer = std::make_shared<asio::steady_timer>(io_, kEnrollRequestTimeout);
  timer->async_wait([session](boost::system::error_code ec) {
    if (!ec) session->close("no enroll request within 10 s");
  });
  auto handled = std::make_shared<bool>(false);
  auto on_frame = [this, timer, handled, slot](const SessionPtr& s, wire::Frame& frame) {
    timer->cancel();
    if (std::exchange(*handled, true)) return;  // exactly one request
    if (frame.type() == msg::kEnroll) return handle_enroll(s, frame);
    log_preauth(fmt::format("peer connection from {} without certificate sent '{}': refused",
                            s->remote(), escape_untrusted(frame.type(), kPreauthLoggedText)));
    s->send({{"t", msg::kRefused}, {"reason", "authenticate first"}});
    s->close_after_flush("unauthenticated");
  };
  auto on_closed = [this, timer, slot](const SessionPtr& s, const std::string& why) {
    timer->cancel();
    // Bad frames before authentication (oversized, malformed) end here.
    if (why.rfind("bad ", 0) == 0)
      log_preauth(fmt::format("enroll connection from {} closed: {}", s->remote(),
                              escape_untrusted(why, kPreauthLoggedText)));
    else
      log_->debug("enroll connection from {} closed: {}", s->remote(),
                  escape_untrusted(why, kPreauthLoggedText));
  };
  session->start({on_frame, on_closed});
}

std::optional<std::string> LeaderListener::enroll_refusal(const std::string& id,
                                                          const std::string& secret,
                                                          JoinToken*& token) {
  if (!valid_peer_id(id)) return "invalid peer id";
  const std::string hash = sha256_hex(secret);
  token = nullptr;
  for (auto& t : state_.tokens)
    if (t.secret_sha256 == hash) token = &t;
  if (token == nullptr) return "bad token";
  if (token->expires <= unix_now()) return "expired token";
  if (id == state_.self_id() || state_.members.contains(id)) return "id taken: " + id;
  if (auto r = state_.removed_at.find(id);
      r != state_.removed_at.end() && token->created <= r->second)
    return "token was made before " + id + " was removed; make a new one";
  if (token->revoked())
    return token->revoked_reason.empty() ? "token revoked"
                                         : "token revoked (" + token->revoked_reason + ")";
  if (token->used_up())
    return fmt::format("token used up (it allowed {} enrollment{})", token->uses,
                       token->uses == 1 ? "" : "s");
  return std::nullopt;
}

void LeaderListener::handle_enroll(const SessionPtr& session, wire::Frame& frame) {
  auto refuse = [&](const std::string& reason) {
    log_preauth(fmt::format("enroll from {} refused: {}", session->remote(),
                            escape_untrusted(reason, kPreauthLoggedText)));
    session->send({{"t", msg::kRefused}, {"reason", reason}});
    session->close_after_flush("enroll refused");
  };
  if (!state_.is_leader()) return refuse("this daemon is not the leader");
  std::string id, secret;
  try {
    id = wire::string_field(frame.header, "id", "");
    secret = wire::string_field(frame.header, "token", "");
  } catch (const wire::FrameError& e) {
    return refuse(e.what());
  }
  JoinToken* token = nullptr;
  if (auto reason = enroll_refusal(id, secret, token)) return refuse(*reason);
  try {
    auto ca_key = key_from_pem(state_.read_tls("ca.key").value());
    auto ca_cert = cert_from_pem(state_.read_tls("ca.crt").value());
    auto cert = sign_csr(frame.body, id, ca_cert.get(), ca_key.get());
    // The token is charged before the answer goes out: a use is never given back.
    ++token->used;
    token->enrolled.push_back(id);
    state_.save_tokens();
    state_.members[id] = Member{fingerprint(cert.get()), unix_now(), token->id};
    state_.save_members();
    session->send({{"t", msg::kEnrolled}, {"cert", cert_to_pem(cert.get())}});
    session->close_after_flush("enrolled");
    log_->info("enrolled peer {} from {} with join token {}", id, session->remote(), token->id);
    membership_.push_members();
  } catch (const std::exception& e) {
    refuse(std::string("cannot sign: ") + e.what());
  }
}

void LeaderListener::admit(const SessionPtr& session) {
  X509* cert = session->peer_certificate();
  const std::string id = common_name(cert);
  auto member = state_.members.find(id);
  if (member == state_.members.end() || member->second.fingerprint != fingerprint(cert)) {
    const std::string reason =
        state_.is_revoked(fingerprint(cert)) || state_.removed_at.contains(id)
            ? "certificate revoked"
            : "unknown certificate";
    log_preauth(fmt::format("peer connection from {} claiming '{}' refused: {}", session->remote(),
                            escape_untrusted(id, kPreauthLoggedText), reason));
    session->start(
        {[](const SessionPtr&, wire::Frame&) {}, [](const SessionPtr&, const std::string&) {}});
    session->send({{"t", msg::kRefused}, {"reason", reason}});
    return session->close_after_flush(reason);
  }
  if (auto previous = membership_.take_worker(id)) {
    log_->info("peer {} reconnected from {}; replacing its old session", id, session->remote());
    previous->close("replaced by a new connection");
  }
  session->id = id;
  session->set_max_frame(wire::kMaxFrameSize);
  membership_.add_worker(session);
  session->start(established_);
  session->send({{"t", msg::kWelcome},
                 {"leader", state_.self_id()},
                 {"id", id},
                 {"protocol", wire::kProtocolVersion}});
  session->start_heartbeat(heartbeat_);
  log_->info("peer {} online from {}", id, session->remote());
  membership_.push_members();
}

}  // namespace automatelinux::core::peer
