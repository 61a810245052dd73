#!/usr/bin/env bash
# Fan-out benchmark (never a test): a leader and 50 workers on 127.0.0.1, each with its own
# socket and state dir; the mean wall time of `d execOnPeer --peer … --command true` to 1, 10 and
# 50 peers, each as a ratio to one peer. Targets: 10 peers <= 2x, 50 peers <= 5x.
set -euo pipefail
N=$1
B=${AL_BUILD:-build}
D=$B/bin/d
WORKERS=50
dir=$(mktemp -d /tmp/al-fanout-XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

start() {
  "$B/bin/automatelinux-daemon" --socket "$dir/$1.sock" --state-dir "$dir/$1" --log-level warn 2>/dev/null &
  pids+=($!)
  for _ in $(seq 200); do [ -S "$dir/$1.sock" ] && $D --socket "$dir/$1.sock" help >/dev/null 2>&1 && return; sleep 0.05; done
  echo "daemon $1 did not start" >&2
  return 1
}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start leader
$D --socket "$dir/leader.sock" setPeerConfig --role leader --id leader --listen "127.0.0.1:$port" >/dev/null
token=$($D --socket "$dir/leader.sock" joinToken | tail -n 1)
for i in $(seq "$WORKERS"); do
  start "w$i"
  $D --socket "$dir/w$i.sock" setPeerConfig --role worker --id "w$i" --leader "127.0.0.1:$port" --token - <<<"$token" >/dev/null
done
for _ in $(seq 300); do
  online=$($D --socket "$dir/leader.sock" listPeers --json | grep -c '"status": "online"' || true)
  [ "$online" -ge $((WORKERS + 1)) ] && break
  sleep 0.1
done

now_ns() { date +%s%N; }
mean_ms() {
  local start end i
  "$@" >/dev/null 2>&1
  start=$(now_ns)
  for ((i = 0; i < N; i++)); do "$@" >/dev/null 2>&1; done
  end=$(now_ns)
  awk -v t=$((end - start)) -v n="$N" 'BEGIN { printf "%.3f", t / n / 1e6 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
peers() { seq -s, -f 'w%g' 1 "$1"; }

one=$(mean_ms $D --socket "$dir/leader.sock" execOnPeer --peer w1 --directory /tmp -n --command true)
list1=$(mean_ms $D --socket "$dir/leader.sock" execOnPeer --peer w1, --directory /tmp --command true)
ten=$(mean_ms $D --socket "$dir/leader.sock" execOnPeer --peer "$(peers 10)" --directory /tmp --command true)
fifty=$(mean_ms $D --socket "$dir/leader.sock" execOnPeer --peer all --directory /tmp --command true)
echo "fan-out of --command true over $N runs (mean per whole command, $WORKERS workers online):"
printf '  %-44s %8s ms\n' "1 peer (--peer w1)" "$one"
printf '  %-44s %8s ms  (%sx one peer)\n' "1 peer as a list (--peer w1,)" "$list1" "$(ratio "$list1" "$one")"
printf '  %-44s %8s ms  (%sx one peer, target <= 2x)\n' "10 peers" "$ten" "$(ratio "$ten" "$one")"
printf '  %-44s %8s ms  (%sx one peer, target <= 5x)\n' "50 peers (--peer all)" "$fifty" "$(ratio "$fifty" "$one")"
if ! command -v pdsh >/dev/null || [ -z "${AL_BENCH_SSH:-}" ]; then
  echo "  (pdsh over ssh: not measured here — needs pdsh and AL_BENCH_SSH=user@host with sshd)"
fi
