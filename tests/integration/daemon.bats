#!/usr/bin/env bats
# The framework end to end: a real daemon, its real plugins, driven by the real `d`.

bats_require_minimum_version 1.5.0
load helpers

setup() { start_daemon a; }
teardown() { stop_all_daemons; }

@test "d help lists every bundled command with a summary" {
  run dd a help
  [ "$status" -eq 0 ]
  for cmd in execOnPeer gitOnPeer getPeerStatus listPlugins help; do
    [[ "$output" == *"$cmd"* ]] || { echo "missing $cmd"; false; }
  done
  [[ "$output" == *"Run a command in a directory on a peer"* ]]
}

@test "d help CMD and d CMD --help show the command's options" {
  run dd a help execOnPeer
  [ "$status" -eq 0 ]
  [[ "$output" == *"--directory"* && "$output" == *"--no-stdin"* && "$output" == *"--timeout"* ]]
  run dd a execOnPeer --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"--command"* ]]
  run dd a --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"Commands:"* ]]
}

@test "d --version and d --help work without a daemon" {
  run "$D" --socket "$BATS_TEST_TMPDIR/nobody.sock" --version
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^d\ \(automatelinux\)\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
  run env AUTOMATELINUX_SOCKET="$BATS_TEST_TMPDIR/nobody.sock" "$D" --help
  [ "$status" -eq 0 ]
  [[ "$output" == "Usage: d "* ]]
  [[ "$output" == *execOnPeer*gitOnPeer*listPeers* ]]
  [[ "$output" == *"not reachable at $BATS_TEST_TMPDIR/nobody.sock"* ]]
  # `d help` asks the daemon (its plugins own the list), so without one it is d's failure.
  run "$D" --socket "$BATS_TEST_TMPDIR/nobody.sock" help
  [ "$status" -eq 255 ]
  run dd a --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"is reachable"*"Commands:"*listPlugins* ]]
}

@test "gitOnPeer's --help after the first git argument belongs to git" {
  run dd a gitOnPeer --peer vps --directory /x log --help
  [ "$status" -eq 255 ]
  [ "$output" = "d: Peer not found: vps" ]
}

@test "an unknown command exits 255 with exactly one line on stderr" {
  run --separate-stderr dd a foo
  [ "$status" -eq 255 ]
  [ "$output" = "" ]
  [ "$stderr" = "d: unknown command 'foo' (see 'd help')" ]
}

@test "unknown, abbreviated and value-less options exit 255 with one line" {
  run --separate-stderr dd a execOnPeer --peer vps --dir /tmp --command true
  [ "$status" -eq 255 ]
  [[ "$stderr" == *"unknown option '--dir'"* ]]
  [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
  run --separate-stderr dd a execOnPeer --peer
  [ "$status" -eq 255 ]
  [[ "$stderr" == *"'--peer' needs a value"* ]]
  run --separate-stderr dd a listPlugins extra
  [ "$status" -eq 255 ]
  [[ "$stderr" == *"unexpected argument 'extra'"* ]]
}

@test "a missing required option or a missing command is a usage error" {
  run --separate-stderr dd a execOnPeer --peer vps
  [ "$status" -eq 255 ]
  [[ "$stderr" == *"'directory' is required"* ]]
  run --separate-stderr dd a execOnPeer --peer vps --directory /tmp
  [ "$status" -eq 255 ]
  [[ "$stderr" == *"needs --command CMD or -- PROG ARGS"* ]]
  run --separate-stderr dd a execOnPeer --peer vps --directory /tmp --timeout soon --command true
  [ "$status" -eq 255 ]
  [[ "$stderr" == *"invalid --timeout 'soon'"* ]]
  run --separate-stderr "$D" --socket "$BATS_TEST_TMPDIR/a/sock"
  [ "$status" -eq 255 ]
  [[ "$stderr" == "d: no command given"* ]]
}

@test "an unreachable peer is reported in the seed's words" {
  run --separate-stderr dd a execOnPeer --peer vps --directory /tmp --command true
  [ "$status" -eq 255 ]
  [ "$stderr" = "d: Peer not found: vps" ]
}

@test "d without a running daemon exits 255 with one clear line" {
  run --separate-stderr "$D" --socket "$BATS_TEST_TMPDIR/nothing-here.sock" help
  [ "$status" -eq 255 ]
  [[ "$stderr" == "d: cannot reach the daemon at "*"(is automatelinux-daemon running?)" ]]
  [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
  AUTOMATELINUX_SOCKET=$BATS_TEST_TMPDIR/a/sock run "$D" help
  [ "$status" -eq 0 ]
}

@test "getPeerStatus reports an unconfigured daemon with nulls" {
  run dd a getPeerStatus --json
  [ "$status" -eq 0 ]
  echo "$output" | jq -e '.id == null and .role == null and .leader == null and .listen == null and .connected == false and .since == null'
  run dd a getPeerStatus
  [ "$status" -eq 0 ]
  [[ "$output" == *"connected: no"* ]]
}

@test "listPlugins shows the bundled plugins loaded, as a table and as JSON" {
  run dd a listPlugins
  [ "$status" -eq 0 ]
  [[ "$output" == *"peer_exec"*"loaded"* ]]
  run dd a listPlugins --json
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -r '[.[] | select(.state == "loaded") | .name] | sort | join(",")')" = "audit_log,git,peer_config,peer_exec" ]
}

@test "disabling a plugin in the config file removes its commands and listPlugins says so" {
  stop_daemon a
  echo '{"plugins": {"disabled": ["git"]}}' >"$BATS_TEST_TMPDIR/cfg.json"
  start_daemon a --config "$BATS_TEST_TMPDIR/cfg.json"
  run dd a help
  [[ "$output" != *"gitOnPeer"* ]]
  [[ "$output" == *"execOnPeer"* ]]
  run dd a gitOnPeer --peer vps --directory /x status
  [ "$status" -eq 255 ]
  run dd a listPlugins --json
  [ "$(echo "$output" | jq -r '.[] | select(.name == "git") | .state')" = "disabled" ]
}

@test "an enabled list loads only the plugins it names, and core commands stay" {
  stop_daemon a
  echo '{"plugins": {"enabled": ["peer_config"]}}' >"$BATS_TEST_TMPDIR/cfg.json"
  start_daemon a --config "$BATS_TEST_TMPDIR/cfg.json"
  run dd a help
  [[ "$output" == *"getPeerStatus"* && "$output" == *"listPlugins"* ]]
  [[ "$output" != *"execOnPeer"* ]]
}

@test "broken plugins are refused with a logged reason and the daemon keeps serving" {
  stop_daemon a
  start_daemon a --plugin-dir "$FIXTURES"
  run dd a listPlugins --json
  [ "$status" -eq 0 ]
  state() { echo "$output" | jq -r ".[] | select(.file | endswith(\"/$1.so\")) | .state + \": \" + .reason"; }
  [[ "$(state bad_abi)" == "failed: SDK ABI version 999, this daemon needs 7" ]]
  [[ "$(state no_entry)" == "failed: no entry symbol 'automatelinux_plugin_entry'"* ]]
  [[ "$(state throws_init)" == "failed: init failed: fixture init failure" ]]
  run daemon_log a
  [[ "$output" == *"bad_abi.so refused: SDK ABI version 999"* ]]
  [[ "$output" == *"no_entry.so refused: no entry symbol"* ]]
  [[ "$output" == *"throws_init.so refused: init failed: fixture init failure"* ]]
  run dd a help
  [ "$status" -eq 0 ]
  [[ "$output" != *"halfRegistered"* ]]
  [[ "$output" == *"throwNow"* ]]
}

@test "a plugin that throws ends only its own request" {
  stop_daemon a
  start_daemon a --plugin-dir "$FIXTURES"
  run --separate-stderr dd a throwNow
  [ "$status" -eq 255 ]
  [ "$stderr" = "d: command 'throwNow' failed: handler exploded" ]
  run --separate-stderr dd a throwLater
  [ "$status" -eq 255 ]
  [ "$output" = "partial" ]
  [[ "$stderr" == *"callback exploded"* ]]
  run dd a listPlugins
  [ "$status" -eq 0 ]
}

@test "exit statuses and stderr pass through; stdin is streamed with EOF" {
  stop_daemon a
  start_daemon a --plugin-dir "$FIXTURES"
  run --separate-stderr dd a exitWith --code 42
  [ "$status" -eq 42 ]
  [ "$stderr" = "to stderr" ]
  [ "$output" = "" ]
  run dd a exitWith --signal 9
  [ "$status" -eq 137 ]
  head -c 3000000 /dev/urandom >"$BATS_TEST_TMPDIR/in"
  dd a echoInput <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out"
  cmp "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/out"
  run dd a echoInput </dev/null
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
}

@test "Ctrl-C on d cancels the command and exits 130" {
  stop_daemon a
  start_daemon a --plugin-dir "$FIXTURES"
  # Started directly (not through a shell function) so the signal reaches d itself.
  "$D" --socket "$BATS_TEST_TMPDIR/a/sock" waitForCancel >"$BATS_TEST_TMPDIR/out" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do grep -q waiting "$BATS_TEST_TMPDIR/out" && break; sleep 0.05; done
  kill -INT "$pid"
  local status=0
  wait "$pid" || status=$?
  [ "$status" -eq 130 ]
}

@test "a closed stdout makes d exit 141 quietly" {
  stop_daemon a
  start_daemon a --plugin-dir "$FIXTURES"
  run bash -c "set -o pipefail; head -c 10000000 /dev/zero | '$D' --socket '$BATS_TEST_TMPDIR/a/sock' echoInput 2>'$BATS_TEST_TMPDIR/err' | head -c 10 >/dev/null"
  [ "$status" -eq 141 ]
  [ ! -s "$BATS_TEST_TMPDIR/err" ]
  run dd a listPlugins
  [ "$status" -eq 0 ]
}

@test "a second daemon on a live socket refuses to start; a stale socket file is replaced" {
  run "$DAEMON" --socket "$BATS_TEST_TMPDIR/a/sock" --state-dir "$BATS_TEST_TMPDIR/b-state"
  [ "$status" -ne 0 ]
  [[ "$output" == *"another daemon is already serving"* ]]
  run dd a help
  [ "$status" -eq 0 ]
  # A socket file nobody listens on (left by a crash) is replaced.
  python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$BATS_TEST_TMPDIR/stale.sock"
  [ -S "$BATS_TEST_TMPDIR/stale.sock" ]
  mkdir -p "$BATS_TEST_TMPDIR/s"
  mv "$BATS_TEST_TMPDIR/stale.sock" "$BATS_TEST_TMPDIR/s/sock"
  start_daemon s
  run dd s help
  [ "$status" -eq 0 ]
}

@test "the socket is 0660 and SIGTERM removes it" {
  [ "$(stat -c %a "$BATS_TEST_TMPDIR/a/sock")" = "660" ]
  stop_daemon a
  [ ! -e "$BATS_TEST_TMPDIR/a/sock" ]
  run daemon_log a
  [[ "$output" == *"shutting down"* ]]
}

@test "every request leaves one audit line naming requester, command and outcome" {
  local before
  before=$(grep -c "audit " "$BATS_TEST_TMPDIR/a/state/daemon.log")
  dd a getPeerStatus >/dev/null
  run dd a foo
  run grep -c "audit " "$BATS_TEST_TMPDIR/a/state/daemon.log"
  [ "$output" -eq $((before + 2)) ]
  grep -q "audit request=[0-9a-f]* requester=local uid=$(id -u) command=\[foo\] decision=refused result=error .* exit=255" "$BATS_TEST_TMPDIR/a/state/daemon.log"
}

@test "a bad config file stops the daemon with one line naming the problem" {
  echo '{"socket": 5}' >"$BATS_TEST_TMPDIR/bad.json"
  run "$DAEMON" --config "$BATS_TEST_TMPDIR/bad.json"
  [ "$status" -eq 1 ]
  [ "$output" = "automatelinux-daemon: $BATS_TEST_TMPDIR/bad.json: 'socket' must be a string" ]
  run "$DAEMON" --sock /tmp/x
  [ "$status" -eq 1 ]
}

@test "running out of file descriptors does not stop the daemon; it recovers when clients leave" {
  # UBSan's vptr check opens a pipe to probe memory; with no descriptors left it reports a false
  # "invalid vptr". The plain build runs this test.
  [ -z "${AL_SANITIZED:-}" ] || skip "sanitizer runtimes need free descriptors of their own"
  stop_daemon a
  # A tiny descriptor limit for this daemon only.
  mkdir -p "$BATS_TEST_TMPDIR/a"
  (ulimit -n 40; exec "$DAEMON" --socket "$BATS_TEST_TMPDIR/a/sock" --state-dir "$BATS_TEST_TMPDIR/a/state" 2>>"$BATS_TEST_TMPDIR/a/stderr") &
  echo $! >"$BATS_TEST_TMPDIR/a/pid"
  wait_for 5 "$D" --socket "$BATS_TEST_TMPDIR/a/sock" listPlugins
  # Hold 60 idle connections for two seconds: more than the daemon can accept.
  python3 - "$BATS_TEST_TMPDIR/a/sock" <<'PY'
import socket, sys, time
held = []
for _ in range(60):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    held.append(s)
time.sleep(2)
PY
  kill -0 "$(cat "$BATS_TEST_TMPDIR/a/pid")"
  wait_for 15 "$D" --socket "$BATS_TEST_TMPDIR/a/sock" listPlugins
  grep -q "accept failed" "$BATS_TEST_TMPDIR/a/state/daemon.log"
}

@test "a mistyped command gets a suggestion; positional words where options belong are named" {
  run dd a execOnPeeer --peer vps
  [ "$status" -eq 255 ]
  [ "$output" = "d: unknown command 'execOnPeeer' (did you mean execOnPeer?) (see 'd help')" ]
  run dd a help listpeers
  [ "$output" = "d: unknown command 'listpeers' (did you mean listPeers?) (see 'd help')" ]
  run dd a frobnicate
  [ "$output" = "d: unknown command 'frobnicate' (see 'd help')" ]
  run dd a execOnPeer vps /tmp echo hi
  [ "$status" -eq 255 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "d: 'execOnPeer' takes options, not positional words like 'vps': d execOnPeer --peer "* ]]
}

@test "listPeers marks the local machine" {
  dd a setPeerConfig --role leader --id solo --listen "127.0.0.1:$(free_port)"
  run dd a listPeers
  [[ "${lines[0]}" == "ID"*"SELF" ]]
  [[ "${lines[1]}" == "solo "*" *" ]]
  dd a listPeers --json | jq -e '.[0].self == true'
}
