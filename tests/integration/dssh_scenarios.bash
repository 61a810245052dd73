# d-ssh scenarios shared by the loopback suite (dssh.bats) and the namespace suite
# (cluster_netns.bats): real git, rsync, scp, sftp and sshfs over `d-ssh`. Each takes FROM (the
# daemon whose socket d-ssh uses) and TO (the peer it reaches); laptop → vps is relayed through
# the leader (desktop).

DSSH=$AL_BUILD/bin/d-ssh

# dssh FROM ARGS…: d-ssh against daemon FROM.
dssh() {
  local from=$1
  shift
  AUTOMATELINUX_SOCKET=$BATS_TEST_TMPDIR/$from/sock "$DSSH" "$@"
}

# with_dssh FROM COMMAND…: COMMAND with d-ssh first on PATH and pointed at daemon FROM.
with_dssh() {
  local from=$1
  shift
  PATH=$AL_BUILD/bin:$PATH AUTOMATELINUX_SOCKET=$BATS_TEST_TMPDIR/$from/sock "$@"
}

dssh_git() {
  git -c user.name=t -c user.email=t@example.invalid -c init.defaultBranch=main \
    -c protocol.version=2 "$@"
}

# git clone, push and fetch over d-ssh of a repository holding an 8 MB blob; protocol v2.
dssh_scenario_git() {
  local from=$1 to=$2 W=$BATS_TEST_TMPDIR/work
  mkdir -p "$W/seed"
  dssh_git init -q --bare "$W/origin.git"
  dssh_git -C "$W/seed" init -q
  head -c 8000000 /dev/urandom >"$W/seed/blob.bin"
  dssh_git -C "$W/seed" add blob.bin
  dssh_git -C "$W/seed" commit -q -m first
  dssh_git -C "$W/seed" push -q "$W/origin.git" HEAD:main
  # clone, with the packet trace to see protocol v2 negotiated through GIT_PROTOCOL (SendEnv).
  GIT_TRACE_PACKET="$W/trace" with_dssh "$from" env GIT_SSH_COMMAND=d-ssh \
    git -c protocol.version=2 clone -q "$to:$W/origin.git" "$W/clone"
  grep -q "< version 2" "$W/trace"
  cmp "$W/seed/blob.bin" "$W/clone/blob.bin"
  # push a change back (core.sshCommand), then fetch it into the seed.
  dssh_git -C "$W/clone" config core.sshCommand d-ssh
  echo change >"$W/clone/new.txt"
  dssh_git -C "$W/clone" add new.txt
  dssh_git -C "$W/clone" commit -q -m second
  with_dssh "$from" dssh_git -C "$W/clone" push -q origin HEAD:main
  [ "$(git -C "$W/origin.git" log -1 --format=%s main)" = "second" ]
  dssh_git -C "$W/seed" remote add vps "$to:$W/origin.git"
  GIT_SSH_COMMAND=d-ssh with_dssh "$from" dssh_git -C "$W/seed" fetch -q vps
  [ "$(git -C "$W/seed" log -1 --format=%s vps/main)" = "second" ]
}

# rsync -a of a tree with a 30 MB file; a delta sync after a few bytes change; then --delete.
dssh_scenario_rsync() {
  local from=$1 to=$2 W=$BATS_TEST_TMPDIR/work
  mkdir -p "$W/src/sub" "$W/dst"
  head -c 30000000 /dev/urandom >"$W/src/big.bin"
  echo small >"$W/src/sub/small.txt"
  echo gone >"$W/src/gone.txt"
  with_dssh "$from" rsync -a -e d-ssh "$W/src/" "$to:$W/dst/"
  cmp "$W/src/big.bin" "$W/dst/big.bin"
  cmp "$W/src/sub/small.txt" "$W/dst/sub/small.txt"
  # A few bytes in the middle of the big file: only a small delta may travel.
  printf 'CHANGED' | command dd of="$W/src/big.bin" bs=1 seek=15000000 conv=notrunc status=none
  # rsync's quick check compares size and whole-second mtime: a change within the second of the
  # first sync would be skipped, so the changed file is dated later.
  touch -d "@$(($(stat -c %Y "$W/src/big.bin") + 2))" "$W/src/big.bin"
  with_dssh "$from" rsync -a --no-whole-file --stats -e d-ssh "$W/src/" "$to:$W/dst/" >"$W/stats"
  cmp "$W/src/big.bin" "$W/dst/big.bin"
  local literal
  literal=$(sed -n 's/^Literal data: \([0-9,]*\) bytes.*/\1/p' "$W/stats" | tr -d ,)
  echo "literal data: $literal bytes"
  [ -n "$literal" ] && [ "$literal" -lt 1000000 ]
  rm "$W/src/gone.txt"
  with_dssh "$from" rsync -a --delete -e d-ssh "$W/src/" "$to:$W/dst/"
  [ ! -e "$W/dst/gone.txt" ]
  [ -e "$W/dst/sub/small.txt" ]
}

# scp -S d-ssh both ways (OpenSSH 9's scp speaks sftp), and sftp -S d-ssh in batch mode.
dssh_scenario_scp_sftp() {
  local from=$1 to=$2 W=$BATS_TEST_TMPDIR/work
  mkdir -p "$W/remote" "$W/local"
  head -c 3000000 /dev/urandom >"$W/local/up.bin"
  head -c 2000000 /dev/urandom >"$W/remote/down.bin"
  with_dssh "$from" scp -q -S d-ssh "$W/local/up.bin" "$to:$W/remote/up.bin"
  cmp "$W/local/up.bin" "$W/remote/up.bin"
  with_dssh "$from" scp -q -S d-ssh "$to:$W/remote/down.bin" "$W/local/down.bin"
  cmp "$W/remote/down.bin" "$W/local/down.bin"
  printf 'cd %s\nput %s sftp-up.bin\nget down.bin %s\nmkdir made-by-sftp\nls -1\n' \
    "$W/remote" "$W/local/up.bin" "$W/local/sftp-down.bin" >"$W/batch"
  with_dssh "$from" sftp -q -S d-ssh -b "$W/batch" "$to" >"$W/sftp.out"
  cmp "$W/local/up.bin" "$W/remote/sftp-up.bin"
  cmp "$W/remote/down.bin" "$W/local/sftp-down.bin"
  [ -d "$W/remote/made-by-sftp" ]
  grep -q made-by-sftp "$W/sftp.out"
}

# sshfs -o ssh_command=d-ssh, where the fuse device exists.
dssh_scenario_sshfs() {
  local from=$1 to=$2 W=$BATS_TEST_TMPDIR/work
  if [ ! -c /dev/fuse ] || ! command -v sshfs >/dev/null; then
    skip "sshfs needs /dev/fuse and the sshfs package (fuse device: $(ls -l /dev/fuse 2>&1))"
  fi
  mkdir -p "$W/exported" "$W/mnt"
  echo hello >"$W/exported/file.txt"
  MOUNTED=$W/mnt
  with_dssh "$from" sshfs -o ssh_command="$DSSH" "$to:$W/exported" "$W/mnt"
  [ "$(cat "$W/mnt/file.txt")" = hello ]
  echo written >"$W/mnt/new.txt"
  fusermount3 -u "$W/mnt" || fusermount -u "$W/mnt"
  MOUNTED=
  [ "$(cat "$W/exported/new.txt")" = written ]
}

# Unmounts what a failed sshfs scenario left mounted.
dssh_cleanup_mounts() {
  if [ -n "${MOUNTED:-}" ] && mountpoint -q "$MOUNTED"; then
    fusermount3 -u "$MOUNTED" 2>/dev/null || umount -l "$MOUNTED" || true
  fi
}

# Exit status, stdin EOF while output still flows, -G, an unknown peer, options ssh would take.
dssh_scenario_basics() {
  local from=$1 to=$2 W=$BATS_TEST_TMPDIR/work
  mkdir -p "$W"
  run dssh "$from" "$to" 'exit 7'
  [ "$status" -eq 7 ]
  run dssh "$from" "$to" false
  [ "$status" -eq 1 ]
  # The command line is the remaining words joined by spaces, run by the user's shell in HOME.
  run dssh "$from" "$to" echo '$HOME' '$USER' '$SHELL' "\$(pwd)"
  [ "$status" -eq 0 ]
  local home
  home=$(getent passwd "$(id -un)" | cut -d: -f6)
  [ "$output" = "$home $(id -un) $(getent passwd "$(id -un)" | cut -d: -f7) $home" ]
  # stdin reaches EOF while the command goes on writing.
  run bash -c "printf 'in-data' | AUTOMATELINUX_SOCKET=$BATS_TEST_TMPDIR/$from/sock $DSSH $to 'cat; echo; echo eof-seen; for i in 1 2 3; do echo \$i; sleep 0.2; done'"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'in-data\neof-seen\n1\n2\n3')" ]
  # No command: the user's shell as a login shell, reading its commands from stdin.
  run bash -c "printf 'echo from-stdin; pwd\n' | AUTOMATELINUX_SOCKET=$BATS_TEST_TMPDIR/$from/sock $DSSH $to"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'from-stdin\n%s' "$home")" ]
  if [ "$(getent passwd "$(id -un)" | cut -d: -f7)" = /bin/bash ]; then
    run bash -c "echo 'shopt -q login_shell && echo login' | AUTOMATELINUX_SOCKET=$BATS_TEST_TMPDIR/$from/sock $DSSH $to"
    [ "$output" = login ]
  fi
  # -n: no stdin at all.
  run bash -c "echo nope | AUTOMATELINUX_SOCKET=$BATS_TEST_TMPDIR/$from/sock $DSSH -n $to cat"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  # ssh options are skipped with their values; -o SetEnv and SendEnv reach the command.
  run env AL_SENT=sent-value AUTOMATELINUX_SOCKET="$BATS_TEST_TMPDIR/$from/sock" "$DSSH" \
    -p 2222 -i /nonexistent -F /dev/null -o ControlMaster=auto -x -o SendEnv=AL_SENT \
    -o "SetEnv AL_SET=set-value" -T -- "$to" 'echo $AL_SENT $AL_SET'
  [ "$status" -eq 0 ]
  [ "$output" = "sent-value set-value" ]
  # -o RemoteCommand= when no command is given; -s with an unknown subsystem fails (255).
  run dssh "$from" -o "RemoteCommand=echo from-config" "$to"
  [ "$status" -eq 0 ]
  [ "$output" = "from-config" ]
  run dssh "$from" "$to" -s no-such-subsystem
  [ "$status" -eq 255 ]
  [[ "$output" == *"unknown subsystem"* ]]
  # Terminals, with ssh's rules: -t without a terminal on stdin is refused with ssh's notice
  # (not with -q); -tt forces one, which this daemon cannot give: said, then run without.
  run --separate-stderr dssh "$from" -t "$to" 'echo ran; [ -t 0 ] || echo no-tty' </dev/null
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'ran\nno-tty')" ]
  [[ "$stderr" == "Pseudo-terminal will not be allocated because stdin is not a terminal."* ]]
  run --separate-stderr dssh "$from" -q -t "$to" true </dev/null
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  run --separate-stderr dssh "$from" -tt "$to" 'echo ran' </dev/null
  [ "$status" -eq 0 ]
  [[ "$output" == ran* ]]  # a terminal, where there is one, ends the line with \r\n
  if dd "$from" help execOnPeer | grep -q -- --tty; then
    [ -z "$stderr" ]
  else
    [ "$stderr" = "d-ssh: this daemon offers no terminals (execOnPeer --tty); running without one" ]
  fi
  # -N runs nothing and waits until told to stop.
  AUTOMATELINUX_SOCKET=$BATS_TEST_TMPDIR/$from/sock "$DSSH" -N "$to" &
  local waiting=$!
  sleep 0.3
  kill -0 "$waiting"
  kill -TERM "$waiting"
  local n_status=0
  wait "$waiting" || n_status=$?
  [ "$n_status" -eq 0 ]
  # -G: a minimal OpenSSH-style configuration, without the daemon.
  run env AUTOMATELINUX_SOCKET=/nonexistent "$DSSH" -G -p 2200 someone@"$to"
  [ "$status" -eq 0 ]
  [[ "$output" == *"hostname $to"* && "$output" == *"user someone"* && "$output" == *"port 2200"* ]]
  # Unknown peer: one line, 255.
  run --separate-stderr dssh "$from" nosuchpeer true
  [ "$status" -eq 255 ]
  [ "$stderr" = "d-ssh: Peer not found: nosuchpeer" ]
  # An unknown option is a usage error (255), as in ssh.
  run dssh "$from" -Z "$to" true
  [ "$status" -eq 255 ]
  # No daemon: 255.
  run --separate-stderr env AUTOMATELINUX_SOCKET=$W/none.sock "$DSSH" "$to" true
  [ "$status" -eq 255 ]
  [[ "$stderr" == "d-ssh: cannot reach the daemon"* ]]
}
