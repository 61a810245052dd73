// listPeers as text: the columns in order, "-" for an unset value, SELF on this machine.
#include "plugins/peer_config/peer_table.hpp"

#include <gtest/gtest.h>

namespace automatelinux::peer_config {
namespace {

TEST(PeerTable, ColumnsWithPathAfterStatusAndDashForUnsetValues) {
  sdk::PeerInfo leader;
  leader.id = "vps";
  leader.role = "leader";
  leader.online = true;
  leader.path = "direct";
  leader.address = "10.0.0.1:3600";
  leader.last_seen = "2024-05-01T10:00:00Z";
  leader.rtt_ms = 1.5;
  leader.version = "0.3.0";
  sdk::PeerInfo self;
  self.id = "laptop";
  self.role = "worker";
  self.online = true;
  self.path = "local";
  sdk::PeerInfo unknown;
  unknown.id = "nas";
  unknown.role = "worker";
  const std::string expected =
      "ID      ROLE    STATUS   PATH    ADDRESS        LAST SEEN             RTT    VERSION  SELF\n"
      "vps     leader  online   direct  10.0.0.1:3600  2024-05-01T10:00:00Z  1.5ms  0.3.0\n"
      "laptop  worker  online   local   -              -                     -      -        *\n"
      "nas     worker  offline  -       -              -                     -      -\n";
  EXPECT_EQ(peer_table({leader, self, unknown}, "laptop"), expected);
}

TEST(PeerTable, NoPeersIsTheHeaderAlone) {
  EXPECT_EQ(peer_table({}, "laptop"),
            "ID  ROLE  STATUS  PATH  ADDRESS  LAST SEEN  RTT  VERSION  SELF\n");
}

}  // namespace
}  // namespace automatelinux::peer_config
