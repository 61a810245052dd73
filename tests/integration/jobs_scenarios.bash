# Durable-job scenarios shared by jobs.bats (loopback) and cluster_netns.bats (namespaces). Each
# runs on make_cluster's desktop (leader), vps and laptop; jobs run on vps unless said otherwise.

# Every job supervisor a test started, found by the state dirs of this test's daemons (never by
# name): killed with their process groups in teardown.
kill_job_supervisors() {
  local f pid pgid
  for f in "$BATS_TEST_TMPDIR"/*/state/jobs/*/process.json; do
    [ -f "$f" ] || continue
    pid=$(jq -r .supervisor "$f")
    pgid=$(jq -r .pgid "$f")
    kill -KILL -- "-$pgid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  done
  return 0
}

# job_dir PEER ID: where PEER keeps job ID ("vps:3" → .../vps/state/jobs/3).
job_dir() { echo "$BATS_TEST_TMPDIR/$1/state/jobs/${2#*:}"; }

# job_field ON ID KEY: one field of listJobs --json as seen from ON.
job_field() { dd "$1" listJobs --json | jq -r --arg id "$2" --arg k "$3" '.[] | select(.id == $id) | .[$k]'; }

scenario_job_basics() {
  make_cluster
  run dd laptop execOnPeer --peer vps --directory "$W" --detach --name build \
    --command 'echo started; echo to-err >&2; cat /dev/null; sleep 1; echo done; exit 3'
  [ "$status" -eq 0 ]
  id=$(echo "$output" | tail -n 1)
  [[ "$id" =~ ^vps:[0-9]+$ ]]
  # Listed from another member, running, with the contract's keys.
  run dd desktop listJobs --peer vps --json
  [ "$status" -eq 0 ]
  echo "$output" | jq -e --arg id "$id" '.[] | select(.id == $id) | .state == "running" and .name == "build" and .peer == "vps" and .exit_code == null'
  echo "$output" | jq -e 'all(.[]; has("id") and has("peer") and has("name") and has("state") and has("exit_code") and has("signal") and has("started") and has("ended") and has("directory") and has("command") and has("stdout_bytes") and has("stderr_bytes") and has("dropped_bytes"))'
  # Attach from the leader follows to the end and exits with the job's status.
  run --separate-stderr dd desktop attachJob "$id"
  [ "$status" -eq 3 ]
  [ "$output" = "$(printf 'started\ndone')" ]
  [ "$stderr" = "to-err" ]
  run dd laptop waitJob vps:build
  [ "$status" -eq 3 ]
  [ "$(job_field laptop "$id" state)" = exited ]
  [ "$(job_field laptop "$id" exit_code)" = 3 ]
  # Without --peer: every online member's jobs.
  dd desktop listJobs | grep -q "^$id "
}
