#!/usr/bin/env bats
# A member gone bad: hostile frames from a real member's certificate must end at most that
# member's session — never the leader, never other members' sessions — and a worker's certificate
# cannot pose as the leader.

bats_require_minimum_version 1.5.0
load helpers
load cluster_scenarios

setup() {
  use_loopback
}
teardown() { stop_all_daemons; }

@test "hostile frames from an enrolled member do not hurt the leader or other members" {
  make_cluster
  # Take over vps's identity: stop the real vps and speak with its certificate.
  stop_daemon vps
  wait_for 5 peer_is desktop vps offline
  run timeout 30 python3 "$BATS_TEST_DIRNAME/hostile_member.py" client 127.0.0.1 "$PORT" "$BATS_TEST_TMPDIR/vps/state/tls"
  echo "$output"
  [[ "${lines[0]}" == "first: welcome" ]]
  [[ "$output" == *closed* ]]
  # The leader is alive and still serving the honest worker.
  kill -0 "$(cat "$BATS_TEST_TMPDIR/desktop/pid")"
  peer_is desktop laptop online
  peer_is laptop desktop online
  run dd laptop execOnPeer --peer desktop --directory / --command 'echo still-here'
  [ "$output" = "still-here" ]
  grep -q "unknown message type\|bad frame\|bad message\|hello sent twice\|wrong way" "$BATS_TEST_TMPDIR/desktop/state/daemon.log"
  # The request the hostile member did open on laptop was cancelled when its session closed.
  wait_for 10 grep -q "requester=vps .*result=cancelled" "$BATS_TEST_TMPDIR/laptop/state/daemon.log"
  grep -q "wrong way" "$BATS_TEST_TMPDIR/desktop/state/daemon.log"
}

@test "a worker's certificate cannot pose as the leader" {
  make_cluster
  local fake
  fake=$(free_port)
  python3 "$BATS_TEST_DIRNAME/hostile_member.py" fake-leader "$fake" "$BATS_TEST_TMPDIR/vps/state/tls" >"$BATS_TEST_TMPDIR/fake.out" 2>&1 &
  local fake_pid=$!
  echo "$fake_pid" >"$BATS_TEST_TMPDIR/fake.pidof"
  sleep 0.3
  # Point laptop at the impostor (allowed without a token: it is already enrolled).
  dd laptop setPeerConfig --role worker --id laptop --leader "127.0.0.1:$fake"
  wait "$fake_pid" || true
  cat "$BATS_TEST_TMPDIR/fake.out"
  grep -q "handshake refused" "$BATS_TEST_TMPDIR/fake.out"
  [ "$(dd laptop getPeerStatus --json | jq -r .connected)" = "false" ]
}
