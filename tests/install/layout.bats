#!/usr/bin/env bats
# `cmake --install` gives the contract's layout, the daemon finds its plugins from there without
# configuration, and a plugin builds out of tree against the installed SDK.

bats_require_minimum_version 1.5.0

setup() {
  P=$AL_PREFIX
  LIBDIR=$(cd "$P" && ls -d lib/*/automatelinux 2>/dev/null | head -1 | xargs -r dirname)
  LIBDIR=${LIBDIR:-lib}
}

teardown() {
  if [ -f "$BATS_TEST_TMPDIR/pid" ]; then
    kill -TERM "$(cat "$BATS_TEST_TMPDIR/pid")" 2>/dev/null || true
    wait "$(cat "$BATS_TEST_TMPDIR/pid")" 2>/dev/null || true
  fi
}

start_installed_daemon() {
  "$P/bin/automatelinux-daemon" --socket "$BATS_TEST_TMPDIR/sock" --state-dir "$BATS_TEST_TMPDIR/state" "$@" 2>"$BATS_TEST_TMPDIR/stderr" &
  echo $! >"$BATS_TEST_TMPDIR/pid"
  for _ in $(seq 100); do [ -S "$BATS_TEST_TMPDIR/sock" ] && return 0; sleep 0.05; done
  cat "$BATS_TEST_TMPDIR/stderr" >&2
  return 1
}

@test "install layout matches the contract" {
  for f in bin/d bin/d-ssh bin/automatelinux-daemon \
           "$LIBDIR/automatelinux/plugins/peer_exec.so" "$LIBDIR/automatelinux/plugins/git.so" \
           "$LIBDIR/automatelinux/plugins/peer_config.so" "$LIBDIR/automatelinux/job-supervisor" \
           "$LIBDIR/automatelinux/plugins/audit_log.so" \
           include/automatelinux/sdk/sdk.hpp include/automatelinux/sdk/stream.hpp \
           "$LIBDIR/cmake/AutomateLinuxSDK/AutomateLinuxSDKConfig.cmake" \
           share/automatelinux/shell/sshgit.sh share/bash-completion/completions/d \
           lib/systemd/system/automatelinux-daemon.service share/man/man1/d.1.gz share/man/man1/d-ssh.1.gz \
           share/man/man8/automatelinux-daemon.8.gz share/man/man5/automatelinux-daemon.json.5.gz; do
    [ -e "$P/$f" ] || { echo "missing $f"; false; }
  done
  run find "$P" -path '*/etc/*'
  [ -z "$output" ]
}

@test "the installed daemon finds its plugins relative to its binary" {
  start_installed_daemon
  run "$P/bin/d" --socket "$BATS_TEST_TMPDIR/sock" help
  [ "$status" -eq 0 ]
  [[ "$output" == *"execOnPeer"* && "$output" == *"gitOnPeer"* && "$output" == *"getPeerStatus"* ]]
}

@test "the d binary links neither Boost.DLL nor any plugin" {
  run ldd "$P/bin/d"
  [[ "$output" != *boost* && "$output" != *spdlog* ]]
  run ldd "$P/bin/d-ssh"
  [[ "$output" != *boost* && "$output" != *spdlog* ]]
}

@test "the installed d-ssh answers -G without a daemon" {
  run env AUTOMATELINUX_SOCKET=/nonexistent "$P/bin/d-ssh" -G -l someone vps
  [ "$status" -eq 0 ]
  [[ "$output" == *"hostname vps"* && "$output" == *"user someone"* && "$output" == *"port 22"* ]]
}

@test "an out-of-tree plugin builds against the installed SDK and 'd hello' works" {
  cp -r "$AL_SOURCE/sdk/examples/hello" "$BATS_TEST_TMPDIR/hello"
  cmake -S "$BATS_TEST_TMPDIR/hello" -B "$BATS_TEST_TMPDIR/hello-build" -G Ninja \
        -DCMAKE_PREFIX_PATH="$P" >/dev/null
  cmake --build "$BATS_TEST_TMPDIR/hello-build"
  mkdir "$BATS_TEST_TMPDIR/plugins"
  cp "$BATS_TEST_TMPDIR/hello-build/hello.so" "$BATS_TEST_TMPDIR/plugins/"
  start_installed_daemon --plugin-dir "$BATS_TEST_TMPDIR/plugins"
  run "$P/bin/d" --socket "$BATS_TEST_TMPDIR/sock" hello
  [ "$status" -eq 0 ]
  [ "$output" = "hello, world" ]
  run "$P/bin/d" --socket "$BATS_TEST_TMPDIR/sock" hello --name vps
  [ "$output" = "hello, vps" ]
  run "$P/bin/d" --socket "$BATS_TEST_TMPDIR/sock" listPlugins --json
  [ "$(echo "$output" | jq -r '.[0].name + " " + .[0].state')" = "hello loaded" ]
}

# render PAGE: the installed man page as man(1) shows it, failing on any groff warning.
render() {
  local page=$P/share/man/$1 err=$BATS_TEST_TMPDIR/man.err
  [ -f "$page" ] || { echo "missing $page"; return 1; }
  MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "$page" 2>"$err"
  [ ! -s "$err" ] || { cat "$err" >&2; return 1; }
}

@test "the man pages render; d(1) names every command that 'd help' lists" {
  local d1
  d1=$(render man1/d.1.gz)
  [[ "$d1" == *"EXIT STATUS"* && "$d1" == *"ENVIRONMENT"* && "$d1" == *"FILES"* ]]
  [[ "$d1" == *AUTOMATELINUX_SOCKET* && "$d1" == *255* ]]
  start_installed_daemon
  run "$P/bin/d" --socket "$BATS_TEST_TMPDIR/sock" help
  [ "$status" -eq 0 ]
  local commands
  commands=$(echo "$output" | awk '/^  [A-Za-z]/ {print $1}')
  [ "$(echo "$commands" | wc -l)" -ge 10 ]
  for cmd in $commands; do
    grep -qw -- "$cmd" <<<"$d1" || { echo "d(1) does not mention $cmd"; false; }
  done
  # automatelinux-daemon(8) names every option of the daemon's --help.
  local d8 options
  d8=$(render man8/automatelinux-daemon.8.gz)
  options=$("$P/bin/automatelinux-daemon" --help | grep -o -- '--[a-z-]*' | sort -u)
  [ -n "$options" ]
  for opt in $options; do
    grep -q -- "$opt" <<<"$d8" || { echo "automatelinux-daemon(8) does not mention $opt"; false; }
  done
  # automatelinux-daemon.json(5) names every key of docs/configuration.md's table.
  local d5 keys
  d5=$(render man5/automatelinux-daemon.json.5.gz)
  keys=$(grep -o '^| `[a-z_.]*`' "$AL_SOURCE/docs/configuration.md" | tr -d '|` ')
  [ "$(echo "$keys" | wc -l)" -ge 10 ]
  for key in $keys; do
    grep -q -- "$key" <<<"$d5" || { echo "automatelinux-daemon.json(5) does not mention $key"; false; }
  done
}

@test "systemd-analyze verify accepts the installed unit (notify, watchdog, its man pages)" {
  local unit=$P/lib/systemd/system/automatelinux-daemon.service
  grep -qx "ExecStart=$P/bin/automatelinux-daemon" "$unit"
  grep -qx 'Type=notify' "$unit"
  grep -q '^WatchdogSec=' "$unit"
  grep -qx 'KillMode=process' "$unit"
  # verify checks that ExecStart exists and that each Documentation=man: page opens.
  run env MANPATH="$P/share/man" systemd-analyze verify "$unit"
  echo "$output"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}
