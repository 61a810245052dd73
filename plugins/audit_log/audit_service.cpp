#include "audit_service.hpp"

#include <stdexcept>

#include "audit_feed.hpp"
#include "line_writer.hpp"

namespace automatelinux::audit_log {
namespace {

// One reader: its writer and, when following, its subscription (released on cancel or overflow,
// which also breaks the cycle through the subscription's handler).
struct Reader {
  sdk::ServedStreamPtr stream;
  std::shared_ptr<LineWriter> writer;
  std::shared_ptr<void> subscription;

  void send(const std::string& record) {
    if (stream->finished()) return;
    if (!writer->write(record)) {
      subscription.reset();
      stream->finish(sdk::Result::error("audit reader too slow: records were not taken in time"));
    }
  }
};

}  // namespace

ReadPolicy ReadPolicy::from_json(const nlohmann::json& section) {
  ReadPolicy policy;
  if (!section.is_object() || !section.contains("allowed_peers")) return policy;
  const auto& list = section["allowed_peers"];
  if (!list.is_array()) throw std::runtime_error("audit.allowed_peers must be a list of peer ids");
  policy.allowed_peers.emplace();
  for (const auto& id : list) {
    if (!id.is_string()) throw std::runtime_error("audit.allowed_peers must contain only peer ids");
    policy.allowed_peers->insert(id.get<std::string>());
  }
  return policy;
}

void serve_read(sdk::Host& host, const ReadPolicy& policy, const sdk::ServedStreamPtr& stream,
                const nlohmann::json& header) {
  const std::string self = host.peers().local().id.value_or("this peer");
  const std::string& peer = stream->requester().peer;
  if (!peer.empty() && policy.allowed_peers && !policy.allowed_peers->contains(peer)) {
    stream->describe_for_audit({.directory = {}, .denied = true, .job = {}});
    return sdk::fail(stream, "Denied on " + self + ": peer '" + peer +
                                 "' may not read the audit log (audit.allowed_peers)");
  }
  // A member reads for a caller who is root on its own host, as `d auditLog` needs there.
  if (!peer.empty() && !stream->requester().root) {
    stream->describe_for_audit({.directory = {}, .denied = true, .job = {}});
    return sdk::fail(stream,
                     "Denied on " + self + ": only root on " + peer + " may read the audit log");
  }
  const auto request = FeedRequest::from_header(header);
  if (!request) return sdk::fail(stream, "bad request: malformed audit.read request");

  auto reader = std::make_shared<Reader>();
  reader->stream = stream;
  reader->writer = std::make_shared<LineWriter>(stream, sdk::Channel::out);
  reader->subscription = feed(
      host.audit(), *request,
      [reader](std::vector<std::string> stored) {
        stored.push_back(kCaughtUpLine);
        reader->writer->write_stored(std::move(stored));
      },
      [reader](const std::string& record) { reader->send(record); });
  if (!request->follow) {
    reader->writer->when_drained([stream] {
      stream->close(sdk::Channel::out);
      stream->finish(sdk::Result::exited(0));
    });
    return;
  }
  stream->on_cancel([reader](int) {
    reader->subscription.reset();
    reader->stream->finish(sdk::Result::cancelled());
  });
}

}  // namespace automatelinux::audit_log
