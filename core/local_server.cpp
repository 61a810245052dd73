#include "core/local_server.hpp"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "core/local_connection.hpp"

namespace automatelinux::core {
namespace {

using Protocol = asio::local::stream_protocol;

// True when something accepts connections at `path` — a live daemon we must not displace.
bool socket_is_live(asio::io_context& io, const std::filesystem::path& path) {
  Protocol::socket probe(io);
  boost::system::error_code ec;
  probe.connect(Protocol::endpoint(path.string()), ec);
  return !ec;
}

}  // namespace

LocalServer::LocalServer(asio::io_context& io, std::shared_ptr<spdlog::logger> log,
                         const Dispatcher& dispatcher)
    : io_(io), log_(std::move(log)), dispatcher_(dispatcher), acceptor_(io), retry_timer_(io) {}

LocalServer::~LocalServer() {
  stop();
}

void LocalServer::listen(const std::filesystem::path& path) {
  const auto dir = path.parent_path();
  if (!dir.empty() && !std::filesystem::exists(dir)) {
    std::filesystem::create_directories(dir);
    std::filesystem::permissions(dir, std::filesystem::perms(0750));
  }
  if (std::filesystem::exists(std::filesystem::symlink_status(path))) {
    if (socket_is_live(io_, path))
      throw std::runtime_error("another daemon is already serving " + path.string());
    log_->info("replacing stale socket file {}", path.string());
    std::filesystem::remove(path);
  }
  acceptor_.open(Protocol());
  acceptor_.bind(Protocol::endpoint(path.string()));
  path_ = path;
  if (::chmod(path.c_str(), 0660) != 0)
    throw std::runtime_error("cannot set mode 0660 on " + path.string());
  if (const group* g = ::getgrnam("automatelinux"); g != nullptr) {
    if (::chown(path.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0)
      log_->warn("cannot give {} to group automatelinux", path.string());
  }
  acceptor_.listen(asio::socket_base::max_listen_connections);
  log_->info("listening on {}", path.string());
  do_accept();
}

void LocalServer::do_accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, Protocol::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // EMFILE and friends: keep serving the clients we have and retry shortly, not in a spin.
      log_->warn("accept failed: {}", ec.message());
      retry_timer_.expires_after(std::chrono::milliseconds(200));
      retry_timer_.async_wait([this](boost::system::error_code e) {
        if (!e && acceptor_.is_open()) do_accept();
      });
      return;
    }
    auto connection = std::make_shared<LocalConnection>(std::move(socket), log_, dispatcher_);
    std::erase_if(connections_, [](const auto& weak) { return weak.expired(); });
    connections_.insert(connection);
    connection->start();
    do_accept();
  });
}

void LocalServer::stop() {
  if (!acceptor_.is_open()) return;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  retry_timer_.cancel();
  for (const auto& weak : connections_)
    if (auto connection = weak.lock()) connection->shutdown();
  connections_.clear();
  std::error_code ec;
  std::filesystem::remove(path_, ec);
  log_->info("stopped listening on {}", path_.string());
}

}  // namespace automatelinux::core
