#!/usr/bin/env bats
# Durable jobs on a loopback cluster (desktop = leader, vps and laptop = workers): started with
# execOnPeer --detach, listed, attached, waited for and killed from any member, and outliving the
# requester, its daemon, the leader and their own daemon (jobs_scenarios.bash, also run in the
# namespace cluster by cluster_netns.bats).

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

@test "a detached job: id on the last line, listed, attached byte-exact, waited for, its status kept" {
  scenario_job_basics
}

@test "a job outlives d, the requesting daemon, the leader and its own daemon; ends recorded while its daemon is down" {
  scenario_job_durability
}

@test "20 MB of random output: two live attachers and a replay all match the source's sha256" {
  scenario_job_bulk_output
}

@test "waitJob --timeout says still running (75) then the status; names refuse a second running job; killJob leaves no process of the group" {
  scenario_job_wait_kill_names
}

@test "a job's --timeout ends it as 124; a job whose supervisor died while its daemon was down is lost" {
  scenario_job_timeout_and_lost
}

@test "output past jobs.max_output_bytes keeps head and tail with one marker line; jobs.keep and jobs.max_total_bytes remove old jobs" {
  scenario_job_retention
}

@test "a stopping daemon ends its ordinary commands with the cascade first; its jobs run on" {
  scenario_job_daemon_stop
}

@test "running jobs count against exec.max_concurrent; a job runs under the host's exec policy" {
  cluster_with_vps_policy '{"max_concurrent": 1, "allowed_roots": ["'"$W"'"]}'
  id=$(dd laptop execOnPeer --peer vps --directory "$W" --detach --command 'sleep 30' | tail -n 1)
  run dd laptop execOnPeer --peer vps --directory "$W" --command true
  [ "$status" -eq 255 ]
  [[ "$output" == *"busy: vps is already running 1 commands"* ]]
  run dd laptop execOnPeer --peer vps --directory /tmp --detach --command true
  [ "$status" -eq 255 ]
  dd laptop killJob "$id"
  run dd laptop execOnPeer --peer vps --directory / --detach --command true
  [ "$status" -eq 255 ]
  [[ "$output" == *"/"* ]]
  # Audited on the executing host: the start and the end, with the job's number.
  n=${id#vps:}
  wait_for 5 grep -q "audit job=$n event=end state=killed" "$BATS_TEST_TMPDIR/vps/state/daemon.log"
  grep -q "audit job=$n event=start" "$BATS_TEST_TMPDIR/vps/state/daemon.log"
}

@test "listJobs and auditLog show a C1 control in a command escaped; the command's output stays byte-exact" {
  make_cluster
  # U+009B (CSI, bytes c2 9b) in the command line, and the same bytes in what the command prints.
  local cmd=$'printf \'\\302\\233[31mc1-out\\n\' # tag\xc2\x9b[2J'
  printf '\302\233[31mc1-out\n' >"$W/expected"
  id=$(dd laptop execOnPeer --peer vps --directory "$W" --detach --name c1job --command "$cmd" | tail -n 1)
  run dd laptop waitJob "$id"
  [ "$status" -eq 0 ]
  # Output is the user's data: byte for byte, live or replayed.
  dd laptop attachJob "$id" >"$W/attached"
  cmp "$W/attached" "$W/expected"
  dd laptop execOnPeer --peer vps --directory "$W" --command "$cmd" >"$W/ran"
  cmp "$W/ran" "$W/expected"
  # Metadata is escaped wherever it is shown: the listing, the audit lines, the JSON forms.
  local shown
  for shown in "listJobs --peer vps" "auditLog --peer vps" "auditLog --peer all" \
    "listJobs --json" "auditLog --peer all --json"; do
    # shellcheck disable=SC2086
    dd desktop $shown >"$W/shown"
    [ "$(LC_ALL=C grep -c $'\xc2\x9b' "$W/shown")" -eq 0 ]
  done
  dd desktop listJobs --peer vps | grep -F 'c1job' | grep -qF 'tag\xc2\x9b[2J'
  dd desktop auditLog --peer vps | grep -qF 'tag\xc2\x9b[2J'
  [ "$(dd desktop listJobs --peer vps --json | jq -r '.[0].command')" = "$cmd" ]
  dd desktop auditLog --peer vps --json | jq -e -s --arg c "$cmd" 'map(select(.command | contains($c))) | length >= 1'
}
