// Gathers audit records from several hosts for one `auditLog` request: this host's straight from
// its log, other members' through "audit.read" requests. The stored records are merged in time
// order (the newest `limit`) and printed once every host has caught up or failed; when following,
// new records are printed as they arrive, and a host that drops out is asked again every few
// seconds from where it left off.
//
// A member speaks only for itself: a record from member M whose "host" is not M is dropped, and
// counted in one stderr line per member. Every other record is kept, also one whose time is
// earlier than the line before it in the file (a clock stepped back): the stored ones are shown
// sorted by time, stable (equal times keep file order); live ones as they come.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <automatelinux/sdk/sdk.hpp>

#include "audit_feed.hpp"
#include "line_writer.hpp"

namespace automatelinux::audit_log {

class Gather : public std::enable_shared_from_this<Gather> {
 public:
  static constexpr std::chrono::seconds kRetry{2};

  Gather(sdk::Host& host, sdk::ServedStreamPtr stream, std::vector<std::string> hosts,
         FeedRequest request, bool json);
  void start();

 private:
  struct Source {
    std::string id;
    bool local = false;
    std::shared_ptr<void> subscription;  // local, following
    sdk::RequestedStreamPtr remote;
    std::string partial;     // a remote line not yet complete
    bool caught_up = false;  // its stored records are in
    bool ended = false;      // answered in full, or failed (not following)
    std::string failure;
    std::string last_time;            // the newest record seen, to resume from
    std::set<std::string> last_seen;  // records seen with exactly that time
    std::size_t foreign = 0;          // records naming another host, not yet reported
    sdk::TimerPtr retry;
  };

  void open(std::size_t index);
  void open_remote(std::size_t index, FeedRequest request);
  void read_remote(std::size_t index, const sdk::RequestedStreamPtr& remote);
  FeedRequest request_for(const Source& source) const;
  void on_line(std::size_t index, const std::string& line);
  void on_record(std::size_t index, const std::string& record);
  void on_caught_up(std::size_t index);
  void on_remote_result(std::size_t index, const sdk::Result& result);
  void report_foreign(Source& source);
  void print_backlog();
  void print(const std::string& record);
  void maybe_finish();
  void stop(int signal);

  sdk::Host& host_;
  sdk::ServedStreamPtr stream_;
  std::vector<Source> sources_;
  FeedRequest request_;
  bool json_;
  std::shared_ptr<LineWriter> out_, err_;
  std::vector<std::string> backlog_;
  bool live_ = false;  // the backlog is printed: records now print as they come
  bool stopped_ = false;
};

}  // namespace automatelinux::audit_log
