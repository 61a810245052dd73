#include "job_attach.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "job_files.hpp"

namespace automatelinux::peer_exec::jobs {
namespace {
constexpr std::size_t kChunk = 64 * 1024;  // one data frame's worth
}  // namespace

sdk::Result job_result(const JobState& state, const std::string& id) {
  if (state.state == "exited") return sdk::Result::exited(state.exit_code.value_or(0));
  if (state.state == "signaled" || state.state == "killed")
    return sdk::Result::signaled(state.signal.value_or(9));
  if (state.state == "timeout") return sdk::Result::timeout();
  return sdk::Result::error("Job lost: " + id);
}

JobAttach::JobAttach(sdk::Host& host, sdk::ServedStreamPtr stream, std::shared_ptr<JobStore> store,
                     std::uint64_t number, std::string id, bool follow)
    : stream_(std::move(stream)),
      store_(std::move(store)),
      number_(number),
      id_(std::move(id)),
      dir_(store_->dir(number)),
      follow_(follow),
      layout_(OutputLayout::for_cap(store_->spec(number)
                                        .value_or(nlohmann::json::object())
                                        .value("max_output_bytes",
                                               store_->limits().max_output_bytes))),
      watch_(DirWatch::create(host, dir_)) {}

void JobAttach::start() {
  auto self = shared_from_this();
  stream_->on_cancel([self](int) { self->finish(sdk::Result::cancelled()); });  // detach
  step(out_);
  step(err_);
}

bool JobAttach::open_segment(Cursor& cursor) {
  for (;;) {
    cursor.fd.reset(::open(segment_path(dir_, cursor.name, cursor.segment).c_str(),
                           O_RDONLY | O_CLOEXEC));
    if (cursor.fd) return true;
    // Missing: not written yet, or dropped to keep the cap. Only the latter has newer ones.
    const auto newest = tally_output(dir_, cursor.name, layout_).newest;
    if (cursor.segment == 0 || newest <= cursor.segment) return false;
    std::uint64_t next = cursor.segment + 1;
    while (next < newest && ::access(segment_path(dir_, cursor.name, next).c_str(), F_OK) != 0)
      ++next;
    const auto dropped = layout_.start(next) - cursor.position;
    std::string marker = cursor.last == '\n' ? "" : "\n";
    marker += "[d: " + std::to_string(dropped) + " bytes dropped]\n";
    cursor.segment = next;
    cursor.offset = 0;
    cursor.position = layout_.start(next);
    cursor.last = '\n';
    cursor.in_flight = true;
    stream_->write(cursor.channel, std::move(marker), [self = shared_from_this(), &cursor](bool ok) {
      cursor.in_flight = false;
      if (ok) self->step(cursor);
    });
    return false;
  }
}

void JobAttach::step(Cursor& cursor) {
  while (!finished_ && !cursor.done && !cursor.in_flight) {
    if (!cursor.fd && !open_segment(cursor)) {
      if (!cursor.in_flight) at_end(cursor);
      return;
    }
    std::string chunk(kChunk, '\0');
    const ssize_t n = ::pread(cursor.fd.get(), chunk.data(), chunk.size(),
                              static_cast<off_t>(cursor.offset));
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) {
      chunk.resize(static_cast<std::size_t>(n));
      cursor.offset += static_cast<std::uint64_t>(n);
      cursor.position += static_cast<std::uint64_t>(n);
      cursor.last = chunk.back();
      cursor.final_look = false;
      cursor.in_flight = true;  // the next read waits for the window: memory stays bounded
      stream_->write(cursor.channel, std::move(chunk), [self = shared_from_this(), &cursor](bool ok) {
        cursor.in_flight = false;
        if (ok) self->step(cursor);
      });
      return;
    }
    if (cursor.offset >= layout_.size(cursor.segment)) {  // full: the next one follows
      ++cursor.segment;
      cursor.offset = 0;
      cursor.fd.reset();
      continue;
    }
    return at_end(cursor);
  }
}

void JobAttach::at_end(Cursor& cursor) {
  if (!follow_ || cursor.final_look) return finish_channel(cursor);
  // status.json is written after the last byte: once it is there, one more read sees everything.
  if (!store_->state(number_).running()) {
    cursor.final_look = true;
    return step(cursor);
  }
  cursor.idle = true;
  wait_for_change();
}

void JobAttach::wait_for_change() {
  watch_->next([self = shared_from_this()] {
    for (Cursor* c : {&self->out_, &self->err_}) {
      if (c->done || !c->idle) continue;
      c->idle = false;
      self->step(*c);
    }
  });
}

void JobAttach::finish_channel(Cursor& cursor) {
  cursor.done = true;
  cursor.fd.reset();
  stream_->close(cursor.channel);
  if (!out_.done || !err_.done) return;
  const auto state = store_->state(number_);
  finish(state.running() ? sdk::Result::exited(0) : job_result(state, id_));
}

void JobAttach::finish(sdk::Result result) {
  if (finished_) return;
  finished_ = true;
  watch_->close();
  stream_->finish(std::move(result));
}

}  // namespace automatelinux::peer_exec::jobs
