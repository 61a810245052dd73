#!/usr/bin/env bash
# Fan-out benchmark (never a test): a leader and 50 workers on 127.0.0.1, each with its own
# socket and state dir; the mean wall time of `d execOnPeer --peer … --command true` to 1, 10 and
# 50 peers, each as a ratio to one peer. Targets: 10 peers <= 2x, 50 peers <= 5x. Beside it, the
# same fan-out with pdsh over ssh (a throwaway sshd on loopback; every "host" is an alias of it),
# when pdsh and sshd are installed. Beside them, the floor this host puts under any fan-out: the
# CPU the peers' own `sh -c true` starts take, spread over its cores (every "peer" shares them).
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
ten=$(mean_ms $D --socket "$dir/leader.sock" execOnPeer --peer "$(peers 10)" --directory /tmp --command true)
fifty=$(mean_ms $D --socket "$dir/leader.sock" execOnPeer --peer all --directory /tmp --command true)
# start_cpu_ms: CPU time (user + system) of one `sh -c true`, the process each peer starts, from
# the children's line of bash's `times` over 500 starts.
start_cpu_ms() {
  bash -c 'for _ in $(seq 500); do /bin/sh -c true; done; times' | awk 'NR == 2 {
    t = 0
    for (i = 1; i <= NF; i++) { split($i, p, "m"); t += p[1] * 60 + p[2] }
    printf "%.3f", t * 1000 / 500 }'
}
start_ms=$(start_cpu_ms)
cores=$(nproc)
floor() { awk -v n="$1" -v s="$start_ms" -v c="$cores" 'BEGIN { printf "%.2f", n * s / c }'; }
echo "fan-out of --command true over $N runs (mean per whole command, $WORKERS workers online):"
printf '  %-44s %8s ms\n' "1 peer (--peer w1)" "$one"
printf '  %-44s %8s ms  (%sx one peer, target <= 2x)\n' "10 peers" "$ten" "$(ratio "$ten" "$one")"
printf '  %-44s %8s ms  (%sx one peer, target <= 5x)\n' "50 peers (--peer all)" "$fifty" "$(ratio "$fifty" "$one")"
echo "the floor on this host: the peers' own process starts ($start_ms ms of CPU each) on $cores cores:"
printf '  %-44s %8s ms  (%sx one peer)\n' "10 starts" "$(floor 10)" "$(ratio "$(floor 10)" "$one")"
printf '  %-44s %8s ms  (%sx one peer)\n' "50 starts" "$(floor 50)" "$(ratio "$(floor 50)" "$one")"
if command -v pdsh >/dev/null && [ -x /usr/sbin/sshd ]; then
  start_sshd
  cfg=$dir/ssh/pdsh_config
  printf 'Host w*\n  HostName 127.0.0.1\n  Port %s\n  IdentityFile %s\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  BatchMode yes\n  LogLevel ERROR\n' \
    "$sshport" "$sshkey" >"$cfg"
  export PDSH_SSH_ARGS="-F $cfg -l%u %h"
  pdsh_runs=$(((N + 3) / 4))  # a fresh ssh session per host and run: slower, fewer runs
  pone=$(N=$pdsh_runs mean_ms pdsh -R ssh -f 64 -w w1 true)
  pten=$(N=$pdsh_runs mean_ms pdsh -R ssh -f 64 -w "w[1-10]" true)
  pfifty=$(N=$pdsh_runs mean_ms pdsh -R ssh -f 64 -w "w[1-50]" true)
  echo "pdsh -R ssh (fresh ssh sessions to a loopback sshd, $pdsh_runs runs):"
  printf '  %-44s %8s ms  (%sx d to one peer)\n' "1 host" "$pone" "$(ratio "$pone" "$one")"
  printf '  %-44s %8s ms  (%sx its one host; d: %sx)\n' "10 hosts" "$pten" "$(ratio "$pten" "$pone")" "$(ratio "$ten" "$one")"
  printf '  %-44s %8s ms  (%sx its one host; d: %sx)\n' "50 hosts" "$pfifty" "$(ratio "$pfifty" "$pone")" "$(ratio "$fifty" "$one")"
else
  echo "  (pdsh over ssh: not measured, pdsh or openssh-server is not installed)"
fi
