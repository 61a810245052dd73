// The Unix-socket front door for `d`: one connection carries one request.
#pragma once

#include <filesystem>
#include <memory>
#include <set>

#include "core/asio.hpp"
#include "core/dispatcher.hpp"

namespace automatelinux::core {

class LocalConnection;

class LocalServer {
 public:
  LocalServer(asio::io_context& io, std::shared_ptr<spdlog::logger> log,
              const Dispatcher& dispatcher);
  ~LocalServer();

  // Binds `path` (0660, group automatelinux when it exists). Throws std::runtime_error if a live
  // daemon already answers there; a dead socket file is replaced.
  void listen(const std::filesystem::path& path);
  // Stops accepting, ends every open request and removes the socket file.
  void stop();

 private:
  void do_accept();

  asio::io_context& io_;
  std::shared_ptr<spdlog::logger> log_;
  const Dispatcher& dispatcher_;
  asio::local::stream_protocol::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  std::filesystem::path path_;
  std::set<std::weak_ptr<LocalConnection>, std::owner_less<>> connections_;
};

}  // namespace automatelinux::core
