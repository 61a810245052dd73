#!/usr/bin/env bash
# The measurements behind scripts/bench. Traffic stays on 127.0.0.1.
set -euo pipefail
N=$1
B=${AL_BUILD:-build}
source "$(dirname "$0")/lib.sh"

for host in desktop vps laptop; do start_daemon "$host"; done
make_leader desktop
join_worker vps
join_worker laptop
sleep 1

floor=$(mean_ms sh -c true)
direct=$(mean_ms $D --socket "$dir/desktop.sock" execOnPeer --peer vps --directory /tmp -n --command true)
relayed=$(mean_ms $D --socket "$dir/laptop.sock" execOnPeer --peer vps --directory /tmp -n --command true)
echo "latency over $N runs (mean per whole command):"
printf '  %-44s %8s ms\n' "floor: sh -c true" "$floor"
printf '  %-44s %8s ms  (%sx floor, target <= 2.5x)\n' "d execOnPeer --command true (direct)" "$direct" "$(ratio "$direct" "$floor")"
printf '  %-44s %8s ms  (%sx floor, target <= 3x)\n' "d execOnPeer --command true (relayed)" "$relayed" "$(ratio "$relayed" "$floor")"

tfloor=$(gbps 1073741824 bash -c 'head -c 1073741824 /dev/zero | cat')
tdirect=$(gbps 1073741824 $D --socket "$dir/desktop.sock" execOnPeer --peer vps --directory /tmp -n -- head -c 1073741824 /dev/zero)
trelayed=$(gbps 1073741824 $D --socket "$dir/laptop.sock" execOnPeer --peer vps --directory /tmp -n -- head -c 1073741824 /dev/zero)
echo "throughput, 1 GiB of output to /dev/null:"
printf '  %-44s %8s GB/s\n' "floor: head | cat" "$tfloor"
printf '  %-44s %8s GB/s  (target >= 0.85)\n' "d execOnPeer (direct)" "$tdirect"
printf '  %-44s %8s GB/s\n' "d execOnPeer (relayed)" "$trelayed"
if command -v ssh >/dev/null && [ -n "${AL_BENCH_SSH:-}" ]; then
  sshm=$(mean_ms ssh -o BatchMode=yes "$AL_BENCH_SSH" true)
  printf '  %-44s %8s ms  (%sx floor)\n' "ssh $AL_BENCH_SSH true" "$sshm" "$(ratio "$sshm" "$floor")"
fi
