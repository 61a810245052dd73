// GatedAcceptor on loopback: connections are handed on with a gate slot while the gate has room,
// refused with one line naming the address once it has not, and admitted again when a slot is
// given back.
#include "core/peer/gated_acceptor.hpp"

#include <gtest/gtest.h>

#include "tests/core/peer/session_pair.hpp"

using namespace automatelinux::core;
using namespace automatelinux::core::peer;
using namespace automatelinux::core::peer::test;
namespace asio = boost::asio;

namespace {

struct Listening {
  asio::io_context io;
  std::shared_ptr<PreauthGate> gate = std::make_shared<PreauthGate>(8, 2);  // 2 per address
  std::vector<std::shared_ptr<PreauthGate::Slot>> slots;
  std::vector<Tcp::socket> accepted;
  std::vector<std::string> refused;
  GatedAcceptor acceptor{io, gate,
                         [this](Tcp::socket socket, std::shared_ptr<PreauthGate::Slot> slot) {
                           accepted.push_back(std::move(socket));
                           slots.push_back(std::move(slot));
                         },
                         [this](const std::string& line) { refused.push_back(line); }};
  std::uint16_t port = 0;

  Listening() {
    {
      Tcp::acceptor probe(io, Tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
      port = probe.local_endpoint().port();
    }
    acceptor.start("127.0.0.1:" + std::to_string(port));
  }

  Tcp::socket connect() {
    Tcp::socket socket(io);
    socket.connect(Tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    return socket;
  }
};

}  // namespace

TEST(GatedAcceptor, HandsConnectionsOnWithASlotUntilTheGateIsFull) {
  Listening l;
  auto a = l.connect(), b = l.connect();
  ASSERT_TRUE(run_until(l.io, [&] { return l.accepted.size() == 2; }));
  EXPECT_EQ(l.gate->active(), 2u);
  EXPECT_TRUE(l.accepted[0].is_open());

  auto c = l.connect();  // a third from the same address
  ASSERT_TRUE(run_until(l.io, [&] { return l.refused.size() == 1; }));
  EXPECT_EQ(l.refused[0].rfind("peer connection from 127.0.0.1 refused: ", 0), 0u) << l.refused[0];
  EXPECT_EQ(l.accepted.size(), 2u);
  // The refused connection is closed: the client reads end of file.
  char byte;
  boost::system::error_code ec;
  c.read_some(asio::buffer(&byte, 1), ec);
  EXPECT_EQ(ec, asio::error::eof);

  l.slots.pop_back();  // one authenticated (or gone): its slot is given back
  auto d = l.connect();
  ASSERT_TRUE(run_until(l.io, [&] { return l.accepted.size() == 3; }));
}

TEST(GatedAcceptor, StopClosesThePortAndStartThrowsOnAnAddressInUse) {
  Listening l;
  GatedAcceptor second{l.io, l.gate, [](Tcp::socket, std::shared_ptr<PreauthGate::Slot>) {},
                       [](const std::string&) {}};
  EXPECT_THROW(second.start("127.0.0.1:" + std::to_string(l.port)), boost::system::system_error);
  EXPECT_THROW(second.start("not-an-address:1"), std::exception);
  l.acceptor.stop();
  Tcp::socket socket(l.io);
  boost::system::error_code ec;
  socket.connect(Tcp::endpoint(asio::ip::make_address("127.0.0.1"), l.port), ec);
  EXPECT_EQ(ec, asio::error::connection_refused);
}
