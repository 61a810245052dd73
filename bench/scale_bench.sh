#!/usr/bin/env bash
# Scale of the peer layer (never a test): a leader and up to 200 workers on 127.0.0.1, each with
# its own socket and state dir, joined in steps of 10, 50 and 200 from one token (each step's new
# workers all at once). At each size: the time the step's joins took, the leader's CPU while the
# cluster idles (default 2 s heartbeat), listPeers on the leader and on a worker, and a request
# relayed between two workers. Targets (issue #12): 200 joined within 30 s, idle leader < 2 % of
# a core, listPeers <= 10 ms, the relayed request no slower than with 2 workers.
set -euo pipefail
N=${1:-50}
B=${AL_BUILD:-build}
SIZES=${AL_SCALE_SIZES:-"2 10 50 200"}
IDLE_S=${AL_SCALE_IDLE_S:-10}
source "$(dirname "$0")/lib.sh"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
online_count() {
  $D --socket "$dir/leader.sock" listPeers --json | jq '[.[] | select(.status == "online")] | length'
}

start_daemon leader
leader_pid=${pids[-1]}
make_leader leader
joined=0
printf '%-8s %10s %14s %14s %14s %14s\n' workers "join (s)" "leader idle" "listPeers L" "listPeers W" "relayed true"
for size in $SIZES; do
  for i in $(seq $((joined + 1)) "$size"); do start_daemon "w$i"; done
  mapfile -t listen_ports < <(free_ports $((size - joined)))
  start=$(now_ns)
  join_pids=()
  for i in $(seq $((joined + 1)) "$size"); do
    join_worker "w$i" "${listen_ports[i - joined - 1]}" &
    join_pids+=($!)
  done
  for p in "${join_pids[@]}"; do wait "$p"; done
  until [ "$(online_count)" -ge $((size + 1)) ]; do sleep 0.05; done
  join_s=$(awk -v t=$(($(now_ns) - start)) 'BEGIN { printf "%.2f", t / 1e9 }')
  joined=$size
  # Every worker has the whole list before the quiet period starts.
  until [ "$($D --socket "$dir/w1.sock" listPeers --json | jq length)" -ge $((size + 1)) ]; do sleep 0.05; done
  sleep 2
  t0=$(cpu_ticks "$leader_pid")
  sleep "$IDLE_S"
  t1=$(cpu_ticks "$leader_pid")
  idle=$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v s="$IDLE_S" 'BEGIN { printf "%.2f %%", 100 * d / hz / s }')
  list_l=$(mean_ms $D --socket "$dir/leader.sock" listPeers)
  list_w=$(mean_ms $D --socket "$dir/w1.sock" listPeers)
  relayed=$(mean_ms $D --socket "$dir/w1.sock" execOnPeer --peer w2 --directory /tmp -n --command true)
  printf '%-8s %10s %14s %11s ms %11s ms %11s ms\n' "$size" "$join_s" "$idle" "$list_l" "$list_w" "$relayed"
done
