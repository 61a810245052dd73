#!/usr/bin/env bats
# The .deb that CPack builds: its file list matches the contract, lintian finds nothing to
# complain about, its dependencies are computed, and it installs, removes and purges cleanly
# (in a scratch root: the machine is never touched).

bats_require_minimum_version 1.5.0

setup() {
  DEB=$(ls "$AL_DEB_DIR"/automatelinux_*.deb | head -n 1)
  [ -f "$DEB" ]
}
teardown() {
  if [ -f "$BATS_TEST_TMPDIR/daemon.pid" ]; then
    kill -KILL "$(cat "$BATS_TEST_TMPDIR/daemon.pid")" 2>/dev/null || true
    wait "$(cat "$BATS_TEST_TMPDIR/daemon.pid")" 2>/dev/null || true
  fi
}

@test "the package's files match the contract's layout under /usr" {
  run dpkg-deb -c "$DEB"
  [ "$status" -eq 0 ]
  # Under /usr the libdir may be multiarch (lib/x86_64-linux-gnu), as the contract allows.
  local lib
  lib=$(echo "$output" | grep -o '\./usr/lib[^ ]*/automatelinux/plugins/peer_exec.so' | sed 's|/automatelinux/plugins/peer_exec.so||')
  [[ "$lib" == ./usr/lib || "$lib" == ./usr/lib/*-linux-gnu ]]
  for f in ./usr/bin/d ./usr/bin/d-ssh ./usr/bin/automatelinux-daemon \
           "$lib/automatelinux/plugins/peer_exec.so" "$lib/automatelinux/plugins/git.so" \
           "$lib/automatelinux/plugins/peer_config.so" "$lib/automatelinux/plugins/audit_log.so" \
           ./usr/include/automatelinux/sdk/sdk.hpp \
           "$lib/cmake/AutomateLinuxSDK/AutomateLinuxSDKConfig.cmake" \
           ./usr/share/automatelinux/shell/sshgit.sh \
           ./usr/share/bash-completion/completions/d \
           ./usr/lib/systemd/system/automatelinux-daemon.service \
           ./usr/share/doc/automatelinux/daemon.example.json \
           ./usr/share/doc/automatelinux/copyright ./usr/share/doc/automatelinux/changelog.gz \
           ./usr/share/man/man1/d.1.gz ./usr/share/man/man1/d-ssh.1.gz ./usr/share/man/man8/automatelinux-daemon.8.gz \
           ./usr/share/man/man5/automatelinux-daemon.json.5.gz \
           ./usr/share/lintian/overrides/automatelinux; do
    [[ "$output" == *" $f"* ]] || { echo "missing $f"; false; }
  done
  [[ "$output" != *" ./etc/"* ]]
}

@test "maintainer scripts: the automatelinux group, the service enabled, state purged" {
  local ctl=$BATS_TEST_TMPDIR/control
  dpkg-deb -e "$DEB" "$ctl"
  for script in postinst prerm postrm; do
    [ -x "$ctl/$script" ] || { echo "no executable $script"; false; }
    sh -n "$ctl/$script"
  done
  [ ! -e "$ctl/preinst" ]
  grep -q 'addgroup --system --quiet automatelinux' "$ctl/postinst"
  grep -q "deb-systemd-helper enable 'automatelinux-daemon.service'" "$ctl/postinst"
  grep -q 'rm -rf /var/lib/automatelinux' "$ctl/postrm"
  # The purge branch only: `remove` keeps the state.
  [ "$(sed -n '/= purge/,/^fi/p' "$ctl/postrm" | grep -c 'rm -rf /var/lib/automatelinux')" -eq 1 ]
}

@test "dependencies are computed from the binaries, plus what the scripts call" {
  run dpkg-deb -f "$DEB" Package Depends
  [[ "$output" == *"Package: automatelinux"* ]]
  # From dpkg-shlibdeps: the libraries the binaries link.
  for dep in 'libc6 (>=' 'libssl3 (>=' 'libstdc++6 (>=' 'libboost-program-options1.74.0' 'libspdlog1.10'; do
    [[ "$output" == *"$dep"* ]] || { echo "Depends lacks $dep"; false; }
  done
  for dep in git adduser init-system-helpers; do
    [[ "$output" == *"$dep"* ]] || { echo "Depends lacks $dep"; false; }
  done
}

@test "lintian: no errors, no warnings; every override says why" {
  run --separate-stderr lintian --fail-on error,warning "$DEB"
  echo "$output"
  [ "$status" -eq 0 ]
  run ! grep -E '^[EW]: ' <<<"$output"
  # The overrides are in use (none is stale), each shown with its reason.
  run --separate-stderr lintian --show-overrides "$DEB"
  [[ "$output" == *"O: automatelinux: statically-linked-binary [usr/bin/d]"* ]]
  # Each override line follows a comment that gives its reason.
  local x=$BATS_TEST_TMPDIR/x
  dpkg-deb -x "$DEB" "$x"
  awk '/^automatelinux: / && prev !~ /^#/ {print "override without a reason: " $0; bad=1} {prev=$0} END {exit bad}' \
    "$x/usr/share/lintian/overrides/automatelinux"
}

@test "install, remove and purge in a scratch root: only config and state survive remove, purge takes the state" {
  [ "$(id -u)" -eq 0 ] || skip "needs root (a chroot over an overlay of /)"
  unshare --mount --pid --fork true 2>/dev/null || skip "needs mount and pid namespaces (unshare)"
  mkdir "$BATS_TEST_TMPDIR/scratch"
  # Private mount and pid namespaces: the overlay, its tmpfs and any process started in the
  # chroot end with the script, whether it passes or fails.
  run unshare --mount --propagation private --pid --fork \
    bash "$BATS_TEST_DIRNAME/scratch_install.sh" "$DEB" "$BATS_TEST_TMPDIR/scratch"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${lines[-1]}" = ok ]
}

@test "the unit runs the packaged daemon with the contract's runtime settings" {
  local x=$BATS_TEST_TMPDIR/x
  dpkg-deb -x "$DEB" "$x"
  local unit=$x/usr/lib/systemd/system/automatelinux-daemon.service
  grep -q '^ExecStart=/usr/bin/automatelinux-daemon$' "$unit"
  grep -q '^RuntimeDirectory=automatelinux$' "$unit"
  grep -q '^RuntimeDirectoryMode=0750$' "$unit"
  grep -q '^LimitNOFILE=' "$unit"
  grep -q '^Restart=on-failure$' "$unit"
  grep -q '^Delegate=yes$' "$unit"   # exec.isolation: a cgroup per command below the unit's
  grep -q '^Type=notify$' "$unit"
  grep -q '^WatchdogSec=' "$unit"
  grep -q '^KillMode=process$' "$unit"
  # The packaged daemon finds its packaged plugins (relative to its binary).
  "$x/usr/bin/automatelinux-daemon" --socket "$BATS_TEST_TMPDIR/s" --state-dir "$BATS_TEST_TMPDIR/st" 2>/dev/null &
  local pid=$!
  echo "$pid" >"$BATS_TEST_TMPDIR/daemon.pid"
  for _ in $(seq 100); do "$x/usr/bin/d" --socket "$BATS_TEST_TMPDIR/s" listPlugins >/dev/null 2>&1 && break; sleep 0.05; done
  run "$x/usr/bin/d" --socket "$BATS_TEST_TMPDIR/s" listPlugins --json
  kill -TERM "$pid"; wait "$pid" || true
  rm -f "$BATS_TEST_TMPDIR/daemon.pid"
  [ "$(echo "$output" | jq -r '[.[] | select(.state == "loaded")] | length')" -eq 4 ]  # the four bundled plugins
}
