#!/usr/bin/env bash
# The measurements behind scripts/bench. Traffic stays on 127.0.0.1.
set -euo pipefail
N=$1
B=${AL_BUILD:-build}
D=$B/bin/d
dir=$(mktemp -d /tmp/al-bench-XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
for host in desktop vps laptop; do
  "$B/bin/automatelinux-daemon" --socket "$dir/$host.sock" --state-dir "$dir/$host" --log-level warn 2>/dev/null &
  pids+=($!)
done
for host in desktop vps laptop; do for _ in $(seq 100); do [ -S "$dir/$host.sock" ] && break; sleep 0.05; done; done
$D --socket "$dir/desktop.sock" setPeerConfig --role leader --id desktop --listen "127.0.0.1:$port" >/dev/null
token=$($D --socket "$dir/desktop.sock" joinToken | tail -n 1)
$D --socket "$dir/vps.sock" setPeerConfig --role worker --id vps --leader "127.0.0.1:$port" --token - <<<"$token" >/dev/null
$D --socket "$dir/laptop.sock" setPeerConfig --role worker --id laptop --leader "127.0.0.1:$port" --token - <<<"$token" >/dev/null
sleep 1

now_ns() { date +%s%N; }
# mean_ms COMMAND…: mean wall time of N runs, in milliseconds.
mean_ms() {
  local start end i
  "$@" >/dev/null 2>&1  # warm-up
  start=$(now_ns)
  for ((i = 0; i < N; i++)); do "$@" >/dev/null 2>&1; done
  end=$(now_ns)
  awk -v t=$((end - start)) -v n="$N" 'BEGIN { printf "%.3f", t / n / 1e6 }'
}
# gbps COMMAND…: GB/s moving 1 GiB to /dev/null.
gbps() {
  local start end
  start=$(now_ns)
  "$@" >/dev/null
  end=$(now_ns)
  awk -v t=$((end - start)) 'BEGIN { printf "%.3f", 1073741824 / (t / 1e9) / 1e9 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

floor=$(mean_ms sh -c true)
direct=$(mean_ms $D --socket "$dir/desktop.sock" execOnPeer --peer vps --directory /tmp -n --command true)
relayed=$(mean_ms $D --socket "$dir/laptop.sock" execOnPeer --peer vps --directory /tmp -n --command true)
echo "latency over $N runs (mean per whole command):"
printf '  %-44s %8s ms\n' "floor: sh -c true" "$floor"
printf '  %-44s %8s ms  (%sx floor, target <= 2.5x)\n' "d execOnPeer --command true (direct)" "$direct" "$(ratio "$direct" "$floor")"
printf '  %-44s %8s ms  (%sx floor, target <= 3x)\n' "d execOnPeer --command true (relayed)" "$relayed" "$(ratio "$relayed" "$floor")"

tfloor=$(gbps bash -c 'head -c 1073741824 /dev/zero | cat')
tdirect=$(gbps $D --socket "$dir/desktop.sock" execOnPeer --peer vps --directory /tmp -n -- head -c 1073741824 /dev/zero)
trelayed=$(gbps $D --socket "$dir/laptop.sock" execOnPeer --peer vps --directory /tmp -n -- head -c 1073741824 /dev/zero)
echo "throughput, 1 GiB of output to /dev/null:"
printf '  %-44s %8s GB/s\n' "floor: head | cat" "$tfloor"
printf '  %-44s %8s GB/s  (target >= 0.85)\n' "d execOnPeer (direct)" "$tdirect"
printf '  %-44s %8s GB/s\n' "d execOnPeer (relayed)" "$trelayed"
if command -v ssh >/dev/null && [ -n "${AL_BENCH_SSH:-}" ]; then
  sshm=$(mean_ms ssh -o BatchMode=yes "$AL_BENCH_SSH" true)
  printf '  %-44s %8s ms  (%sx floor)\n' "ssh $AL_BENCH_SSH true" "$sshm" "$(ratio "$sshm" "$floor")"
fi
