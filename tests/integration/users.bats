#!/usr/bin/env bats
# What the socket's group grants (docs/security.md): a member of it who is not root runs commands
# on peers as itself, becomes another user only where the peer's exec.user_map says so, cannot
# run administrative commands, and sees and touches only its own jobs. Real daemons on a loopback
# cluster (desktop = leader, vps and laptop = workers); the users run `d` on laptop.

bats_require_minimum_version 1.5.0
load helpers
load cluster_scenarios
load dssh_scenarios
load jobs_scenarios

setup() {
  [ "$(id -u)" -eq 0 ] || skip "creating users and switching to them needs root"
  use_loopback
  # Throwaway users and the group the test gives laptop's socket (as the package gives it
  # `automatelinux`); removed in teardown, also when the test fails.
  TEST_GROUP=algrp$$
  ALICE=alusr$$
  BOB=albob$$
  groupadd "$TEST_GROUP"
  useradd -m -s /bin/bash -G "$TEST_GROUP" "$ALICE"
  useradd -m -s /bin/bash "$BOB"
}
teardown() {
  kill_job_supervisors
  stop_all_daemons
  local u
  for u in "${ALICE:-}" "${BOB:-}"; do
    [ -n "$u" ] && getent passwd "$u" >/dev/null && { userdel -r "$u" 2>/dev/null || userdel "$u" || true; }
  done
  [ -n "${TEST_GROUP:-}" ] && getent group "$TEST_GROUP" >/dev/null && groupdel "$TEST_GROUP"
  return 0
}

# open_laptop_socket: laptop's socket as a package install leaves it, for TEST_GROUP: the socket
# 0660 and its directory 0750, both of that group (bats' own directories are 0700: o+x on them).
open_laptop_socket() {
  local dir=$BATS_TEST_TMPDIR
  while [ "$dir" != / ]; do chmod o+x "$dir"; dir=$(dirname "$dir"); done
  chgrp "$TEST_GROUP" "$BATS_TEST_TMPDIR/laptop" "$BATS_TEST_TMPDIR/laptop/sock"
  chmod 0750 "$BATS_TEST_TMPDIR/laptop"
  chmod 0660 "$BATS_TEST_TMPDIR/laptop/sock"
}

# restart_cluster_with_vps_policy JSON: a new cluster (new state dirs), vps under this policy, and
# laptop's socket opened to the group again.
restart_cluster_with_vps_policy() {
  stop_all_daemons
  rm -rf "$BATS_TEST_TMPDIR/desktop" "$BATS_TEST_TMPDIR/vps" "$BATS_TEST_TMPDIR/laptop"
  cluster_with_vps_policy "$1"
  open_laptop_socket
}

# as_alice ARGS…: `d` on laptop, run by the group member ALICE (not root).
as_alice() { runuser -u "$ALICE" -- "$D" --socket "$BATS_TEST_TMPDIR/laptop/sock" "$@"; }
# dssh_as_alice ARGS…: d-ssh on laptop, run by ALICE.
dssh_as_alice() {
  runuser -u "$ALICE" -- env AUTOMATELINUX_SOCKET="$BATS_TEST_TMPDIR/laptop/sock" "$DSSH" "$@"
}

# refused_one_line TEXT: the last `run` failed with 255 and one line on stderr containing TEXT.
refused_one_line() {
  [ "$status" -eq 255 ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ "$stderr" == *"$1"* ]]
}

@test "a non-root member of the socket's group runs as itself on a peer, never as root" {
  cluster_with_vps_policy '{}'
  open_laptop_socket
  run --separate-stderr as_alice execOnPeer --peer vps --directory /tmp --command 'id -un; id -u'
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '%s\n%s' "$ALICE" "$(id -u "$ALICE")")" ]
  # d-ssh without user@: the same; root@ is refused with one line and 255.
  run --separate-stderr dssh_as_alice vps 'id -un'
  [ "$status" -eq 0 ]
  [ "$output" = "$ALICE" ]
  run --separate-stderr dssh_as_alice root@vps 'id -u'
  refused_one_line "User 'root' is not allowed for laptop/$ALICE on vps (exec.user_map)"
  [ -z "$output" ]
  # execOnPeer --user of another user: refused the same way; through the leader to laptop itself
  # (desktop runs nothing as root on its behalf either).
  run --separate-stderr as_alice execOnPeer --peer vps --user "$BOB" --directory /tmp --command 'id -un'
  refused_one_line "User '$BOB' is not allowed for laptop/$ALICE on vps"
  run --separate-stderr as_alice execOnPeer --peer desktop --directory /tmp --command 'id -un'
  [ "$status" -eq 0 ]
  [ "$output" = "$ALICE" ]
  # The executing daemon's audit says who asked, member and login name.
  grep "decision=ran" "$BATS_TEST_TMPDIR/vps/state/daemon.log" | grep -q "requester=laptop .* by=laptop/$ALICE"
  jq -e -s --arg a "$ALICE" 'map(select(.requester == "laptop" and .caller == $a)) | length >= 1' \
    "$BATS_TEST_TMPDIR/vps/state/audit.jsonl"
  # Root on laptop keeps the old default: the peer's default user.
  run dd laptop execOnPeer --peer vps --directory /tmp --command 'id -un'
  [ "$output" = root ]
}

@test "exec.user_map lets a non-root caller become another user, * included; allowed_users bounds it; run_as still forces" {
  cluster_with_vps_policy "{\"user_map\": {\"laptop:$ALICE\": [\"root\"], \"*:$ALICE\": [\"$BOB\"]}}"
  open_laptop_socket
  run --separate-stderr dssh_as_alice root@vps 'id -u'
  [ "$status" -eq 0 ]
  [ "$output" = 0 ]
  run --separate-stderr as_alice execOnPeer --peer vps --user "$BOB" --directory /tmp --command 'id -un'
  [ "$status" -eq 0 ]
  [ "$output" = "$BOB" ]

  # "*" as the user reaches anyone but uid 0, which only an entry naming it reaches.
  restart_cluster_with_vps_policy "{\"user_map\": {\"laptop:*\": [\"*\"]}}"
  run --separate-stderr as_alice execOnPeer --peer vps --user "$BOB" --directory /tmp --command 'id -un'
  [ "$status" -eq 0 ]
  [ "$output" = "$BOB" ]
  run --separate-stderr dssh_as_alice root@vps 'id -u'
  refused_one_line "(uid 0) is not allowed for laptop/$ALICE on vps"

  # allowed_users bounds every case, the caller's own name included.
  restart_cluster_with_vps_policy "{\"user_map\": {\"*:*\": [\"*\"]}, \"allowed_users\": [\"$BOB\"]}"
  run --separate-stderr as_alice execOnPeer --peer vps --directory /tmp --command 'id -un'
  refused_one_line "User '$ALICE' is not allowed on vps (exec.allowed_users)"
  run --separate-stderr as_alice execOnPeer --peer vps --user "$BOB" --directory /tmp --command 'id -un'
  [ "$status" -eq 0 ]
  [ "$output" = "$BOB" ]

  # run_as forces one user for everyone.
  restart_cluster_with_vps_policy '{"run_as": "nobody"}'
  run --separate-stderr as_alice execOnPeer --peer vps --directory /tmp --command 'id -un'
  [ "$status" -eq 0 ]
  [ "$output" = nobody ]
  # Her jobs too (d-ssh would start in nobody's home, /nonexistent).
  local job
  job=$(as_alice execOnPeer --peer vps --directory /tmp --detach --command 'id -un' | tail -n 1)
  as_alice waitJob "$job"
  run as_alice attachJob "$job"
  [ "$output" = nobody ]
}

@test "administrative commands need root: a group member gets 255 and one line" {
  make_cluster
  open_laptop_socket
  chgrp "$TEST_GROUP" "$BATS_TEST_TMPDIR/desktop" "$BATS_TEST_TMPDIR/desktop/sock"
  chmod 0750 "$BATS_TEST_TMPDIR/desktop"
  chmod 0660 "$BATS_TEST_TMPDIR/desktop/sock"
  as_desktop() { runuser -u "$ALICE" -- "$D" --socket "$BATS_TEST_TMPDIR/desktop/sock" "$@"; }
  local cmd
  for cmd in joinToken listTokens "revokeToken x" "removePeer vps"; do
    # shellcheck disable=SC2086
    run --separate-stderr as_desktop $cmd
    refused_one_line "${cmd%% *} needs root on this host"
  done
  run --separate-stderr as_alice setPeerConfig --role leader --id laptop
  refused_one_line "setPeerConfig needs root on this host"
  # Every user's command lines on every host are root's to read, as audit.jsonl is.
  run --separate-stderr as_alice auditLog --peer all
  refused_one_line "auditLog needs root on this host"
  # Nothing changed: vps is still a member, laptop still a worker; root still may.
  wait_for 5 peer_is desktop vps online
  [ "$(dd laptop getPeerStatus --json | jq -r .role)" = worker ]
  run dd desktop listTokens
  [ "$status" -eq 0 ]
  # Ordinary commands stay open to the group.
  run --separate-stderr as_alice listPeers
  [ "$status" -eq 0 ]
}

@test "--detach jobs run as their requester and belong to it: others' jobs are not found; root sees all" {
  cluster_with_vps_policy '{}'
  open_laptop_socket
  local mine roots
  mine=$(as_alice execOnPeer --peer vps --directory /tmp --detach --command 'id -un; sleep 30' | tail -n 1)
  roots=$(dd laptop execOnPeer --peer vps --directory /tmp --detach --command 'id -un; sleep 30' | tail -n 1)
  wait_for 5 test -s "$(job_dir vps "$mine")/stdout.0"
  run as_alice attachJob --no-follow "$mine"
  [ "${lines[0]}" = "$ALICE" ]
  # Alice lists only her job; root (on laptop or on vps) sees both.
  run --separate-stderr as_alice listJobs --peer vps --json
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -r 'map(.id) | join(",")')" = "$mine" ]
  [ "$(dd laptop listJobs --peer vps --json | jq -r 'map(.id) | sort | join(",")')" = "$(printf '%s\n' "$mine" "$roots" | sort | paste -sd,)" ]
  [ "$(dd vps listJobs --peer vps --json | jq length)" -eq 2 ]
  # Root's job does not exist for her: not attached, not waited for, not killed.
  run --separate-stderr as_alice killJob "$roots"
  refused_one_line "Job not found: $roots"
  run --separate-stderr as_alice waitJob --timeout 1 "$roots"
  refused_one_line "Job not found: $roots"
  run --separate-stderr as_alice attachJob --no-follow "$roots"
  refused_one_line "Job not found: $roots"
  [ "$(job_field laptop "$roots" state)" = running ]
  # A name root's running job holds: hers is refused without naming root's job; her own job of
  # that name is found by its name, root's is not.
  dd laptop execOnPeer --peer vps --directory /tmp --detach --name shared --command 'sleep 30' >/dev/null
  run --separate-stderr as_alice execOnPeer --peer vps --directory /tmp --detach --name shared --command true
  refused_one_line "Job already running: vps:shared (another user's)"
  run --separate-stderr as_alice attachJob --no-follow vps:shared
  refused_one_line "Job not found: vps:shared"
  dd laptop killJob vps:shared
  # Her own she may kill; root kills root's.
  run as_alice killJob "$mine"
  [ "$status" -eq 0 ]
  run dd laptop killJob "$roots"
  [ "$status" -eq 0 ]
}
