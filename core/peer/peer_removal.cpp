// Removal: the leader's removePeer, and a worker learning that it was removed (its leader's
// refusal, or its own certificate revoked in a roster it took).
#include "core/peer/peer_manager.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/peer/tls_identity.hpp"
#include "core/untrusted_text.hpp"
#include "wire/messages.hpp"

namespace automatelinux::core::peer {
namespace msg = wire::msg;

std::vector<std::string> PeerManager::remove_peer(const std::string& id) {
  if (!state_.is_leader()) throw std::runtime_error("removePeer works only on the leader");
  if (id == state_.self_id()) throw std::runtime_error("Cannot remove self (" + id + ")");
  auto member = state_.members.find(id);
  if (member == state_.members.end()) throw std::runtime_error("Peer not found: " + id);
  const auto now = unix_now();
  // The token that enrolled it must not enroll anyone again: a removed machine that kept the
  // token would otherwise come back under a new id. A member from before tokens had ids has no
  // record of its token: then every token that existed when it enrolled is revoked.
  std::vector<std::string> revoked_tokens;
  const Member& m = member->second;
  for (auto& token : state_.tokens) {
    const bool enrolled_it = m.token.empty() ? token.created <= m.enrolled_at : token.id == m.token;
    if (!enrolled_it || token.revoked() || token.expires <= now) continue;
    token.revoked_at = now;
    token.revoked_reason = "it enrolled " + id + ", which was removed";
    revoked_tokens.push_back(token.id);
  }
  if (!revoked_tokens.empty()) state_.save_tokens();
  state_.revoke(id, m.fingerprint, now);
  state_.members.erase(member);
  state_.save_members();
  membership_.forget(id);
  // Told in so many words, so that it stops dialing anyone at once (not at its next attempt).
  if (auto session = membership_.take_worker(id)) {
    session->send({{"t", msg::kRefused}, {"reason", "certificate revoked"}});
    session->close_after_flush("removed from the cluster");
  }
  std::string tokens_note;
  for (const auto& t : revoked_tokens) tokens_note += (tokens_note.empty() ? "" : ", ") + t;
  log_->info(
      "peer {} removed; its certificate is revoked{}{}", id,
      revoked_tokens.empty() ? "" : ", and so is the join token that enrolled it: ", tokens_note);
  membership_.push_members();
  return revoked_tokens;
}

void PeerManager::on_leader_refused(const SessionPtr& session, wire::Frame& frame) {
  const auto reason = wire::string_field(frame.header, "reason", "?");
  const auto why = escape_untrusted(reason, 300);
  log_->error("the leader refused this daemon: {}", why);
  session->close("refused by the leader: " + why);
  if (reason == "certificate revoked") on_removed("the leader revoked its certificate");
}

void PeerManager::on_removed(const std::string& how) {
  if (!state_.is_worker() || state_.config->removed_at != 0 || stopped_) return;
  state_.config->removed_at = unix_now();
  try {
    state_.save_config();
  } catch (const std::exception& e) {
    log_->error("cannot record the removal: {}", e.what());
  }
  log_->error(
      "this daemon was removed from the cluster; join again with 'd setPeerConfig --role worker "
      "… --token TOKEN' ({}; it dials neither the leader nor any member until then)",
      how);
  // Posted: this runs inside a session's or a link's callback, which must finish first.
  asio::post(io_, [this] {
    if (stopped_ || !state_.is_worker() || state_.config->removed_at == 0) return;
    direct_.stop();
    drop_all_sessions("removed from the cluster");
    mark_connection_change(false);
  });
}

void PeerManager::check_roster_for_self() {
  const auto& roster = membership_.roster();
  // Every roster version reaches every worker: most revoke nothing, and those cost nothing here.
  if (!roster || roster->revoked.empty() || !state_.is_worker() || state_.config->removed_at != 0)
    return;
  const auto cert = state_.read_tls("node.crt");
  if (!cert) return;
  try {
    if (roster->is_revoked(fingerprint(cert_from_pem(*cert).get())))
      on_removed(fmt::format("roster version {} revokes its certificate", roster->version));
  } catch (const std::exception&) {  // an unreadable certificate fails the handshakes anyway
  }
}

}  // namespace automatelinux::core::peer
