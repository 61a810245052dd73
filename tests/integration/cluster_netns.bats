#!/usr/bin/env bats
# The peer network across hosts: each daemon in its own network namespace with the seed's
# addresses. Needs root and `ip netns`; otherwise every test is skipped with the reason.

bats_require_minimum_version 1.5.0
load helpers
load cluster_scenarios
load netns

setup_file() {
  if netns_available; then netns_setup; fi
}
teardown_file() { netns_teardown; }

setup() {
  netns_available && [ -n "${NET_PREFIX:-}" ] || skip "multi-host tests need root and 'ip netns' (run as root)"
  NS_desktop=$NET_PREFIX-desktop
  NS_vps=$NET_PREFIX-vps
  NS_vps2=$NET_PREFIX-vps
  NS_laptop=$NET_PREFIX-laptop
  NS_newbie=$NET_PREFIX-laptop
  LEADER_HOST=10.0.0.2
  LISTEN_HOST=0.0.0.0
  CLIENT_NS=$NET_PREFIX-intruder
  PORT=3600
}
teardown() { stop_all_daemons; }

@test "netns: vps, desktop (leader) and laptop join with tokens and all list each other online" {
  scenario_join_and_list
  # Addresses are the hosts' own.
  [ "$(dd desktop listPeers --json | jq -r '.[] | select(.id == "laptop") | .address')" = "10.0.0.4" ]
  [ "$(dd desktop listPeers --json | jq -r '.[] | select(.id == "vps") | .address')" = "10.0.0.1" ]
}
@test "netns: killing vps makes it offline everywhere within 3 beats; it rejoins without a token" { scenario_killed_worker_goes_offline_and_rejoins; }
@test "netns: a frozen vps (silent, TCP open) goes offline within 3 beats and returns" { scenario_silent_worker_goes_offline; }
@test "netns: restarting the leader brings everyone back" { scenario_leader_restart; }
@test "netns: a revoked worker cannot rejoin" { scenario_revoked_worker_cannot_rejoin; }
@test "netns: bad joins fail with a reason and save nothing" { scenario_bad_joins_save_nothing; }
@test "netns: a plain-TCP, certificate-less and wrong-CA client can run nothing" { scenario_intruders_run_nothing; }
