// A listening socket for peer connections, shared by the leader's listener and a worker's direct
// sessions: it accepts behind the pre-authentication gate (connections at once, in total and per
// address) and the descriptor reserve, pauses when accept itself fails instead of spinning, and
// hands each connection it admits on with its gate slot (held until the owner lets it go).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/asio.hpp"
#include "core/peer/peer_session.hpp"
#include "core/peer/preauth_limits.hpp"

namespace automatelinux::core::peer {

class GatedAcceptor {
 public:
  using OnConnection = std::function<void(Tcp::socket, std::shared_ptr<PreauthGate::Slot>)>;
  // A connection refused, or accept failing: one line for the log.
  using OnRefused = std::function<void(const std::string& line)>;

  GatedAcceptor(asio::io_context& io, std::shared_ptr<PreauthGate> gate, OnConnection on_connection,
                OnRefused on_refused);

  // Listens on HOST:PORT (an IP address); throws when it cannot.
  void start(const std::string& listen);
  void stop();
  bool listening() const { return acceptor_ != nullptr; }

 private:
  void do_accept();
  void on_accept(const Tcp::acceptor* acceptor, boost::system::error_code ec, Tcp::socket socket);

  asio::io_context& io_;
  std::shared_ptr<PreauthGate> gate_;
  OnConnection on_connection_;
  OnRefused on_refused_;
  std::unique_ptr<Tcp::acceptor> acceptor_;
};

}  // namespace automatelinux::core::peer
