#!/usr/bin/env bats
# A member gone bad: hostile frames from a real member's certificate must end at most that
# member's session — never the leader, never other members' sessions — and a worker's certificate
# cannot pose as the leader.

bats_require_minimum_version 1.5.0
load helpers
load cluster_scenarios
load jobs_scenarios

setup() {
  use_loopback
}
teardown() {
  local f
  for f in "$BATS_TEST_TMPDIR"/*.pidof; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  [ -f "$BATS_TEST_TMPDIR/vps/pid" ] && kill -CONT "$(cat "$BATS_TEST_TMPDIR/vps/pid")" 2>/dev/null
  kill_job_supervisors
  stop_all_daemons
}

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

# relay_flood MODE: a member ("mallory", its daemon stopped, its certificate used by a script)
# opens a stream to vps through the leader and floods it while vps reads slowly for a moment. The
# leader must cut mallory off, and vps — with an honest request from laptop on it — stays.
relay_flood() {
  local mode=$1
  HEARTBEAT_MS=3000   # vps is stopped for about 3 s below: well within 3 silent beats
  make_cluster
  start_peer mallory
  dd mallory setPeerConfig --role worker --id mallory --leader "$LEADER_HOST:$PORT" --token "$TOKEN"
  wait_for 10 peer_is desktop mallory online
  stop_daemon mallory
  wait_for 10 peer_is desktop mallory offline
  rss() { awk '/VmRSS/ {print $2}' "/proc/$(cat "$BATS_TEST_TMPDIR/$1/pid")/status"; }
  local before
  before=$(rss desktop)
  # An honest relayed request that spans the flood.
  ( dd laptop execOnPeer --peer vps --directory /tmp --no-stdin --command 'sleep 6; echo survived' \
      >"$BATS_TEST_TMPDIR/honest.out" 2>&1; echo "exit=$?" >>"$BATS_TEST_TMPDIR/honest.out" ) &
  local honest=$!
  sleep 1
  kill -STOP "$(cat "$BATS_TEST_TMPDIR/vps/pid")"
  timeout 60 python3 "$BATS_TEST_DIRNAME/hostile_member.py" relay-flood 127.0.0.1 "$PORT" \
    "$BATS_TEST_TMPDIR/mallory/state/tls" vps "$mode" 400 >"$BATS_TEST_TMPDIR/flood.out" 2>&1 &
  local flood=$!
  echo "$flood" >"$BATS_TEST_TMPDIR/flood.pidof"
  local peak=0 sample n
  for n in $(seq 12); do
    sample=$(rss desktop)
    [ "$sample" -gt "$peak" ] && peak=$sample
    sleep 0.2
  done
  kill -CONT "$(cat "$BATS_TEST_TMPDIR/vps/pid")"
  wait "$flood" || true
  wait "$honest" || true
  cat "$BATS_TEST_TMPDIR/flood.out" "$BATS_TEST_TMPDIR/honest.out"
  echo "leader RSS: before ${before} KiB, peak ${peak} KiB"
  kill -0 "$(cat "$BATS_TEST_TMPDIR/desktop/pid")"
  [ "$(cat "$BATS_TEST_TMPDIR/honest.out")" = "$(printf 'survived\nexit=0')" ]
  grep -q "cutting mallory off" "$BATS_TEST_TMPDIR/desktop/state/daemon.log"
  run grep -c "peer vps offline" "$BATS_TEST_TMPDIR/desktop/state/daemon.log"
  [ "$output" = "0" ]
  peer_is desktop vps online
  run dd laptop execOnPeer --peer vps --directory / --command 'echo after'
  [ "$output" = "after" ]
  [ -z "${AL_SANITIZED:-}" ] || return 0   # RSS bounds are meaningless under AddressSanitizer
  [ "$peak" -lt $((before + 65536)) ]
}

@test "a member flooding a relayed stream with credit bodies is cut off, never its target" {
  relay_flood credit-body
}

@test "a member sending beyond a relayed stream's credit window is cut off, never its target" {
  relay_flood data
}

# Security round three, finding 2: vps's certificate sends thousands of 4 KiB exec requests to
# the leader, whose policy refuses vps everything. Its earlier history must survive (in
# audit.jsonl and daemon.log, both small here), the flood must be counted to the last request,
# and honest members must still be served.
@test "a member's flood of refused requests is rate-limited and summarised, never rotating a host's history away" {
  local flood_count=6000
  echo "{\"heartbeat_ms\": $HEARTBEAT_MS, \"peer\": {\"direct\": false},
    \"exec\": {\"allowed_peers\": [\"laptop\"]}, \"audit\": {\"max_bytes\": 1048576, \"keep\": 1}}" \
    >"$BATS_TEST_TMPDIR/desktop.json"
  start_daemon desktop --config "$BATS_TEST_TMPDIR/desktop.json"
  start_peer vps
  start_peer laptop
  PORT=$(free_port)
  dd desktop setPeerConfig --role leader --id desktop --listen "127.0.0.1:$PORT"
  TOKEN=$(dd desktop joinToken | tail -n 1)
  dd vps setPeerConfig --role worker --id vps --leader "127.0.0.1:$PORT" --token "$TOKEN"
  dd laptop setPeerConfig --role worker --id laptop --leader "127.0.0.1:$PORT" --token "$TOKEN"
  wait_for 10 peer_is desktop laptop online
  run dd laptop execOnPeer --peer desktop --directory / --command 'echo before-the-flood'
  [ "$output" = "before-the-flood" ]
  stop_daemon vps
  wait_for 5 peer_is desktop vps offline
  # An honest request that spans the flood.
  ( dd laptop execOnPeer --peer desktop --directory / --no-stdin --command 'sleep 2; echo during-the-flood' \
      >"$BATS_TEST_TMPDIR/honest.out" 2>&1; echo "exit=$?" >>"$BATS_TEST_TMPDIR/honest.out" ) &
  local honest=$!
  timeout 150 python3 "$BATS_TEST_DIRNAME/hostile_member.py" request-flood 127.0.0.1 "$PORT" \
    "$BATS_TEST_TMPDIR/vps/state/tls" desktop "$flood_count" 4096 >"$BATS_TEST_TMPDIR/flood.out" 2>&1
  wait "$honest" || true
  cat "$BATS_TEST_TMPDIR/flood.out" "$BATS_TEST_TMPDIR/honest.out"
  kill -0 "$(cat "$BATS_TEST_TMPDIR/desktop/pid")"
  [ "$(cat "$BATS_TEST_TMPDIR/honest.out")" = "$(printf 'during-the-flood\nexit=0')" ]
  # Every request was answered; most of them `busy` (over peer.max_requests_per_s).
  grep -q "^results: $flood_count busy: " "$BATS_TEST_TMPDIR/flood.out"
  local busy
  busy=$(sed -n 's/^results: [0-9]* busy: \([0-9]*\)$/\1/p' "$BATS_TEST_TMPDIR/flood.out")
  [ "$busy" -gt 0 ]
  # The summaries arrive when their 10 s windows end; then every request is accounted for: its
  # own record (at most 20 per window) or a count in a summary.
  local state=$BATS_TEST_TMPDIR/desktop/state
  accounted() {
    cat "$state"/audit.jsonl* | jq -s --argjson n "$flood_count" '
      (map(select(.event == "request" and .requester == "vps")) | length) +
      (map(select(.event == "summary" and .requester == "vps") | .count) | add // 0) == $n' | grep -qx true
  }
  wait_for 25 accounted
  cat "$state"/audit.jsonl* | jq -e -s --argjson b "$busy" \
    'map(select(.event == "summary" and .requester == "vps" and .decision == "busy") | .count) | add == $b'
  cat "$state"/audit.jsonl* | jq -e -s 'map(select(.event == "summary" and .decision == "denied")) | length >= 1'
  [ "$(cat "$state"/audit.jsonl* | jq -s 'map(select(.event == "request" and .requester == "vps")) | length')" -le 100 ]
  # This host's own history is still there, in both logs.
  cat "$state"/audit.jsonl* | grep -q "before-the-flood"
  cat "$state"/daemon.log* | grep -q "command=\[exec .*before-the-flood"
  grep -q "vps: [0-9]* requests answered busy in 10 s" "$state/daemon.log"
  grep -q "vps: [0-9]* more requests denied (Denied on desktop: peer 'vps' may not run commands here) in 10 s" "$state/daemon.log"
  [ "$(grep -c "requester=vps" "$state/daemon.log")" -le 100 ]
  # And honest members are served after it.
  run dd laptop execOnPeer --peer desktop --directory / --command 'echo after-the-flood'
  [ "$output" = "after-the-flood" ]
  cat "$state"/audit.jsonl* | grep -q "after-the-flood"
}

@test "a member's job.start with names the CLI refuses is refused on the job's host, nothing stored" {
  make_cluster
  # vps's identity, its daemon stopped (its own session would replace ours). The requests go to
  # the leader's own id: no requesting daemon checks the names on the way.
  stop_daemon vps
  wait_for 5 peer_is desktop vps offline
  run timeout 30 python3 "$BATS_TEST_DIRNAME/hostile_member.py" job-names 127.0.0.1 "$PORT" \
    "$BATS_TEST_TMPDIR/vps/state/tls" desktop /tmp
  echo "$output"
  [ "${lines[0]}" = "first: welcome" ]
  [ "${#lines[@]}" -eq 6 ]
  local label
  for label in path newline long c1 digit; do
    grep -qx "$label: error invalid job name '.*' (a letter, then letters, digits, '.', '_' or '-'; at most 64)" <<<"$output"
  done
  # The reasons show the names escaped and cut: no C1 byte, no 5000-byte line.
  [[ "$output" == *"'job\\xc2\\x9b31m'"* ]]
  [[ "$output" != *$'\xc2\x9b'* ]]
  [ "$(wc -L <<<"$output")" -lt 300 ]
  # Nothing stored under jobs/, nothing ran, nothing listed.
  [ -z "$(ls "$BATS_TEST_TMPDIR/desktop/state/jobs" 2>/dev/null | grep -E '^[0-9]+$')" ]
  ! grep -rqs "hostile-job-ran" "$BATS_TEST_TMPDIR/desktop/state/jobs" || false
  [ "$(dd laptop listJobs --peer desktop --json | jq length)" -eq 0 ]
  # The leader still serves honest requests, jobs with a valid name included.
  kill -0 "$(cat "$BATS_TEST_TMPDIR/desktop/pid")"
  run dd laptop execOnPeer --peer desktop --directory / --command 'echo still-here'
  [ "$output" = "still-here" ]
  id=$(dd laptop execOnPeer --peer desktop --directory /tmp --detach --name honest.job_1-a \
    --command 'echo honest-out' | tail -n 1)
  run dd laptop waitJob desktop:honest.job_1-a
  [ "$status" -eq 0 ]
  [ "$(dd laptop listJobs --peer desktop --json | jq -r '.[0].name')" = "honest.job_1-a" ]
  [[ "$id" == desktop:* ]]
}

