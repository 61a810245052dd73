#!/usr/bin/env bats
# Terminals: `d execOnPeer -t` driven through a real pseudo-terminal (tty_driver.py) on a loopback
# cluster (desktop = leader, vps and laptop = workers; laptop → vps is relayed by the leader).
# Every driver run also checks that d leaves the terminal's modes as it found them (stty -g).

bats_require_minimum_version 1.5.0
load helpers
load cluster_scenarios

DRIVER=$BATS_TEST_DIRNAME/tty_driver.py

setup() {
  use_loopback
  W=$BATS_TEST_TMPDIR/work
  mkdir -p "$W"
}
teardown() {
  # Remote processes recorded by the tests (never found by name).
  for f in "$BATS_TEST_TMPDIR"/*.pidof; do [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null; done
  stop_all_daemons
}

# drive ON [driver options] -- D-ARGS…: d against daemon ON on a new terminal; steps on stdin.
drive() {
  local on=$1
  shift
  local opts=()
  while [ "$1" != "--" ]; do
    opts+=("$1")
    shift
  done
  shift
  TERM=vt220 python3 "$DRIVER" "${opts[@]}" --transcript "$BATS_TEST_TMPDIR/transcript" -- \
    "$D" --socket "$BATS_TEST_TMPDIR/$on/sock" "$@"
}

@test "the remote terminal starts at the local size, follows a resize, is a tty, has TERM (relayed)" {
  make_cluster
  run drive laptop --rows 33 --cols 101 -- execOnPeer --peer vps --directory "$W" -t -- sh <<'EOF'
expect [$#] 
raw
send stty size; tty; echo "term=$TERM"\r
expect \n33 101\r\n
expect /dev/pts/[0-9]+\r\n
expect term=vt220
resize 40 120
sleep 0.5
send stty size\r
expect \n40 120\r\n
send exit 7\r
exit 7
EOF
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${lines[-1]}" = "exit=7" ]
}

@test "Ctrl-C reaches the remote terminal as a byte: it interrupts sleep and cat, the shell goes on" {
  make_cluster
  run drive desktop -- execOnPeer --peer vps --directory "$W" --tty -- sh <<'EOF'
expect [$#] 
raw
send sleep 30\r
sleep 0.5
send \x03
expect \^C\r\n[$#] 
send echo after-$((1+1))\r
expect after-2
send cat\r
sleep 0.5
send \x03
expect \^C\r\n[$#] 
send echo still-$((3+3))\r
expect still-6
send exit\r
exit 0
EOF
  # (The driver's 15 s limit is shorter than the sleep: Ctrl-C really stopped it.)
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "~. after a newline disconnects and stops the remote command; -e none turns it off" {
  make_cluster
  run drive desktop -- execOnPeer --peer vps --directory "$W" -t \
    --command "echo \$\$ >'$W/remote.pid'; echo ready; exec cat" <<'EOF'
expect ready
send hello\r
expect hello
send ~.
exit 255
EOF
  echo "$output"
  [ "$status" -eq 0 ]
  grep -q 'd: disconnected (~.)' "$BATS_TEST_TMPDIR/transcript"
  cp "$W/remote.pid" "$BATS_TEST_TMPDIR/cat.pidof"
  # The remote cat is gone as if the connection were lost.
  wait_for 5 bash -c "! kill -0 $(cat "$W/remote.pid") 2>/dev/null"

  # A ~ that is not at the start of a line, or not followed by '.', goes through.
  run drive desktop -- execOnPeer --peer vps --directory "$W" -t --command 'echo ready; exec cat' <<'EOF'
expect ready
send a~.b\r
expect a~\.b
send ~x\r
expect ~x
send ~~\r
expect \r\n~\r\n
send \x04
exit 0
EOF
  echo "$output"
  [ "$status" -eq 0 ]

  run drive desktop -- execOnPeer --peer vps --directory "$W" -t -e none --command 'echo ready; exec cat' <<'EOF'
expect ready
send ~.\r
expect ~\.\r\n~\.\r\n
send \x04
exit 0
EOF
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "the local terminal is restored when d gets SIGTERM or SIGHUP" {
  make_cluster
  for sig in TERM HUP; do
    run drive desktop -- execOnPeer --peer vps --directory "$W" -t --command 'echo ready; exec cat' <<EOF
expect ready
raw
signal $sig
exit any
EOF
    echo "$output"
    [ "$status" -eq 0 ]
  done
}

@test "the peer is lost mid-session: d exits 255 with one line, terminal restored" {
  make_cluster
  # The driver waits for d to end; vps is killed once the session is up.
  (
    wait_for 10 grep -q ready "$BATS_TEST_TMPDIR/transcript" &&
      kill -KILL "$(cat "$BATS_TEST_TMPDIR/vps/pid")"
  ) >/dev/null 2>&1 &
  echo $! >"$BATS_TEST_TMPDIR/stopper.pidof"
  run drive laptop --timeout 20 -- execOnPeer --peer vps --directory "$W" -t --command 'echo ready; exec cat' <<'EOF'
expect ready
raw
exit 255
EOF
  echo "$output"
  [ "$status" -eq 0 ]
  grep -q '^d: .*vps' "$BATS_TEST_TMPDIR/transcript"
}

@test "-t without a local terminal: no raw mode, stderr merged into stdout, TERM passed on" {
  make_cluster
  run --separate-stderr env TERM=xterm-256color "$D" --socket "$BATS_TEST_TMPDIR/desktop/sock" \
    execOnPeer --peer vps --directory "$W" -t --command 'echo out; echo err >&2; echo "$TERM"; test -t 0 && test -t 2 && exit 3' </dev/null
  [ "$status" -eq 3 ]
  [ "$output" = $'out\r\nerr\r\nxterm-256color\r' ]
  [ "$stderr" = "" ]
}

@test "--tty usage errors are one line and 255" {
  make_cluster
  run --separate-stderr dd desktop execOnPeer --peer vps,laptop --directory "$W" -t --command true
  [ "$status" -eq 255 ]
  [ "$stderr" = "d: --tty runs on one peer, not on 'vps,laptop'" ]
  run --separate-stderr dd desktop execOnPeer --peer vps --directory "$W" -t --detach --command true
  [ "$status" -eq 255 ]
  [ "$stderr" = "d: --tty cannot be combined with --detach" ]
  run --separate-stderr dd desktop execOnPeer --peer vps --directory "$W" -e none --command true
  [ "$status" -eq 255 ]
  [ "$stderr" = "d: --escape-char is for --tty" ]
  run --separate-stderr dd desktop execOnPeer --peer vps --directory "$W" -t -e ab --command true
  [ "$status" -eq 255 ]
  [ "$stderr" = "d: invalid --escape-char 'ab' (one character, ^X, or none)" ]
}

@test "-t with exec.run_as: the terminal belongs to that user; --timeout and the policy hold" {
  cluster_with_vps_policy '{"run_as": "nobody", "allowed_roots": ["/usr"]}'
  run --separate-stderr dd laptop execOnPeer --peer vps --directory /usr -t \
    --command 'id -un; stat -c %U "$(tty)"' </dev/null
  [ "$status" -eq 0 ]
  [ "$output" = $'nobody\r\nnobody\r' ]
  # The request's timeout ends a terminal command too.
  run --separate-stderr dd laptop execOnPeer --peer vps --directory /usr -t --timeout 1 \
    --command 'sleep 30' </dev/null
  [ "$status" -eq 124 ]
  run --separate-stderr dd laptop execOnPeer --peer vps --directory /tmp -t --command true </dev/null
  [ "$status" -eq 255 ]
  [ "$stderr" = "d: Directory outside the allowed roots on vps: /tmp" ]
}

@test "d-ssh -t: the remote login command runs on a terminal at the local size; modes restored" {
  make_cluster
  run env TERM=vt220 AUTOMATELINUX_SOCKET="$BATS_TEST_TMPDIR/laptop/sock" python3 "$DRIVER" \
    --rows 33 --cols 101 --transcript "$BATS_TEST_TMPDIR/transcript" -- \
    "$AL_BUILD/bin/d-ssh" -t vps 'stty size; tty; echo "term=$TERM"' <<'EOF2'
expect \n?33 101\r\n
expect /dev/pts/[0-9]+\r\n
expect term=vt220
exit 0
EOF2
  echo "$output"
  [ "$status" -eq 0 ]
}
