#!/usr/bin/env bash
# scratch_install.sh DEB DIR: installs, removes and purges DEB for real — dpkg and the maintainer
# scripts run in a chroot — on a copy-on-write view of this machine: an overlay of / whose
# writes go to a tmpfs. Run it under `unshare --mount --pid --fork`: every mount and every
# process it starts disappears when it ends, passed or failed, and the machine is never touched.
set -euo pipefail
DEB=$1
T=$2   # an empty directory of the caller's, which it removes
mount -t tmpfs tmpfs "$T"
mkdir "$T/upper" "$T/work" "$T/root"
R=$T/root
mount -t overlay overlay -o "lowerdir=/,upperdir=$T/upper,workdir=$T/work" "$R"
mount --bind /dev "$R/dev"
mount -t proc proc "$R/proc"
mount -t tmpfs tmpfs "$R/run"
in_root() { chroot "$R" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# A chroot starts no services (as Debian's build chroots do); the scratch root starts as a
# machine that never had the package or its group.
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"
in_root sh -c 'dpkg -s automatelinux >/dev/null 2>&1 && dpkg -P automatelinux >/dev/null; getent group automatelinux >/dev/null && delgroup --system automatelinux >/dev/null; true'
rm -rf "$R/var/lib/automatelinux" "$R/etc/automatelinux"
cp "$DEB" "$R/tmp/automatelinux.deb"
files=$(dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./|/|')

echo "== install"
in_root dpkg -i /tmp/automatelinux.deb
in_root getent group automatelinux >/dev/null || fail "postinst did not create the automatelinux group"
in_root getent group automatelinux | awk -F: '$3 >= 1000 {exit 1}' || fail "automatelinux is not a system group"
[ -L "$R/etc/systemd/system/multi-user.target.wants/automatelinux-daemon.service" ] ||
  fail "the service is not enabled (Debian's convention for daemons)"
for f in $files; do [ -e "$R$f" ] || [ -L "$R$f" ] || fail "missing after install: $f"; done
in_root systemd-analyze verify /usr/lib/systemd/system/automatelinux-daemon.service ||
  fail "systemd-analyze verify failed on the installed unit"
# The installed daemon runs from its packaged plugins and makes state (as it would on a host);
# the admin writes a config file.
in_root /usr/bin/automatelinux-daemon --socket /run/automatelinux/automatelinux-daemon.sock 2>/dev/null &
pid=$!
for _ in $(seq 100); do in_root d listPlugins >/dev/null 2>&1 && break; sleep 0.05; done
in_root d listPlugins --json | grep -q '"peer_exec"' || fail "the installed daemon does not answer"
[ "$(in_root stat -c %G /run/automatelinux/automatelinux-daemon.sock)" = automatelinux ] ||
  fail "the socket's group is not automatelinux"
kill -TERM "$pid"
wait "$pid" || true
mkdir -p "$R/etc/automatelinux"
echo '{"heartbeat_ms": 2000}' >"$R/etc/automatelinux/daemon.json"
[ -f "$R/var/lib/automatelinux/daemon.log" ] || fail "the daemon made no state"

echo "== remove"
in_root dpkg -r automatelinux
for f in $files; do [ ! -e "$R$f" ] || fail "left after dpkg -r: $f"; done
[ -f "$R/etc/automatelinux/daemon.json" ] || fail "dpkg -r removed the configuration"
[ -f "$R/var/lib/automatelinux/daemon.log" ] || fail "dpkg -r removed the state"
in_root getent group automatelinux >/dev/null || fail "dpkg -r removed the group"
# Every file the overlay recorded is dpkg's database and log, the group (and its lock), man-db's
# caches, systemd's enablement records, the configuration, the state, or this script's own.
leftover=$(cd "$T/upper" && find . ! -type d | sed 's|^\./||' | grep -Ev \
  '^(var/lib/dpkg/|var/log/dpkg\.log$|etc/(group|gshadow)-?$|etc/systemd/system/|var/lib/systemd/deb-systemd-(helper|user-helper)-|etc/automatelinux/|var/lib/automatelinux/|tmp/automatelinux\.deb$|usr/sbin/policy-rc\.d$|etc/ld\.so\.cache$|etc/\.pwd\.lock$|var/cache/debconf/|var/cache/man/)' || true)
[ -z "$leftover" ] || fail "dpkg -r left other files: $leftover"

echo "== purge"
in_root dpkg -P automatelinux
[ ! -e "$R/var/lib/automatelinux" ] || fail "dpkg -P left /var/lib/automatelinux"
[ ! -e "$R/etc/systemd/system/multi-user.target.wants/automatelinux-daemon.service" ] ||
  fail "dpkg -P left the service enabled"
[ ! -e "$R/etc/systemd/system/automatelinux-daemon.service" ] || fail "dpkg -P left the service masked"
in_root dpkg -s automatelinux >/dev/null 2>&1 && fail "dpkg still knows the package after -P"
echo "ok"
