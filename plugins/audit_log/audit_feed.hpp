// This host's records for one reader — the stored ones that match a query, then, when following,
// each new one as it is appended — and how such a request travels to a peer (the header of an
// "audit.read" request).
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include <automatelinux/sdk/sdk.hpp>

namespace automatelinux::audit_log {

struct FeedRequest {
  sdk::AuditQuery query;
  bool follow = false;

  nlohmann::json to_header() const;
  // Nullopt when a field is malformed.
  static std::optional<FeedRequest> from_header(const nlohmann::json& header);
};

using RecordSink = std::function<void(const std::string& record)>;

// Hands the stored records to `on_stored`; when following, every later record goes to `on_record`
// for as long as the returned handle is held (null when not following).
std::shared_ptr<void> feed(sdk::AuditLog& log, const FeedRequest& request,
                           const std::function<void(std::vector<std::string>)>& on_stored,
                           RecordSink on_record);

}  // namespace automatelinux::audit_log
