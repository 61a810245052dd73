# Shared by the bench scripts (sourced): a loopback cluster of daemons in a temporary directory,
# stopped by PID on exit, and the timing helpers. Set N (runs per figure) and B (build dir) first.
D=$B/bin/d
dir=$(mktemp -d /tmp/al-bench-XXXXXX)
pids=()
cleanup() {
  local pid f
  # Job supervisors outlive their daemon by design: stop them first (by the pid they recorded).
  for f in "$dir"/*/jobs/*/process.json; do
    [ -f "$f" ] && kill -KILL "$(jq -r .supervisor "$f")" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

# start_daemon NAME [daemon flags…]: socket $dir/NAME.sock, state dir $dir/NAME; waits until it answers.
start_daemon() {
  local name=$1
  shift
  "$B/bin/automatelinux-daemon" --socket "$dir/$name.sock" --state-dir "$dir/$name" --log-level warn "$@" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 200); do [ -S "$dir/$name.sock" ] && $D --socket "$dir/$name.sock" help >/dev/null 2>&1 && return; sleep 0.05; done
  echo "daemon $name did not start" >&2
  return 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# make_leader ID: ID leads on a free port; join_worker ID: ID joins it with a fresh token.
make_leader() {
  leader=$1
  port=$(free_port)
  $D --socket "$dir/$leader.sock" setPeerConfig --role leader --id "$leader" --listen "127.0.0.1:$port" >/dev/null
  token=$($D --socket "$dir/$leader.sock" joinToken | tail -n 1)
}
join_worker() {
  $D --socket "$dir/$1.sock" setPeerConfig --role worker --id "$1" --leader "127.0.0.1:$port" --token - <<<"$token" >/dev/null
}

now_ns() { date +%s%N; }
# mean_ms COMMAND…: mean wall time of N runs (after one warm-up), in milliseconds.
mean_ms() {
  local start end i
  "$@" >/dev/null 2>&1
  start=$(now_ns)
  for ((i = 0; i < N; i++)); do "$@" >/dev/null 2>&1; done
  end=$(now_ns)
  awk -v t=$((end - start)) -v n="$N" 'BEGIN { printf "%.3f", t / n / 1e6 }'
}
# gbps BYTES COMMAND…: GB/s of a command that writes BYTES to stdout (sent to /dev/null).
gbps() {
  local bytes=$1 start end
  shift
  start=$(now_ns)
  "$@" >/dev/null
  end=$(now_ns)
  awk -v t=$((end - start)) -v b="$bytes" 'BEGIN { printf "%.3f", b / (t / 1e9) / 1e9 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
