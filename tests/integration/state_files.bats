#!/usr/bin/env bats
# What the daemon and the job supervisors leave on disk: every file they make has an explicit mode
# (never readable by other local users, even in a state dir its owner made 0755), commands keep
# the umask they inherit, and running jobs count against jobs.max_total_bytes.

bats_require_minimum_version 1.5.0
load helpers
load cluster_scenarios
load jobs_scenarios

setup() {
  use_loopback
  W=$BATS_TEST_TMPDIR/work
  mkdir -p "$W"
}
teardown() {
  kill_job_supervisors
  stop_all_daemons
}

# The bytes of job output segments on PEER's disk, all jobs together.
output_on_disk() {
  find "$BATS_TEST_TMPDIR/$1/state/jobs" -type f -regex '.*/std\(out\|err\)\.[0-9]+' -printf '%s\n' |
    awk '{s += $1} END {print s + 0}'
}

@test "files the daemon and job supervisors make are not readable by others in a 0755 state dir; commands keep the usual umask" {
  umask 022
  for name in desktop vps laptop; do
    mkdir -p "$BATS_TEST_TMPDIR/$name/state"
    chmod 0755 "$BATS_TEST_TMPDIR/$name/state"
  done
  # A small daemon.log on vps, so that a few commands rotate it.
  cluster_with_vps_config '"log": {"max_bytes": 65536, "keep": 2}'
  [ "$(stat -c %a "$BATS_TEST_TMPDIR/vps/state")" = 755 ]

  # A command's files get the umask it inherited (022), not the daemon's private modes.
  run dd laptop execOnPeer --peer vps --directory "$W" --command 'umask; touch made-by-command'
  [ "$status" -eq 0 ]
  [ "$output" = 0022 ]
  [ "$(stat -c %a "$W/made-by-command")" = 644 ]

  # Audited command lines (about 3 KiB each) rotate vps's daemon.log.
  long=$(printf 'x%.0s' $(seq 3000))
  for i in $(seq 30); do dd laptop execOnPeer --peer vps --directory "$W" -n -- true "$i-$long"; done
  [ -f "$BATS_TEST_TMPDIR/vps/state/daemon.1.log" ]

  # A finished job (status.json, audited) and a running one (lock, control FIFO).
  id=$(dd laptop execOnPeer --peer vps --directory "$W" --detach --command 'echo out; echo err >&2' | tail -n 1)
  run dd laptop waitJob "$id"
  [ "$status" -eq 0 ]
  wait_for 5 test -e "$(job_dir vps "$id")/audited"
  running=$(dd laptop execOnPeer --peer vps --directory "$W" --detach --command 'echo started; sleep 30' | tail -n 1)
  wait_for 5 test -s "$(job_dir vps "$running")/stdout.0"
  wait_for 5 test -p "$(job_dir vps "$running")/control"

  # Nothing under any state dir is readable by others; certificates are public (in a 0700 tls/).
  run find "$BATS_TEST_TMPDIR"/{desktop,vps,laptop}/state ! -type d -perm /o=r ! -path '*/tls/*.crt'
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  for f in daemon.log daemon.1.log audit.jsonl; do
    [ "$(stat -c %a "$BATS_TEST_TMPDIR/vps/state/$f")" = 640 ]
  done
  # Every file of a job (spec, status, process, audited, output, lock, control) is exactly 0600.
  for f in spec.json status.json process.json audited stdout.0 stderr.0 lock; do
    [ "$(stat -c %a "$(job_dir vps "$id")/$f")" = 600 ]
  done
  for f in spec.json process.json stdout.0 lock control; do
    [ "$(stat -c %a "$(job_dir vps "$running")/$f")" = 600 ]
  done
  run find "$BATS_TEST_TMPDIR/vps/state/jobs" ! -type d ! -perm 0600
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  dd laptop killJob "$running"
}

@test "running jobs count against jobs.max_total_bytes: together they drop their middle with the marker, stay within it, and run to their normal end" {
  # Each job may keep 512 KiB per stream (a 256 KiB head, then 32 KiB segments): three of them
  # would keep 1.5 MiB, past the 1 MiB budget.
  cluster_with_vps_config '"jobs": {"max_output_bytes": 524288, "max_total_bytes": 1048576}'
  ids=()
  for n in 1 2 3; do
    ids+=("$(dd laptop execOnPeer --peer vps --directory "$W" --detach \
      --command "seq 1 300000; : >wrote-$n; sleep 8; echo last-$n" | tail -n 1)")
  done
  for n in 1 2 3; do wait_for 10 test -e "$W/wrote-$n"; done
  # While all three still run, they come within the budget: a job that writes drops its oldest
  # segments at once, one that has gone quiet within a second. Slack: one 64 KiB read per job (a
  # supervisor counts a write, then drops what the total needs).
  within_budget() { [ "$(output_on_disk vps)" -le $((1048576 + 3 * 65536)) ]; }
  wait_for 5 within_budget
  for id in "${ids[@]}"; do [ "$(job_field laptop "$id" state)" = running ]; done
  [ "$(output_on_disk vps)" -gt 786432 ]  # the heads (256 KiB each) are never dropped
  # Each ends normally; its replay has the first bytes, one marker line, and the newest bytes.
  seq 1 300000 >"$W/want"
  for n in 1 2 3; do
    id=${ids[$((n - 1))]}
    run dd laptop waitJob "$id"
    [ "$status" -eq 0 ]
    dd laptop attachJob "$id" >"$W/replay-$n"
    cmp -n 262144 "$W/want" "$W/replay-$n"
    marker=$(grep -a '^\[d: [0-9]* bytes dropped\]$' "$W/replay-$n")
    [ "$(echo "$marker" | wc -l)" -eq 1 ]
    [ "$(echo "$marker" | tr -dc 0-9)" = "$(job_field laptop "$id" dropped_bytes)" ]
    [ "$(tail -n 1 "$W/replay-$n")" = "last-$n" ]
    [ "$(($(job_field laptop "$id" stdout_bytes) + $(job_field laptop "$id" dropped_bytes)))" -eq $(($(stat -c %s "$W/want") + 7)) ]
  done
  [ "$(output_on_disk vps)" -le $((1048576 + 3 * 65536)) ]
}

@test "log.max_bytes, log.keep, audit.keep_days and audit.max_total_bytes are checked like every key" {
  conf=$BATS_TEST_TMPDIR/daemon.json
  echo '{"log": {"max_bytes": 1048576, "keep": 5}, "audit": {"keep_days": 90, "max_total_bytes": 104857600}}' >"$conf"
  run "$DAEMON" --check-config --config "$conf"
  [ "$status" -eq 0 ]
  for bad in '"log": {"max_bytes": 100}' '"log": {"keep": "three"}' '"log": {"keep": -1}' \
    '"audit": {"keep_days": -1}' '"audit": {"keep_days": "30d"}' '"audit": {"max_total_bytes": 10}'; do
    echo "{$bad}" >"$conf"
    run --separate-stderr "$DAEMON" --check-config --config "$conf"
    [ "$status" -ne 0 ]
    key=$(echo "{$bad}" | jq -r 'to_entries[0] | .key + "." + (.value | keys[0])')
    [[ "$stderr" == *"$key"* ]]
    # The daemon refuses to start on it too.
    run "$DAEMON" --socket "$BATS_TEST_TMPDIR/sock" --state-dir "$BATS_TEST_TMPDIR/state" --config "$conf"
    [ "$status" -ne 0 ]
    [[ "$output" == *"$key"* ]]
  done
}
