#!/usr/bin/env bats
# The peer network across hosts: each daemon in its own network namespace with the seed's
# addresses. Needs root and `ip netns`; otherwise every test is skipped with the reason.

bats_require_minimum_version 1.5.0
load helpers
load cluster_scenarios
load netns
load fanout_scenarios
load jobs_scenarios
load dssh_scenarios
load audit_scenarios
load direct_scenarios

setup_file() {
  if netns_available; then netns_setup; fi
}
teardown_file() { netns_teardown; }

setup() {
  netns_available && [ -n "${NET_PREFIX:-}" ] || skip "multi-host tests need root and 'ip netns' (run as root)"
  NS_desktop=$NET_PREFIX-desktop
  NS_vps=$NET_PREFIX-vps
  NS_vps2=$NET_PREFIX-vps
  NS_laptop=$NET_PREFIX-laptop
  NS_newbie=$NET_PREFIX-laptop
  LEADER_HOST=10.0.0.2
  LISTEN_HOST=0.0.0.0
  CLIENT_NS=$NET_PREFIX-intruder
  PORT=3600
  W=$BATS_TEST_TMPDIR/work
  mkdir -p "$W"
}
teardown() {
  stop_followers
  dssh_cleanup_mounts
  kill_marked_sleeps
  kill_job_supervisors
  stop_all_daemons
}

@test "netns: vps, desktop (leader) and laptop join with tokens and all list each other online" {
  scenario_join_and_list
  # Addresses are the hosts' own.
  [ "$(dd desktop listPeers --json | jq -r '.[] | select(.id == "laptop") | .address')" = "10.0.0.4" ]
  [ "$(dd desktop listPeers --json | jq -r '.[] | select(.id == "vps") | .address')" = "10.0.0.1" ]
}
@test "netns: killing vps makes it offline everywhere within 3 beats; it rejoins without a token" { scenario_killed_worker_goes_offline_and_rejoins; }
@test "netns: a frozen vps (silent, TCP open) goes offline within 3 beats and returns" { scenario_silent_worker_goes_offline; }
@test "netns: restarting the leader brings everyone back" { scenario_leader_restart; }
@test "netns: a revoked worker cannot rejoin" { scenario_revoked_worker_cannot_rejoin; }
@test "netns: bad joins fail with a reason and save nothing" { scenario_bad_joins_save_nothing; }
@test "netns: a plain-TCP, certificate-less and wrong-CA client can run nothing" { scenario_intruders_run_nothing; }

git_q() { git -c user.name=t -c user.email=t@example.invalid -c init.defaultBranch=main "$@" >/dev/null 2>&1; }

@test "netns: git pull on vps from desktop, and from laptop relayed through the leader" {
  make_cluster
  local W=$BATS_TEST_TMPDIR/work
  git_q init --bare "$W/origin.git"
  git_q clone "$W/origin.git" "$W/seed"
  (cd "$W/seed" && git_q commit --allow-empty -m first && git_q push origin HEAD:main)
  git_q clone "$W/origin.git" "$W/deployed"
  (cd "$W/seed" && git_q commit --allow-empty -m second && git_q push origin HEAD:main)
  run dd desktop execOnPeer --peer vps --directory "$W/deployed" --command "git pull"
  [ "$status" -eq 0 ]
  [ "$(git -C "$W/deployed" log -1 --format=%s)" = "second" ]
  (cd "$W/seed" && git_q commit --allow-empty -m third && git_q push origin HEAD:main)
  run dd laptop gitOnPeer --peer vps --directory "$W/deployed" pull
  [ "$status" -eq 0 ]
  run dd laptop gitOnPeer --peer vps --directory "$W/deployed" log --oneline -5
  [[ "${lines[0]}" == *third && "${lines[2]}" == *first ]]
}

@test "netns: output is byte-exact across hosts and exit codes come back" {
  make_cluster
  local W=$BATS_TEST_TMPDIR/work
  mkdir -p "$W"
  dd laptop execOnPeer --peer vps --directory "$W" --command 'head -c 20000000 /dev/urandom | tee produced' >"$W/received"
  cmp "$W/produced" "$W/received"
  run dd desktop execOnPeer --peer laptop --directory / --command 'exit 42'
  [ "$status" -eq 42 ]
  run dd vps execOnPeer --peer desktop --directory / --command 'kill -9 $$'
  [ "$status" -eq 137 ]
}

@test "netns: a peer killed mid-command gives 255 within the heartbeat window" {
  make_cluster
  local W=$BATS_TEST_TMPDIR/work
  mkdir -p "$W"
  "$D" --socket "$BATS_TEST_TMPDIR/laptop/sock" execOnPeer --peer vps --directory "$W" --no-stdin \
    --command 'echo $$ > pg; exec sleep 60' 2>"$W/err" &
  local pid=$!
  wait_for 5 test -s "$W/pg"
  kill -KILL "$(cat "$BATS_TEST_TMPDIR/vps/pid")"
  kill -KILL "$(cat "$W/pg")" 2>/dev/null || true
  local status=0
  timeout 10 bash -c "while kill -0 $pid 2>/dev/null; do sleep 0.1; done"
  wait "$pid" || status=$?
  [ "$status" -eq 255 ]
  grep -q "^d: Connection to peer lost: vps" "$W/err"
}

# Fan-out across the namespace hosts (the same scenarios as the loopback suite).
@test "netns: fan-out prefixes whole lines of two peers writing at once" { fanout_whole_prefixed_lines; }
@test "netns: fan-out reports an offline peer at once and summarises" { fanout_offline_peer_reported; }
@test "netns: fan-out exits with the largest status" { fanout_largest_status; }
@test "netns: fan-out --json records" { fanout_json_records; }
@test "netns: fan-out --group merges identical output" { fanout_group; }
@test "netns: fan-out to all, and gitOnPeer with a list" { fanout_all_and_git; }
@test "netns: fan-out Ctrl-C reaches every peer" { fanout_ctrl_c; }

@test "netns: a job started from laptop outlives d, laptop's daemon, the leader and its own daemon" { scenario_job_durability; }
@test "netns: 20 MB of job output reaches two attachers and a replay byte-exact" { scenario_job_bulk_output; }
@test "netns: a stopping daemon ends its commands with the cascade; its jobs run on" { scenario_job_daemon_stop; }
@test "netns: a job whose supervisor died while its daemon was down is lost" { scenario_job_timeout_and_lost; }

# d-ssh across the namespace hosts: laptop → vps is relayed through the leader; HOST may be an
# address as listPeers shows it.
@test "netns: d-ssh basics, and HOST given as the peer's address" {
  make_cluster
  dssh_scenario_basics laptop vps
  run dssh laptop 10.0.0.1 'cat /proc/net/fib_trie | grep -c 10.0.0.1'
  [ "$status" -eq 0 ]
  [ "$output" -ge 1 ]
}
@test "netns: git clone/push/fetch over d-ssh, relayed through the leader" { make_cluster; dssh_scenario_git laptop 10.0.0.1; }
@test "netns: rsync over d-ssh with a small delta and --delete" { make_cluster; dssh_scenario_rsync laptop vps; }
@test "netns: scp -S d-ssh both ways and sftp -S d-ssh" { make_cluster; dssh_scenario_scp_sftp desktop vps; }
@test "netns: sshfs over d-ssh" { make_cluster; dssh_scenario_sshfs laptop vps; }

@test "netns: a command run from laptop on vps appears in auditLog --peer all on desktop with both ends' records" {
  scenario_audit_both_ends
}
@test "netns: auditLog --follow picks up new records and resumes after vps restarts" { scenario_audit_follow; }
@test "netns: a denied request is audited as denied; a newline cannot forge a record" {
  scenario_audit_denied_and_forged
}

@test "netns: with the leader SIGKILLed, laptop still runs on vps over a direct session, byte-exact" { scenario_direct_path_outlives_a_killed_leader; }
@test "netns: with the leader stopped, restarted workers find each other from their roster" { scenario_workers_restarted_without_the_leader_find_each_other; }
@test "netns: a worker whose direct path is blocked is reached through the relay, then directly again" { scenario_blocked_direct_path_falls_back_to_the_relay; }
@test "netns: a worker removed while another slept cannot open a direct session once it has the new roster" { scenario_member_removed_while_another_slept_cannot_go_direct; }
@test "netns: the direct port refuses another CA's certificate and no certificate" { scenario_direct_port_refuses_strangers; }
@test "netns: with the leader gone, a frozen vps goes offline on laptop over the direct session's heartbeats, and comes back" { scenario_direct_heartbeats_mark_a_frozen_peer_offline; }
@test "netns: a removal closes a direct session that never sent its hello" { scenario_revocation_closes_a_direct_session_that_never_said_hello; }
@test "netns: a direct session replaced by a newer one finishes the command running on it" { scenario_a_replaced_direct_session_finishes_its_streams; }
