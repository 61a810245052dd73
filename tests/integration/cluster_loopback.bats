#!/usr/bin/env bats
# The peer network on loopback: three daemons on 127.0.0.1, each with its own socket and state.

bats_require_minimum_version 1.5.0
load helpers
load cluster_scenarios
load direct_scenarios

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

# Workers on one host: each takes direct sessions on a port of its own (setPeerConfig --listen).
@test "loopback: workers with --listen ports of their own reach each other directly, and keep the port on a later change" {
  PEER_DIRECT=true
  start_peer desktop
  start_peer vps
  start_peer laptop
  PORT=$(free_port)
  local vps_port laptop_port
  vps_port=$(free_port)
  laptop_port=$(free_port)
  dd desktop setPeerConfig --role leader --id desktop --listen "127.0.0.1:$PORT"
  TOKEN=$(dd desktop joinToken | tail -n 1)
  run dd vps setPeerConfig --role worker --id vps --leader "127.0.0.1:$PORT" --token "$TOKEN" --listen nowhere:1
  [ "$status" -eq 255 ]
  [ "$output" = "d: --listen needs an IP address, not 'nowhere'" ]
  dd vps setPeerConfig --role worker --id vps --leader "127.0.0.1:$PORT" --token "$TOKEN" --listen "127.0.0.1:$vps_port"
  dd laptop setPeerConfig --role worker --id laptop --leader "127.0.0.1:$PORT" --token "$TOKEN" --listen "127.0.0.1:$laptop_port"
  dd vps getPeerStatus --json | jq -e --arg l "127.0.0.1:$vps_port" '.listen == $l'
  wait_for 10 online_over laptop vps direct
  run dd laptop execOnPeer --peer vps --directory / --command 'echo hi from $AUTOMATELINUX_PEER'
  [ "$output" = "hi from vps" ]
  # The leader published vps's own port in the roster.
  jq -e --arg a "127.0.0.1:$vps_port" '.roster.members[] | select(.id == "vps") | .address == $a' "$BATS_TEST_TMPDIR/laptop/state/roster.json"
  # A later change without --listen keeps the port.
  dd vps setPeerConfig --role worker --id vps --leader "127.0.0.1:$PORT"
  dd vps getPeerStatus --json | jq -e --arg l "127.0.0.1:$vps_port" '.listen == $l'
}

@test "loopback: a worker whose --listen port is taken shows and advertises no address, and still dials" {
  PEER_DIRECT=true
  start_peer desktop
  start_peer vps
  start_peer laptop
  PORT=$(free_port)
  local vps_port
  vps_port=$(free_port)
  dd desktop setPeerConfig --role leader --id desktop --listen "127.0.0.1:$PORT"
  TOKEN=$(dd desktop joinToken | tail -n 1)
  dd vps setPeerConfig --role worker --id vps --leader "127.0.0.1:$PORT" --token "$TOKEN" --listen "127.0.0.1:$vps_port"
  # laptop asks for the leader's port, which the leader holds.
  dd laptop setPeerConfig --role worker --id laptop --leader "127.0.0.1:$PORT" --token "$TOKEN" --listen "127.0.0.1:$PORT"
  dd laptop getPeerStatus --json | jq -e '.listen == null'
  grep -q "127.0.0.1:$PORT" "$BATS_TEST_TMPDIR/laptop/state/daemon.log"
  # laptop still dials vps, and nobody is told to dial laptop.
  wait_for 10 online_over laptop vps direct
  wait_for 10 jq -e '.roster.members[] | select(.id == "laptop") | (.address // "") == ""' "$BATS_TEST_TMPDIR/vps/state/roster.json"
  run dd laptop execOnPeer --peer vps --directory / --command 'echo hi from $AUTOMATELINUX_PEER'
  [ "$output" = "hi from vps" ]
}

# Security round three, findings 1 and 6: revocation is per certificate, and a removed worker
# stops dialing anyone.
@test "loopback: a certificate revoked once stays revoked after its id joins again and is removed again" {
  PEER_DIRECT=true
  start_peer desktop
  start_peer vps
  start_peer laptop
  PORT=$(free_port)
  local vps_port laptop_port first_fp second_fp audited
  vps_port=$(free_port)
  laptop_port=$(free_port)
  dd desktop setPeerConfig --role leader --id desktop --listen "127.0.0.1:$PORT"
  TOKEN=$(dd desktop joinToken | tail -n 1)
  dd vps setPeerConfig --role worker --id vps --leader "127.0.0.1:$PORT" --token "$TOKEN" --listen "127.0.0.1:$vps_port"
  dd laptop setPeerConfig --role worker --id laptop --leader "127.0.0.1:$PORT" --token "$TOKEN" --listen "127.0.0.1:$laptop_port"
  wait_for 10 online_over laptop vps direct
  # A copy of vps's key and certificate, kept by whoever had the machine.
  cp -r "$BATS_TEST_TMPDIR/vps/state/tls" "$BATS_TEST_TMPDIR/stolen"
  first_fp=$(roster_field laptop '.roster.members[] | select(.id == "vps") | .fingerprint')
  dd desktop removePeer vps
  wait_for 10 bash -c "jq -e --arg f '$first_fp' '.roster.revoked | index(\$f)' '$BATS_TEST_TMPDIR/laptop/state/roster.json'"
  # vps is told, says so once, and dials no one from then on (also after a restart).
  wait_for 10 bash -c "'$D' --socket '$BATS_TEST_TMPDIR/vps/sock' getPeerStatus --json | jq -e '.notice | test(\"removed from the cluster\")'"
  dd vps getPeerStatus | grep -q "^notice: *removed from the cluster"
  [ "$(grep -c "this daemon was removed from the cluster" "$BATS_TEST_TMPDIR/vps/state/daemon.log")" -eq 1 ]
  local knocks
  knocks=$(grep -c "claiming 'vps' refused" "$BATS_TEST_TMPDIR/laptop/state/daemon.log" || true)
  stop_daemon vps
  PEER_DIRECT=true start_peer vps
  dd vps getPeerStatus --json | jq -e '.notice | test("removed from the cluster")'
  grep -q "it dials no one until it is joined again" "$BATS_TEST_TMPDIR/vps/state/daemon.log"
  sleep 6
  [ "$(grep -c "claiming 'vps' refused" "$BATS_TEST_TMPDIR/laptop/state/daemon.log" || true)" -eq "$knocks" ]
  ! grep -q "direct session to laptop\|connected to leader" <(sed -n '/it dials no one/,$p' "$BATS_TEST_TMPDIR/vps/state/daemon.log") || false
  # Joined again with a new token (the notice goes), then removed again.
  sleep 1
  TOKEN=$(dd desktop joinToken | tail -n 1)
  dd vps setPeerConfig --role worker --id vps --leader "127.0.0.1:$PORT" --token "$TOKEN"
  dd vps getPeerStatus --json | jq -e 'has("notice") | not'
  wait_for 10 online_over laptop vps direct
  second_fp=$(roster_field laptop '.roster.members[] | select(.id == "vps") | .fingerprint')
  [ "$second_fp" != "$first_fp" ]
  dd desktop removePeer vps
  wait_for 10 bash -c "jq -e --arg f '$second_fp' '.roster.revoked | index(\$f)' '$BATS_TEST_TMPDIR/laptop/state/roster.json'"
  # Both certificates stay revoked: on the leader and in the roster every worker holds.
  jq -e --arg a "$first_fp" --arg b "$second_fp" '[.revoked[].fingerprint] | index($a) and index($b)' "$BATS_TEST_TMPDIR/desktop/state/members.json"
  jq -e --arg f "$first_fp" '.roster.revoked | index($f)' "$BATS_TEST_TMPDIR/laptop/state/roster.json"
  # The first copy dials laptop's direct port: refused, and nothing runs.
  audited=$(wc -l <"$BATS_TEST_TMPDIR/laptop/state/audit.jsonl")
  knocks=$(grep -c "claiming 'vps' refused: certificate revoked" "$BATS_TEST_TMPDIR/laptop/state/daemon.log" || true)
  timeout 20 python3 "$BATS_TEST_DIRNAME/hostile_member.py" direct-silent 127.0.0.1 "$laptop_port" \
    "$BATS_TEST_TMPDIR/stolen" 3 >"$BATS_TEST_TMPDIR/stolen.out" 2>&1 || true
  ! grep -q "silent-ran\|result:" "$BATS_TEST_TMPDIR/stolen.out" || false
  wait_for 5 bash -c "[ \$(grep -c \"claiming 'vps' refused: certificate revoked\" '$BATS_TEST_TMPDIR/laptop/state/daemon.log') -gt $knocks ]"
  [ "$(wc -l <"$BATS_TEST_TMPDIR/laptop/state/audit.jsonl")" -eq "$audited" ]
  # Honest members are still served.
  run dd desktop execOnPeer --peer laptop --directory / --command 'echo still-served'
  [ "$output" = "still-served" ]
}
