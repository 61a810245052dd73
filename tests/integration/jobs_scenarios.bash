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
  # A command line with control characters cannot break the table or reach the terminal.
  evil=$(dd laptop execOnPeer --peer vps --directory "$W" --detach -- printf "$(printf 'a\nb\033[31mred')" | tail -n 1)
  dd laptop waitJob "$evil"
  run dd desktop listJobs --peer vps
  [ "$(echo "$output" | grep -c "^$evil ")" -eq 1 ]
  [[ "$output" != *$'\033'* ]]
  # The SDK's one rule (escape_untrusted): every control as \xNN, the newline included.
  [[ "$output" == *'a\x0ab\x1b[31mred'* ]]
  run dd desktop listJobs --peer nosuch
  [ "$status" -eq 255 ]
  [[ "$output" == *"Peer not found: nosuch"* ]]

  # Ctrl-C on attachJob detaches (130); the job runs on. A closed stdout ends attachJob with 141.
  id=$(dd laptop execOnPeer --peer vps --directory "$W" --detach --command 'while :; do echo y; sleep 0.1; done' | tail -n 1)
  "$D" --socket "$BATS_TEST_TMPDIR/desktop/sock" attachJob "$id" >"$W/attached" &
  local apid=$!
  wait_for 5 test -s "$W/attached"
  kill -INT "$apid"
  local rc=0
  wait "$apid" || rc=$?
  [ "$rc" -eq 130 ]
  [ "$(job_field laptop "$id" state)" = running ]
  dd laptop attachJob "$id" | head -n 1
  [ "${PIPESTATUS[0]}" -eq 141 ]
  # --no-follow: what is stored, then 0 while the job still runs.
  run dd desktop attachJob "$id" --no-follow
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | head -n 1)" = y ]
  # killJob --signal TERM: the cascade starts with SIGTERM; the job's status is 128+15.
  run dd laptop killJob "$id" --signal TERM
  [ "$status" -eq 0 ]
  [ "$(job_field laptop "$id" state)" = killed ]
  [ "$(job_field laptop "$id" signal)" = 15 ]
  run dd desktop attachJob "$id" --no-follow
  [ "$status" -eq 143 ]
  run dd desktop waitJob "$id"
  [ "$status" -eq 143 ]
}

# A job started from the laptop outlives `d`, the laptop's daemon, the leader and its own daemon;
# output written while its daemon is down is kept, and so is a status reached then.
scenario_job_durability() {
  make_cluster
  # Writes a numbered line every 0.2 s until the flag file appears, then exits 7.
  cat >"$W/ticker.sh" <<'SH'
i=0
while [ ! -e "$1" ]; do i=$((i + 1)); echo "tick $i"; sleep 0.2; done
echo "stopping at $i"; exit 7
SH
  # `d` itself killed right after it asked: the job was started, it runs on.
  "$D" --socket "$BATS_TEST_TMPDIR/laptop/sock" execOnPeer --peer vps --directory "$W" --detach \
    --name ticker -- sh "$W/ticker.sh" "$W/stop" >"$W/id" &
  local dpid=$!
  wait "$dpid"
  id=$(tail -n 1 "$W/id")
  [[ "$id" =~ ^vps:[0-9]+$ ]]
  # The requesting daemon stops, the leader restarts: the job runs on.
  stop_daemon laptop
  stop_daemon desktop
  start_peer desktop
  wait_for 15 peer_is vps desktop online
  [ "$(job_field desktop "$id" state)" = running ]
  # Its own daemon restarts (as an upgrade does): still running, still recording.
  before=$(wc -l <"$(job_dir vps "$id")/stdout.0")
  stop_daemon vps
  sleep 1
  start_peer vps
  wait_for 15 peer_is desktop vps online
  [ "$(job_field vps "$id" state)" = running ]
  after=$(wc -l <"$(job_dir vps "$id")/stdout.0")
  [ "$after" -gt "$before" ]
  # It ends while its daemon is down: the status is recorded all the same.
  stop_daemon vps
  touch "$W/stop"
  wait_for 10 test -e "$(job_dir vps "$id")/status.json"
  start_peer vps
  start_peer laptop
  wait_for 15 peer_is laptop vps online
  [ "$(job_field laptop "$id" state)" = exited ]
  [ "$(job_field laptop "$id" exit_code)" = 7 ]
  # The whole output, in order, without a gap or a duplicate.
  run dd laptop attachJob "$id"
  [ "$status" -eq 7 ]
  last=$(echo "$output" | tail -n 1)
  [[ "$last" =~ ^stopping\ at\ ([0-9]+)$ ]]
  n=${BASH_REMATCH[1]}
  [ "$(echo "$output" | head -n -1)" = "$(seq 1 "$n" | sed 's/^/tick /')" ]
}

# 20 MB of random bytes, attached live by two members at once and replayed afterwards: every copy
# has the sha256 of the source.
scenario_job_bulk_output() {
  make_cluster
  head -c 20000000 /dev/urandom >"$W/random"
  want=$(sha256sum <"$W/random" | cut -d' ' -f1)
  id=$(dd laptop execOnPeer --peer vps --directory "$W" --detach -- \
    sh -c 'sleep 1; cat random; sleep 0.5' | tail -n 1)
  "$D" --socket "$BATS_TEST_TMPDIR/laptop/sock" attachJob "$id" >"$W/a1" &
  local a1=$!
  "$D" --socket "$BATS_TEST_TMPDIR/desktop/sock" attachJob "$id" >"$W/a2" &
  local a2=$!
  wait "$a1"
  wait "$a2"
  [ "$(sha256sum <"$W/a1" | cut -d' ' -f1)" = "$want" ]
  [ "$(sha256sum <"$W/a2" | cut -d' ' -f1)" = "$want" ]
  [ "$(dd desktop attachJob "$id" --no-follow | sha256sum | cut -d' ' -f1)" = "$want" ]
  [ "$(job_field vps "$id" stdout_bytes)" = 20000000 ]
  [ "$(job_field vps "$id" dropped_bytes)" = 0 ]
}

scenario_job_wait_kill_names() {
  make_cluster
  id=$(dd laptop execOnPeer --peer vps --directory "$W" --detach --name sleeper \
    --command 'sleep 3; exit 5' | tail -n 1)
  # A second running job of that name is refused, naming the first.
  run dd desktop execOnPeer --peer vps --directory "$W" --detach --name sleeper --command true
  [ "$status" -eq 255 ]
  [ "$output" = "d: Job already running: vps:sleeper ($id)" ] || [ "$output" = "Job already running: vps:sleeper ($id)" ]
  run --separate-stderr dd desktop waitJob vps:sleeper --timeout 0.5
  [ "$status" -eq 75 ]
  [ "$stderr" = "still running: vps:sleeper" ]
  run dd desktop waitJob vps:sleeper
  [ "$status" -eq 5 ]
  # Once it has ended, the name is free again; vps:NAME means the newest.
  id2=$(dd desktop execOnPeer --peer vps --directory "$W" --detach --name sleeper --command 'exit 0' | tail -n 1)
  [ "$id2" != "$id" ]
  run dd laptop waitJob vps:sleeper
  [ "$status" -eq 0 ]
  # Two starts of one name at the same moment: exactly one runs.
  local twins=()
  for who in laptop desktop; do
    "$D" --socket "$BATS_TEST_TMPDIR/$who/sock" execOnPeer --peer vps --directory "$W" --detach \
      --name twin --command 'sleep 2' >"$W/twin-$who" 2>&1 &
    twins+=($!)
  done
  wait "${twins[@]}" || true
  [ "$(cat "$W"/twin-* | grep -c '^vps:[0-9]*$')" -eq 1 ]
  [ "$(cat "$W"/twin-* | grep -c 'Job already running: vps:twin')" -eq 1 ]

  # killJob: the whole group goes, background children and an INT-ignoring shell included.
  id=$(dd laptop execOnPeer --peer vps --directory "$W" --detach \
    --command 'trap "" INT; sleep 300 & sleep 301 & wait' | tail -n 1)
  wait_for 5 test -s "$(job_dir vps "$id")/process.json"
  pgid=$(jq -r .pgid "$(job_dir vps "$id")/process.json")
  wait_for 5 pgrep -g "$pgid" sleep
  run dd desktop killJob "$id"
  [ "$status" -eq 0 ]
  ! group_alive "$pgid" || false
  [ "$(job_field laptop "$id" state)" = killed ]
  run dd laptop attachJob "$id"
  [ "$status" -ge 129 ]

  # Unknown ids and bad requests: one line, 255.
  run dd laptop attachJob vps:999
  [ "$status" -eq 255 ]
  [[ "$output" == *"Job not found: vps:999" ]]
  run dd laptop waitJob nocolon
  [ "$status" -eq 255 ]
  run dd laptop killJob "$id" --signal NOPE
  [ "$status" -eq 255 ]
  run dd laptop execOnPeer --peer vps --directory "$W" --detach --name 9bad --command true
  [ "$status" -eq 255 ]
  [[ "$output" == *"invalid --name '9bad'"* ]]
  run dd laptop execOnPeer --peer vps,laptop --directory "$W" --detach --command true
  [ "$status" -eq 255 ]
  run dd laptop execOnPeer --peer vps --directory "$W/missing" --detach --command true
  [ "$status" -eq 255 ]
  [ "$(echo "$output" | wc -l)" -eq 1 ]
}

# The job's timeout ends it as execOnPeer's does (124), and a lost job is reported as lost.
scenario_job_timeout_and_lost() {
  make_cluster
  id=$(dd laptop execOnPeer --peer vps --directory "$W" --detach --timeout 0.5 \
    --command 'sleep 30' | tail -n 1)
  run dd laptop waitJob "$id"
  [ "$status" -eq 124 ]
  [ "$(job_field laptop "$id" state)" = timeout ]

  id=$(dd laptop execOnPeer --peer vps --directory "$W" --detach --command 'echo before; sleep 300' | tail -n 1)
  wait_for 5 test -s "$(job_dir vps "$id")/process.json"
  # While its daemon is down, the supervisor and the job die without a word.
  stop_daemon vps
  kill -KILL "$(jq -r .supervisor "$(job_dir vps "$id")/process.json")"
  kill -KILL -- "-$(jq -r .pgid "$(job_dir vps "$id")/process.json")"
  start_peer vps
  wait_for 15 peer_is laptop vps online
  [ "$(job_field laptop "$id" state)" = lost ]
  run --separate-stderr dd laptop attachJob "$id"
  [ "$status" -eq 255 ]
  [ "$output" = before ]
  [[ "$stderr" == *"Job lost: $id" ]]
}

# jobs.max_output_bytes keeps the first bytes and the newest, with one marker line at the cut;
# jobs.keep and jobs.max_total_bytes remove finished jobs, oldest first.
scenario_job_retention() {
  cluster_with_vps_config '"jobs": {"max_output_bytes": 131072, "max_total_bytes": 300000, "keep": "4s"}'

  seq 1 100000 >"$W/lines"  # 588895 bytes
  total=$(stat -c %s "$W/lines")
  id=$(dd laptop execOnPeer --peer vps --directory "$W" --detach -- cat lines | tail -n 1)
  run dd laptop waitJob "$id"
  [ "$status" -eq 0 ]
  dd laptop attachJob "$id" >"$W/replay"
  # The first 64 KiB (half the cap, the first MiB at most) as they were...
  cmp -n 65536 "$W/lines" "$W/replay"
  # ...then one marker line naming how many bytes are missing...
  marker=$(grep -a '^\[d: [0-9]* bytes dropped\]$' "$W/replay")
  [ "$(echo "$marker" | wc -l)" -eq 1 ]
  dropped=$(echo "$marker" | tr -dc 0-9)
  [ "$dropped" = "$(job_field laptop "$id" dropped_bytes)" ]
  kept=$(job_field laptop "$id" stdout_bytes)
  [ "$((kept + dropped))" -eq "$total" ]
  [ "$kept" -le 131072 ]
  # ...then the newest bytes, exactly.
  tail -c "$((kept - 65536))" "$W/lines" >"$W/want-tail"
  tail -c "$((kept - 65536))" "$W/replay" | cmp - "$W/want-tail"

  # Three finished jobs of ~128 KiB each exceed max_total_bytes (300000) with the next start:
  # the oldest goes first.
  ids=("$id")
  for i in 1 2; do
    ids+=("$(dd laptop execOnPeer --peer vps --directory "$W" --detach -- cat lines | tail -n 1)")
    dd laptop waitJob "${ids[-1]}"
  done
  last=$(dd laptop execOnPeer --peer vps --directory "$W" --detach -- true | tail -n 1)
  dd laptop waitJob "$last"
  [ ! -d "$(job_dir vps "${ids[0]}")" ]
  [ -d "$(job_dir vps "${ids[2]}")" ]
  run dd laptop attachJob "${ids[0]}"
  [ "$status" -eq 255 ]
  [[ "$output" == *"Job not found: ${ids[0]}" ]]
  # jobs.keep (4 s): once passed, the next start removes every finished job.
  sleep 4.5
  dd laptop execOnPeer --peer vps --directory "$W" --detach -- true
  [ ! -d "$(job_dir vps "${ids[2]}")" ]
  [ "$(dd laptop listJobs --peer vps --json | jq length)" -eq 1 ]
}

# A daemon that stops (SIGTERM, as systemd's stop or restart does) ends its ordinary commands with
# the kill cascade before it exits — one that ignores SIGINT included — while its jobs run on.
scenario_job_daemon_stop() {
  make_cluster
  id=$(dd laptop execOnPeer --peer vps --directory "$W" --detach \
    --command 'trap "" INT TERM; sleep 300 & sleep 301 & wait' | tail -n 1)
  wait_for 5 test -s "$(job_dir vps "$id")/process.json"
  job_pgid=$(jq -r .pgid "$(job_dir vps "$id")/process.json")
  "$D" --socket "$BATS_TEST_TMPDIR/laptop/sock" execOnPeer --peer vps --directory "$W" -n \
    --command 'trap "" INT; ps -o pgid= $$ | tr -d " " >pgid; sleep 302 & sleep 303; wait' &
  local dpid=$!
  wait_for 5 test -s "$W/pgid"
  pgid=$(cat "$W/pgid")
  wait_for 5 pgrep -g "$pgid" sleep
  stop_daemon vps
  wait "$dpid" || true
  # Gone within the contract's second (a zombie awaiting its reaper counts as gone).
  wait_for 2 eval '! group_alive "$pgid"'
  # The job is untouched: its processes run, and the restarted daemon still knows it as running.
  group_alive "$job_pgid"
  start_peer vps
  wait_for 15 peer_is laptop vps online
  [ "$(job_field laptop "$id" state)" = running ]
  run dd laptop killJob "$id"
  [ "$status" -eq 0 ]
  ! group_alive "$job_pgid" || false
}
