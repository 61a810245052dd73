#!/usr/bin/env bats
# The .deb that CPack builds: its file list matches the contract, and installing it would start
# nothing (no maintainer scripts, no live /etc file).

setup() {
  DEB=$(ls "$AL_DEB_DIR"/automatelinux_*.deb | head -n 1)
  [ -f "$DEB" ]
}

@test "the package's files match the contract's layout under /usr" {
  run dpkg-deb -c "$DEB"
  [ "$status" -eq 0 ]
  # Under /usr the libdir may be multiarch (lib/x86_64-linux-gnu), as the contract allows.
  local lib
  lib=$(echo "$output" | grep -o '\./usr/lib[^ ]*/automatelinux/plugins/peer_exec.so' | sed 's|/automatelinux/plugins/peer_exec.so||')
  [[ "$lib" == ./usr/lib || "$lib" == ./usr/lib/*-linux-gnu ]]
  for f in ./usr/bin/d ./usr/bin/automatelinux-daemon \
           "$lib/automatelinux/plugins/peer_exec.so" "$lib/automatelinux/plugins/git.so" \
           "$lib/automatelinux/plugins/peer_config.so" \
           ./usr/include/automatelinux/sdk/sdk.hpp \
           "$lib/cmake/AutomateLinuxSDK/AutomateLinuxSDKConfig.cmake" \
           ./usr/share/automatelinux/shell/sshgit.sh \
           ./usr/share/bash-completion/completions/d \
           ./usr/lib/systemd/system/automatelinux-daemon.service \
           ./usr/share/doc/automatelinux/daemon.example.json; do
    [[ "$output" == *" $f"* ]] || { echo "missing $f"; false; }
  done
  [[ "$output" != *" ./etc/"* ]]
}

@test "installing starts nothing: no maintainer scripts" {
  local ctl=$BATS_TEST_TMPDIR/control
  dpkg-deb -e "$DEB" "$ctl"
  for script in preinst postinst prerm postrm; do [ ! -e "$ctl/$script" ]; done
  run dpkg-deb -f "$DEB" Package Depends
  [[ "$output" == *"Package: automatelinux"* ]]
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
  # The packaged daemon finds its packaged plugins (relative to its binary).
  "$x/usr/bin/automatelinux-daemon" --socket "$BATS_TEST_TMPDIR/s" --state-dir "$BATS_TEST_TMPDIR/st" 2>/dev/null &
  local pid=$!
  for _ in $(seq 100); do "$x/usr/bin/d" --socket "$BATS_TEST_TMPDIR/s" listPlugins >/dev/null 2>&1 && break; sleep 0.05; done
  run "$x/usr/bin/d" --socket "$BATS_TEST_TMPDIR/s" listPlugins --json
  kill -TERM "$pid"; wait "$pid" || true
  [ "$(echo "$output" | jq -r '[.[] | select(.state == "loaded")] | length')" -eq 3 ]
}
