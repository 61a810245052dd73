#!/usr/bin/env bash
# Throughput (part of scripts/bench), every figure beside its anchor measured in the same run:
#   - AL_NEAR_MB (default 1024) MiB of output through `d execOnPeer`, direct (d → leader → worker), relayed
#     (d → worker → leader → worker) and worker to worker over a direct session (d → worker → worker), against ssh (aes128-gcm, ControlMaster) to a throwaway
#     sshd and against the local pipe `head | cat`. Targets: direct >= 2.5x ssh, relayed >= 2x;
#   - a far link: AL_FAR_MB (default 1024) MiB through bench/delay_relay with AL_FAR_DELAY_MS
#     (default 25) each way, i.e. a 50 ms round trip: plain TCP (socat), ssh through the relay,
#     and `d execOnPeer` to a worker whose leader connection goes through the relay. Twice: with
#     the link capped at AL_FAR_MBPS (default 2000 Mbit/s, about the plain TCP rate of the far link
#     the issue measured, 224 MB/s), where the link limits every path as a real one does and the
#     ratios show how well each keeps a long link full; and uncapped, where nothing but this
#     host's CPU limits the "link", so the ratio to TCP compares CPU per byte (as the near figures
#     do). Targets: d >= 80 % of plain TCP and >= 4x ssh.
# Nothing leaves 127.0.0.1.
set -euo pipefail
N=1
B=${AL_BUILD:-build}
source "$(dirname "$0")/lib.sh"
GIB=$((${AL_NEAR_MB:-1024} * 1048576))
FAR=$((${AL_FAR_MB:-1024} * 1048576))
DELAY=${AL_FAR_DELAY_MS:-25}

for host in desktop vps laptop; do start_daemon "$host"; done
make_leader desktop
join_worker vps
join_worker laptop
# Two workers with a direct session between them (worker to worker without the leader).
DIRECT=true start_daemon vps2
DIRECT=true start_daemon laptop2
join_worker vps2
join_worker laptop2
# Two far workers: their leader sessions cross the long link, one of them capped.
CAP=${AL_FAR_MBPS:-2000}
far_worker far "$DELAY"
far_worker farcap "$DELAY" --rate-mbps "$CAP"
start_sshd
ssh_master near "$sshport"
ssh_near=$ssh_cmd
start_delay_relay "$sshport" --delay-ms "$DELAY"
ssh_master far "$relay_port"
ssh_far=$ssh_cmd
start_delay_relay "$sshport" --delay-ms "$DELAY" --rate-mbps "$CAP"
ssh_master farcap "$relay_port"
ssh_farcap=$ssh_cmd
wait_online desktop 7

# tcp_far RELAY_PORT SINK_PORT BYTES: BYTES through a delay relay into a socat sink; the sink's
# exit ends it.
tcp_far() {
  local sink
  socat -u TCP-LISTEN:"$2",bind=127.0.0.1,reuseaddr GOPEN:/dev/null &
  sink=$!
  for _ in $(seq 100); do ss -Hltn "sport = :$2" | grep -q . && break; sleep 0.05; done
  head -c "$3" /dev/zero | socat -u - TCP:127.0.0.1:"$1" || { kill "$sink"; return 1; }
  wait "$sink"
}
sinkport=$(free_port)
start_delay_relay "$sinkport" --delay-ms "$DELAY"
tcp_relay=$relay_port
capsinkport=$(free_port)
start_delay_relay "$capsinkport" --delay-ms "$DELAY" --rate-mbps "$CAP"
tcp_caprelay=$relay_port
# ssh starts the user's shell for every session, with its rc files (root's took 1.6 s on the
# machine this was written on): that start-up, measured as `ssh true` over the same master, is
# taken out of ssh's transfer time, so ssh's figures are its data phase alone.
start_s() {
  local start end
  "$@" >/dev/null
  start=$(now_ns)
  "$@" >/dev/null
  "$@" >/dev/null
  end=$(now_ns)
  awk -v t=$((end - start)) 'BEGIN { printf "%.3f", t / 2 / 1e9 }'
}
# ssh_mbps BYTES START_SECONDS COMMAND…: as mbps, less the session start-up.
ssh_mbps() {
  local bytes=$1 startup=$2 start end
  shift 2
  start=$(now_ns)
  "$@" >/dev/null
  end=$(now_ns)
  awk -v t=$((end - start)) -v s="$startup" -v b="$bytes" 'BEGIN { printf "%.1f", b / (t / 1e9 - s) / 1e6 }'
}
exec_on() { $D --socket "$dir/$1.sock" execOnPeer --peer "$2" --directory /tmp -n -- head -c "$3" /dev/zero; }

pipe=$(mbps $GIB bash -c "head -c $GIB /dev/zero | cat")
near_start=$(start_s $ssh_near 127.0.0.1 true)
far_start=$(start_s $ssh_far 127.0.0.1 true)
farcap_start=$(start_s $ssh_farcap 127.0.0.1 true)
ssh1=$(ssh_mbps $GIB "$near_start" $ssh_near 127.0.0.1 head -c $GIB /dev/zero)
direct=$(mbps $GIB exec_on desktop vps $GIB)
relayed=$(mbps $GIB exec_on laptop vps $GIB)
wait_direct laptop2 vps2
w2w=$(mbps $GIB exec_on laptop2 vps2 $GIB)
tcpcap=$(mbps $FAR tcp_far "$tcp_caprelay" "$capsinkport" $FAR)
sshcap=$(ssh_mbps $FAR "$farcap_start" $ssh_farcap 127.0.0.1 head -c $FAR /dev/zero)
dcap=$(mbps $FAR exec_on desktop farcap $FAR)
tcp=$(mbps $FAR tcp_far "$tcp_relay" "$sinkport" $FAR)
sshfar=$(ssh_mbps $FAR "$far_start" $ssh_far 127.0.0.1 head -c $FAR /dev/zero)
dfar=$(mbps $FAR exec_on desktop far $FAR)

row() { printf '  %-32s %9s MB/s  %-16s %9s MB/s  %6sx  %s\n' "$1" "$2" "$3" "$4" "$(ratio "$2" "$4")" "${5:-}"; }
echo "throughput, $((GIB / 1048576)) MiB of output to /dev/null (same run; ssh: aes128-gcm, ControlMaster,"
echo "its session start-up of ${near_start} s near, ${farcap_start} s far capped, ${far_start} s far taken out):"
row "d execOnPeer (direct)" "$direct" "ssh" "$ssh1" "target >= 2.5x"
row "d execOnPeer (relayed)" "$relayed" "ssh" "$ssh1" "target >= 2x"
row "d execOnPeer (worker to worker)" "$w2w" "d execOnPeer (relayed)" "$relayed"
row "d execOnPeer (direct)" "$direct" "pipe head | cat" "$pipe"
echo "far link, $((FAR / 1048576)) MiB, $((2 * DELAY)) ms round trip through bench/delay_relay, capped at $CAP Mbit/s:"
printf '  %-32s %9s MB/s\n' "plain TCP (socat)" "$tcpcap"
row "ssh" "$sshcap" "plain TCP" "$tcpcap"
row "d execOnPeer" "$dcap" "plain TCP" "$tcpcap" "target >= 0.8x"
row "d execOnPeer" "$dcap" "ssh" "$sshcap" "target >= 4x"
echo "the same link uncapped (only this host's CPU limits it: a CPU-per-byte comparison):"
printf '  %-32s %9s MB/s\n' "plain TCP (socat)" "$tcp"
row "ssh" "$sshfar" "plain TCP" "$tcp"
row "d execOnPeer" "$dfar" "plain TCP" "$tcp"
row "d execOnPeer" "$dfar" "ssh" "$sshfar"
