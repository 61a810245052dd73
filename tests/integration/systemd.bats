#!/usr/bin/env bats
# The daemon under systemd, without systemd: a test socket plays NOTIFY_SOCKET (sd_notify's
# READY=1, WATCHDOG=1, STOPPING=1), a file plays the journal's stream (JOURNAL_STREAM), and the
# variables systemd sets for the daemon must not reach the commands it runs.

bats_require_minimum_version 1.5.0
load helpers
load cluster_scenarios
load jobs_scenarios

LISTENER=$BATS_TEST_DIRNAME/notify_listener.py

setup() {
  use_loopback
  W=$BATS_TEST_TMPDIR/work
  mkdir -p "$W" "$BATS_TEST_TMPDIR/n"
  NOTIFY_LOG=$BATS_TEST_TMPDIR/notify.log
}
teardown() {
  kill_job_supervisors
  stop_all_daemons
  # The listener and any daemon started by hand here, by the PIDs they were started with.
  local f
  for f in "$BATS_TEST_TMPDIR"/*.pidof; do
    [ -f "$f" ] && { kill -KILL "$(cat "$f")" 2>/dev/null; wait "$(cat "$f")" 2>/dev/null; }
  done
  return 0
}

# listen ADDRESS: a notify socket at ADDRESS whose datagrams go to $NOTIFY_LOG.
listen() {
  python3 "$LISTENER" "$1" "$NOTIFY_LOG" &
  echo $! >"$BATS_TEST_TMPDIR/listener.pidof"
  wait_for 5 test -e "$NOTIFY_LOG"
}

# daemon_under_notify [VAR=value…]: the daemon with NOTIFY_SOCKET (and the given variables) set,
# as systemd would start it; its pid in $DPID. The test's `d` is not used to see it start.
daemon_under_notify() {
  env NOTIFY_SOCKET="$NOTIFY_ADDR" "$@" "$DAEMON" --socket "$BATS_TEST_TMPDIR/n/sock" \
    --state-dir "$BATS_TEST_TMPDIR/n/state" 2>>"$BATS_TEST_TMPDIR/n/stderr" &
  DPID=$!
  echo "$DPID" >"$BATS_TEST_TMPDIR/daemon.pidof"
}

notified() { grep -q " $1\$" "$NOTIFY_LOG"; }
count() { grep -c " $1\$" "$NOTIFY_LOG" || true; }
at_least() { [ "$(count "$2")" -ge "$1" ]; }

@test "READY=1 arrives once the socket answers and the plugins are loaded; STOPPING=1 at SIGTERM" {
  NOTIFY_ADDR=$BATS_TEST_TMPDIR/notify.sock
  listen "$NOTIFY_ADDR"
  daemon_under_notify
  wait_for 10 notified READY=1
  # No polling: readiness means the very first request is served, with every plugin loaded.
  run "$D" --socket "$BATS_TEST_TMPDIR/n/sock" listPlugins --json
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq '[.[] | select(.state == "loaded")] | length')" -eq 4 ]  # the four bundled plugins
  [ "$(count READY=1)" -eq 1 ]
  grep -q " STATUS=serving on $BATS_TEST_TMPDIR/n/sock\$" "$NOTIFY_LOG"
  run ! notified STOPPING=1
  # No watchdog unless systemd asks for one.
  run ! notified WATCHDOG=1
  kill -TERM "$DPID"
  wait_for 5 notified STOPPING=1
  local rc=0
  wait "$DPID" || rc=$?
  [ "$rc" -eq 0 ]
  [ ! -e "$BATS_TEST_TMPDIR/n/sock" ]
}

@test "an abstract NOTIFY_SOCKET (@name) works too" {
  NOTIFY_ADDR=@al-test-$$-$RANDOM
  listen "$NOTIFY_ADDR"
  daemon_under_notify
  wait_for 10 notified READY=1
}

@test "WATCHDOG=1 keeps coming from the event loop at half WATCHDOG_USEC, when meant for us" {
  NOTIFY_ADDR=$BATS_TEST_TMPDIR/notify.sock
  listen "$NOTIFY_ADDR"
  # WATCHDOG_PID names the daemon itself (the shell's pid, which exec hands to the daemon).
  env NOTIFY_SOCKET="$NOTIFY_ADDR" WATCHDOG_USEC=400000 bash -c \
    'export WATCHDOG_PID=$$; exec "$0" --socket "$1/sock" --state-dir "$1/state"' \
    "$DAEMON" "$BATS_TEST_TMPDIR/n" 2>>"$BATS_TEST_TMPDIR/n/stderr" &
  DPID=$!
  echo "$DPID" >"$BATS_TEST_TMPDIR/daemon.pidof"
  wait_for 10 notified READY=1
  wait_for 10 at_least 6 WATCHDOG=1
  # Every 0.2 s or so: six keep-alives span at least a second, and they keep coming.
  local first last
  first=$(grep ' WATCHDOG=1$' "$NOTIFY_LOG" | head -n 1 | cut -d' ' -f1)
  last=$(grep ' WATCHDOG=1$' "$NOTIFY_LOG" | sed -n 6p | cut -d' ' -f1)
  python3 -c "import sys; d = $last - $first; sys.exit(0 if 0.8 <= d <= 5 else 1)"
  local seen
  seen=$(count WATCHDOG=1)
  wait_for 5 at_least $((seen + 1)) WATCHDOG=1
  kill -TERM "$DPID"
  wait_for 5 notified STOPPING=1
}

@test "a watchdog meant for another process (WATCHDOG_PID) is left alone" {
  NOTIFY_ADDR=$BATS_TEST_TMPDIR/notify.sock
  listen "$NOTIFY_ADDR"
  daemon_under_notify WATCHDOG_USEC=200000 WATCHDOG_PID=1
  wait_for 10 notified READY=1
  sleep 1
  run ! notified WATCHDOG=1
}

@test "with JOURNAL_STREAM naming stderr, lines carry <N> priorities and no timestamp" {
  local err=$BATS_TEST_TMPDIR/n/stderr
  : >"$err"
  local stream
  stream=$(stat -c '%d:%i' "$err")
  # A missing plugin dir is a warning (4); a plugin with the wrong ABI an error (3).
  mkdir -p "$BATS_TEST_TMPDIR/plugins"
  cp "$FIXTURES/bad_abi.so" "$BATS_TEST_TMPDIR/plugins/"
  JOURNAL_STREAM=$stream "$DAEMON" --socket "$BATS_TEST_TMPDIR/n/sock" --state-dir "$BATS_TEST_TMPDIR/n/state" \
    --plugin-dir "$BATS_TEST_TMPDIR/plugins" 2>>"$err" &
  echo $! >"$BATS_TEST_TMPDIR/daemon.pidof"
  wait_for 10 "$D" --socket "$BATS_TEST_TMPDIR/n/sock" listPlugins
  kill -TERM "$(cat "$BATS_TEST_TMPDIR/daemon.pidof")"
  wait "$(cat "$BATS_TEST_TMPDIR/daemon.pidof")" || true
  cat "$err"
  grep -q '^<6>automatelinux-daemon .* starting' "$err"
  grep -q '^<3>plugin .*bad_abi.so refused' "$err"
  grep -q '^<6>automatelinux-daemon stopped$' "$err"
  # Every line has a priority and none a timestamp; the log file keeps its timestamps.
  run ! grep -v '^<[0-7]>' "$err"
  run ! grep -E '^<[0-7]>[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$err"
  grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+ error plugin .*bad_abi.so refused' "$BATS_TEST_TMPDIR/n/state/daemon.log"

  # A warning, with the directory gone.
  : >"$err"
  JOURNAL_STREAM=$stream "$DAEMON" --socket "$BATS_TEST_TMPDIR/n/sock" --state-dir "$BATS_TEST_TMPDIR/n/state" \
    --plugin-dir "$BATS_TEST_TMPDIR/no-such-dir" 2>>"$err" &
  echo $! >"$BATS_TEST_TMPDIR/daemon.pidof"
  wait_for 10 "$D" --socket "$BATS_TEST_TMPDIR/n/sock" listPlugins
  kill -TERM "$(cat "$BATS_TEST_TMPDIR/daemon.pidof")"
  wait "$(cat "$BATS_TEST_TMPDIR/daemon.pidof")" || true
  grep -q '^<4>plugin directory .*no-such-dir' "$err"
}

@test "a JOURNAL_STREAM that is not our stderr changes nothing (timestamps, no prefixes)" {
  local err=$BATS_TEST_TMPDIR/n/stderr other=$BATS_TEST_TMPDIR/other
  : >"$err"
  : >"$other"
  JOURNAL_STREAM=$(stat -c '%d:%i' "$other") "$DAEMON" --socket "$BATS_TEST_TMPDIR/n/sock" \
    --state-dir "$BATS_TEST_TMPDIR/n/state" 2>>"$err" &
  echo $! >"$BATS_TEST_TMPDIR/daemon.pidof"
  wait_for 10 "$D" --socket "$BATS_TEST_TMPDIR/n/sock" listPlugins
  kill -TERM "$(cat "$BATS_TEST_TMPDIR/daemon.pidof")"
  wait "$(cat "$BATS_TEST_TMPDIR/daemon.pidof")" || true
  grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+ info automatelinux-daemon .* starting' "$err"
  run ! grep -q '^<' "$err"
}

@test "nothing systemd sets for the daemon reaches a command or a job it runs" {
  start_peer desktop
  start_peer laptop
  local vars=(NOTIFY_SOCKET="$BATS_TEST_TMPDIR/no-listener" WATCHDOG_USEC=60000000 WATCHDOG_PID=1
              JOURNAL_STREAM=1:1 INVOCATION_ID=0123456789abcdef LISTEN_PID=1 LISTEN_FDS=0
              LISTEN_FDNAMES=none SYSTEMD_EXEC_PID=1 RUNTIME_DIRECTORY=/run/automatelinux
              STATE_DIRECTORY=/var/lib/automatelinux)
  echo "{\"heartbeat_ms\": $HEARTBEAT_MS}" >"$BATS_TEST_TMPDIR/vps.json"
  env "${vars[@]}" bash -c "$(declare -f start_daemon); D='$D' DAEMON='$DAEMON' BATS_TEST_TMPDIR='$BATS_TEST_TMPDIR' start_daemon vps --config '$BATS_TEST_TMPDIR/vps.json'"
  PORT=$(free_port)
  dd desktop setPeerConfig --role leader --id desktop --listen "127.0.0.1:$PORT"
  TOKEN=$(dd desktop joinToken | tail -n 1)
  dd vps setPeerConfig --role worker --id vps --leader "127.0.0.1:$PORT" --token "$TOKEN"
  dd laptop setPeerConfig --role worker --id laptop --leader "127.0.0.1:$PORT" --token "$TOKEN"
  wait_for 10 peer_is laptop vps online
  # The daemon really had them (its initial environment).
  tr '\0' '\n' <"/proc/$(cat "$BATS_TEST_TMPDIR/vps/pid")/environ" | grep -q '^INVOCATION_ID=0123456789abcdef$'
  local pattern='^(NOTIFY_SOCKET|WATCHDOG_USEC|WATCHDOG_PID|JOURNAL_STREAM|INVOCATION_ID|LISTEN_[A-Z]*|SYSTEMD_EXEC_PID|RUNTIME_DIRECTORY|STATE_DIRECTORY)='
  local seen
  seen=$(dd laptop execOnPeer --peer vps --directory / -- env)
  [[ "$seen" == *"AUTOMATELINUX_PEER=vps"* ]]
  run ! grep -E "$pattern" <<<"$seen"
  seen=$(dd laptop execOnPeer --peer vps --directory / --command 'env')
  [[ "$seen" == *"AUTOMATELINUX_PEER=vps"* ]]
  run ! grep -E "$pattern" <<<"$seen"
  # A durable job (the environment its supervisor passes on).
  id=$(dd laptop execOnPeer --peer vps --directory / --detach -- env | tail -n 1)
  run dd laptop waitJob "$id"
  [ "$status" -eq 0 ]
  seen=$(dd laptop attachJob "$id" --no-follow)
  [[ "$seen" == *"AUTOMATELINUX_PEER=vps"* ]]
  run ! grep -E "$pattern" <<<"$seen"
}
