#!/usr/bin/env bash
# Latency figures of scripts/bench (throughput: throughput_bench.sh). Traffic stays on 127.0.0.1.
set -euo pipefail
N=$1
B=${AL_BUILD:-build}
source "$(dirname "$0")/lib.sh"

for host in desktop vps laptop; do start_daemon "$host"; done
make_leader desktop
join_worker vps
join_worker laptop
# The same two workers again, with direct sessions between them.
DIRECT=true start_daemon vps2
DIRECT=true start_daemon laptop2
join_worker vps2
join_worker laptop2
wait_direct laptop2 vps2
sleep 1

floor=$(mean_ms sh -c true)
direct=$(mean_ms $D --socket "$dir/desktop.sock" execOnPeer --peer vps --directory /tmp -n --command true)
relayed=$(mean_ms $D --socket "$dir/laptop.sock" execOnPeer --peer vps --directory /tmp -n --command true)
w2w=$(mean_ms $D --socket "$dir/laptop2.sock" execOnPeer --peer vps2 --directory /tmp -n --command true)
echo "latency over $N runs (mean per whole command):"
printf '  %-54s %8s ms\n' "floor: sh -c true" "$floor"
printf '  %-54s %8s ms  (%sx floor, target <= 2.5x)\n' "d execOnPeer --command true (direct)" "$direct" "$(ratio "$direct" "$floor")"
printf '  %-54s %8s ms  (%sx floor, target <= 3x)\n' "d execOnPeer --command true (relayed)" "$relayed" "$(ratio "$relayed" "$floor")"
printf '  %-54s %8s ms  (%sx floor)\n' "d execOnPeer --command true (worker to worker, direct)" "$w2w" "$(ratio "$w2w" "$floor")"

if [ -x /usr/sbin/sshd ]; then
  start_sshd
  ssh_master latency "$sshport"
  sshm=$(mean_ms $ssh_cmd 127.0.0.1 true)
  # Includes the remote shell and its rc files (ssh starts the user's shell for every session).
  printf '  %-54s %8s ms  (%sx floor)\n' "ssh true (ControlMaster, 127.0.0.1)" "$sshm" "$(ratio "$sshm" "$floor")"
fi
