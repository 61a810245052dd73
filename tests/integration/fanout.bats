#!/usr/bin/env bats
# Fan-out on a loopback cluster: one command on several peers at once — whole prefixed lines,
# failures reported per peer and summarised, the largest status, JSON records, grouped output,
# Ctrl-C reaching every peer — and `--peer all` across a dozen workers.

bats_require_minimum_version 1.5.0
load helpers
load cluster_scenarios
load fanout_scenarios

setup() { use_loopback; }
teardown() {
  kill_marked_sleeps
  stop_all_daemons
}

@test "fan-out: every line whole and prefixed, on both streams, with two peers writing at once" { fanout_whole_prefixed_lines; }

@test "fan-out: a single peer id is unchanged; a list of one is prefixed" { fanout_single_and_list_of_one; }

@test "fan-out: an offline peer is reported and summarised, the others finish, exit 255" { fanout_offline_peer_reported; }

@test "fan-out: the largest status wins; a signal counts 128+N; self counts 255" { fanout_largest_status; }

@test "fan-out: --json prints one record per peer" { fanout_json_records; }

@test "fan-out: --group prints identical outputs once under one header" { fanout_group; }

@test "fan-out: --group keeps 64 MiB per peer and names what it dropped" { fanout_group_cap; }

@test "fan-out: all targets every other member; gitOnPeer takes a list" { fanout_all_and_git; }

@test "fan-out: Ctrl-C cancels every peer's command and exits 130" { fanout_ctrl_c; }

@test "fan-out: all with no other member is a usage error; all is no peer id" { fanout_all_alone; }

@test "fan-out: --peer all across twelve workers runs everywhere at once" {
  # Scale, not memory: under the sanitizers thirteen daemons and twelve busy commands on two cores
  # miss heartbeats, so the plain build runs this one.
  [ -z "${AL_SANITIZED:-}" ] || skip "scale test: runs in the plain build"
  HEARTBEAT_MS=2000  # a loaded machine must not take a busy worker for a dead one
  PORT=$(free_port)
  start_peer desktop
  dd desktop setPeerConfig --role leader --id desktop --listen "127.0.0.1:$PORT"
  local token i
  token=$(dd desktop joinToken | tail -n 1)
  for i in $(seq 12); do
    start_peer "w$i"
    dd "w$i" setPeerConfig --role worker --id "w$i" --leader "127.0.0.1:$PORT" --token - <<<"$token"
  done
  wait_for 20 eval '[ "$(dd desktop listPeers --json | jq "[.[] | select(.status == \"online\")] | length")" -eq 13 ]'
  # Each command waits until all twelve have started: run one after another, none would finish.
  local barrier=$BATS_TEST_TMPDIR/barrier
  mkdir "$barrier"
  run --separate-stderr dd desktop execOnPeer --peer all --directory "$barrier" --timeout 60 --command \
    'touch "$AUTOMATELINUX_PEER"; until [ "$(ls | wc -l)" -ge 12 ]; do sleep 0.1; done; echo "up $AUTOMATELINUX_PEER"'
  [ "$status" -eq 0 ]
  [ "$(printf '%s\n' "$output" | wc -l)" -eq 12 ]
  for i in $(seq 12); do printf '%s\n' "$output" | grep -qx "w$i: up w$i"; done
  # --fanout 1 still finishes every peer, one at a time.
  run dd desktop execOnPeer --peer w1,w2,w3 --fanout 1 --directory / --command 'echo $AUTOMATELINUX_PEER'
  [ "$output" = $'w1: w1\nw2: w2\nw3: w3' ]
}
