#!/usr/bin/env bash
# Fan-out benchmark (never a test): a leader and 50 workers on 127.0.0.1, each with its own
# socket and state dir; the mean wall time of `d execOnPeer --peer … --command true` to 1, 10 and
# 50 peers, each as a ratio to one peer. Targets: 10 peers <= 2x, 50 peers <= 5x.
set -euo pipefail
N=$1
B=${AL_BUILD:-build}
WORKERS=50
source "$(dirname "$0")/lib.sh"

start_daemon leader
make_leader leader
for i in $(seq "$WORKERS"); do
  start_daemon "w$i"
  join_worker "w$i"
done
for _ in $(seq 300); do
  online=$($D --socket "$dir/leader.sock" listPeers --json | grep -c '"status": "online"' || true)
  [ "$online" -ge $((WORKERS + 1)) ] && break
  sleep 0.1
done

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
echo "  (pdsh over ssh: not measured here)"
