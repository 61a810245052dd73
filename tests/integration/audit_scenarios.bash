# Cluster-wide audit (`d auditLog`), shared by the loopback suite (audit_log.bats) and the
# namespace suite (cluster_netns.bats). Every daemon writes state/audit.jsonl; auditLog merges the
# records of the members asked for.

# Followers (`auditLog --follow` in the background) are stopped by PID in teardown.
start_follower() {
  local name=$1 out=$2
  shift 2
  # `d` itself in the background (not the dd function's subshell), so signals reach it.
  "$D" --socket "$BATS_TEST_TMPDIR/$name/sock" auditLog "$@" >"$out" 2>"$out.err" &
  echo $! >>"$BATS_TEST_TMPDIR/followers"
}
stop_followers() {
  local pid
  [ -f "$BATS_TEST_TMPDIR/followers" ] || return 0
  while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$BATS_TEST_TMPDIR/followers"
  rm -f "$BATS_TEST_TMPDIR/followers"
}

# audit_json ON ARGS…: auditLog --json on daemon ON; fails unless every line is one JSON object.
audit_json() {
  local name=$1
  shift
  dd "$name" auditLog --json "$@" >"$BATS_TEST_TMPDIR/audit.out"
  jq -e -s 'all(type == "object")' "$BATS_TEST_TMPDIR/audit.out" >/dev/null
  cat "$BATS_TEST_TMPDIR/audit.out"
}

# The request a command ran under, from vps's record of it.
request_of() { jq -r --arg c "$1" 'select(.host == "vps" and (.command | contains($c))) | .request' | tail -n 1; }

scenario_audit_both_ends() {
  make_cluster
  dd laptop execOnPeer --peer vps --directory /tmp --command 'echo audited-one'
  audit_json desktop --peer all >"$BATS_TEST_TMPDIR/all.json"
  rid=$(request_of "echo audited-one" <"$BATS_TEST_TMPDIR/all.json")
  [ -n "$rid" ]
  # The executing end: where, who asked, what, how it ended.
  # (Slurped: jq 1.6's -e judges by the last input, which may select nothing.)
  jq -e -s --arg r "$rid" 'map(select(.host == "vps" and .request == $r)) | length == 1 and (.[0] |
      .event == "request" and .requester == "laptop" and .directory == "/tmp" and
      .decision == "ran" and .result == "exited" and .exit == 0 and .bytes_out == 12 and
      (.duration_ms | type == "number") and (.time | test("^[0-9-]{10}T[0-9:.]{12}Z$")))' \
    "$BATS_TEST_TMPDIR/all.json"
  # The requesting end: the same request, asked by a local user.
  jq -e -s --arg r "$rid" --argjson uid "$(id -u)" 'map(select(.host == "laptop" and .request == $r)) |
      length == 1 and (.[0] | .requester == "local" and .uid == $uid and
      (.command | contains("execOnPeer")) and .decision == "ran" and .exit == 0)' \
    "$BATS_TEST_TMPDIR/all.json"
  # Time order across hosts.
  jq -s -e 'map(.time) == (map(.time) | sort)' "$BATS_TEST_TMPDIR/all.json"
  # The text form: one line per record, both ends there.
  run dd desktop auditLog --peer vps,laptop
  [ "$status" -eq 0 ]
  [[ "$output" == *" vps ran exit=0 "*"req=$rid by laptop in /tmp: exec /tmp 'echo audited-one'"* ]]
  [[ "$output" == *" laptop ran exit=0 "*"req=$rid by uid $(id -u): execOnPeer"* ]]
  # Without --peer: this host only.
  run dd vps auditLog --json
  [ "$status" -eq 0 ]
  ! grep -q '"host":"laptop"' <<<"$output" || false
}

scenario_audit_time_filters() {
  make_cluster
  dd laptop execOnPeer --peer vps --directory /tmp --command 'echo early'
  sleep 1.1
  mark=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  sleep 1.1
  dd laptop execOnPeer --peer vps --directory /tmp --command 'echo late'
  # First, before any reading adds records of its own (reads are requests, audited too).
  audit_json laptop --peer vps --limit 1 >"$BATS_TEST_TMPDIR/newest"
  [ "$(wc -l <"$BATS_TEST_TMPDIR/newest")" -eq 1 ]
  grep -q "echo late" "$BATS_TEST_TMPDIR/newest"
  audit_json laptop --peer vps --since "$mark" >"$BATS_TEST_TMPDIR/since"
  grep -q "echo late" "$BATS_TEST_TMPDIR/since"
  ! grep -q "echo early" "$BATS_TEST_TMPDIR/since" || false
  audit_json laptop --peer vps --until "$mark" >"$BATS_TEST_TMPDIR/until"
  grep -q "echo early" "$BATS_TEST_TMPDIR/until"
  ! grep -q "echo late" "$BATS_TEST_TMPDIR/until" || false
  audit_json laptop --peer vps --since 1h >"$BATS_TEST_TMPDIR/hour"
  grep -q "echo early" "$BATS_TEST_TMPDIR/hour"
  grep -q "echo late" "$BATS_TEST_TMPDIR/hour"
  run dd laptop auditLog --since yesterday
  [ "$status" -eq 255 ]
  [[ "$output" == *"--since: 'yesterday' is neither a duration"* ]]
  run dd laptop auditLog --follow --until 1h
  [ "$status" -eq 255 ]
  [[ "$output" == *"--until cannot be combined with --follow"* ]]
}

scenario_audit_follow() {
  make_cluster
  F=$BATS_TEST_TMPDIR/follow.json
  start_follower desktop "$F" --peer all --follow --json
  follower=$(tail -n 1 "$BATS_TEST_TMPDIR/followers")
  sleep 0.5
  dd laptop execOnPeer --peer vps --directory /tmp --command 'echo live-one'
  wait_for 5 grep -q 'echo live-one' "$F"
  grep -q '"host":"laptop".*execOnPeer' "$F" || wait_for 5 grep -q '"host":"laptop"' "$F"
  # vps goes away and comes back: the follower resumes with what vps records afterwards.
  stop_daemon vps
  start_peer vps
  wait_for 15 peer_is laptop vps online
  dd laptop execOnPeer --peer vps --directory /tmp --command 'echo after-restart'
  wait_for 10 grep -q 'echo after-restart' "$F"
  [ "$(grep -c 'echo live-one' "$F" | head -n 1)" -ge 1 ]
  [ "$(grep '"host":"vps"' "$F" | grep -c 'echo live-one')" -eq 1 ]  # not repeated on resuming
  jq -e -s 'all(type == "object")' "$F"
  # Ctrl-C ends it with 130.
  kill -INT "$follower"
  status=0
  wait "$follower" || status=$?
  [ "$status" -eq 130 ]
}

scenario_audit_denied_and_forged() {
  cluster_with_vps_policy '{"allowed_roots": ["/tmp"]}'
  run dd laptop execOnPeer --peer vps --directory / --command 'echo nope'
  [ "$status" -eq 255 ]
  audit_json laptop --peer vps >"$BATS_TEST_TMPDIR/denied"
  jq -e -s 'map(select(.command | contains("echo nope")))[0] |
      .decision == "denied" and .directory == "/" and .exit == 255 and
      (.reason | contains("outside the allowed roots"))' "$BATS_TEST_TMPDIR/denied"
  # A newline in a command cannot make a second record, in the file or in either output form.
  forged='{"time":"2026-01-01T00:00:00.000Z","host":"vps","event":"forged"}'
  dd laptop execOnPeer --peer vps --directory /tmp --command "true
: '$forged'"
  audit_json laptop --peer vps >"$BATS_TEST_TMPDIR/forged"
  jq -e -s 'map(select(.event == "forged")) | length == 0' "$BATS_TEST_TMPDIR/forged"
  ! grep -q '^{"time":"2026-01-01' "$BATS_TEST_TMPDIR/vps/state/audit.jsonl" || false
  run dd laptop auditLog --peer vps
  [ "$status" -eq 0 ]
  ! grep -q '^2026-01-01' <<<"$output" || false
  [[ "$output" == *'true\x0a: '*'{"time":"2026-01-01'* ]]
}
