# Direct sessions between workers (core/peer/direct_paths.hpp), on the namespace cluster: vps
# (10.0.0.1), desktop the leader (10.0.0.2), laptop (10.0.0.4), every worker listening on its
# default 0.0.0.0:3600. Needs cluster_scenarios.bash and netns.bash.

# path_of ON ID: the path daemon ON shows to peer ID (direct, relayed, unreachable, local).
path_of() {
  dd "$1" listPeers --json | jq -r --arg id "$2" '.[] | select(.id == $id) | .path'
}
path_is() { [ "$(path_of "$1" "$2")" = "$3" ]; }
online_over() { peer_is "$1" "$2" online && path_is "$1" "$2" "$3"; }
# not_listed ON ID: daemon ON does not list peer ID at all.
not_listed() { [ -z "$(dd "$1" listPeers --json | jq -r --arg id "$2" '.[] | select(.id == $id) | .id')" ]; }

direct_cluster() {
  PEER_DIRECT=true make_cluster
  wait_for 15 online_over laptop vps direct
  wait_for 15 online_over vps laptop direct
}

# laptop runs a command on vps that prints 5 MB of random bytes; the copy it kept and what came
# back must be the same bytes.
exec_is_byte_exact() {
  local W=$BATS_TEST_TMPDIR/work
  mkdir -p "$W"
  rm -f "$W/produced" "$W/received"
  dd laptop execOnPeer --peer vps --directory "$W" --command 'head -c 5000000 /dev/urandom | tee produced' >"$W/received"
  cmp "$W/produced" "$W/received"
}

scenario_direct_path_outlives_a_killed_leader() {
  direct_cluster
  # The leader shows what it has itself: its sessions are direct.
  path_is desktop vps direct
  path_is laptop desktop direct
  path_is laptop laptop local
  kill -KILL "$(cat "$BATS_TEST_TMPDIR/desktop/pid")"
  wait_for 5 path_is laptop desktop unreachable
  exec_is_byte_exact
  online_over laptop vps direct
  peer_is laptop desktop offline
  # vps audited the request as laptop's: the certificate's id, with no leader to stamp it.
  jq -e -s 'map(select(.event == "request" and .requester == "laptop" and
      (.command | contains("head -c 5000000")))) | length == 1' "$BATS_TEST_TMPDIR/vps/state/audit.jsonl"
  run dd laptop execOnPeer --peer vps --directory / --command 'exit 7'
  [ "$status" -eq 7 ]
}

scenario_workers_restarted_without_the_leader_find_each_other() {
  direct_cluster
  stop_daemon desktop
  stop_daemon vps
  stop_daemon laptop
  PEER_DIRECT=true start_peer vps
  PEER_DIRECT=true start_peer laptop
  # From the roster each kept, signed by the cluster CA: no leader needed.
  wait_for 15 online_over laptop vps direct
  exec_is_byte_exact
  [ "$(path_of laptop desktop)" = unreachable ]
}

scenario_blocked_direct_path_falls_back_to_the_relay() {
  # laptop cannot reach vps (nor vps laptop) except through the leader.
  ip -n "$NS_laptop" route add unreachable 10.0.0.1/32
  PEER_DIRECT=true make_cluster
  wait_for 10 online_over laptop vps relayed
  exec_is_byte_exact
  grep -q "no direct path to vps yet: using the relay" "$BATS_TEST_TMPDIR/laptop/state/daemon.log"
  # The path comes back: the direct session is retried in the background.
  ip -n "$NS_laptop" route del unreachable 10.0.0.1/32
  wait_for 30 online_over laptop vps direct
  exec_is_byte_exact
}

scenario_member_removed_while_another_slept_cannot_go_direct() {
  direct_cluster
  stop_daemon laptop
  dd desktop removePeer vps
  PEER_DIRECT=true start_peer laptop
  wait_for 10 peer_is laptop desktop online
  # laptop took the new roster: vps is no longer a member, and its certificate is refused on
  # laptop's direct port (vps keeps dialing from the roster it had).
  wait_for 10 not_listed laptop vps
  # vps itself, told by the leader, dials no one any more; its certificate, used by whoever
  # holds a copy, is refused on laptop's direct port.
  wait_for 10 bash -c "'$D' --socket '$BATS_TEST_TMPDIR/vps/sock' getPeerStatus --json | jq -e '.notice | test(\"removed from the cluster\")'"
  local log=$BATS_TEST_TMPDIR/laptop/state/daemon.log
  in_client_ns timeout 20 python3 "$BATS_TEST_DIRNAME/hostile_member.py" direct-silent 10.0.0.4 3600 \
    "$BATS_TEST_TMPDIR/vps/state/tls" 3 >"$BATS_TEST_TMPDIR/stolen.out" 2>&1 || true
  ! grep -q "silent-ran" "$BATS_TEST_TMPDIR/stolen.out" || false
  wait_for 10 grep -q "claiming 'vps' refused: certificate revoked" "$log"
  not_listed laptop vps
  run dd vps execOnPeer --peer laptop --directory / --command true
  [ "$status" -eq 255 ]
  # Nothing vps asked ran on laptop after its removal.
  ! jq -e -s 'map(select(.requester == "vps")) | length > 0' "$BATS_TEST_TMPDIR/laptop/state/audit.jsonl" || false
}

scenario_direct_port_refuses_strangers() {
  direct_cluster
  local log=$BATS_TEST_TMPDIR/laptop/state/daemon.log audited
  audited=$(wc -l <"$BATS_TEST_TMPDIR/laptop/state/audit.jsonl" 2>/dev/null || echo 0)
  # A certificate from another CA, claiming to be vps.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=vps \
    -keyout "$BATS_TEST_TMPDIR/evil.key" -out "$BATS_TEST_TMPDIR/evil.crt" 2>/dev/null
  local frame
  frame=$(python3 -c 'import json,struct,sys; h=json.dumps({"t":"open","sid":1,"to":"laptop","type":"exec"}).encode(); sys.stdout.buffer.write(struct.pack(">II",4+len(h),len(h))+h)' | base64 -w0)
  echo "$frame" | base64 -d | in_client_ns timeout 5 openssl s_client -quiet -tls1_3 -connect 10.0.0.4:3600 \
    -cert "$BATS_TEST_TMPDIR/evil.crt" -key "$BATS_TEST_TMPDIR/evil.key" >/dev/null 2>&1 || true
  # No certificate at all.
  echo "$frame" | base64 -d | in_client_ns timeout 5 openssl s_client -quiet -tls1_3 -connect 10.0.0.4:3600 >/dev/null 2>&1 || true
  wait_for 5 bash -c "[ \"\$(grep -c 'direct connection from 10.0.0.9:[0-9]* refused: TLS handshake failed' '$log')\" -ge 2 ]"
  ! grep -q "direct session from vps at 10.0.0.9" "$log" || false
  # Nothing ran: laptop audited no request since the cluster formed.
  [ "$(wc -l <"$BATS_TEST_TMPDIR/laptop/state/audit.jsonl")" -eq "$audited" ]
  online_over laptop vps direct
}

scenario_direct_heartbeats_mark_a_frozen_peer_offline() {
  direct_cluster
  kill -KILL "$(cat "$BATS_TEST_TMPDIR/desktop/pid")"
  local vps
  vps=$(cat "$BATS_TEST_TMPDIR/vps/pid")
  kill -STOP "$vps"
  # Silent for 3 beats (0.9 s) on the direct session: offline, and no path left.
  wait_for 5 path_is laptop vps unreachable
  peer_is laptop vps offline
  kill -CONT "$vps"
  # Dialed again in the background.
  wait_for 20 online_over laptop vps direct
  exec_is_byte_exact
}

scenario_revocation_closes_a_direct_session_that_never_said_hello() {
  direct_cluster
  # laptop's certificate (as if stolen) on vps's direct port, from the intruder's host: it is
  # taken (it is a member's), runs a command as laptop, and never sends a hello.
  in_client_ns timeout 60 python3 "$BATS_TEST_DIRNAME/hostile_member.py" direct-silent 10.0.0.1 3600 \
    "$BATS_TEST_TMPDIR/laptop/state/tls" 40 >"$BATS_TEST_TMPDIR/silent.out" 2>&1 &
  local silent=$!
  wait_for 10 grep -q "result: exited 0" "$BATS_TEST_TMPDIR/silent.out"
  grep -q "output: silent-ran" "$BATS_TEST_TMPDIR/silent.out"
  dd desktop removePeer laptop
  # vps takes the new roster and closes every session of laptop's certificate, this one too.
  wait_for 10 grep -q "closed after" "$BATS_TEST_TMPDIR/silent.out"
  wait "$silent" || true
  grep -q "direct session with laptop closed: certificate revoked" "$BATS_TEST_TMPDIR/vps/state/daemon.log"
  wait_for 10 not_listed vps laptop
}

scenario_a_replaced_direct_session_finishes_its_streams() {
  direct_cluster
  # laptop's certificate runs a 14 s command on vps over one direct session, then dials vps
  # again: vps keeps the newer session, and the older one lives until its command has ended
  # (it used to be closed 10 s after it was replaced, cutting the command).
  in_client_ns timeout 60 python3 "$BATS_TEST_DIRNAME/hostile_member.py" direct-redial 10.0.0.1 3600 \
    "$BATS_TEST_TMPDIR/laptop/state/tls" 14 >"$BATS_TEST_TMPDIR/redial.out" 2>&1
  cat "$BATS_TEST_TMPDIR/redial.out"
  grep -q "second session" "$BATS_TEST_TMPDIR/redial.out"
  grep -q "output: long-ran" "$BATS_TEST_TMPDIR/redial.out"
  grep -q "result: exited 0" "$BATS_TEST_TMPDIR/redial.out"
  # Then it is closed, and laptop's own daemon reaches vps directly again.
  wait_for 20 grep -q "direct session with laptop closed: another direct session to it is kept" "$BATS_TEST_TMPDIR/vps/state/daemon.log"
  wait_for 20 online_over laptop vps direct
  exec_is_byte_exact
}
