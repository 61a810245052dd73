#include "core/peer/gated_acceptor.hpp"

#include <fmt/format.h>

#include "core/peer/cluster_state.hpp"

namespace automatelinux::core::peer {
namespace {

constexpr std::chrono::milliseconds kAcceptPause{200};

}  // namespace

GatedAcceptor::GatedAcceptor(asio::io_context& io, std::shared_ptr<PreauthGate> gate,
                             OnConnection on_connection, OnRefused on_refused)
    : io_(io),
      gate_(std::move(gate)),
      on_connection_(std::move(on_connection)),
      on_refused_(std::move(on_refused)) {}

void GatedAcceptor::start(const std::string& listen) {
  stop();
  const auto [host, port] = split_host_port(listen);
  const Tcp::endpoint endpoint(asio::ip::make_address(host), port);
  auto acceptor = std::make_unique<Tcp::acceptor>(io_);
  acceptor->open(endpoint.protocol());
  acceptor->set_option(asio::socket_base::reuse_address(true));
  acceptor->bind(endpoint);
  acceptor->listen();
  acceptor_ = std::move(acceptor);
  do_accept();
}

void GatedAcceptor::stop() {
  if (!acceptor_) return;
  boost::system::error_code ignored;
  acceptor_->close(ignored);
  acceptor_.reset();
}

void GatedAcceptor::do_accept() {
  if (!acceptor_) return;
  acceptor_->async_accept(
      [this, acceptor = acceptor_.get()](boost::system::error_code ec, Tcp::socket socket) {
        on_accept(acceptor, ec, std::move(socket));
      });
}

void GatedAcceptor::on_accept(const Tcp::acceptor* acceptor, boost::system::error_code ec,
                              Tcp::socket socket) {
  if (acceptor != acceptor_.get() || ec == asio::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors and the like: pause instead of spinning.
    on_refused_(fmt::format("peer accept failed: {}", ec.message()));
    auto pause = std::make_shared<asio::steady_timer>(io_, kAcceptPause);
    pause->async_wait([this, pause, acceptor](boost::system::error_code e) {
      if (!e && acceptor == acceptor_.get()) do_accept();
    });
    return;
  }
  // Descriptors near the limit stay for the local socket, established sessions and commands.
  boost::system::error_code ignored;
  const auto endpoint = socket.remote_endpoint(ignored);
  const std::string address = ignored ? "?" : endpoint.address().to_string();
  std::string why;
  std::shared_ptr<PreauthGate::Slot> slot;
  if (fd_in_reserve(socket.native_handle()))
    why = fmt::format("descriptors kept in reserve ({} below the limit)", fd_reserve());
  else
    slot = gate_->try_acquire(address, why);
  if (!slot) {
    socket.close(ignored);
    on_refused_(fmt::format("peer connection from {} refused: {}", address, why));
  } else {
    socket.set_option(Tcp::no_delay(true), ignored);
    on_connection_(std::move(socket), std::move(slot));
  }
  do_accept();
}

}  // namespace automatelinux::core::peer
