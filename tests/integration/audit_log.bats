#!/usr/bin/env bats
# `d auditLog` on a loopback cluster (desktop = leader, vps and laptop = workers): both ends of a
# request, time filters, following, denials, forged newlines (audit_scenarios.bash, also run in
# the namespace cluster), and what only the loopback suite checks: the read policy, jobs,
# offline members, rotation.

bats_require_minimum_version 1.5.0
load helpers
load cluster_scenarios
load jobs_scenarios
load audit_scenarios

setup() {
  use_loopback
  W=$BATS_TEST_TMPDIR/work
  mkdir -p "$W"
}
teardown() {
  stop_followers
  kill_job_supervisors
  stop_all_daemons
}

@test "a command run from laptop on vps appears in auditLog --peer all on desktop with both ends' records" {
  scenario_audit_both_ends
}

@test "--since, --until and --limit pick records by time; bad values are refused naming the option" {
  scenario_audit_time_filters
}

@test "--follow prints new records from every member, resumes after a member restarts, ends with 130 on Ctrl-C" {
  scenario_audit_follow
}

@test "a denied request is recorded as denied; a newline in a command cannot forge a record" {
  scenario_audit_denied_and_forged
}

@test "audit.allowed_peers decides who may read a member's records" {
  cluster_with_vps_config '"audit": {"allowed_peers": ["desktop"]}'
  run dd laptop auditLog --peer vps
  [ "$status" -eq 255 ]
  [[ "$output" == *"Denied on vps: peer 'laptop' may not read the audit log (audit.allowed_peers)"* ]]
  [[ "$output" == *"1 of 1 peers did not answer: vps"* ]]
  run dd desktop auditLog --peer vps
  [ "$status" -eq 0 ]
  # The refusal itself is audited on vps, as denied.
  audit_json vps | jq -e -s 'map(select(.requester == "laptop" and .decision == "denied")) | length >= 1'
}

@test "job records carry the job id: the start request and the end" {
  make_cluster
  id=$(dd laptop execOnPeer --peer vps --directory "$W" --detach --command 'echo job-out; exit 3' | tail -n 1)
  n=${id#vps:}
  run dd laptop waitJob "$id"
  [ "$status" -eq 3 ]
  wait_for 10 bash -c "'$D' --socket '$BATS_TEST_TMPDIR/vps/sock' auditLog --json | grep -q job_end"
  audit_json laptop --peer vps >"$BATS_TEST_TMPDIR/jobs"
  jq -e -s --argjson n "$n" 'map(select(.event == "request" and .job == $n)) | length == 1' "$BATS_TEST_TMPDIR/jobs"
  jq -e -s --argjson n "$n" 'map(select(.event == "job_end" and .job == $n))[0] |
      .result == "exited" and .exit == 3 and .requester == "laptop" and (.command | contains("job-out"))' \
    "$BATS_TEST_TMPDIR/jobs"
  run dd laptop auditLog --peer vps
  [[ "$output" == *"vps job $n ended exited exit=3"* ]]
}

@test "an offline member is reported while the others' records are shown; the exit status says so" {
  make_cluster
  dd laptop execOnPeer --peer vps --directory /tmp --command 'echo still-shown'
  stop_daemon laptop
  wait_for 10 peer_is desktop laptop offline
  run --separate-stderr dd desktop auditLog --peer all
  [ "$status" -eq 255 ]
  [[ "$output" == *"echo still-shown"* ]]
  [[ "$stderr" == *"Peer is offline: laptop"* ]]
  [[ "$stderr" == *"1 of 3 peers did not answer: laptop"* ]]
  run dd desktop auditLog --peer nosuch
  [ "$status" -eq 255 ]
  [[ "$output" == *"Peer not found: nosuch"* ]]
}

@test "the audit file rotates at audit.max_bytes and keeps audit.keep old files; auditLog reads across them" {
  # keep_days 0: no rotated file is young enough to be kept beyond audit.keep.
  echo '{"audit": {"max_bytes": 65536, "keep": 1, "keep_days": 0}}' >"$BATS_TEST_TMPDIR/a.json"
  start_daemon a --config "$BATS_TEST_TMPDIR/a.json"
  long=$(printf 'x%.0s' $(seq 3000))
  for i in $(seq 60); do dd a listPlugins --json >/dev/null; dd a nosuch "$i-$long" >/dev/null 2>&1 || true; done
  [ -f "$BATS_TEST_TMPDIR/a/state/audit.jsonl.1" ]
  [ ! -f "$BATS_TEST_TMPDIR/a/state/audit.jsonl.2" ]
  [ "$(stat -c %s "$BATS_TEST_TMPDIR/a/state/audit.jsonl")" -le 65536 ]
  audit_json a >"$BATS_TEST_TMPDIR/rot"
  [ "$(wc -l <"$BATS_TEST_TMPDIR/rot")" -gt "$(wc -l <"$BATS_TEST_TMPDIR/a/state/audit.jsonl")" ]
  grep -q '"nosuch 60-x' "$BATS_TEST_TMPDIR/rot"
  # Past max_bytes × (keep + 1) the oldest records are gone.
  ! grep -q '"nosuch 1-x' "$BATS_TEST_TMPDIR/rot" || false
  echo '{"audit": {"keep": "two"}}' >"$BATS_TEST_TMPDIR/bad.json"
  run "$DAEMON" --socket "$BATS_TEST_TMPDIR/bad.sock" --state-dir "$BATS_TEST_TMPDIR/bad" --config "$BATS_TEST_TMPDIR/bad.json"
  [ "$status" -ne 0 ]
  [[ "$output" == *"audit.keep"*"integer"* ]]
}

@test "a member's records claiming another host are dropped with one line on stderr; out-of-order lines are kept" {
  make_cluster
  dd laptop execOnPeer --peer vps --directory /tmp --command 'echo honest-on-vps'
  dd vps execOnPeer --peer desktop --directory /tmp --command 'echo honest-on-desktop'
  # Root on vps appends to its own audit file: a record that claims to be desktop's, and one of
  # its own whose time is earlier than the line before it (a clock stepped back).
  local f=$BATS_TEST_TMPDIR/vps/state/audit.jsonl now
  now=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
  printf '{"time":"%s","host":"desktop","event":"request","request":"f0f0f0f0f0f0","requester":"laptop","command":"forged-by-vps","decision":"ran","exit":0}\n' "$now" >>"$f"
  printf '{"time":"2020-01-01T00:00:00.000Z","host":"vps","event":"request","request":"a0a0a0a0a0a0","requester":"laptop","command":"stepped-back","decision":"ran","exit":0}\n' >>"$f"
  # Read from a third member, laptop: plain and --json alike.
  run --separate-stderr dd laptop auditLog --peer all
  echo "$output"
  echo "$stderr"
  [ "$status" -eq 0 ]
  [ "$stderr" = "d: vps sent 1 record claiming another host; ignored" ]
  [[ "$output" != *forged-by-vps* ]]
  [[ "$output" == *"vps ran exit=0 "*"by laptop in /tmp: exec /tmp 'echo honest-on-vps'"* ]]
  [[ "$output" == *" desktop ran exit=0 "*"by vps in /tmp: exec /tmp 'echo honest-on-desktop'"* ]]
  # The stepped-back line is kept, shown at its own time: the oldest, so first.
  [[ "${lines[0]}" == "2020-01-01T00:00:00.000Z vps ran exit=0 req=a0a0a0a0a0a0 by laptop: stepped-back" ]]
  run --separate-stderr dd laptop auditLog --peer all --json
  [ "$status" -eq 0 ]
  [ "$stderr" = "d: vps sent 1 record claiming another host; ignored" ]
  [[ "$output" != *forged-by-vps* ]]
  jq -e -s 'map(select(.host == "desktop" and (.command | contains("honest-on-desktop")))) | length == 1' <<<"$output"
  jq -e -s 'map(select(.host == "vps" and (.command | contains("honest-on-vps")))) | length == 1' <<<"$output"
  jq -e -s '.[0].command == "stepped-back" and (map(.time) == (map(.time) | sort))' <<<"$output"
  # desktop's own records are untouched by the forgery.
  run --separate-stderr dd laptop auditLog --peer desktop
  [ -z "$stderr" ]
  [[ "$output" == *honest-on-desktop* ]]
}
