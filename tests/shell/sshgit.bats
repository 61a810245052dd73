#!/usr/bin/env bats
# The shell wrappers against a real local cluster (desktop = leader, vps and laptop = workers),
# sourced the way a user's bashrc does.

bats_require_minimum_version 1.5.0
load ../integration/helpers
load ../integration/cluster_scenarios

SHELL_DIR=$(cd "$BATS_TEST_DIRNAME/../../shell" && pwd)

setup_file() {
  # One cluster for the whole file: the wrappers are what is under test here.
  export BATS_TEST_TMPDIR=$BATS_FILE_TMPDIR
  LEADER_HOST=127.0.0.1 LISTEN_HOST=127.0.0.1 make_cluster >/dev/null
}
teardown_file() {
  BATS_TEST_TMPDIR=$BATS_FILE_TMPDIR stop_all_daemons
}

teardown() {
  if [ -f "$BATS_FILE_TMPDIR/wg-ns" ]; then
    ip netns del "$(cat "$BATS_FILE_TMPDIR/wg-ns")" 2>/dev/null || true
    rm -f "$BATS_FILE_TMPDIR/wg-ns"
  fi
}

# wrap HOST 'shell code': runs the code in a fresh bash with sshgit.sh sourced and `d` on PATH,
# talking to HOST's daemon.
wrap() {
  local host=$1
  shift
  PATH="$AL_BUILD/bin:$PATH" AUTOMATELINUX_SOCKET="$BATS_FILE_TMPDIR/$host/sock" \
    bash -c "source '$SHELL_DIR/sshgit.sh'; $*"
}

@test "execOnPeer joins its arguments into one shell command, as ssh does" {
  # The words are joined with spaces and the remote shell parses the result, exactly like ssh.
  run --separate-stderr wrap laptop "execOnPeer vps /tmp echo '\"a  b\"' \\; echo second"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'a  b\nsecond')" ]
  run wrap laptop 'execOnPeer vps /tmp echo a  b'
  [ "$output" = "a b" ]
}

@test "gitOnPeer passes git's arguments as an argv (spaces and quotes survive)" {
  local repo=$BATS_FILE_TMPDIR/repo
  git -c init.defaultBranch=main init -q "$repo"
  git -C "$repo" -c user.name=t -c user.email=t@example.invalid commit -q --allow-empty -m "it's a \"quoted\" message"
  run wrap laptop "gitOnPeer vps '$repo' log -1 --format=%s"
  [ "$status" -eq 0 ]
  [ "$output" = "it's a \"quoted\" message" ]
  run wrap laptop "gitOnPeer vps '$repo' log --grep='a \"quoted\" m' --format=%s"
  [ "$output" = "it's a \"quoted\" message" ]
}

@test "wrappers return the remote exit status" {
  run wrap laptop 'execOnPeer vps /tmp exit 42'
  [ "$status" -eq 42 ]
  run wrap laptop 'gitOnPeer vps /tmp rev-parse --is-inside-work-tree'
  [ "$status" -eq 128 ]
}

@test "getCurrentPeerId asks the daemon; falls back to the WireGuard map; fails clearly otherwise" {
  run wrap laptop getCurrentPeerId
  [ "$output" = "laptop" ]
  run --separate-stderr env PATH="/nonexistent:$PATH" AUTOMATELINUX_SOCKET=/nonexistent.sock AUTOMATELINUX_WG_INTERFACE=al-no-such-if \
    bash -c "source '$SHELL_DIR/sshgit.sh'; getCurrentPeerId"
  [ "$status" -eq 1 ]
  [[ "$stderr" == "getCurrentPeerId: cannot tell which peer this is"* ]]
}

@test "refuses to run on self with the seed's message, d's prefix first" {
  run --separate-stderr wrap vps 'execOnPeer vps /tmp true'
  [ "$status" -eq 255 ]
  [ "$stderr" = "d: Cannot exec on self (vps)" ]
  run --separate-stderr wrap vps 'vpsExec true'
  [ "$status" -eq 255 ]
  [ "$stderr" = "d: Cannot exec on self (vps)" ]
  run --separate-stderr wrap vps 'gitOnPeer -n vps /tmp status'
  [ "$stderr" = "d: Cannot exec on self (vps)" ]
}

@test "options before the peer go to d: -n, --timeout, --json; others get d's own error" {
  # -n: stdin is not read (the remote cat sees EOF at once); without it, it is forwarded.
  run --separate-stderr wrap laptop 'echo piped | execOnPeer -n vps /tmp cat'
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
  run wrap laptop 'echo piped | execOnPeer vps /tmp cat'
  [ "$output" = "piped" ]
  run wrap laptop 'echo piped | execOnPeer --no-stdin -- vps /tmp cat'
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
  # --timeout with its value: 124, as d says.
  run wrap laptop 'execOnPeer -n --timeout 0.5 vps /tmp sleep 10'
  [ "$status" -eq 124 ]
  run wrap laptop 'gitOnPeer --timeout 30s -n vps /tmp version'
  [ "$status" -eq 0 ]
  [[ "$output" == "git version"* ]]
  run wrap laptop 'AUTOMATELINUX_REPO_DIR=/tmp; vpsExec --timeout 0.5 -n sleep 10'
  [ "$status" -eq 124 ]
  run --separate-stderr wrap laptop 'execOnPeer --json vps /tmp exit 3'
  [ "$status" -eq 3 ]
  echo "$output" | jq -e '.peer == "vps"'
  # The command's own words are not options: only those before the peer are.
  run wrap laptop 'execOnPeer vps /tmp echo -n x'
  [ "$output" = "x" ]
  run --separate-stderr wrap laptop 'execOnPeer --timeout'
  [ "$status" -eq 255 ]
  [ "$stderr" = "d: '--timeout' needs a value" ]
  run --separate-stderr wrap laptop 'execOnPeer --bogus vps /tmp true'
  [ "$status" -eq 255 ]
  [[ "$stderr" == "d: "*"--bogus"* ]]
}

@test "vpsPull, vpsCADPull, vpsInstall, vpsExec and desktopExec use their directory variables" {
  local W=$BATS_FILE_TMPDIR/w
  mkdir -p "$W/repo" "$W/cad"
  git -c init.defaultBranch=main init -q --bare "$W/origin.git"
  git clone -q "$W/origin.git" "$W/seed" 2>/dev/null
  git -C "$W/seed" -c user.name=t -c user.email=t@example.invalid commit -q --allow-empty -m one
  git -C "$W/seed" push -q origin HEAD:main
  rm -rf "$W/repo" "$W/cad"
  git clone -q "$W/origin.git" "$W/repo"
  git clone -q "$W/origin.git" "$W/cad"
  git -C "$W/seed" -c user.name=t -c user.email=t@example.invalid commit -q --allow-empty -m two
  git -C "$W/seed" push -q origin HEAD:main
  printf '#!/bin/sh\necho "install $*"\n' >"$W/repo/install.sh"
  chmod +x "$W/repo/install.sh"
  local vars="AUTOMATELINUX_REPO_DIR='$W/repo' AUTOMATELINUX_CAD_DIR='$W/cad'"
  run wrap laptop "$vars; vpsPull -q"
  [ "$status" -eq 0 ]
  [ "$(git -C "$W/repo" log -1 --format=%s)" = "two" ]
  run wrap laptop "$vars; vpsCADPull -q"
  [ "$(git -C "$W/cad" log -1 --format=%s)" = "two" ]
  run wrap laptop "$vars; vpsInstall"
  [ "$output" = "install --minimal" ]
  run wrap laptop "$vars; vpsExec pwd"
  [ "$output" = "$W/repo" ]
  run wrap laptop "$vars; desktopExec 'echo on \$(pwd)'"
  [ "$output" = "on $W/repo" ]
}

@test "too few arguments print a usage line and return 2" {
  for call in "execOnPeer vps" "gitOnPeer vps /tmp" "vpsExec" "desktopExec" "sshCmd host /tmp" "sshGit host"; do
    run --separate-stderr wrap laptop "$call"
    [ "$status" -eq 2 ] || { echo "$call: $status"; false; }
    [[ "$stderr" == "usage: "* ]]
  done
}

@test "an unknown peer gets the daemon's message; a stopped daemon one clear line" {
  run --separate-stderr wrap laptop 'execOnPeer nas /tmp true'
  [ "$status" -eq 255 ]
  [ "$stderr" = "d: Peer not found: nas" ]
  run --separate-stderr env PATH="$AL_BUILD/bin:$PATH" AUTOMATELINUX_SOCKET=/nonexistent.sock AUTOMATELINUX_WG_INTERFACE=al-no-such-if \
    bash -c "source '$SHELL_DIR/sshgit.sh'; execOnPeer vps /tmp true"
  [ "$status" -eq 255 ]
  [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
  [[ "$stderr" == "d: cannot reach the daemon"* ]]
}

@test "sshCmd and sshGit still work but print a deprecation notice" {
  # A stand-in ssh that runs the remote command locally, so no network is involved.
  mkdir -p "$BATS_FILE_TMPDIR/fakebin"
  printf '#!/bin/sh\nshift\nexec sh -c "$*"\n' >"$BATS_FILE_TMPDIR/fakebin/ssh"
  chmod +x "$BATS_FILE_TMPDIR/fakebin/ssh"
  run --separate-stderr env PATH="$BATS_FILE_TMPDIR/fakebin:$PATH" bash -c "source '$SHELL_DIR/sshgit.sh'; sshCmd root@host /tmp 'echo \"a b\"; pwd'"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'a b\n/tmp')" ]
  [[ "$stderr" == "sshCmd is deprecated: use execOnPeer"* ]]
  run --separate-stderr env PATH="$BATS_FILE_TMPDIR/fakebin:$PATH" bash -c "source '$SHELL_DIR/sshgit.sh'; sshGit root@host /tmp --version"
  [ "$status" -eq 0 ]
  [[ "$output" == "git version"* ]]
  [[ "$stderr" == "sshGit is deprecated: use gitOnPeer"* ]]
}

@test "user_install.sh adds the source line once and keeps the rest of the file" {
  local rc=$BATS_FILE_TMPDIR/bashrc
  printf 'export KEEP=1\n' >"$rc"
  BASHRC=$rc bash "$SHELL_DIR/user_install.sh"
  BASHRC=$rc bash "$SHELL_DIR/user_install.sh"
  [ "$(grep -c 'sshgit.sh' "$rc")" -eq 1 ]
  grep -q '^export KEEP=1$' "$rc"
  run bash -c "source '$rc'; type -t vpsPull"
  [ "$output" = "function" ]
}

@test "getCurrentPeerId falls back to the address of wg0 when the daemon cannot say" {
  [ "$(id -u)" -eq 0 ] && ip netns list >/dev/null 2>&1 || skip "needs root and 'ip netns' to create a wg0 interface"
  local ns=al$$wg$RANDOM
  echo "$ns" >"$BATS_FILE_TMPDIR/wg-ns"   # removed in teardown, also if this test fails
  ip netns add "$ns"
  # An interface named wg0 inside a namespace of our own: nothing outside is touched.
  ip -n "$ns" link add wg0 type veth peer name wg0-peer
  ip -n "$ns" addr add 10.0.0.4/24 dev wg0
  ip -n "$ns" link set wg0 up
  run ip netns exec "$ns" env PATH="$AL_BUILD/bin:$PATH" AUTOMATELINUX_SOCKET=/nonexistent.sock \
    bash -c "source '$SHELL_DIR/sshgit.sh'; getCurrentPeerId"
  local with_default=$output
  run ip netns exec "$ns" env PATH="$AL_BUILD/bin:$PATH" AUTOMATELINUX_SOCKET=/nonexistent.sock \
    AUTOMATELINUX_PEER_MAP="10.0.0.4=my-laptop" bash -c "source '$SHELL_DIR/sshgit.sh'; getCurrentPeerId"
  local overridden=$output
  [ "$with_default" = "laptop" ]
  [ "$overridden" = "my-laptop" ]
}

@test "execOnPeer and gitOnPeer take a list of peers or all (prefixed lines)" {
  run wrap desktop 'execOnPeer vps,laptop /tmp echo hi'
  [ "$status" -eq 0 ]
  [ "$(printf '%s\n' "$output" | sort | tr '\n' ' ')" = "laptop: hi vps: hi " ]
  git init -q "$BATS_FILE_TMPDIR/fanrepo"
  run wrap desktop "gitOnPeer all '$BATS_FILE_TMPDIR/fanrepo' rev-parse --is-inside-work-tree"
  [ "$status" -eq 0 ]
  [ "$(printf '%s\n' "$output" | sort | tr '\n' ' ')" = "laptop: true vps: true " ]
}
