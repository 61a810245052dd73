# Fan-out scenarios (`--peer vps,laptop`, `--peer all`), shared by the loopback suite
# (fanout.bats) and the network-namespace suite (cluster_netns.bats). Each starts from
# make_cluster: desktop = leader, vps and laptop = workers.

# The commands say where they run through the environment every command gets.
WHO='who=$AUTOMATELINUX_PEER'

kill_marked_sleeps() {
  local pid
  for pid in $(pgrep -f "^sleep 300.7" || true); do kill -KILL "$pid" 2>/dev/null || true; done
}

# every line whole and prefixed, on both streams, with two peers writing at once
fanout_whole_prefixed_lines() {
  make_cluster
  run --separate-stderr dd desktop execOnPeer --peer vps,laptop --directory / \
    --command 'seq 10000 | sed "s/.*/line & abcdefghijklmnopqrstuvwxyz0123456789/"; seq 10000 | sed "s/.*/err &/" >&2'
  [ "$status" -eq 0 ]
  [ "$(printf '%s\n' "$output" | wc -l)" -eq 20000 ]
  [ "$(printf '%s\n' "$output" | grep -cE '^(vps|laptop): line [0-9]+ abcdefghijklmnopqrstuvwxyz0123456789$')" -eq 20000 ]
  [ "$(printf '%s\n' "$output" | grep -c '^vps: ')" -eq 10000 ]
  [ "$(printf '%s\n' "$stderr" | grep -cE '^(vps|laptop): err [0-9]+$')" -eq 20000 ]
  # Each peer's own lines keep their order.
  printf '%s\n' "$output" | sed -n 's/^laptop: line \([0-9]*\) .*/\1/p' | sort -nc
}

# a single peer id is unchanged; a list of one is prefixed
fanout_single_and_list_of_one() {
  make_cluster
  run dd desktop execOnPeer --peer vps --directory / --command 'printf "a\nb"'
  [ "$output" = $'a\nb' ]
  run dd desktop execOnPeer --peer vps, --directory / --command 'printf "a\nb"'
  [ "$status" -eq 255 ]
  [[ "$output" == *"empty peer id"* ]]
  run dd desktop execOnPeer --peer vps,vps --directory / --command 'printf "a\nb"'
  [ "$status" -eq 0 ]
  [ "$output" = $'vps: a\nvps: b' ]
}

# an offline peer is reported and summarised, the others finish, exit 255
fanout_offline_peer_reported() {
  make_cluster
  stop_daemon laptop
  wait_for 10 peer_is desktop laptop offline
  run --separate-stderr dd desktop execOnPeer --peer vps,laptop,nosuch --directory / --command 'sleep 0.5; echo done'
  echo "$output"; echo "$stderr"
  [ "$status" -eq 255 ]
  [ "$output" = "vps: done" ]
  [[ "$stderr" == *"laptop: Peer is offline: laptop"* ]]
  [[ "$stderr" == *"nosuch: Peer not found: nosuch"* ]]
  [ "$(printf '%s\n' "$stderr" | tail -1)" = "d: 2 of 3 peers failed: laptop offline, nosuch not found" ]
  # Reported at once: vps's command finishes only after the test has seen laptop's line.
  local gate=$BATS_TEST_TMPDIR/gate
  mkdir -p "$gate"
  "$D" --socket "$BATS_TEST_TMPDIR/desktop/sock" execOnPeer --peer vps,laptop --directory "$gate" \
    --timeout 60 --command 'until [ -e released ]; do sleep 0.1; done; echo done' \
    >"$gate/out" 2>"$gate/err" &
  local d_pid=$!
  wait_for 30 grep -q "laptop: Peer is offline: laptop" "$gate/err"
  kill -0 "$d_pid"
  touch "$gate/released"
  local status=0
  wait "$d_pid" || status=$?
  [ "$status" -eq 255 ]
  [ "$(cat "$gate/out")" = "vps: done" ]
  # --skip-offline leaves it out (named in the summary) and the rest decides the status.
  run --separate-stderr dd desktop execOnPeer --peer vps,laptop --skip-offline --directory / --command 'echo ok'
  [ "$status" -eq 0 ]
  [ "$output" = "vps: ok" ]
  [ "$stderr" = "d: 0 of 1 peers failed; skipped (offline): laptop" ]
}

# the largest status wins; a signal counts 128+N; self counts 255
fanout_largest_status() {
  make_cluster
  run --separate-stderr dd desktop execOnPeer --peer vps,laptop --directory / \
    --command "$WHO"'; if [ "$who" = vps ]; then kill -9 $$; else exit 3; fi'
  echo "$stderr"
  [ "$status" -eq 137 ]
  [ "$(printf '%s\n' "$stderr" | tail -1)" = "d: 2 of 2 peers failed: vps signal 9, laptop exit 3" ]
  run --separate-stderr dd desktop execOnPeer --peer vps,desktop --directory / --command 'true'
  [ "$status" -eq 255 ]
  [[ "$stderr" == *"desktop: Cannot exec on self (desktop)"* ]]
}

# --json prints one record per peer
fanout_json_records() {
  make_cluster
  run --separate-stderr dd desktop execOnPeer --peer vps,laptop,nosuch --json --directory / \
    --command "$WHO"'; echo "out $who"; echo "err $who" >&2; [ "$who" = vps ]'
  [ "$status" -eq 255 ]
  [ "$(printf '%s\n' "$output" | wc -l)" -eq 3 ]
  printf '%s\n' "$output" | jq -se '.[] | select(.peer == "vps") | .status == "exited" and .exit_code == 0 and .stdout == "out vps\n" and .stderr == "err vps\n" and .stdout_truncated == false and (.duration_ms | type) == "number"'
  printf '%s\n' "$output" | jq -se '.[] | select(.peer == "laptop") | .status == "exited" and .exit_code == 1 and .signal == null'
  printf '%s\n' "$output" | jq -se '.[] | select(.peer == "nosuch") | .status == "not_found" and .exit_code == null and (.reason | startswith("Peer not found"))'
}

# --group prints identical outputs once under one header
fanout_group() {
  make_cluster
  run dd desktop execOnPeer --peer vps,laptop --group --directory / --command 'echo same; echo twice'
  [ "$status" -eq 0 ]
  [ "$output" = $'── vps, laptop (exit 0) ──\nsame\ntwice' ]
  run dd desktop execOnPeer --peer vps,laptop --group --directory / --command "$WHO"'; echo "$who"'
  [[ "$output" == *$'── vps (exit 0) ──\nvps'* ]]
  [[ "$output" == *$'── laptop (exit 0) ──\nlaptop'* ]]
  # Output that does not end its last line still leaves every header on a line of its own.
  run dd desktop execOnPeer --peer vps,laptop --group --directory / --command "$WHO"'; printf %s "$who"'
  [ "$(grep -c '^── .* (exit 0) ──$' <<<"$output")" -eq 2 ]
  [ "$(grep -cx 'vps' <<<"$output")" -eq 1 ]
  [ "$(grep -cx 'laptop' <<<"$output")" -eq 1 ]
  [ "${#lines[@]}" -eq 4 ]
}

# --group spools at most 64 MiB per peer and channel, then says how much it dropped
fanout_group_cap() {
  make_cluster
  local cap=$((64 * 1024 * 1024)) out=$BATS_TEST_TMPDIR/grouped
  "$D" --socket "$BATS_TEST_TMPDIR/desktop/sock" execOnPeer --peer vps,laptop --group \
    --directory / --command "head -c $((cap + 1000)) /dev/zero | tr '\\0' x" >"$out"
  [ "$(head -n 1 "$out")" = '── vps, laptop (exit 0) ──' ]
  [ "$(tail -n 1 "$out")" = '[d: 1000 bytes dropped]' ]
  # The header line, then exactly the first 64 MiB, then the marker on a line of its own.
  [ "$(sed -n 2p "$out" | tr -d x | wc -c)" -eq 1 ]
  [ "$(sed -n 2p "$out" | wc -c)" -eq $((cap + 1)) ]
  [ "$(wc -l <"$out")" -eq 3 ]
}

# all targets every other member; gitOnPeer takes a list
fanout_all_and_git() {
  make_cluster
  run dd laptop execOnPeer --peer all --directory / --command 'echo hi'
  [ "$status" -eq 0 ]
  [ "$(printf '%s\n' "$output" | sort | tr '\n' ' ')" = "desktop: hi vps: hi " ]
  git init -q "$BATS_TEST_TMPDIR/repo"
  run dd desktop gitOnPeer --peer vps,laptop --directory "$BATS_TEST_TMPDIR/repo" rev-parse --is-inside-work-tree
  [ "$status" -eq 0 ]
  [ "$(printf '%s\n' "$output" | sort | tr '\n' ' ')" = "laptop: true vps: true " ]
}

# Ctrl-C cancels every peer's command and exits 130
fanout_ctrl_c() {
  make_cluster
  "$D" --socket "$BATS_TEST_TMPDIR/desktop/sock" execOnPeer --peer vps,laptop --directory / \
    --command 'sleep 300.7' &
  local d_pid=$!
  wait_for 10 eval 'test "$(pgrep -fc "^sleep 300.7")" -eq 2'
  kill -INT "$d_pid"
  local status=0
  wait "$d_pid" || status=$?
  [ "$status" -eq 130 ]
  wait_for 10 bash -c '! pgrep -f "^sleep 300.7"'
}

# all with no other member is a usage error; all is no peer id
fanout_all_alone() {
  make_cluster
  run dd vps setPeerConfig --role worker --id all --leader "127.0.0.1:$PORT"
  [ "$status" -eq 255 ]
  [ "$output" = "d: invalid id 'all': it is reserved (--peer all means every member)" ]
  start_peer alone
  dd alone setPeerConfig --role leader --id alone --listen "127.0.0.1:$(free_port)"
  run dd alone execOnPeer --peer all --directory / --command true
  [ "$status" -eq 255 ]
  [ "$output" = "d: --peer all: this cluster has no other member" ]
}
