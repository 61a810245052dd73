#include "fanout.hpp"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstring>

#include <fmt/format.h>

namespace automatelinux::peer_exec {
namespace {

constexpr std::size_t kJsonCap = 1024 * 1024;             // per peer and channel
constexpr std::uint64_t kSpoolCap = 64ULL * 1024 * 1024;  // per peer and channel
constexpr std::chrono::milliseconds kIdleFlush{200};
constexpr std::size_t kCopyChunk = 64 * 1024;

bool starts_with(const std::string& text, const char* prefix) {
  return text.rfind(prefix, 0) == 0;
}

bool same_file_contents(std::FILE* a, std::FILE* b) {
  if (a == nullptr || b == nullptr) return a == b;
  std::rewind(a);
  std::rewind(b);
  char x[8192], y[8192];
  while (true) {
    const auto n = std::fread(x, 1, sizeof x, a);
    const auto m = std::fread(y, 1, sizeof y, b);
    if (n != m || std::memcmp(x, y, n) != 0) return false;
    if (n == 0) return true;
  }
}

}  // namespace

PeerOutcome peer_outcome(const sdk::Result& result) {
  using Kind = sdk::Result::Kind;
  const int status = sdk::exit_status(result);
  switch (result.kind) {
    case Kind::exited:
      return {"exited", status, fmt::format("exit {}", result.code)};
    case Kind::signaled:
      return {"signaled", status, fmt::format("signal {}", result.code)};
    case Kind::timeout:
      return {"timeout", status, "timeout"};
    case Kind::cancelled:
      return {"cancelled", status, "cancelled"};
    case Kind::error:
      break;
  }
  const std::string& why = result.reason;
  if (starts_with(why, "Peer is offline")) return {"offline", status, "offline"};
  if (starts_with(why, "Peer not found")) return {"not_found", status, "not found"};
  if (starts_with(why, "Denied on")) return {"denied", status, "denied"};
  if (starts_with(why, "Connection to peer lost")) return {"lost", status, "lost"};
  return {"error", status, "error"};
}

Fanout::Fanout(sdk::Host& host, sdk::ServedStreamPtr local, FanoutRequest request)
    : host_(host), local_(std::move(local)), request_(std::move(request)) {
  for (const auto& id : request_.peers) {
    auto target = std::make_unique<Target>();
    target->id = id;
    target->out = std::make_unique<Capture>(id + ": ");
    target->err = std::make_unique<Capture>(id + ": ");
    targets_.push_back(std::move(target));
  }
}

Fanout::~Fanout() {
  for (auto& t : targets_)
    for (auto* c : {t->out.get(), t->err.get()})
      if (c->spool != nullptr) std::fclose(c->spool);
}

void Fanout::start() {
  local_->on_cancel([self = shared_from_this()](int signal) { self->on_cancel(signal); });
  launch_more();
}

Fanout::Capture& Fanout::capture(Target& target, sdk::Channel channel) {
  return channel == sdk::Channel::err ? *target.err : *target.out;
}

void Fanout::launch_more() {
  while (!cancelled_ && next_ < targets_.size() && running_ < request_.fanout) {
    ++running_;
    launch(next_++);
  }
  if (finished_ == targets_.size()) finish_all();
}

void Fanout::launch(std::size_t index) {
  Target& target = *targets_[index];
  target.started = std::chrono::steady_clock::now();
  target.out->idle = host_.make_timer();
  target.err->idle = host_.make_timer();
  if (request_.output == FanoutRequest::Output::grouped) {
    target.out->spool = std::tmpfile();
    target.err->spool = std::tmpfile();
  }
  target.remote =
      host_.open_peer_stream(target.id, "exec", request_.header, request_.body, *local_);
  target.remote->close(sdk::Channel::in);  // fan-out never forwards stdin
  target.remote->on_result([self = shared_from_this(), index](const sdk::Result& result) {
    self->targets_[index]->result = result;
    self->maybe_done(index);
  });
  read_next(index, sdk::Channel::out);
  read_next(index, sdk::Channel::err);
}

void Fanout::read_next(std::size_t index, sdk::Channel channel) {
  targets_[index]->remote->read(
      channel, [self = shared_from_this(), index, channel](std::string_view data, bool eof) {
        self->on_output(index, channel, data, eof);
      });
}

void Fanout::on_output(std::size_t index, sdk::Channel channel, std::string_view data, bool eof) {
  Target& target = *targets_[index];
  Capture& c = capture(target, channel);
  if (eof) {
    c.eof = true;
    c.idle->cancel();
    if (auto rest = c.lines.flush();
        !rest.empty() && request_.output == FanoutRequest::Output::prefixed)
      emit({channel, std::move(rest), nullptr, {}});
    return maybe_done(index);
  }
  switch (request_.output) {
    case FanoutRequest::Output::json: {
      const std::size_t room = kJsonCap - c.text.size();
      c.text.append(data.substr(0, room));
      if (data.size() > room) c.truncated = true;
      return read_next(index, channel);
    }
    case FanoutRequest::Output::grouped: {
      const std::uint64_t room = kSpoolCap - std::min(kSpoolCap, c.spooled);
      const std::size_t keep = static_cast<std::size_t>(std::min<std::uint64_t>(room, data.size()));
      if (c.spool == nullptr || std::fwrite(data.data(), 1, keep, c.spool) != keep)
        c.dropped += keep;
      else if (keep > 0)
        c.spool_ends_line = data[keep - 1] == '\n';
      c.spooled += keep;
      c.dropped += data.size() - keep;
      return read_next(index, channel);
    }
    case FanoutRequest::Output::prefixed:
      break;
  }
  std::string lines = c.lines.feed(data);
  if (c.lines.has_partial()) {
    // A partial line that stays idle is written anyway, so slow progress output still shows.
    c.idle->start(kIdleFlush, [self = shared_from_this(), index, channel] {
      auto& cap = self->capture(*self->targets_[index], channel);
      if (auto rest = cap.lines.flush(); !rest.empty())
        self->emit({channel, std::move(rest), nullptr, {}});
    });
  } else {
    c.idle->cancel();
  }
  if (lines.empty()) return read_next(index, channel);
  emit({channel, std::move(lines), nullptr,
        [self = shared_from_this(), index, channel] { self->read_next(index, channel); }});
}

void Fanout::maybe_done(std::size_t index) {
  Target& target = *targets_[index];
  if (target.done || !target.result || !target.out->eof || !target.err->eof) return;
  target.done = true;
  target.duration_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - target.started)
          .count();
  target.remote.reset();  // releases the stream (and its callbacks) now
  if (request_.output == FanoutRequest::Output::json) {
    emit({sdk::Channel::out, json_record(target) + "\n", nullptr, {}});
  } else if (target.result->kind == sdk::Result::Kind::error) {
    // Reported as it happens, so one dead peer never hides behind the others.
    emit({sdk::Channel::err, target.id + ": " + target.result->reason + "\n", nullptr, {}});
  }
  ++finished_;
  --running_;
  launch_more();
}

std::string Fanout::json_record(const Target& target) const {
  const auto& r = *target.result;
  const auto outcome = peer_outcome(r);
  nlohmann::json j = {
      {"peer", target.id},
      {"status", outcome.status},
      {"exit_code",
       r.kind == sdk::Result::Kind::exited ? nlohmann::json(r.code) : nlohmann::json()},
      {"signal", r.kind == sdk::Result::Kind::signaled ? nlohmann::json(r.code) : nlohmann::json()},
      {"reason", r.reason.empty() ? nlohmann::json() : nlohmann::json(r.reason)},
      {"duration_ms", std::round(target.duration_ms * 10) / 10},
      {"stdout", target.out->text},
      {"stderr", target.err->text},
      {"stdout_truncated", target.out->truncated},
      {"stderr_truncated", target.err->truncated}};
  // Output is bytes; JSON strings are UTF-8: invalid sequences become U+FFFD.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Fanout::on_cancel(int signal) {
  if (cancelled_) return;
  cancelled_ = true;
  for (auto& t : targets_)
    if (t->remote && !t->done) t->remote->cancel(signal);
  // Requests never started count as done: nothing will run them now.
  finished_ += targets_.size() - next_;
  next_ = targets_.size();
  if (finished_ == targets_.size()) finish_all();
}

std::vector<std::vector<std::size_t>> Fanout::identical_groups() const {
  std::vector<std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    const Target& t = *targets_[i];
    bool placed = false;
    for (auto& g : groups) {
      const Target& first = *targets_[g.front()];
      if (peer_outcome(*first.result).summary == peer_outcome(*t.result).summary &&
          first.result->reason == t.result->reason && first.out->spooled == t.out->spooled &&
          first.err->spooled == t.err->spooled && first.out->dropped == t.out->dropped &&
          first.err->dropped == t.err->dropped &&
          same_file_contents(first.out->spool, t.out->spool) &&
          same_file_contents(first.err->spool, t.err->spool)) {
        g.push_back(i);
        placed = true;
        break;
      }
    }
    if (!placed) groups.push_back({i});
  }
  return groups;
}

void Fanout::finish_all() {
  if (final_) return;
  if (cancelled_) {
    final_ = sdk::Result::cancelled();
    return end_when_drained();
  }
  if (request_.output == FanoutRequest::Output::grouped) {
    for (const auto& group : identical_groups()) {
      std::string names;
      for (auto i : group) names += (names.empty() ? "" : ", ") + targets_[i]->id;
      const Target& t = *targets_[group.front()];
      const auto outcome = peer_outcome(*t.result);
      const std::string header = fmt::format("── {} ({}) ──\n", names, outcome.summary);
      emit({sdk::Channel::out, header, nullptr, {}});
      for (auto* c : {t.out.get(), t.err.get()}) {
        const auto channel = c == t.out.get() ? sdk::Channel::out : sdk::Channel::err;
        if (c->spooled > 0 && c->spool != nullptr) {
          std::rewind(c->spool);
          emit({channel, {}, c->spool, {}});
          if (!c->spool_ends_line) emit({channel, "\n", nullptr, {}});
        }
        if (c->dropped > 0)
          emit({channel, fmt::format("[d: {} bytes dropped]\n", c->dropped), nullptr, {}});
      }
    }
  }
  int status = 0;
  std::vector<std::string> failures;
  for (const auto& t : targets_) {
    const auto outcome = peer_outcome(*t->result);
    status = std::max(status, outcome.exit_status);
    if (outcome.exit_status != 0) failures.push_back(t->id + " " + outcome.summary);
  }
  std::string summary;
  if (!failures.empty() || !request_.skipped.empty()) {
    std::string list;
    for (const auto& f : failures) list += (list.empty() ? "" : ", ") + f;
    summary = fmt::format("{} of {} peers failed{}{}", failures.size(), targets_.size(),
                          list.empty() ? "" : ": ", list);
    if (!request_.skipped.empty()) {
      std::string skipped;
      for (const auto& s : request_.skipped) skipped += (skipped.empty() ? "" : ", ") + s;
      summary += "; skipped (offline): " + skipped;
    }
  }
  if (status == sdk::kExitFailure) {
    // d prints an error reason as its last line, "d: …": that line is the summary.
    final_ = sdk::Result::error(summary);
  } else {
    if (!summary.empty()) emit({sdk::Channel::err, "d: " + summary + "\n", nullptr, {}});
    final_ = sdk::Result::exited(status);
  }
  end_when_drained();
}

void Fanout::emit(Emit item) {
  if (requester_gone_) {
    if (item.then) item.then();
    return;
  }
  queue_.push_back(std::move(item));
  if (!draining_) drain();
}

void Fanout::drain() {
  if (queue_.empty()) {
    draining_ = false;
    return end_when_drained();
  }
  draining_ = true;
  Emit& front = queue_.front();
  std::string chunk;
  bool last = true;
  if (front.file != nullptr) {
    chunk.resize(kCopyChunk);
    chunk.resize(std::fread(chunk.data(), 1, kCopyChunk, front.file));
    last = chunk.size() < kCopyChunk;
  } else {
    chunk = std::move(front.text);
  }
  local_->write(front.channel, std::move(chunk), [self = shared_from_this(), last](bool ok) {
    if (!ok) {
      // Our requester is gone: drop the output but keep the pumps reading, so every remote
      // request still runs to its end (it has been cancelled) and this object is released.
      self->requester_gone_ = true;
      self->draining_ = false;
      for (auto& item : std::exchange(self->queue_, {}))
        if (item.then) item.then();
      return;
    }
    if (last) {
      auto then = std::move(self->queue_.front().then);
      self->queue_.pop_front();
      if (then) then();
    }
    self->drain();
  });
}

void Fanout::end_when_drained() {
  if (!final_ || draining_ || !queue_.empty() || finished_ != targets_.size()) return;
  local_->finish(*final_);
}

}  // namespace automatelinux::peer_exec
