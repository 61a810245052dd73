// A requesting-side stream that could not be opened: it reports its error through on_result.
#pragma once

#include <string>

#include "automatelinux/sdk/stream.hpp"
#include "core/asio.hpp"
#include "core/library_ref.hpp"

namespace automatelinux::core {

class FailedStream final : public sdk::RequestedStream,
                           public std::enable_shared_from_this<FailedStream> {
 public:
  FailedStream(asio::io_context& io, sdk::Requester requester, std::string reason,
               LibraryRef library = {})
      : library_(std::move(library)),
        io_(io),
        requester_(std::move(requester)),
        reason_(std::move(reason)) {}

  void write(sdk::Channel, std::string, WriteHandler done) override {
    post([done] { done(false); });
  }
  void close(sdk::Channel) override {}
  void read(sdk::Channel, ReadHandler handler) override {
    post([handler] { handler({}, true); });
  }
  void cancel(int) override {}
  void on_result(ResultHandler handler) override {
    post([handler, reason = reason_] { handler(sdk::Result::error(reason)); });
  }
  bool finished() const override { return true; }
  const sdk::Requester& requester() const override { return requester_; }
  const std::string& request_id() const override { return id_; }

 private:
  template <class F>
  void post(F f) {
    asio::post(io_, [self = shared_from_this(), f = std::move(f)] { f(); });
  }
  LibraryRef library_;  // the plugin that asked; released after the callbacks it gave
  asio::io_context& io_;
  sdk::Requester requester_;
  std::string reason_;
  std::string id_ = "-";
};

}  // namespace automatelinux::core
