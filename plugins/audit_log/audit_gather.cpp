#include "audit_gather.hpp"

#include <algorithm>
#include <csignal>
#include <utility>

#include "audit_service.hpp"
#include "record_text.hpp"

namespace automatelinux::audit_log {
namespace {

constexpr std::size_t kMaxLine = 1024 * 1024;  // a record longer than this is not one of ours

}  // namespace

Gather::Gather(sdk::Host& host, sdk::ServedStreamPtr stream, std::vector<std::string> hosts,
               FeedRequest request, bool json)
    : host_(host),
      stream_(std::move(stream)),
      request_(std::move(request)),
      json_(json),
      out_(std::make_shared<LineWriter>(stream_, sdk::Channel::out)),
      err_(std::make_shared<LineWriter>(stream_, sdk::Channel::err)) {
  const std::string self = host.peers().local().id.value_or("");
  for (auto& id : hosts) {
    Source source;
    source.local = id == self || id.empty();
    source.id = std::move(id);
    sources_.push_back(std::move(source));
  }
}

void Gather::start() {
  stream_->on_cancel([self = shared_from_this()](int signal) { self->stop(signal); });
  for (std::size_t i = 0; i < sources_.size(); ++i) open(i);
}

// Resuming after a drop-out: from the newest record seen (those of that very millisecond that
// were already shown are skipped), with no limit.
FeedRequest Gather::request_for(const Source& source) const {
  FeedRequest request = request_;
  if (const auto last = sdk::parse_audit_time(source.last_time)) {
    request.query.since = *last;
    request.query.limit = 0;
  }
  return request;
}

void Gather::open(std::size_t index) {
  auto& source = sources_[index];
  if (!source.local) return open_remote(index, request_for(source));
  auto self = shared_from_this();
  source.subscription = feed(
      host_.audit(), request_for(source),
      [self, index](std::vector<std::string> stored) {
        for (auto& record : stored) self->on_record(index, record);
        self->on_caught_up(index);
      },
      [self, index](const std::string& record) { self->on_record(index, record); });
  if (!request_.follow) {
    source.ended = true;
    maybe_finish();
  }
}

void Gather::open_remote(std::size_t index, FeedRequest request) {
  auto& source = sources_[index];
  auto remote = host_.open_peer_stream(source.id, kReadService, request.to_header(), {}, *stream_);
  source.remote = remote;
  source.partial.clear();
  remote->close(sdk::Channel::in);
  remote->on_result([self = shared_from_this(), index, remote](const sdk::Result& result) {
    if (self->sources_[index].remote == remote) self->on_remote_result(index, result);
  });
  read_remote(index, remote);
}

void Gather::read_remote(std::size_t index, const sdk::RequestedStreamPtr& remote) {
  remote->read(sdk::Channel::out,
               [self = shared_from_this(), index, remote](std::string_view data, bool eof) {
                 auto& source = self->sources_[index];
                 if (eof || source.remote != remote) return;
                 source.partial.append(data);
                 std::size_t start = 0;
                 for (auto nl = source.partial.find('\n'); nl != std::string::npos;
                      nl = source.partial.find('\n', start)) {
                   self->on_line(index, source.partial.substr(start, nl - start));
                   start = nl + 1;
                 }
                 source.partial.erase(0, start);
                 if (source.partial.size() > kMaxLine) return remote->cancel(SIGTERM);
                 self->read_remote(index, remote);
               });
}

void Gather::on_line(std::size_t index, const std::string& line) {
  if (line == kCaughtUpLine) return on_caught_up(index);
  on_record(index, line);
}

void Gather::on_record(std::size_t index, const std::string& record) {
  auto& source = sources_[index];
  // Only whole JSON objects with a time are records: nothing a host sends becomes two lines.
  const std::string time = sdk::audit_record_time(record);
  if (time.empty()) return;
  const auto parsed = nlohmann::json::parse(record, nullptr, false);
  if (!parsed.is_object()) return;
  // A member can lie about its own history, never about another's. This host's own file is its
  // root's (out of the threat model), so only records from members are checked. An empty host
  // is the member's own, written before it had an id: it names no one else.
  if (!source.local) {
    const auto host = parsed.find("host");
    if (host == parsed.end() || !host->is_string() ||
        (!host->get_ref<const std::string&>().empty() && *host != source.id)) {
      ++source.foreign;
      if (live_) report_foreign(source);
      return;
    }
  }
  // Kept whatever its time: a record older than the newest seen (a clock stepped back) is shown
  // at its time, not dropped. Only a resumed request repeats records, all of them at `last_time`
  // (it asks from that time on), so that is the one time duplicates are looked for.
  if (time > source.last_time) {
    source.last_time = time;
    source.last_seen.clear();
  }
  if (time == source.last_time && !source.last_seen.insert(record).second) return;
  if (live_) return print(record);
  backlog_.push_back(record);
}

void Gather::report_foreign(Source& source) {
  if (source.foreign == 0) return;
  const std::size_t n = std::exchange(source.foreign, 0);
  err_->write("d: " + sdk::escape_untrusted(source.id) + " sent " + std::to_string(n) +
              (n == 1 ? " record" : " records") + " claiming another host; ignored");
}

void Gather::on_caught_up(std::size_t index) {
  sources_[index].caught_up = true;
  if (live_ || !std::all_of(sources_.begin(), sources_.end(),
                            [](const Source& s) { return s.caught_up || s.ended; }))
    return;
  print_backlog();
}

void Gather::on_remote_result(std::size_t index, const sdk::Result& result) {
  auto& source = sources_[index];
  source.remote.reset();
  if (stopped_) return;
  const bool failed = !(result.kind == sdk::Result::Kind::exited && result.code == 0);
  const std::string reason = result.reason.empty() ? "no answer" : result.reason;
  if (request_.follow) {
    // Said once per kind of failure, not every retry; asked again from where it left off.
    if (source.failure != reason) err_->write(reason + " (retrying every 2s)");
    source.failure = reason;
    if (!source.retry) source.retry = host_.make_timer();
    source.retry->start(kRetry, [self = shared_from_this(), index] {
      if (!self->stopped_) self->open_remote(index, self->request_for(self->sources_[index]));
    });
    return on_caught_up(index);  // a host that is away does not hold back the others
  }
  source.ended = true;
  if (failed) {
    source.failure = reason;
    err_->write(reason);
  }
  on_caught_up(index);
  maybe_finish();
}

void Gather::print_backlog() {
  for (auto& source : sources_) report_foreign(source);
  std::stable_sort(backlog_.begin(), backlog_.end(), [](const auto& a, const auto& b) {
    return sdk::audit_record_time(a) < sdk::audit_record_time(b);
  });
  const std::size_t limit = request_.query.limit;
  if (limit > 0 && backlog_.size() > limit)
    backlog_.erase(backlog_.begin(), backlog_.end() - static_cast<std::ptrdiff_t>(limit));
  std::vector<std::string> lines;
  lines.reserve(backlog_.size());
  for (auto& record : backlog_) {
    if (json_) {
      lines.push_back(terminal_safe_json(record));
    } else {
      lines.push_back(record_line(nlohmann::json::parse(record)));
    }
  }
  backlog_.clear();
  out_->write_stored(std::move(lines));
  live_ = true;
  maybe_finish();
}

void Gather::print(const std::string& record) {
  const bool kept =
      out_->write(json_ ? terminal_safe_json(record) : record_line(nlohmann::json::parse(record)));
  if (!kept) {
    stream_->finish(sdk::Result::error("auditLog: output not read: too many records waiting"));
    stop(SIGTERM);
  }
}

void Gather::maybe_finish() {
  if (request_.follow || !live_ || stream_->finished() ||
      !std::all_of(sources_.begin(), sources_.end(), [](const Source& s) { return s.ended; }))
    return;
  std::vector<std::string> failed;
  for (const auto& s : sources_)
    if (!s.failure.empty()) failed.push_back(s.id);
  out_->when_drained([self = shared_from_this(), failed] {
    self->err_->when_drained([self, failed] {
      if (failed.empty()) return self->stream_->finish(sdk::Result::exited(0));
      std::string names;
      for (const auto& id : failed) names += (names.empty() ? "" : ", ") + id;
      self->stream_->finish(sdk::Result::error(std::to_string(failed.size()) + " of " +
                                               std::to_string(self->sources_.size()) +
                                               " peers did not answer: " + names));
    });
  });
}

void Gather::stop(int signal) {
  if (stopped_) return;
  stopped_ = true;
  for (auto& source : sources_) {
    source.subscription.reset();
    if (source.retry) source.retry->cancel();
    if (auto remote = std::exchange(source.remote, {})) remote->cancel(signal);
  }
  if (!stream_->finished()) stream_->finish(sdk::Result::cancelled());
}

}  // namespace automatelinux::audit_log
