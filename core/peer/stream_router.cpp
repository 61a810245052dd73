#include "core/peer/stream_router.hpp"

#include <csignal>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "automatelinux/sdk/duration.hpp"
#include "core/dispatcher.hpp"
#include "core/exit_status.hpp"
#include "core/failed_stream.hpp"
#include "core/requester.hpp"
#include "core/untrusted_text.hpp"
#include "wire/messages.hpp"

namespace automatelinux::core::peer {
namespace msg = wire::msg;
namespace {

// Carries a served stream's frames over a peer session, tagged with its stream id.
class PeerStreamTransport final : public StreamTransport {
 public:
  PeerStreamTransport(std::weak_ptr<PeerSession> session, std::uint64_t sid,
                      std::function<void()> on_result)
      : session_(std::move(session)), sid_(sid), on_result_(std::move(on_result)) {}

  void send(nlohmann::json header, std::string body) override {
    if (auto s = session_.lock()) {
      header["sid"] = sid_;
      s->send_owned(header, std::move(body));
    }
  }
  void send_result(const sdk::Result& result) override {
    if (auto s = session_.lock())
      s->send({{"t", msg::kResult},
               {"sid", sid_},
               {"kind", result_kind_name(result.kind)},
               {"code", result.code}},
              result.reason);
    if (auto done = std::exchange(on_result_, {})) done();
  }

 private:
  std::weak_ptr<PeerSession> session_;
  std::uint64_t sid_;
  std::function<void()> on_result_;
};

}  // namespace

bool stream_frame_allowed(const std::string& type, int ch, bool from_requester) {
  const bool bytes = type == msg::kData || type == msg::kEof;
  if (from_requester)
    return type == msg::kCredit || type == msg::kCancel || type == msg::kWinsize ||
           (bytes && ch == 0);
  return type == msg::kCredit || type == msg::kResult || (bytes && (ch == 1 || ch == 2));
}

StreamRouter::StreamRouter(asio::io_context& io, std::shared_ptr<spdlog::logger> log,
                           sdk::AuditLog* audit, const ClusterState& state,
                           const CommandRegistry& registry, const Membership& membership,
                           std::function<void()> on_abuse, WindowLimits limits,
                           MemberRequestLimits member_limits)
    : io_(io),
      log_(std::move(log)),
      audit_(audit),
      state_(state),
      registry_(registry),
      membership_(membership),
      on_abuse_(std::move(on_abuse)),
      limits_(std::move(limits)),
      member_requests_(std::make_shared<MemberRequests>(io, log_, audit, member_limits)) {}

sdk::RequestedStreamPtr StreamRouter::open(const std::string& peer, const std::string& type,
                                           nlohmann::json header, std::string body,
                                           const sdk::Requester& requester,
                                           const std::string& request_id, LibraryRef library) {
  auto fail = [&](const std::string& reason) -> sdk::RequestedStreamPtr {
    return std::make_shared<FailedStream>(io_, requester, reason, library);
  };
  if (!state_.config) return fail("Peer not found: " + peer);
  if (peer == state_.self_id()) return fail("Cannot exec on self (" + peer + ")");
  std::string reason;
  const SessionPtr session = membership_.route_to(peer, reason);
  if (!session) return fail(reason);
  const auto sid = session->next_sid();
  auto stream = std::make_shared<ClientStream>(io_, session, sid, requester, request_id,
                                               std::move(library), limits_);
  routes_[session.get()].opened[sid] = {stream, peer};
  nlohmann::json open = {{"t", msg::kOpen}, {"sid", sid},        {"to", peer},
                         {"type", type},    {"rid", request_id}, {"req", std::move(header)}};
  // Windows grow only where every hop understands it: our session here, the server's answer.
  if (session->protocol >= wire::kGrowingWindowsProtocol) open["grow"] = true;
  session->send(open, body);
  return stream;
}

void StreamRouter::on_open(const SessionPtr& session, wire::Frame& frame) {
  const auto sid = wire::uint_field(frame.header, "sid", 0);
  if (wire::opened_by_tls_client(sid) == session->is_tls_client() || sid == 0)
    throw wire::FrameError("stream id of the wrong side");
  const auto& r = routes_[session.get()];
  if (r.served.contains(sid) || r.relayed.contains(sid)) throw wire::FrameError("stream id reused");
  const std::string to = wire::string_field(frame.header, "to", "");
  wire::string_field(frame.header, "type", "");
  if (auto req = frame.header.find("req"); req != frame.header.end() && !req->is_object())
    throw wire::FrameError("'req' must be an object");
  if (state_.is_worker()) {
    if (to != state_.self_id()) return refuse_stream(session, sid, "Peer not found: " + to);
    // On a direct session the requester is whoever the certificate says, never a JSON field;
    // on the session to the leader, the leader stamps who really asked.
    if (session->direct) return serve_locally(session, sid, session->id, frame);
    const std::string from = wire::string_field(frame.header, "from", session->id);
    return serve_locally(session, sid, from, frame);
  }
  // Leader: the requester is whoever this session's certificate says; never a JSON field.
  if (to == state_.self_id()) return serve_locally(session, sid, session->id, frame);
  const SessionPtr other = membership_.worker(to);  // a copy: the send below may close it
  if (!other)
    return refuse_stream(
        session, sid,
        (state_.members.contains(to) ? "Peer is offline: " : "Peer not found: ") + to);
  relay_open(session, sid, other, frame);
}

void StreamRouter::relay_open(const SessionPtr& session, std::uint64_t sid, const SessionPtr& other,
                              wire::Frame& frame) {
  auto& mine = routes_[session.get()];
  if (mine.relayed.size() >= kMaxRelayedStreamsPerSession)
    return refuse_stream(session, sid, "Too many relayed streams open");
  const auto sent = mine.sent;
  if (sent->bytes > kRelayMaxQueuedPerSender)
    return cut_relay_sender(session, sid, "more than its receivers read");
  const auto other_sid = other->next_sid();
  auto state = std::make_shared<RelayState>();
  auto queued = std::make_shared<QueueCharge>();
  mine.relayed[sid] = {other, other_sid, state, queued};
  routes_[other.get()].relayed[other_sid] = {session, sid, state, std::make_shared<QueueCharge>()};
  frame.header["sid"] = other_sid;
  frame.header["from"] = session->id;
  other->send_charged(frame.header, std::move(frame.body), queued, sent);
}

void StreamRouter::on_stream_frame(const SessionPtr& session, wire::Frame& frame) {
  const auto sid = wire::uint_field(frame.header, "sid", 0);
  const std::string& type = frame.type();
  // Who opened the stream decides what may flow which way; the leader checks relayed frames so
  // one worker cannot feed another anything its own side of the stream could not send.
  const bool opened_here = wire::opened_by_tls_client(sid) == session->is_tls_client();
  const bool from_requester = !opened_here;
  if (!stream_frame_allowed(type, wire::int_field(frame.header, "ch", -1), from_requester)) {
    // A member that feeds a stream what its side may not send is abusing it: cut it off (one log
    // line, not one per frame).
    log_->warn("peer {} sent '{}' the wrong way on stream {}: closing its session", session->id,
               escape_untrusted(type), sid);
    return session->close("sent '" + type + "' the wrong way on stream " + std::to_string(sid));
  }
  if (routes_[session.get()].relayed.contains(sid))
    return relay_frame(session, sid, from_requester, frame);
  if (opened_here) return deliver_opened(session, sid, frame);
  deliver_served(session, sid, frame);
}

void StreamRouter::relay_frame(const SessionPtr& session, std::uint64_t sid, bool from_requester,
                               wire::Frame& frame) {
  auto& r = routes_[session.get()];
  auto relay = r.relayed.find(sid);
  const std::string& type = frame.type();
  // Copies: a send below may close a session, and on_session_lost edits these routes.
  const auto other = relay->second.other.lock();
  const auto other_sid = relay->second.other_sid;
  const auto queued = relay->second.queued;
  const auto sent = r.sent;
  // Credit is checked here, on every relayed frame: a member may not make the leader buffer
  // more than a window per stream, nor fill another member's connection.
  const std::uint64_t credit = type == msg::kCredit ? wire::uint_field(frame.header, "n", 0) : 0;
  if (auto offence =
          check_relayed(*relay->second.state, from_requester, type, frame.body.size(), credit))
    return cut_relay_sender(session, sid, *offence);
  if (queued->bytes > kRelayMaxQueuedPerStream || sent->bytes > kRelayMaxQueuedPerSender)
    return cut_relay_sender(session, sid, "more than its receiver reads");
  if (type == msg::kResult) {
    unlink_relay(r, sid);
    if (frame.body.size() > kRelayMaxReason) frame.body.resize(kRelayMaxReason);
  }
  if (other) {
    frame.header["sid"] = other_sid;
    other->send_charged(frame.header, std::move(frame.body), queued, sent);
  }
}

void StreamRouter::deliver_opened(const SessionPtr& session, std::uint64_t sid,
                                  wire::Frame& frame) {
  auto& r = routes_[session.get()];
  auto it = r.opened.find(sid);
  if (it == r.opened.end()) return;  // late frame for a finished stream
  auto stream = it->second.stream;
  if (frame.type() == msg::kResult) r.opened.erase(it);
  try {
    stream->on_frame(std::move(frame));
  } catch (const std::exception& e) {
    // A misbehaving server ends only this stream.
    r.opened.erase(sid);
    session->send({{"t", msg::kCancel}, {"sid", sid}, {"signal", SIGTERM}});
    stream->on_lost(std::string("bad reply from peer: ") + e.what());
  }
}

void StreamRouter::deliver_served(const SessionPtr& session, std::uint64_t sid,
                                  wire::Frame& frame) {
  auto& r = routes_[session.get()];
  auto it = r.served.find(sid);
  if (it == r.served.end()) return;
  auto stream = it->second;
  try {
    stream->on_frame(std::move(frame));
  } catch (const std::exception& e) {
    stream->finish(sdk::Result::error(std::string("bad request: ") + e.what()));
  }
}

void StreamRouter::serve_locally(const SessionPtr& session, std::uint64_t sid,
                                 const std::string& from, const wire::Frame& frame) {
  const std::string type = wire::string_field(frame.header, "type", "");
  // Before any plugin runs: one member cannot take this daemon's time (or its audit log) away
  // from the others. Counted, not logged one by one.
  if (!member_requests_->admit(from))
    return refuse_stream(
        session, sid,
        fmt::format("busy: {} takes at most {} requests per second from {}", state_.self_id(),
                    member_requests_->limits().per_second, from));
  const PeerServiceEntry* service = registry_.find_service(type);
  if (service == nullptr)
    return refuse_stream(session, sid,
                         "Peer " + state_.self_id() + " does not offer '" + type + "'");
  std::weak_ptr<PeerSession> weak = session;
  auto transport = std::make_shared<PeerStreamTransport>(weak, sid, [this, weak, sid] {
    // Not inline: the stream is in the middle of finish().
    asio::post(io_, [this, weak, sid] {
      if (auto s = weak.lock())
        if (auto it = routes_.find(s.get()); it != routes_.end()) it->second.served.erase(sid);
    });
  });
  // The member is the certificate's; its local caller is what that member's daemon stamped.
  auto stream = std::make_shared<ServingStream>(
      io_, log_, audit_, transport,
      peer_requester(from, frame.header.value("req", nlohmann::json::object())),
      wire::string_field(frame.header, "rid", ""));
  // Who it runs as, when the request names a user (d-ssh's user@): part of what was asked.
  std::string as_user;
  if (const auto req = frame.header.find("req"); req != frame.header.end() && req->is_object() &&
                                                 req->contains("user") &&
                                                 (*req)["user"].is_string())
    as_user = "user=" + printable_command({(*req)["user"].get<std::string>()}) + " ";
  stream->set_subject(type + " " + as_user + printable_command(wire::split_nul(frame.body)));
  stream->summarise_refusals_with(member_requests_);
  routes_[session.get()].served[sid] = stream;
  // The requester asked for growing windows and our hop understands them: say yes (credit 0).
  if (wire::bool_field(frame.header, "grow", false) &&
      session->protocol >= wire::kGrowingWindowsProtocol) {
    stream->enable_window_growth(limits_);
    transport->send({{"t", msg::kCredit}, {"n", 0}, {"grow", true}}, {});
  }
  start_service(stream, *service, type, frame);
}

void StreamRouter::start_service(const std::shared_ptr<ServingStream>& stream,
                                 const PeerServiceEntry& service, const std::string& type,
                                 const wire::Frame& frame) {
  const nlohmann::json request = frame.header.value("req", nlohmann::json::object());
  try {
    // A timeout from a peer is checked like one typed at `d`: out of range ends the request
    // (it would overflow the clock, or with 0 or less slip past the host's default timeout).
    if (request.contains("timeout_ms")) {
      const auto ms = wire::int_field(request, "timeout_ms", 0);
      if (ms <= 0 || ms > sdk::kMaxDuration.count())
        return stream->finish(sdk::Result::error(fmt::format(
            "bad request: timeout_ms must be from 1 to {}", sdk::kMaxDuration.count())));
      stream->arm_timeout(std::chrono::milliseconds(ms));
    }
    stream->keep_loaded(service.library);
    service.handler(stream, request, frame.body);
  } catch (const std::exception& e) {
    log_->error("peer service '{}' threw: {}", escape_untrusted(type), escape_untrusted(e.what()));
    stream->finish(sdk::Result::error(std::string("peer service failed: ") + e.what()));
  }
}

void StreamRouter::refuse_stream(const SessionPtr& session, std::uint64_t sid,
                                 const std::string& reason) {
  session->send({{"t", msg::kResult}, {"sid", sid}, {"kind", "error"}, {"code", 0}}, reason);
}

StreamRouter::Relay StreamRouter::unlink_relay(Routes& routes, std::uint64_t sid) {
  auto node = routes.relayed.extract(sid);
  if (node.empty()) return {};
  Relay mine = std::move(node.mapped());
  if (const auto other = mine.other.lock())
    if (auto o = routes_.find(other.get()); o != routes_.end())
      o->second.relayed.erase(mine.other_sid);
  return mine;
}

void StreamRouter::end_far_half(const SessionPtr& other, std::uint64_t other_sid,
                                const std::string& reason) {
  // Opened by the far side of `other` when its id has that side's parity.
  const bool other_opened = wire::opened_by_tls_client(other_sid) != other->is_tls_client();
  if (other_opened)
    other->send({{"t", msg::kResult}, {"sid", other_sid}, {"kind", "error"}, {"code", 0}}, reason);
  else
    other->send({{"t", msg::kCancel}, {"sid", other_sid}, {"signal", SIGHUP}});
}

void StreamRouter::cut_relay_sender(const SessionPtr& sender, std::uint64_t sid,
                                    const std::string& why) {
  log_->warn("peer {} sent {} on relayed stream {}: ending the stream and cutting {} off",
             sender->id, why, sid, sender->id);
  if (auto it = routes_.find(sender.get()); it != routes_.end()) {
    const Relay relay = unlink_relay(it->second, sid);
    if (const auto other = relay.other.lock())
      end_far_half(other, relay.other_sid, "Relayed stream ended: " + sender->id + " sent " + why);
  }
  sender->close("relay abuse: sent " + why);
  if (on_abuse_) on_abuse_();
}

bool StreamRouter::carries_streams(const PeerSession& session) const {
  const auto it = routes_.find(&session);
  if (it == routes_.end()) return false;
  const Routes& r = it->second;
  return !r.opened.empty() || !r.served.empty() || !r.relayed.empty();
}

void StreamRouter::on_session_lost(const SessionPtr& session) {
  auto node = routes_.extract(session.get());
  if (node.empty()) return;
  Routes& r = node.mapped();
  for (auto& [sid, opened] : r.opened)
    opened.stream->on_lost("Connection to peer lost: " + opened.peer);
  for (auto& [sid, stream] : r.served) stream->on_transport_lost();
  for (auto& [sid, relay] : r.relayed) {
    auto other = relay.other.lock();
    if (!other) continue;
    // find, not []: `other` may itself be closing (a send below can close it), and an entry
    // made for it now would outlive it, keyed by a dangling address.
    if (auto o = routes_.find(other.get()); o != routes_.end())
      o->second.relayed.erase(relay.other_sid);
    end_far_half(other, relay.other_sid, "Connection to peer lost: " + session->id);
  }
}

}  // namespace automatelinux::core::peer
