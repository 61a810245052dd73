#!/usr/bin/env bats
# d-ssh on loopback: real git, rsync, scp, sftp and sshfs over the peer network, user@, -G, exit
# statuses. laptop → vps goes through the leader (desktop); desktop → vps is direct.

bats_require_minimum_version 1.5.0
load helpers
load cluster_scenarios
load dssh_scenarios

setup() {
  use_loopback
  mkdir -p "$BATS_TEST_TMPDIR/work"
  # Our temporary directories must be reachable by the commands we run (and the test user).
  chmod 755 "$BATS_TEST_TMPDIR" "$BATS_TEST_TMPDIR/work"
  TEST_USER=
}
teardown() {
  dssh_cleanup_mounts
  stop_all_daemons
  if [ -n "${TEST_USER:-}" ] && getent passwd "$TEST_USER" >/dev/null; then
    userdel -r "$TEST_USER" 2>/dev/null || userdel "$TEST_USER" || true
  fi
}

@test "d-ssh: exit status, stdin EOF, -n, SendEnv/SetEnv, -G, unknown peer and option" {
  make_cluster
  dssh_scenario_basics laptop vps
}

@test "d-ssh: an address finds its peer, or is ambiguous; 'all' and self are refused" {
  make_cluster
  # On loopback every peer has the address 127.0.0.1: ambiguous.
  run --separate-stderr dssh laptop 127.0.0.1 true
  [ "$status" -eq 255 ]
  [[ "$stderr" == "d-ssh: Ambiguous host 127.0.0.1"* ]]
  run --separate-stderr dssh laptop laptop true
  [ "$status" -eq 255 ]
  [ "$stderr" = "d-ssh: Cannot exec on self (laptop)" ]
}

@test "d-ssh: git clone, push and fetch (protocol v2) of a repository with an 8 MB blob" {
  make_cluster
  dssh_scenario_git laptop vps
}

@test "d-ssh: rsync -a of 30 MB, a small delta after a change, then --delete" {
  make_cluster
  dssh_scenario_rsync desktop vps
}

@test "d-ssh: scp -S both ways and sftp -S in batch mode" {
  make_cluster
  dssh_scenario_scp_sftp laptop vps
}

@test "d-ssh: sshfs -o ssh_command=d-ssh" {
  make_cluster
  dssh_scenario_sshfs laptop vps
}

@test "d-ssh: user@ runs as that user; exec.allowed_users refuses others with 255 and an audit line" {
  [ "$(id -u)" -eq 0 ] || skip "switching users needs root"
  TEST_USER=aldssh$$
  useradd -m -s /bin/bash "$TEST_USER"
  cluster_with_vps_policy "{\"allowed_users\": [\"$TEST_USER\"]}"
  local home
  home=$(getent passwd "$TEST_USER" | cut -d: -f6)
  run dssh laptop "$TEST_USER@vps" 'id -un; pwd; echo $HOME $USER $LOGNAME; touch made-here'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "$TEST_USER" ]
  [ "${lines[1]}" = "$home" ]
  [ "${lines[2]}" = "$home $TEST_USER $TEST_USER" ]
  [ "$(stat -c %U "$home/made-here")" = "$TEST_USER" ]
  # The executing daemon's audit line says whom it ran as.
  grep "decision=ran" "$BATS_TEST_TMPDIR/vps/state/daemon.log" | grep -q "command=\[exec user=$TEST_USER "
  # -l does the same; supplementary groups come from initgroups.
  run dssh laptop -l "$TEST_USER" vps 'id -u'
  [ "$output" = "$(id -u "$TEST_USER")" ]
  # Files that rsync writes belong to the user too.
  mkdir -p "$BATS_TEST_TMPDIR/work/tree"
  echo data >"$BATS_TEST_TMPDIR/work/tree/f.txt"
  with_dssh laptop rsync -r -e d-ssh "$BATS_TEST_TMPDIR/work/tree/" "$TEST_USER@vps:synced/"
  [ "$(stat -c %U "$home/synced/f.txt")" = "$TEST_USER" ]
  # A user the policy does not list, and one that does not exist: one line, 255, audited.
  run --separate-stderr dssh laptop daemon@vps true
  [ "$status" -eq 255 ]
  [[ "$stderr" == "d-ssh: Denied on vps: User 'daemon' is not allowed"* ]]
  [ "$(echo "$stderr" | wc -l)" -eq 1 ]
  run --separate-stderr dssh laptop -l no-such-user-x vps true
  [ "$status" -eq 255 ]
  [[ "$stderr" == *"No such user on vps: no-such-user-x"* ]]
  # The executing side logs the denial as its stream ends, which may be just after d has its answer.
  denial_logged() { grep "decision=denied" "$BATS_TEST_TMPDIR/vps/state/daemon.log" | grep -q "User .*daemon.* is not allowed"; }
  wait_for 5 denial_logged
  # Without user@, the caller's login name, which laptop's daemon takes from the socket.
  local dir=$BATS_TEST_TMPDIR/laptop
  while [ "$dir" != / ]; do chmod o+x "$dir"; dir=$(dirname "$dir"); done  # bats' dirs are 0700
  chmod 666 "$BATS_TEST_TMPDIR/laptop/sock"
  run runuser -u "$TEST_USER" -- env AUTOMATELINUX_SOCKET="$BATS_TEST_TMPDIR/laptop/sock" \
    "$DSSH" vps 'id -un; pwd'
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '%s\n%s' "$TEST_USER" "$home")" ]
  # execOnPeer --user: the same choice and the same policy for a plain command.
  run dd laptop execOnPeer --peer vps --user "$TEST_USER" --directory / --command 'id -un; echo $HOME'
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '%s\n%s' "$TEST_USER" "$home")" ]
  run dd laptop execOnPeer --peer vps --user daemon --directory / --command true
  [ "$status" -eq 255 ]
  # --detach chooses the user the same way: the job runs as that user.
  local job
  job=$(dd laptop execOnPeer --peer vps --user "$TEST_USER" --detach --directory / --command 'id -un' | tail -n 1)
  dd laptop waitJob "$job"
  run dd laptop attachJob "$job"
  [ "$output" = "$TEST_USER" ]
  run dd laptop execOnPeer --peer vps --user daemon --detach --directory / --command true
  [ "$status" -eq 255 ]
  # The daemon's own user (root) stays allowed.
  run dssh laptop root@vps 'id -un'
  [ "$output" = root ]
}

@test "d-ssh: exec.allowed_users = [] allows only the daemon's user" {
  [ "$(id -u)" -eq 0 ] || skip "switching users needs root"
  cluster_with_vps_policy '{"allowed_users": []}'
  run --separate-stderr dssh laptop daemon@vps true
  [ "$status" -eq 255 ]
  [[ "$stderr" == *"not allowed"* ]]
  run dssh laptop vps 'id -un'
  [ "$status" -eq 0 ]
  [ "$output" = "$(id -un)" ]
}

@test "d-ssh: allowed_roots applies to the home directory" {
  cluster_with_vps_policy "{\"allowed_roots\": [\"$BATS_TEST_TMPDIR\"]}"
  run --separate-stderr dssh laptop vps true
  [ "$status" -eq 255 ]
  [[ "$stderr" == *"outside the allowed roots"* ]]
}
