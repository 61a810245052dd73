#!/usr/bin/env bats
# The peer network on loopback: three daemons on 127.0.0.1, each with its own socket and state.

bats_require_minimum_version 1.5.0
load helpers
load cluster_scenarios

setup() {
  use_loopback
}
teardown() { stop_all_daemons; }

@test "loopback: three daemons join with a token and all list each other online" { scenario_join_and_list; }
@test "loopback: a killed worker goes offline within 3 beats and rejoins without a token" { scenario_killed_worker_goes_offline_and_rejoins; }
@test "loopback: a frozen worker (no heartbeats, TCP still open) goes offline, then returns" { scenario_silent_worker_goes_offline; }
@test "loopback: workers come back on their own after the leader restarts" { scenario_leader_restart; }
@test "loopback: a removed worker is revoked and old tokens cannot re-enroll its id" { scenario_revoked_worker_cannot_rejoin; }
@test "loopback: bad, expired and misdirected joins fail with a reason and save nothing" { scenario_bad_joins_save_nothing; }
@test "loopback: plain TCP, certificate-less and foreign-CA clients run nothing" { scenario_intruders_run_nothing; }
@test "loopback: later setPeerConfig changes need no token and take effect at once" { scenario_later_changes_need_no_token; }
@test "loopback: a client that never finishes its handshake is cut off" { scenario_handshake_timeout; }
@test "loopback: a joined, an offline and a removed member reach every worker as deltas" { scenario_membership_deltas_reach_every_worker; }
@test "loopback: an idle cluster sends heartbeats, not member lists" { scenario_idle_cluster_sends_no_member_lists; }
@test "loopback: a join turned away at the leader's per-address cap tries again and succeeds" { scenario_join_at_the_cap_retries; }
@test "loopback: workers hold the signed roster, see removals in it, and keep it without the leader" { scenario_roster_reaches_workers_and_survives_the_leader; }
@test "loopback: two hundred workers join at once and are all online everywhere" {
  # Scale, not memory: 201 sanitized daemons would measure the sanitizer.
  [ -z "${AL_SANITIZED:-}" ] || skip "scale test: runs in the plain build"
  scenario_two_hundred_workers_join
}
