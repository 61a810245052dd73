#!/usr/bin/env bash
# Memory with paused readers (never a test): 10 concurrent 1 GiB streams from a far worker (its
# leader connection through bench/delay_relay, 25 ms each way, so windows grow), requested from
# another worker and so relayed by the leader. Each reader takes 64 MiB at full speed, then stops
# reading for good while the command keeps writing. Reports the resident memory of the relaying
# leader and of the requesting worker (which holds what its paused `d` has not read) before and
# while paused, against the configured window budget plus the first window of each stream on
# each hop (the part outside the budget).
set -euo pipefail
N=1
B=${AL_BUILD:-build}
source "$(dirname "$0")/lib.sh"
STREAMS=10
BUDGET=$((256 * 1048576))  # streams.budget_bytes, the default
FIRST_WINDOW=$((512 * 1024))

for host in desktop laptop; do start_daemon "$host"; done
make_leader desktop
join_worker laptop
far_worker far 25
wait_online laptop 3
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
leader_pid=${pids[0]}
worker_pid=${pids[1]}
leader_before=$(rss_kib "$leader_pid")
worker_before=$(rss_kib "$worker_pid")

for i in $(seq "$STREAMS"); do
  { echo "$BASHPID" >"$dir/d$i.pid"
    exec "$D" --socket "$dir/laptop.sock" execOnPeer --peer far --directory /tmp -n -- head -c 1073741824 /dev/zero; } |
    { head -c 67108864 >/dev/null; touch "$dir/paused$i"; exec sleep 600; } &
  pids+=($!)
done
# Every `d` is stopped by its PID on exit, also when a reader below never pauses.
for i in $(seq "$STREAMS"); do
  for _ in $(seq 100); do [ -s "$dir/d$i.pid" ] && break; sleep 0.05; done
  pids+=("$(cat "$dir/d$i.pid")")
done
for i in $(seq "$STREAMS"); do
  for _ in $(seq 1200); do [ -e "$dir/paused$i" ] && break; sleep 0.1; done
  [ -e "$dir/paused$i" ] || { echo "bench: reader $i never got its 64 MiB" >&2; exit 1; }
done
leader_peak=0
worker_peak=0
for _ in $(seq 10); do  # 5 s paused: the commands keep writing; nothing may grow past the windows
  sleep 0.5
  l=$(rss_kib "$leader_pid")
  w=$(rss_kib "$worker_pid")
  ((l > leader_peak)) && leader_peak=$l
  ((w > worker_peak)) && worker_peak=$w
done
alive=0
for i in $(seq "$STREAMS"); do kill -0 "$(cat "$dir/d$i.pid")" 2>/dev/null && alive=$((alive + 1)); done

allowance=$(((BUDGET + STREAMS * 2 * FIRST_WINDOW) / 1024))
row() {
  printf '  %-36s %7d KiB before, %7d KiB paused (+%d KiB; budget and first windows: %d KiB) %s\n' \
    "$1" "$2" "$3" $(($3 - $2)) "$allowance" "$( (($3 - $2 <= allowance)) && echo within || echo OVER)"
}
echo "memory with $STREAMS streams of 1 GiB paused by their readers after 64 MiB (far worker, 50 ms round trip; $alive of $STREAMS still alive):"
row "leader (relaying)" "$leader_before" "$leader_peak"
row "requesting worker (holds d's output)" "$worker_before" "$worker_peak"
