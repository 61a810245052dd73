#!/usr/bin/env bats
# Join tokens: kept out of logs and `ps`, read from stdin, limited uses, listed and revoked, and
# revoked with the member they enrolled. Loopback daemons, stopped by PID in teardown.

bats_require_minimum_version 1.5.0
load helpers
load cluster_scenarios

setup() {
  use_loopback
  PORT=$(free_port)
}
teardown() { stop_all_daemons; }

# Daemons log at debug level here, so debug lines are checked too.
start_leader() {
  start_peer desktop --log-level debug
  dd desktop setPeerConfig --role leader --id desktop --listen "$LISTEN_HOST:$PORT"
}

# secret_of TOKEN: the secret part of al1.<secret>.<fingerprint>.
secret_of() {
  local rest=${1#al1.}
  echo "${rest%%.*}"
}

# token_id OUTPUT_OF_JOINTOKEN: the public id on its first line ("Join token ID (…").
token_id() { echo "$1" | head -n 1 | awk '{print $3}'; }

# absent TEXT FILE…: fails, showing where, if TEXT occurs in any FILE (directories recursively).
# (`! grep` would not fail a bats test.)
absent() {
  local text=$1
  shift
  if grep -rnF -- "$text" "$@"; then
    echo "found '$text' above" >&2
    return 1
  fi
}

# no_secret_anywhere SECRET NAME…: the secret is in no daemon's stderr, log or state file
# (tokens.json holds only its hash).
no_secret_anywhere() {
  local secret=$1 name
  shift
  for name in "$@"; do
    absent "$secret" "$BATS_TEST_TMPDIR/$name/stderr" "$BATS_TEST_TMPDIR/$name/state"
  done
}

@test "tokens: a token given with --token VALUE or --token=VALUE is in no log or audit line" {
  start_leader
  TOKEN=$(dd desktop joinToken | tail -n 1)
  [[ "$TOKEN" == al1.* ]]
  start_peer vps --log-level debug
  start_peer laptop --log-level debug
  dd vps setPeerConfig --role worker --id vps --leader "$LEADER_HOST:$PORT" --token "$TOKEN"
  dd laptop setPeerConfig --role worker --id laptop --leader "$LEADER_HOST:$PORT" "--token=$TOKEN"
  # A failed join (the token typed as a stray argument) does not echo it either.
  run --separate-stderr dd laptop setPeerConfig --role worker --id x --leader "$LEADER_HOST:$PORT" "$TOKEN"
  [ "$status" -eq 255 ]
  [[ "$stderr" != *"$(secret_of "$TOKEN")"* ]]
  # A value that is not shaped like a token is redacted too: it is the option that is secret.
  run --separate-stderr dd laptop setPeerConfig --role worker --id y --leader "$LEADER_HOST:$PORT" --token=hunter2-not-a-token
  [ "$status" -eq 255 ]
  [[ "$stderr" == "d: bad token"* ]]
  run --separate-stderr dd laptop setPeerConfig --role worker --id y --leader "$LEADER_HOST:$PORT" --token hunter2-not-a-token
  [ "$status" -eq 255 ]
  wait_for 10 peer_is desktop vps online
  wait_for 10 peer_is desktop laptop online
  absent hunter2 "$BATS_TEST_TMPDIR/laptop/stderr" "$BATS_TEST_TMPDIR/laptop/state"
  # The audit lines are there, with the value redacted.
  grep -q -- "command=\[setPeerConfig .*--token <redacted>" "$BATS_TEST_TMPDIR/vps/state/daemon.log"
  grep -q -- "command=\[setPeerConfig .*--token=<redacted>" "$BATS_TEST_TMPDIR/laptop/state/daemon.log"
  grep -q -- "command=\[setPeerConfig .*--token <redacted>" "$BATS_TEST_TMPDIR/vps/stderr"
  no_secret_anywhere "$(secret_of "$TOKEN")" desktop vps laptop
}

@test "tokens: --token - reads the token from stdin; it is in neither ps nor any log" {
  start_leader
  TOKEN=$(dd desktop joinToken | tail -n 1)
  local secret
  secret=$(secret_of "$TOKEN")
  start_peer vps --log-level debug
  # d waits on its stdin (a FIFO we hold open) while we look at ps.
  mkfifo "$BATS_TEST_TMPDIR/fifo"
  local fifo  # not fd 3: that one is bats'
  exec {fifo}<>"$BATS_TEST_TMPDIR/fifo"
  "$D" --socket "$BATS_TEST_TMPDIR/vps/sock" setPeerConfig --role worker --id vps \
    --leader "$LEADER_HOST:$PORT" --token - <&"$fifo" >"$BATS_TEST_TMPDIR/join.out" 2>&1 &
  local pid=$!
  wait_for 5 bash -c "ps -ww -o args= -p $pid | grep -q -- '--token -'"
  sleep 0.3  # the request is with the daemon, which waits for the token
  ps -eww -o args= >"$BATS_TEST_TMPDIR/ps.txt"
  absent "$secret" "$BATS_TEST_TMPDIR/ps.txt"
  kill -0 "$pid"  # still waiting for the token
  echo "$TOKEN" >&"$fifo"
  local rc=0
  wait "$pid" || rc=$?
  exec {fifo}>&-
  cat "$BATS_TEST_TMPDIR/join.out"
  [ "$rc" -eq 0 ]
  [ "$(cat "$BATS_TEST_TMPDIR/join.out")" = "vps is now a worker of the cluster" ]
  wait_for 10 peer_is desktop vps online
  # A pipe works too, without a trailing newline.
  start_peer laptop --log-level debug
  printf '%s' "$TOKEN" | dd laptop setPeerConfig --role worker --id laptop --leader "$LEADER_HOST:$PORT" --token -
  wait_for 10 peer_is desktop laptop online
  # So does a file holding the whole output of joinToken (the token is its last line).
  dd desktop joinToken >"$BATS_TEST_TMPDIR/token-file"
  start_peer phone
  dd phone setPeerConfig --role worker --id phone --leader "$LEADER_HOST:$PORT" --token - <"$BATS_TEST_TMPDIR/token-file"
  grep -q -- "command=\[setPeerConfig .*--token <redacted>" "$BATS_TEST_TMPDIR/vps/state/daemon.log"
  no_secret_anywhere "$secret" desktop vps laptop phone
}

@test "tokens: --token - with nothing on stdin fails with one line and saves nothing" {
  start_leader
  start_peer newbie
  run --separate-stderr dd newbie setPeerConfig --role worker --id newbie --leader "$LEADER_HOST:$PORT" --token - </dev/null
  [ "$status" -eq 255 ]
  [ "$stderr" = "d: --token -: no token on standard input" ]
  run --separate-stderr dd newbie setPeerConfig --role worker --id newbie --leader "$LEADER_HOST:$PORT" --token - <<<"   "
  [ "$status" -eq 255 ]
  [ "$stderr" = "d: --token -: no token on standard input" ]
  run --separate-stderr dd newbie setPeerConfig --role worker --id newbie --leader "$LEADER_HOST:$PORT" --token - <<<"nonsense"
  [ "$status" -eq 255 ]
  [[ "$stderr" == "d: bad token"* ]]
  [ ! -e "$BATS_TEST_TMPDIR/newbie/state/peer.json" ]
}

@test "tokens: joinToken --uses 1 enrolls one worker; the second is refused as used up" {
  start_leader
  run --separate-stderr dd desktop joinToken --uses 0
  [ "$status" -eq 255 ]
  [ "$stderr" = "d: invalid --uses '0' (a whole number, at least 1)" ]
  run --separate-stderr dd desktop joinToken --uses -3
  [ "$status" -eq 255 ]
  run --separate-stderr dd desktop joinToken --uses 1
  [ "$status" -eq 0 ]
  local one=${lines[-1]} id
  id=$(token_id "$output")
  [[ "$one" == al1.* ]]
  start_peer vps
  start_peer laptop
  dd vps setPeerConfig --role worker --id vps --leader "$LEADER_HOST:$PORT" --token - <<<"$one"
  run --separate-stderr dd laptop setPeerConfig --role worker --id laptop --leader "$LEADER_HOST:$PORT" --token - <<<"$one"
  [ "$status" -eq 255 ]
  [[ "$stderr" == "d: token used up"* ]]
  [ "$(dd laptop getPeerStatus --json | jq -r .id)" = "null" ]
  dd desktop listTokens --json | jq -e --arg id "$id" '.[] | select(.id == $id) | .uses == 1 and .used == 1 and .uses_left == 0 and .status == "used up" and .enrolled == ["vps"]'
}

@test "tokens: listTokens shows ids, never secrets; revokeToken makes a token refuse" {
  start_leader
  run dd desktop joinToken --ttl 10m
  local tok=${lines[-1]} id secret
  id=$(token_id "$output")
  secret=$(secret_of "$tok")
  [[ "$id" =~ ^[0-9a-f]{8}$ ]]
  run dd desktop listTokens
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "ID"*"CREATED"*"EXPIRES"*"STATUS"*"USED"*"ENROLLED" ]]
  [[ "$output" == *"$id"*"valid"* ]]
  [[ "$output" != *"$secret"* ]]
  run dd desktop listTokens --json
  [ "$status" -eq 0 ]
  [[ "$output" != *"$secret"* ]]
  echo "$output" | jq -e --arg id "$id" '.[] | select(.id == $id) | .status == "valid" and .uses == null and .used == 0 and .enrolled == [] and (.expires | test("Z$")) and (.created | test("Z$"))'
  run --separate-stderr dd desktop revokeToken "$id"
  [ "$status" -eq 0 ]
  [ "$output" = "revoked join token $id" ]
  dd desktop listTokens --json | jq -e --arg id "$id" '.[] | select(.id == $id) | .status == "revoked" and (.revoked | test("Z$"))'
  start_peer vps
  run --separate-stderr dd vps setPeerConfig --role worker --id vps --leader "$LEADER_HOST:$PORT" --token - <<<"$tok"
  [ "$status" -eq 255 ]
  [[ "$stderr" == "d: token revoked"* ]]
  run --separate-stderr dd desktop revokeToken nosuch
  [ "$status" -eq 255 ]
  [ "$stderr" = "d: Token not found: nosuch" ]
  run --separate-stderr dd vps listTokens
  [ "$status" -eq 255 ]
  [ "$stderr" = "d: listTokens works only on the leader" ]
  absent "$secret" "$BATS_TEST_TMPDIR/desktop/state"
}

@test "tokens: removePeer revokes the token that enrolled the member: no comeback under a new id" {
  start_leader
  run dd desktop joinToken
  TOKEN=${lines[-1]}
  local id
  id=$(token_id "$output")
  start_peer vps
  dd vps setPeerConfig --role worker --id vps --leader "$LEADER_HOST:$PORT" --token - <<<"$TOKEN"
  wait_for 10 peer_is desktop vps online
  run dd desktop removePeer vps
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "removed vps; its certificate is revoked" ]
  [ "${lines[1]}" = "revoked join token $id, which enrolled vps" ]
  wait_for 10 grep -q "removed from the cluster; join again" "$BATS_TEST_TMPDIR/vps/state/daemon.log"
  # The same machine, a new id, the old token: refused.
  run --separate-stderr dd vps setPeerConfig --role worker --id vps-again --leader "$LEADER_HOST:$PORT" --token - <<<"$TOKEN"
  [ "$status" -eq 255 ]
  [ "$stderr" = "d: token revoked (it enrolled vps, which was removed)" ]
  # …and from a fresh machine, and under the old id.
  start_peer other
  run --separate-stderr dd other setPeerConfig --role worker --id other --leader "$LEADER_HOST:$PORT" --token - <<<"$TOKEN"
  [ "$status" -eq 255 ]
  [[ "$stderr" == "d: token revoked"* ]]
  run --separate-stderr dd other setPeerConfig --role worker --id vps --leader "$LEADER_HOST:$PORT" --token - <<<"$TOKEN"
  [ "$status" -eq 255 ]
  [ -z "$(peer_status desktop vps-again)" ]
  [ -z "$(peer_status desktop other)" ]
  dd desktop listTokens --json | jq -e --arg id "$id" '.[] | select(.id == $id) | .status == "revoked" and .enrolled == ["vps"]'
  # A token made after the removal works (a deliberate re-join), even from the same machine.
  sleep 1.1  # token times have one-second resolution
  NEW=$(dd desktop joinToken | tail -n 1)
  dd vps setPeerConfig --role worker --id vps-again --leader "$LEADER_HOST:$PORT" --token - <<<"$NEW"
  wait_for 10 peer_is desktop vps-again online
}

@test "tokens: removing one member revokes the shared token but keeps the other members" {
  start_leader
  TOKEN=$(dd desktop joinToken | tail -n 1)
  start_peer vps
  start_peer laptop
  dd vps setPeerConfig --role worker --id vps --leader "$LEADER_HOST:$PORT" --token - <<<"$TOKEN"
  dd laptop setPeerConfig --role worker --id laptop --leader "$LEADER_HOST:$PORT" --token - <<<"$TOKEN"
  wait_for 10 peer_is desktop laptop online
  dd desktop removePeer vps
  start_peer other
  run --separate-stderr dd other setPeerConfig --role worker --id other --leader "$LEADER_HOST:$PORT" --token - <<<"$TOKEN"
  [ "$status" -eq 255 ]
  # laptop, enrolled by the same token, stays a member and reconnects after a restart.
  stop_daemon laptop
  start_peer laptop
  wait_for 15 peer_is desktop laptop online
}
