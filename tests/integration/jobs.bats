#!/usr/bin/env bats
# Durable jobs on a loopback cluster (desktop = leader, vps and laptop = workers): started with
# execOnPeer --detach, listed, attached, waited for and killed from any member, and outliving the
# requester, its daemon, the leader and their own daemon (jobs_scenarios.bash, also run in the
# namespace cluster by cluster_netns.bats).

bats_require_minimum_version 1.5.0
load helpers
load cluster_scenarios
load jobs_scenarios

setup() {
  use_loopback
  W=$BATS_TEST_TMPDIR/work
  mkdir -p "$W"
}
teardown() {
  kill_job_supervisors
  stop_all_daemons
}

@test "a detached job: id on the last line, listed, attached byte-exact, waited for, its status kept" {
  scenario_job_basics
}
