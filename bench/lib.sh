# Shared by the bench scripts (sourced): a loopback cluster of daemons in a temporary directory,
# stopped by PID on exit, and the timing helpers. Set N (runs per figure) and B (build dir) first.
D=$B/bin/d
dir=$(mktemp -d /tmp/al-bench-XXXXXX)
pids=()
cleanup() {
  local pid f
  # Job supervisors outlive their daemon by design: stop them first (by the pid they recorded).
  for f in "$dir"/*/jobs/*/process.json; do
    [ -f "$f" ] && kill -KILL "$(jq -r .supervisor "$f")" 2>/dev/null || true
  done
  declare -F ssh_masters_stop >/dev/null && ssh_masters_stop
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

# start_daemon NAME [daemon flags…]: socket $dir/NAME.sock, state dir $dir/NAME; waits until it answers.
# Workers reach each other through the leader's relay unless DIRECT=true (then over direct sessions,
# each on the port join_worker gives it); a caller's own --config decides for itself.
start_daemon() {
  local name=$1 config=()
  shift
  if [[ " $* " != *" --config "* ]]; then
    echo "{\"peer\": {\"direct\": ${DIRECT:-false}}}" >"$dir/$name.json"
    config=(--config "$dir/$name.json")
  fi
  "$B/bin/automatelinux-daemon" --socket "$dir/$name.sock" --state-dir "$dir/$name" --log-level warn "${config[@]}" "$@" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 200); do [ -S "$dir/$name.sock" ] && $D --socket "$dir/$name.sock" help >/dev/null 2>&1 && return; sleep 0.05; done
  echo "daemon $name did not start" >&2
  return 1
}
# free_ports N: N distinct free ports, one per line, from one interpreter start (python3 may be a
# shell shim here: a start per port cost as much CPU as the joins the scale bench measures).
free_ports() {
  python3 -c 'import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in ss))' "$1"
}
free_port() { free_ports 1; }
# make_leader ID: ID leads on a free port; join_worker ID: ID joins it with a fresh token, taking
# direct sessions on LISTEN_PORT (default: a free one).
make_leader() {
  leader=$1
  port=$(free_port)
  $D --socket "$dir/$leader.sock" setPeerConfig --role leader --id "$leader" --listen "127.0.0.1:$port" >/dev/null
  token=$($D --socket "$dir/$leader.sock" joinToken | tail -n 1)
}
join_worker() {  # join_worker ID [LISTEN_PORT]
  $D --socket "$dir/$1.sock" setPeerConfig --role worker --id "$1" --leader "127.0.0.1:$port" \
    --listen "127.0.0.1:${2:-$(free_port)}" --token - <<<"$token" >/dev/null
}
# wait_direct FROM TO: until FROM shows TO online over a direct session (10 s at most).
wait_direct() {
  for _ in $(seq 100); do
    $D --socket "$dir/$1.sock" listPeers --json |
      jq -e --arg id "$2" '.[] | select(.id == $id) | .status == "online" and .path == "direct"' >/dev/null && return
    sleep 0.1
  done
  echo "bench: $1 has no direct session to $2" >&2
  return 1
}

now_ns() { date +%s%N; }
# mean_ms COMMAND…: mean wall time of N runs (after one warm-up), in milliseconds.
mean_ms() {
  local start end i
  # The warm-up run must succeed: a figure of a command that fails at once measures nothing.
  "$@" >/dev/null 2>&1 || { echo "bench: '$*' failed (exit $?)" >&2; return 1; }
  start=$(now_ns)
  # Every run must succeed too: a refused run (`busy` past peer.max_requests_per_s) is fast and
  # would make the figure look better than the command is.
  for ((i = 0; i < N; i++)); do
    "$@" >/dev/null 2>&1 || { echo "bench: run $i of '$*' failed (exit $?)" >&2; return 1; }
  done
  end=$(now_ns)
  awk -v t=$((end - start)) -v n="$N" 'BEGIN { printf "%.3f", t / n / 1e6 }'
}
# rate UNIT DECIMALS BYTES COMMAND…: bytes per second, divided by UNIT, of a command that writes
# BYTES to stdout (sent to /dev/null).
rate() {
  local unit=$1 decimals=$2 bytes=$3 start end
  shift 3
  start=$(now_ns)
  "$@" >/dev/null
  end=$(now_ns)
  awk -v t=$((end - start)) -v b="$bytes" -v u="$unit" -v d="$decimals" \
    'BEGIN { printf "%." d "f", b / (t / 1e9) / u }'
}
gbps() { rate 1e9 3 "$@"; }  # gbps BYTES COMMAND…: GB/s
mbps() { rate 1e6 1 "$@"; }  # mbps BYTES COMMAND…: MB/s
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# start_sshd: a throwaway OpenSSH sshd on 127.0.0.1 (own host key, one authorized client key,
# no PAM), stopped with the rest. Sets sshport, the client key sshkey, and SSH: the ssh command
# line (default ciphers) for that server.
start_sshd() {
  local s=$dir/ssh
  mkdir -p "$s" /run/sshd
  ssh-keygen -q -t ed25519 -N '' -f "$s/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$s/client_key"
  cp "$s/client_key.pub" "$s/authorized_keys"
  sshport=$(free_port)
  sshkey=$s/client_key
  cat >"$s/sshd_config" <<CONF
Port $sshport
ListenAddress 127.0.0.1
HostKey $s/host_key
AuthorizedKeysFile $s/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
StrictModes no
PidFile $s/sshd.pid
Subsystem sftp /usr/lib/openssh/sftp-server
CONF
  /usr/sbin/sshd -D -e -f "$s/sshd_config" 2>"$s/log" &
  pids+=($!)
  SSH="ssh -p $sshport -i $sshkey -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR"
  for _ in $(seq 50); do $SSH 127.0.0.1 true 2>/dev/null && return; sleep 0.1; done
  echo "throwaway sshd did not answer" >&2
  return 1
}

# ssh_master NAME PORT: a ControlMaster to 127.0.0.1:PORT (the sshd, or a relay in front of it)
# with aes128-gcm@openssh.com; sets ssh_cmd, the ssh command line that runs through it.
ssh_master() {
  local ctl=$dir/ssh/$1.ctl
  ssh_cmd="ssh -p $2 -i $sshkey -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR -c aes128-gcm@openssh.com -S $ctl"
  $ssh_cmd -M -f -N -o ControlPersist=yes 127.0.0.1 </dev/null >/dev/null 2>&1
}
# ssh_masters_stop: ends every ControlMaster started here (they daemonize, so not in pids).
ssh_masters_stop() {
  local ctl
  for ctl in "$dir"/ssh/*.ctl; do [ -S "$ctl" ] && ssh -S "$ctl" -O exit 127.0.0.1 2>/dev/null; done
  return 0
}

# start_delay_relay PORT [flags…]: a loopback relay to 127.0.0.1:PORT (bench/delay_relay.cpp);
# sets relay_port to the port it listens on (probed with ss: a test connection would be relayed).
start_delay_relay() {
  local target=$1
  shift
  relay_port=$(free_port)
  "$B/bin/delay_relay" --listen "$relay_port" --target "$target" "$@" &
  pids+=($!)
  for _ in $(seq 100); do ss -Hltn "sport = :$relay_port" | grep -q . && return; sleep 0.05; done
  echo "delay_relay did not start" >&2
  return 1
}
# far_worker NAME DELAY_MS [relay flags…]: starts NAME and joins it to the leader through a delay
# relay of DELAY_MS each way, so its leader session crosses a long link.
far_worker() {
  local name=$1 delay=$2
  shift 2
  start_daemon "$name"
  start_delay_relay "$port" --delay-ms "$delay" "$@"
  $D --socket "$dir/$name.sock" setPeerConfig --role worker --id "$name" --leader "127.0.0.1:$relay_port" \
    --token - <<<"$token" >/dev/null
}
# wait_online NAME COUNT: until NAME lists COUNT members online (10 s at most).
wait_online() {
  for _ in $(seq 100); do
    [ "$($D --socket "$dir/$1.sock" listPeers --json | jq '[.[] | select(.status == "online")] | length')" -ge "$2" ] && return
    sleep 0.1
  done
}
