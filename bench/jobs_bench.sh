#!/usr/bin/env bash
# Durable jobs (scripts/bench): the start latency of `execOnPeer --detach` against a plain
# `execOnPeer` (target: within 1.5x), and `attachJob --no-follow` replaying 512 MiB of stored
# output against streaming the same bytes live with `execOnPeer` (target: at least as fast).
# Loopback only; the output cap is raised so that nothing is dropped.
set -euo pipefail
N=${1:-100}
B=${AL_BUILD:-build}
source "$(dirname "$0")/lib.sh"

echo '{"jobs": {"max_output_bytes": 1073741824, "max_total_bytes": 4294967296}}' >"$dir/vps.json"
start_daemon desktop
start_daemon vps --config "$dir/vps.json"
make_leader desktop
join_worker vps
sleep 1

dd() { "$D" --socket "$dir/desktop.sock" "$@"; }

plain=$(mean_ms dd execOnPeer --peer vps --directory /tmp -n --command true)
detach=$(mean_ms dd execOnPeer --peer vps --directory /tmp --detach --command true)
echo "durable jobs, start latency over $N runs (mean per whole command):"
printf '  %-44s %8s ms\n' "d execOnPeer --command true" "$plain"
printf '  %-44s %8s ms  (%sx plain, target <= 1.5x)\n' "d execOnPeer --detach --command true" "$detach" "$(ratio "$detach" "$plain")"

id=$(dd execOnPeer --peer vps --directory /tmp --detach -- head -c 536870912 /dev/zero | tail -n 1)
dd waitJob "$id" >/dev/null
live=$(gbps 536870912 dd execOnPeer --peer vps --directory /tmp -n -- head -c 536870912 /dev/zero)
replay=$(gbps 536870912 dd attachJob "$id" --no-follow)
echo "durable jobs, 512 MiB of output to /dev/null:"
printf '  %-44s %8s GB/s\n' "d execOnPeer (live)" "$live"
printf '  %-44s %8s GB/s  (%sx live, target >= 1x)\n' "d attachJob --no-follow (stored)" "$replay" "$(ratio "$replay" "$live")"
