#!/usr/bin/env bats
# Remote execution on a loopback cluster (desktop = leader, vps and laptop = workers): the
# execution semantics of the contract, with real processes, pipes, signals and git repositories.

bats_require_minimum_version 1.5.0
load helpers
load cluster_scenarios

setup() {
  use_loopback
  W=$BATS_TEST_TMPDIR/work
  mkdir -p "$W"
}
teardown() {
  # Stray test processes recorded by pid files (never by name).
  for f in "$BATS_TEST_TMPDIR"/*.pidof; do [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null; done
  stop_all_daemons
}

git_q() { git -c user.name=t -c user.email=t@example.invalid -c init.defaultBranch=main "$@" >/dev/null 2>&1; }

@test "git pull on a peer really pulls the new commit; gitOnPeer log shows the history; relayed works too" {
  make_cluster
  git_q init --bare "$W/origin.git"
  git_q clone "$W/origin.git" "$W/seed"
  (cd "$W/seed" && git_q commit --allow-empty -m first && git_q push origin HEAD:main)
  git_q clone "$W/origin.git" "$W/deployed"
  (cd "$W/seed" && git_q commit --allow-empty -m "second commit" && git_q push origin HEAD:main)
  # Direct: leader → vps.
  run dd desktop execOnPeer --peer vps --directory "$W/deployed" --command "git pull"
  [ "$status" -eq 0 ]
  [ "$(git -C "$W/deployed" log -1 --format=%s)" = "second commit" ]
  run dd desktop gitOnPeer --peer vps --directory "$W/deployed" log --oneline -5
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == *"second commit" && "${lines[1]}" == *"first" ]]
  # Relayed: laptop → leader → vps, same result.
  (cd "$W/seed" && git_q commit --allow-empty -m third && git_q push origin HEAD:main)
  run dd laptop gitOnPeer --peer vps --directory "$W/deployed" pull --ff-only
  [ "$status" -eq 0 ]
  [ "$(git -C "$W/deployed" log -1 --format=%s)" = "third" ]
  run dd laptop gitOnPeer --peer vps --directory "$W/deployed" rev-parse --verify nonexistent
  [ "$status" -eq 128 ]
}

@test "100 MiB of random bytes arrive byte-exact; stderr stays on stderr" {
  make_cluster
  dd laptop execOnPeer --peer vps --directory "$W" --command 'head -c 104857600 /dev/urandom | tee produced' \
    >"$W/received"
  [ "$(sha256sum <"$W/produced")" = "$(sha256sum <"$W/received")" ]
  run --separate-stderr dd laptop execOnPeer --peer vps --directory "$W" --command 'echo to-out; echo to-err >&2'
  [ "$status" -eq 0 ]
  [ "$output" = "to-out" ]
  [ "$stderr" = "to-err" ]
}

@test "tar c | d execOnPeer -- tar x copies a tree intact (stdin with EOF)" {
  make_cluster
  mkdir -p "$W/src/a/b" "$W/dst"
  head -c 3000000 /dev/urandom >"$W/src/a/b/blob"
  printf 'x' >"$W/src/a/small"
  ln -s b/blob "$W/src/a/link"
  tar c -C "$W/src" . | dd laptop execOnPeer --peer vps --directory "$W/dst" -- tar x
  diff -r "$W/src" "$W/dst"
  [ "$(readlink "$W/dst/a/link")" = "b/blob" ]
}

@test "exit statuses: 0, 1, 42, SIGKILL as 137, timeout as 124" {
  make_cluster
  for code in 0 1 42; do
    run dd laptop execOnPeer --peer vps --directory /tmp --command "exit $code"
    [ "$status" -eq "$code" ]
  done
  run dd laptop execOnPeer --peer vps --directory /tmp --command 'kill -9 $$'
  [ "$status" -eq 137 ]
  run dd laptop execOnPeer --peer vps --directory /tmp --timeout 0.5 --command 'echo $$ > '"$W"'/pg; sleep 30'
  [ "$status" -eq 124 ]
  # A timeout takes the whole process group.
  wait_for 3 eval '! group_alive "$(cat "$W/pg")"'
}

@test "Ctrl-C on d exits 130 and the remote process group is gone within a second" {
  make_cluster
  "$D" --socket "$BATS_TEST_TMPDIR/laptop/sock" execOnPeer --peer vps --directory "$W" --no-stdin \
    --command 'echo $$ > pg; sleep 60 & sleep 60; wait' &
  local pid=$!
  wait_for 5 test -s "$W/pg"
  local pg
  pg=$(cat "$W/pg")
  group_alive "$pg"
  kill -INT "$pid"
  local status=0
  wait "$pid" || status=$?
  [ "$status" -eq 130 ]
  wait_for 2 eval '! group_alive "$pg"'
}

@test "a peer killed mid-command ends the request with 255 and one line, without hanging" {
  make_cluster
  "$D" --socket "$BATS_TEST_TMPDIR/laptop/sock" execOnPeer --peer vps --directory "$W" --no-stdin \
    --command 'echo $$ > pg; exec sleep 60' >"$W/out" 2>"$W/err" &
  local pid=$!
  wait_for 5 test -s "$W/pg"
  cp "$W/pg" "$BATS_TEST_TMPDIR/orphan.pidof"
  kill -KILL "$(cat "$BATS_TEST_TMPDIR/vps/pid")"
  local status=0
  timeout 10 bash -c "while kill -0 $pid 2>/dev/null; do sleep 0.1; done"
  wait "$pid" || status=$?
  [ "$status" -eq 255 ]
  [ "$(wc -l <"$W/err")" -eq 1 ]
  grep -q "^d: Connection to peer lost: vps" "$W/err"
}

@test "output arrives live, while the command is still running" {
  make_cluster
  "$D" --socket "$BATS_TEST_TMPDIR/laptop/sock" execOnPeer --peer vps --directory "$W" --no-stdin \
    --command 'echo first; sleep 4; echo second' >"$W/live" &
  local pid=$!
  wait_for 3 grep -q first "$W/live"
  ! grep -q second "$W/live" || false
  kill -0 "$pid"   # still running
  wait "$pid"
  grep -q second "$W/live"
}

@test "100 concurrent execOnPeer from one machine to another all complete correctly" {
  make_cluster
  local i pids=()
  for i in $(seq 100); do
    dd laptop execOnPeer --peer vps --directory /tmp --no-stdin --command "echo n$i; exit $((i % 7))" >"$W/c$i" 2>&1 &
    pids+=($!)
  done
  for i in $(seq 100); do
    local status=0
    wait "${pids[$((i - 1))]}" || status=$?
    [ "$status" -eq $((i % 7)) ] || { echo "request $i: status $status: $(cat "$W/c$i")"; false; }
    [ "$(cat "$W/c$i")" = "n$i" ]
  done
}

@test "a reader paused on one stream does not hold up other streams" {
  make_cluster
  # A big output into a reader that sleeps before reading anything.
  ( dd laptop execOnPeer --peer vps --directory /tmp --no-stdin -- head -c 200000000 /dev/zero | { sleep 6; cat >/dev/null; }; echo done >"$W/slow" ) &
  echo $! >"$BATS_TEST_TMPDIR/slow.pidof"
  sleep 1
  for i in 1 2 3; do
    run dd laptop execOnPeer --peer vps --directory /tmp --no-stdin --command "echo quick$i"
    [ "$output" = "quick$i" ]
  done
  run dd laptop listPeers
  [ "$status" -eq 0 ]
  [ ! -e "$W/slow" ]   # the slow one is still paused: the others did not wait for it
  wait_for 30 test -e "$W/slow"
}

@test "daemon memory stays bounded while 1 GiB is piped to a slow reader" {
  [ -z "${AL_SANITIZED:-}" ] || skip "RSS bounds are meaningless under AddressSanitizer"
  make_cluster
  rss() { awk '/VmRSS/ {print $2}' "/proc/$(cat "$BATS_TEST_TMPDIR/$1/pid")/status"; }
  ( dd laptop execOnPeer --peer vps --directory /tmp --no-stdin -- head -c 1073741824 /dev/zero |
      { while head -c 4194304 >/dev/null; do sleep 0.02; [ -e "$W/stop" ] && break; done; } ) &
  local reader=$!
  local max=0 sample n
  for n in $(seq 40); do
    for d in vps desktop laptop; do
      sample=$(rss $d)
      [ "$sample" -gt "$max" ] && max=$sample
    done
    sleep 0.1
  done
  touch "$W/stop"
  wait "$reader" || true
  echo "max daemon RSS: ${max} KiB"
  [ "$max" -lt 65536 ]
}

@test "directories: missing, a file, relative, or escaping the allowed roots are refused and nothing runs" {
  mkdir -p "$W/allowed/sub" "$W/secret"
  ln -s "$W/secret" "$W/allowed/escape"
  cluster_with_vps_policy "{\"allowed_roots\": [\"$W/allowed\"]}"
  touch "$W/file"
  for case in "$W/missing:Directory not found on vps: $W/missing" \
              "$W/file:Not a directory on vps: $W/file" \
              "relative/dir:Directory must be an absolute path on vps: relative/dir" \
              "$W/secret:Directory outside the allowed roots on vps: $W/secret" \
              "$W/allowed/../secret:Directory outside the allowed roots on vps: $W/allowed/../secret" \
              "$W/allowed/escape:Directory outside the allowed roots on vps: $W/allowed/escape"; do
    run --separate-stderr dd laptop execOnPeer --peer vps --directory "${case%%:*}" --command "touch $W/ran"
    [ "$status" -eq 255 ]
    [ "$stderr" = "d: ${case#*:}" ]
  done
  [ ! -e "$W/ran" ]
  run dd laptop execOnPeer --peer vps --directory "$W/allowed/sub" --command pwd
  [ "$status" -eq 0 ]
  [ "$output" = "$W/allowed/sub" ]
}

@test "directory names with spaces, quotes, ;, \$(…), backticks and newlines are taken literally" {
  make_cluster
  local odd="$W/a dir; \$(touch $W/pwned) \`touch $W/pwned2\` 'q\" 
line"
  mkdir -p "$odd"
  run dd laptop execOnPeer --peer vps --directory "$odd" -- pwd
  [ "$status" -eq 0 ]
  [ "$output" = "$odd" ]
  run dd laptop execOnPeer --peer vps --directory "$W/x; touch $W/pwned3" --command true
  [ "$status" -eq 255 ]
  [ ! -e "$W/pwned" ] && [ ! -e "$W/pwned2" ] && [ ! -e "$W/pwned3" ]
  # Non-UTF-8 bytes pass unchanged.
  local bytes=$'\xff\xfe'
  mkdir "$W/$bytes"
  run dd laptop execOnPeer --peer vps --directory "$W/$bytes" -- printf '%s' "$bytes"
  [ "$output" = "$bytes" ]
}

@test "stdin: /dev/null gives EOF at once; --no-stdin leaves d's stdin unread" {
  make_cluster
  run dd laptop execOnPeer --peer vps --directory /tmp -- cat </dev/null
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
  run bash -c "printf 'a\nb\n' | { '$D' --socket '$BATS_TEST_TMPDIR/laptop/sock' execOnPeer -n --peer vps --directory /tmp -- cat; echo local:; cat; }"
  [ "$output" = "$(printf 'local:\na\nb')" ]
}

@test "a background child holding the pipes does not hold the request; it keeps running" {
  make_cluster
  local start=$SECONDS
  run dd laptop execOnPeer --peer vps --directory "$W" --no-stdin \
    --command 'sh -c "echo \$\$ > bg.pid; sleep 5; echo late" & echo main-done'
  [ "$status" -eq 0 ]
  [ "$output" = "main-done" ]
  [ $((SECONDS - start)) -lt 5 ]
  cp "$W/bg.pid" "$BATS_TEST_TMPDIR/bg.pidof"
  kill -0 "$(cat "$W/bg.pid")"   # not killed: it lives on, as under nohup
}

@test "exec on self, an unknown peer and a denied peer are refused in the seed's words" {
  cluster_with_vps_policy '{"allowed_peers": ["desktop"]}'
  run --separate-stderr dd laptop execOnPeer --peer laptop --directory /tmp --command true
  [ "$status" -eq 255 ]
  [ "$stderr" = "d: Cannot exec on self (laptop)" ]
  run --separate-stderr dd laptop execOnPeer --peer nas --directory /tmp --command true
  [ "$stderr" = "d: Peer not found: nas" ]
  run --separate-stderr dd laptop execOnPeer --peer vps --directory /tmp --command "touch $W/ran"
  [ "$status" -eq 255 ]
  [ "$stderr" = "d: Denied on vps: peer 'laptop' may not run commands here" ]
  [ ! -e "$W/ran" ]
  run dd desktop execOnPeer --peer vps --directory /tmp --command 'echo allowed'
  [ "$output" = "allowed" ]
}

@test "one audit line per request on both ends, with the same request id" {
  make_cluster
  dd laptop execOnPeer --peer vps --directory /tmp --command 'echo audited' >/dev/null
  local id
  id=$(grep "audit .*command=\[execOnPeer" "$BATS_TEST_TMPDIR/laptop/state/daemon.log" | tail -1 | sed 's/.*request=\([0-9a-f]*\).*/\1/')
  [ -n "$id" ]
  grep -q "audit request=$id requester=laptop uid=-1 command=\[exec /tmp 'echo audited'\] decision=ran result=exited code=0 exit=0 .*bytes_out=8" \
    "$BATS_TEST_TMPDIR/vps/state/daemon.log"
}

@test "beyond the host's concurrency limit a request is refused as busy, not queued" {
  cluster_with_vps_policy '{"max_concurrent": 2}'
  for i in 1 2; do
    dd laptop execOnPeer --peer vps --directory /tmp --no-stdin --command "echo \$\$ > $W/p$i; sleep 30" >/dev/null &
  done
  wait_for 5 test -s "$W/p1"
  wait_for 5 test -s "$W/p2"
  cp "$W/p1" "$BATS_TEST_TMPDIR/p1.pidof"
  cp "$W/p2" "$BATS_TEST_TMPDIR/p2.pidof"
  run --separate-stderr dd laptop execOnPeer --peer vps --directory /tmp --command "touch $W/ran"
  [ "$status" -eq 255 ]
  [ "$stderr" = "d: busy: vps is already running 2 commands" ]
  [ ! -e "$W/ran" ]
  kill "$(cat "$W/p1")"
  wait_for 5 bash -c "'$D' --socket '$BATS_TEST_TMPDIR/laptop/sock' execOnPeer --peer vps --directory /tmp --command true"
}

@test "commands run as the host's exec.run_as user" {
  cluster_with_vps_policy '{"run_as": "nobody"}'
  run dd laptop execOnPeer --peer vps --directory /tmp --command 'id -un'
  [ "$status" -eq 0 ]
  [ "$output" = "nobody" ]
}

@test "the host's exec.default_timeout stops commands that set no --timeout (124, group gone)" {
  cluster_with_vps_policy '{"default_timeout": "1s"}'
  run dd laptop execOnPeer --peer vps --directory "$W" --no-stdin --command 'echo $$ > pg; sleep 30'
  [ "$status" -eq 124 ]
  wait_for 3 eval '! group_alive "$(cat "$W/pg")"'
  # An explicit --timeout wins over the default.
  run dd laptop execOnPeer --peer vps --directory /tmp --timeout 3 --command 'sleep 1.5; echo done'
  [ "$status" -eq 0 ]
  [ "$output" = "done" ]
}

@test "exec.allowed_roots cannot be raced: a directory swapped for a symlink between check and entry runs nothing outside" {
  mkdir -p "$W/allowed/d"
  ln -s /etc "$W/allowed/l"
  cluster_with_vps_policy "{\"allowed_roots\": [\"$W/allowed\"]}"
  # Exchange d (a real directory) and l (a symlink to /etc) atomically, over and over.
  python3 - "$W/allowed/d" "$W/allowed/l" "$W/stop" <<'PY' &
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b, stop = (s.encode() for s in sys.argv[1:])
while not os.path.exists(stop):
    for _ in range(2000):
        libc.renameat2(-100, a, -100, b, 2)  # AT_FDCWD, RENAME_EXCHANGE
PY
  echo $! >"$BATS_TEST_TMPDIR/swapper.pidof"
  local i out ran=0 outside=0
  for i in $(seq 150); do
    out=$(dd laptop execOnPeer --peer vps --directory "$W/allowed/d" --no-stdin -- pwd 2>/dev/null) || continue
    ran=$((ran + 1))
    [[ "$out" == "$W/allowed/"* ]] || { outside=$((outside + 1)); echo "ran in: $out"; }
  done
  touch "$W/stop"
  wait "$(cat "$BATS_TEST_TMPDIR/swapper.pidof")" || true
  echo "ran $ran of 150, $outside outside the allowed root"
  [ "$outside" -eq 0 ]
  [ "$ran" -gt 0 ]
}

# live_sleep MARK: pid of a live (not zombie) `sleep MARK`, empty if none.
live_sleep() {
  ps -eo pid=,stat=,args= | awk -v m="sleep $1" '{p = $1; s = $2; $1 = ""; $2 = ""; sub(/^ +/, "")} $0 == m && s !~ /^Z/ {print p}'
}

# escaped_processes_end: a timeout and a Ctrl-C each end a process that left the command's process
# group and session with setsid (found by a unique `sleep` argument), wherever it was reparented.
escaped_processes_end() {
  # One escapes with setsid, one with setsid and a double fork (its parent exits: reparented).
  local mark=300.$RANDOM$RANDOM orphan=302.$RANDOM$RANDOM
  run dd laptop execOnPeer --peer vps --directory "$W" --no-stdin --timeout 1 \
    --command "setsid sleep $mark & echo \$! > bg1; setsid sh -c 'sleep $orphan & echo \$! > bg0'; sleep 30"
  [ "$status" -eq 124 ]
  cp "$W/bg1" "$BATS_TEST_TMPDIR/bg1.pidof"
  cp "$W/bg0" "$BATS_TEST_TMPDIR/bg0.pidof"
  wait_for 5 eval '[ -z "$(live_sleep '"$mark"')" ]'
  wait_for 5 eval '[ -z "$(live_sleep '"$orphan"')" ]'

  mark=301.$RANDOM$RANDOM
  "$D" --socket "$BATS_TEST_TMPDIR/laptop/sock" execOnPeer --peer vps --directory "$W" --no-stdin \
    --command "setsid sleep $mark & echo \$! > bg2; sleep 60" &
  local pid=$!
  wait_for 5 test -s "$W/bg2"
  cp "$W/bg2" "$BATS_TEST_TMPDIR/bg2.pidof"
  wait_for 5 eval '[ -n "$(live_sleep '"$mark"')" ]'
  kill -INT "$pid"
  local status=0
  wait "$pid" || status=$?
  [ "$status" -eq 130 ]
  wait_for 5 eval '[ -z "$(live_sleep '"$mark"')" ]'
}

@test "timeout and Ctrl-C also end processes that escaped with setsid (default isolation: a cgroup per request)" {
  make_cluster
  if grep -q ' - cgroup2 ' /proc/self/mountinfo; then
    grep -q "exec isolation: cgroup" "$BATS_TEST_TMPDIR/vps/state/daemon.log"
  fi
  escaped_processes_end
  # A command that finished normally still leaves its background children running (as nohup).
  run dd laptop execOnPeer --peer vps --directory "$W" --no-stdin --command 'setsid sleep 30 & echo $! > bg3'
  [ "$status" -eq 0 ]
  cp "$W/bg3" "$BATS_TEST_TMPDIR/bg3.pidof"
  kill -0 "$(cat "$W/bg3")"
}

@test "timeout and Ctrl-C also end processes that escaped with setsid (exec.isolation: subreaper)" {
  cluster_with_vps_policy '{"isolation": "subreaper"}'
  grep -q "exec isolation: subreaper" "$BATS_TEST_TMPDIR/vps/state/daemon.log"
  escaped_processes_end
  # Background children of a command that finished normally keep running, and once they exit the
  # daemon (their subreaper) reaps them: no zombies pile up.
  run dd laptop execOnPeer --peer vps --directory "$W" --no-stdin --command 'setsid sh -c "sleep 4" & echo $! > bg3'
  [ "$status" -eq 0 ]
  cp "$W/bg3" "$BATS_TEST_TMPDIR/bg3.pidof"
  kill -0 "$(cat "$W/bg3")"
  wait_for 15 eval '! kill -0 "$(cat "$W/bg3")" 2>/dev/null && ! ps -o stat= --ppid "$(cat "$BATS_TEST_TMPDIR/vps/pid")" | grep -q "^Z"'
}

@test "a bad exec.isolation refuses the exec plugin with the reason" {
  echo '{"exec": {"isolation": "chroot"}}' >"$BATS_TEST_TMPDIR/bad.json"
  start_daemon vps --config "$BATS_TEST_TMPDIR/bad.json"
  run dd vps listPlugins --json
  [ "$(echo "$output" | jq -r '.[] | select(.name == "peer_exec") | .state + ": " + .reason')" = \
    'failed: init failed: exec.isolation: "chroot" is not one of "auto", "cgroup", "subreaper"' ]
}

@test "commands get their user's environment and who ran them, never the daemon's" {
  export AL_DAEMON_ONLY_SECRET=must-not-leak
  make_cluster
  unset AL_DAEMON_ONLY_SECRET
  run dd laptop execOnPeer --peer vps --directory / --command 'env'
  [ "$status" -eq 0 ]
  echo "$output"
  [[ "$output" != *AL_DAEMON_ONLY_SECRET* && "$output" != *BATS_* ]]
  local shell
  shell=$(getent passwd root | cut -d: -f7)
  for want in HOME=/root USER=root LOGNAME=root "SHELL=$shell" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    AUTOMATELINUX_PEER=vps AUTOMATELINUX_REQUESTER=laptop; do
    printf '%s\n' "$output" | grep -qx "$want" || { echo "missing $want"; false; }
  done
}

@test "jobs run as the host's exec.run_as user too, their output still recorded" {
  cluster_with_vps_policy '{"run_as": "nobody"}'
  id=$(dd laptop execOnPeer --peer vps --directory /tmp --detach --command 'id -un' | tail -n 1)
  run dd laptop attachJob "$id"
  [ "$status" -eq 0 ]
  [ "$output" = "nobody" ]
}
