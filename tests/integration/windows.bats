#!/usr/bin/env bats
# Stream windows over a long link: a worker ("far") whose leader connection goes through
# bench/delay_relay (a delay each way on 127.0.0.1), so windows grow; what must still hold is
# byte-exact output and input, and memory bounded by the window budget when readers stop.
# Behaviour only: no speed is asserted.

bats_require_minimum_version 1.5.0
load helpers
load cluster_scenarios

setup() {
  use_loopback
  W=$BATS_TEST_TMPDIR/work
  mkdir -p "$W"
  RELAY=$AL_BUILD/bin/delay_relay
  [ -x "$RELAY" ] || skip "no $RELAY (configure with -DAL_BUILD_BENCH=ON)"
}
teardown() {
  for f in "$BATS_TEST_TMPDIR"/*.pidof; do [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null; done
  stop_all_daemons
}

# far_cluster DELAY_MS [desktop config keys]: desktop leads, laptop joins directly, far joins
# through a delay relay of DELAY_MS each way.
far_cluster() {
  local port relay_port
  port=$(free_port)
  relay_port=$(free_port)
  echo "{\"heartbeat_ms\": $HEARTBEAT_MS${2:+, $2}}" >"$BATS_TEST_TMPDIR/desktop.json"
  start_daemon desktop --config "$BATS_TEST_TMPDIR/desktop.json"
  start_peer laptop
  start_peer far
  "$RELAY" --listen "$relay_port" --target "$port" --delay-ms "$1" &
  echo $! >"$BATS_TEST_TMPDIR/relay.pidof"
  dd desktop setPeerConfig --role leader --id desktop --listen "127.0.0.1:$port"
  TOKEN=$(dd desktop joinToken | tail -n 1)
  dd laptop setPeerConfig --role worker --id laptop --leader "127.0.0.1:$port" --token - <<<"$TOKEN"
  dd far setPeerConfig --role worker --id far --leader "127.0.0.1:$relay_port" --token - <<<"$TOKEN"
  for id in laptop far; do wait_for 20 peer_is desktop "$id" online; done
  wait_for 20 peer_is laptop far online
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$(cat "$BATS_TEST_TMPDIR/$1/pid")/status"; }

@test "over a delayed link, large output (direct and relayed) and input arrive byte-exact" {
  far_cluster 10
  dd desktop execOnPeer --peer far --directory "$W" --command 'head -c 67108864 /dev/urandom | tee out1' >"$W/got1"
  [ "$(sha256sum <"$W/out1")" = "$(sha256sum <"$W/got1")" ]
  dd laptop execOnPeer --peer far --directory "$W" --command 'head -c 33554432 /dev/urandom | tee out2' >"$W/got2"
  [ "$(sha256sum <"$W/out2")" = "$(sha256sum <"$W/got2")" ]
  head -c 33554432 /dev/urandom >"$W/in"
  run dd desktop execOnPeer --peer far --directory "$W" -- sha256sum <"$W/in"
  [ "$status" -eq 0 ]
  [ "${output%% *}" = "$(sha256sum <"$W/in" | cut -d' ' -f1)" ]
}

@test "readers that stop after a fast start keep the daemon's memory within its window budget" {
  local streams=8 budget=$((8 * 1048576)) i
  far_cluster 5 '"streams": {"max_window_bytes": 4194304, "budget_bytes": 8388608}'
  local before
  before=$(rss_kib desktop)
  # Each reader takes 16 MiB at full speed (windows grow), then stops reading for good while the
  # command keeps writing.
  for i in $(seq "$streams"); do
    { echo "$BASHPID" >"$BATS_TEST_TMPDIR/d$i.pidof"
      exec "$D" --socket "$BATS_TEST_TMPDIR/desktop/sock" execOnPeer --peer far --directory /tmp -n -- cat /dev/zero; } |
      { head -c 16777216 >/dev/null; touch "$W/paused$i"; exec sleep 600; } &
    echo $! >"$BATS_TEST_TMPDIR/r$i.pidof"
  done
  for i in $(seq "$streams"); do wait_for 120 test -e "$W/paused$i"; done
  sleep 3  # the commands keep writing; nothing may grow past the windows
  local after limit
  after=$(rss_kib desktop)
  # Budget, plus per stream its first window on the peer hop and the one towards d, plus room
  # for the allocator and frames in flight.
  limit=$((before + (budget + streams * 2 * 1048576) / 1024 + 48 * 1024))
  echo "RSS before ${before} KiB, paused ${after} KiB, limit ${limit} KiB" >&2
  # Under AddressSanitizer RSS says nothing about the daemon's buffers (freed memory waits in its
  # quarantine, and every allocation carries redzones): the bound is checked in the plain build.
  [ -n "${AL_SANITIZED:-}" ] || [ "$after" -le "$limit" ]
  # Every stream is still alive (paused, not failed).
  for i in $(seq "$streams"); do kill -0 "$(cat "$BATS_TEST_TMPDIR/d$i.pidof")"; done
}
