#include "audit_feed.hpp"

namespace automatelinux::audit_log {
namespace {

using Clock = std::chrono::system_clock;

std::int64_t to_ms(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// A time field of the header: absent, or milliseconds since the epoch.
bool read_time(const nlohmann::json& header, const char* key,
               std::optional<Clock::time_point>& out) {
  const auto it = header.find(key);
  if (it == header.end() || it->is_null()) return true;
  if (!it->is_number_integer()) return false;
  out = Clock::time_point(std::chrono::milliseconds(it->get<std::int64_t>()));
  return true;
}

}  // namespace

nlohmann::json FeedRequest::to_header() const {
  nlohmann::json header = {{"limit", query.limit}, {"follow", follow}};
  if (query.since) header["since_ms"] = to_ms(*query.since);
  if (query.until) header["until_ms"] = to_ms(*query.until);
  return header;
}

std::optional<FeedRequest> FeedRequest::from_header(const nlohmann::json& header) {
  FeedRequest request;
  if (!read_time(header, "since_ms", request.query.since) ||
      !read_time(header, "until_ms", request.query.until))
    return std::nullopt;
  const auto limit = header.find("limit");
  if (limit != header.end() && !limit->is_number_unsigned()) return std::nullopt;
  if (limit != header.end()) request.query.limit = limit->get<std::size_t>();
  const auto follow = header.find("follow");
  if (follow != header.end() && !follow->is_boolean()) return std::nullopt;
  request.follow = follow != header.end() && follow->get<bool>();
  return request;
}

std::shared_ptr<void> feed(sdk::AuditLog& log, const FeedRequest& request,
                           const std::function<void(std::vector<std::string>)>& on_stored,
                           RecordSink on_record) {
  // Reading and subscribing happen in one turn of the event loop, and records reach followers
  // only in a later turn: nothing is missed or seen twice between the two.
  on_stored(log.read(request.query));
  if (!request.follow) return nullptr;
  return log.subscribe(std::move(on_record));
}

}  // namespace automatelinux::audit_log
