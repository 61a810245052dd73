#!/usr/bin/env bats
# Anyone who can reach the leader's port, without a certificate: what they send before
# authentication costs the leader a bounded amount of memory, descriptors and log lines, and the
# leader keeps serving its members and its local socket meanwhile.

bats_require_minimum_version 1.5.0
load helpers
load cluster_scenarios

setup() {
  use_loopback
}
teardown() {
  local f
  for f in "$BATS_TEST_TMPDIR"/*.pidof; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  stop_all_daemons
}

HOSTILE() { python3 "$BATS_TEST_DIRNAME/hostile_member.py" "$@"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$(cat "$BATS_TEST_TMPDIR/$1/pid")/status"; }

# leader_still_serves [DEADLINE]: the leader still answers locally (within DEADLINE seconds,
# default 20: generous) and still relays honest requests.
leader_still_serves() {
  run timeout "${1:-20}" "$D" --socket "$BATS_TEST_TMPDIR/desktop/sock" getPeerStatus --json
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -r .role)" = "leader" ]
  run timeout 30 "$D" --socket "$BATS_TEST_TMPDIR/laptop/sock" execOnPeer --peer vps --directory /tmp --no-stdin --command 'echo relayed-ok'
  [ "$output" = "relayed-ok" ]
}

@test "a client without a certificate can neither forge lines in the leader's log nor rotate it away" {
  make_cluster
  local log=$BATS_TEST_TMPDIR/desktop/state/daemon.log
  # One frame whose type holds newlines and a fake audit line.
  run HOSTILE preauth-frames 127.0.0.1 "$PORT" 1 200
  [ "$output" = "sent 1" ]
  wait_for 5 grep -q "without certificate sent" "$log"
  run grep -c "^2026-01-01T00:00:00.000 info FORGED" "$log"
  [ "$output" = "0" ]
  grep "without certificate sent" "$log" | grep -q 'FORGED audit'   # shown escaped, on one line
  # Twenty frames with 1 MB types, then two hundred more failures: no rotation, few lines.
  run HOSTILE preauth-frames 127.0.0.1 "$PORT" 20 1000000
  run HOSTILE preauth-frames 127.0.0.1 "$PORT" 200 100
  echo "log: $(wc -c <"$log") bytes"
  [ ! -e "$log.1" ]
  [ "$(wc -c <"$log")" -lt 200000 ]
  # Detailed lines are rate-limited (a burst of 5, then one per 10 s); the rest are summarised.
  local detailed
  detailed=$(grep -c "without certificate sent\|enroll connection from .* closed: bad\|peer connection from .* refused" "$log")
  echo "detailed pre-authentication lines: $detailed"
  [ "$detailed" -le 8 ]
  wait_for 15 grep -q "more pre-authentication failures suppressed" "$log"
  leader_still_serves
}

@test "unauthenticated connections holding large frames cost the leader bounded memory" {
  make_cluster
  local before during=0 sample n
  before=$(rss desktop)
  HOSTILE preauth-hold 127.0.0.1 "$PORT" 300 1048576 8 >"$BATS_TEST_TMPDIR/hold.out" 2>&1 &
  echo $! >"$BATS_TEST_TMPDIR/hold.pidof"
  for n in $(seq 40); do
    sample=$(rss desktop)
    [ "$sample" -gt "$during" ] && during=$sample
    grep -q held "$BATS_TEST_TMPDIR/hold.out" && break
    sleep 0.2
  done
  cat "$BATS_TEST_TMPDIR/hold.out"
  # While the connections are held: the leader serves its members and its socket.
  leader_still_serves
  sample=$(rss desktop)
  [ "$sample" -gt "$during" ] && during=$sample
  wait "$(cat "$BATS_TEST_TMPDIR/hold.pidof")" || true
  rm -f "$BATS_TEST_TMPDIR/hold.pidof"
  sleep 3  # the flood is over: memory goes back
  local after
  after=$(rss desktop)
  echo "leader RSS: before ${before} KiB, peak ${during} KiB, after ${after} KiB"
  # RSS bounds are meaningless under AddressSanitizer; the rest runs there too.
  if [ -z "${AL_SANITIZED:-}" ]; then
    [ "$during" -lt $((before + 65536)) ]
    [ "$after" -lt $((before + 32768)) ]
  fi
  grep -q "exceeds the limit of 16384\|too many unauthenticated connections" "$BATS_TEST_TMPDIR/desktop/state/daemon.log"
  leader_still_serves
}

@test "idle connections cannot take the descriptors the local socket and the members need" {
  # UBSan's vptr check needs free descriptors of its own; the plain build runs this test.
  [ -z "${AL_SANITIZED:-}" ] || skip "sanitizer runtimes need free descriptors of their own"
  PORT=$(free_port)
  # The leader with a small descriptor limit; the workers as usual.
  (ulimit -n 100; start_peer desktop)
  start_peer vps
  start_peer laptop
  dd desktop setPeerConfig --role leader --id desktop --listen "127.0.0.1:$PORT"
  TOKEN=$(dd desktop joinToken | tail -n 1)
  dd vps setPeerConfig --role worker --id vps --leader "127.0.0.1:$PORT" --token "$TOKEN"
  dd laptop setPeerConfig --role worker --id laptop --leader "127.0.0.1:$PORT" --token "$TOKEN"
  for id in vps laptop; do wait_for 10 peer_is desktop "$id" online; done
  wait_for 10 peer_is laptop vps online
  HOSTILE idle 127.0.0.1 "$PORT" 200 25 >"$BATS_TEST_TMPDIR/idle.out" 2>&1 &
  echo $! >"$BATS_TEST_TMPDIR/idle.pidof"
  # A local status query normally takes milliseconds: 5 s is generous, and shorter than the 10 s
  # handshake deadline that alone frees descriptors held by idle connections.
  sleep 3
  leader_still_serves 5
  sleep 8   # past the 10 s handshake deadline of the first wave
  leader_still_serves 5
  peer_is desktop vps online
  peer_is desktop laptop online
  kill "$(cat "$BATS_TEST_TMPDIR/idle.pidof")" 2>/dev/null || true
  grep -q "descriptors kept in reserve\|too many unauthenticated connections" "$BATS_TEST_TMPDIR/desktop/state/daemon.log"
}
