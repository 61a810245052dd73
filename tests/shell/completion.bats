#!/usr/bin/env bats
# Bash completion for d: commands and options from the daemon, peer ids from listPeers; quiet when
# the daemon is not running. Works without the bash-completion package.

bats_require_minimum_version 1.5.0
load ../integration/helpers
load ../integration/cluster_scenarios

COMPLETION=$(cd "$BATS_TEST_DIRNAME/../../shell/completion" && pwd)/d

setup() {
  use_loopback
}
teardown() { stop_all_daemons; }

# complete_words SOCKET WORD…: what completion offers for the last word.
complete_words() {
  local sock=$1
  shift
  PATH="$AL_BUILD/bin:$PATH" AUTOMATELINUX_SOCKET=$sock bash -c '
    source "$0"
    complete -p d >/dev/null || exit 9
    COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    _al_d_complete
    printf "%s\n" "${COMPREPLY[@]}"' "$COMPLETION" "$@"
}

@test "completes command names, options and peer ids from the daemon" {
  make_cluster
  local sock=$BATS_TEST_TMPDIR/laptop/sock
  run complete_words "$sock" d exec
  [ "$output" = "execOnPeer" ]
  run complete_words "$sock" d ""
  [[ "$output" == *getPeerStatus* && "$output" == *listPlugins* && "$output" == *gitOnPeer* ]]
  run complete_words "$sock" d execOnPeer --di
  [ "$output" = "--directory" ]
  run complete_words "$sock" d execOnPeer --d
  [ "$(echo "$output" | sort | tr '\n' ' ')" = "--detach --directory " ]
  run complete_words "$sock" d execOnPeer --peer ""
  [ "$(echo "$output" | sort | tr '\n' ' ')" = "all desktop laptop vps " ]
  run complete_words "$sock" d gitOnPeer --peer v
  [ "$output" = "vps" ]
  # Fan-out lists: the word after the last comma is completed, `all` only on its own.
  run complete_words "$sock" d execOnPeer --peer vps,l
  [ "$output" = "vps,laptop" ]
  run complete_words "$sock" d execOnPeer --peer a
  [ "$output" = "all" ]
}

@test "completion stays quiet when the daemon is not running" {
  run --separate-stderr complete_words /nonexistent.sock d exec
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ -z "$stderr" ]
}
