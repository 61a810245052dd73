# Shared helpers for integration tests: real daemons, each with its own socket and state dir in
# the test's temporary directory, stopped by PID in teardown (also when the test fails).
AL_BUILD=${AL_BUILD:-$(cd "$BATS_TEST_DIRNAME/../../build" && pwd)}
D=$AL_BUILD/bin/d
DAEMON=$AL_BUILD/bin/automatelinux-daemon
FIXTURES=$AL_BUILD/tests/fixture_plugins
# Debian's tools first (python3 above all, which ./scripts/test installs): a python3 found
# earlier on PATH may be a version manager's shell shim, ten times slower to start, and not the
# Debian 12 the project targets.
case ":$PATH:" in
  :/usr/bin:*) ;;
  *) PATH=/usr/bin:$PATH ;;
esac

# start_daemon NAME [daemon flags…]
start_daemon() {
  local name=$1 dir=$BATS_TEST_TMPDIR/$1
  shift
  mkdir -p "$dir"
  # A daemon may run inside a network namespace: set NS_<name> to the namespace.
  local ns_var=NS_$name prefix=()
  [ -n "${!ns_var:-}" ] && prefix=(ip netns exec "${!ns_var}")
  "${prefix[@]}" "$DAEMON" --socket "$dir/sock" --state-dir "$dir/state" "$@" 2>>"$dir/stderr" &
  echo $! >"$dir/pid"
  local i
  for i in $(seq 100); do
    # Wait until the daemon answers (a stale socket file may exist before it binds).
    [ -S "$dir/sock" ] && "$D" --socket "$dir/sock" listPlugins >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || break
    sleep 0.05
  done
  echo "daemon $name did not start:" >&2
  cat "$dir/stderr" >&2
  return 1
}

# stop_daemon NAME: SIGTERM, then SIGKILL if it has not gone within 5 s.
stop_daemon() {
  local pidfile=$BATS_TEST_TMPDIR/$1/pid pid i
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

stop_all_daemons() {
  local pidfile
  for pidfile in "$BATS_TEST_TMPDIR"/*/pid; do
    [ -f "$pidfile" ] && stop_daemon "$(basename "$(dirname "$pidfile")")"
  done
  return 0
}

# dd NAME ARGS…: the real `d` against daemon NAME.
dd() {
  local name=$1
  shift
  "$D" --socket "$BATS_TEST_TMPDIR/$name/sock" "$@"
}

daemon_log() { cat "$BATS_TEST_TMPDIR/$1/state/daemon.log"; }

# wait_for TIMEOUT_SECONDS COMMAND…: polls until COMMAND succeeds.
wait_for() {
  local timeout=$1 start=$SECONDS
  shift
  until "$@" >/dev/null 2>&1; do
    if [ $((SECONDS - start)) -ge "$timeout" ]; then
      echo "timed out after ${timeout}s waiting for: $*" >&2
      return 1
    fi
    sleep 0.1
  done
}

# peer_status ON ID: "online"/"offline" as daemon ON sees peer ID (empty if unknown).
peer_status() {
  dd "$1" listPeers --json | jq -r --arg id "$2" '.[] | select(.id == $id) | .status'
}
peer_is() { [ "$(peer_status "$1" "$2")" = "$3" ]; }

# group_alive PGID: true while the process group has a member that is not a zombie (a container's
# PID 1 may never reap the orphans it inherits).
group_alive() {
  ps -o stat= -g "$1" 2>/dev/null | grep -qv '^Z'
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
