#!/usr/bin/env bash
# Durable jobs (scripts/bench): the start latency of `execOnPeer --detach` against a plain
# `execOnPeer` (target: within 1.5x), and `attachJob --no-follow` replaying 512 MiB of stored
# output against streaming the same bytes live with `execOnPeer` (target: at least as fast).
# Loopback only; the output cap is raised so that nothing is dropped.
set -euo pipefail
N=${1:-100}
B=${AL_BUILD:-build}
D=$B/bin/d
dir=$(mktemp -d /tmp/al-jobs-bench-XXXXXX)
pids=()
cleanup() {
  local pid f
  for f in "$dir"/vps/jobs/*/process.json; do
    [ -f "$f" ] && kill -KILL "$(jq -r .supervisor "$f")" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

echo '{"jobs": {"max_output_bytes": 1073741824, "max_total_bytes": 4294967296}}' >"$dir/vps.json"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$B/bin/automatelinux-daemon" --socket "$dir/desktop.sock" --state-dir "$dir/desktop" --log-level warn 2>/dev/null &
pids+=($!)
"$B/bin/automatelinux-daemon" --socket "$dir/vps.sock" --state-dir "$dir/vps" --config "$dir/vps.json" --log-level warn 2>/dev/null &
pids+=($!)
for host in desktop vps; do for _ in $(seq 100); do [ -S "$dir/$host.sock" ] && break; sleep 0.05; done; done
$D --socket "$dir/desktop.sock" setPeerConfig --role leader --id desktop --listen "127.0.0.1:$port" >/dev/null
token=$($D --socket "$dir/desktop.sock" joinToken | tail -n 1)
$D --socket "$dir/vps.sock" setPeerConfig --role worker --id vps --leader "127.0.0.1:$port" --token - <<<"$token" >/dev/null
sleep 1

now_ns() { date +%s%N; }
mean_ms() {
  local start end i
  "$@" >/dev/null 2>&1
  start=$(now_ns)
  for ((i = 0; i < N; i++)); do "$@" >/dev/null 2>&1; done
  end=$(now_ns)
  awk -v t=$((end - start)) -v n="$N" 'BEGIN { printf "%.3f", t / n / 1e6 }'
}
gbps() {
  local start end
  start=$(now_ns)
  "$@" >/dev/null
  end=$(now_ns)
  awk -v t=$((end - start)) 'BEGIN { printf "%.3f", 536870912 / (t / 1e9) / 1e9 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
dd() { "$D" --socket "$dir/desktop.sock" "$@"; }

plain=$(mean_ms dd execOnPeer --peer vps --directory /tmp -n --command true)
detach=$(mean_ms dd execOnPeer --peer vps --directory /tmp --detach --command true)
echo "durable jobs, start latency over $N runs (mean per whole command):"
printf '  %-44s %8s ms\n' "d execOnPeer --command true" "$plain"
printf '  %-44s %8s ms  (%sx plain, target <= 1.5x)\n' "d execOnPeer --detach --command true" "$detach" "$(ratio "$detach" "$plain")"

id=$(dd execOnPeer --peer vps --directory /tmp --detach -- head -c 536870912 /dev/zero | tail -n 1)
dd waitJob "$id" >/dev/null
live=$(gbps dd execOnPeer --peer vps --directory /tmp -n -- head -c 536870912 /dev/zero)
replay=$(gbps dd attachJob "$id" --no-follow)
echo "durable jobs, 512 MiB of output to /dev/null:"
printf '  %-44s %8s GB/s\n' "d execOnPeer (live)" "$live"
printf '  %-44s %8s GB/s  (%sx live, target >= 1x)\n' "d attachJob --no-follow (stored)" "$replay" "$(ratio "$replay" "$live")"
