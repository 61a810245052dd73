#!/usr/bin/env bash
# d-ssh against OpenSSH on loopback (part of scripts/bench): `git clone` of a repository of
# AL_DSSH_REPO_MB (default 100) MB and `rsync` of a file of AL_DSSH_RSYNC_MB (default 1024) MB, each
# over a throwaway sshd on 127.0.0.1 and over `d-ssh` (desktop → vps), in one run, as a ratio.
# Target: d-ssh no slower than ssh for either. Nothing leaves 127.0.0.1.
set -euo pipefail
N=1
B=${AL_BUILD:-build}
source "$(dirname "$0")/lib.sh"
REPO_MB=${AL_DSSH_REPO_MB:-100}
RSYNC_MB=${AL_DSSH_RSYNC_MB:-1024}
if [ ! -x /usr/sbin/sshd ]; then
  echo "d-ssh against ssh: not measured (no /usr/sbin/sshd; apt-get install openssh-server)"
  exit 0
fi

start_sshd

start_daemon desktop
start_daemon vps
make_leader desktop
join_worker vps
sleep 1
export AUTOMATELINUX_SOCKET=$dir/desktop.sock

# seconds COMMAND…: wall time of one run.
seconds() {
  local start end
  start=$(now_ns)
  "$@" >/dev/null
  end=$(now_ns)
  awk -v t=$((end - start)) 'BEGIN { printf "%.2f", t / 1e9 }'
}

# A repository of REPO_MB of incompressible blobs in ten commits.
git init -q --bare -b main "$dir/src.git"
git init -q "$dir/work"
for i in $(seq 10); do
  head -c $((REPO_MB * 104857)) /dev/urandom >"$dir/work/blob$i"
  git -C "$dir/work" add "blob$i"
  git -C "$dir/work" -c user.name=b -c user.email=b@example.invalid commit -q -m "$i"
done
git -C "$dir/work" push -q "$dir/src.git" HEAD:main
git_ssh=$(seconds env GIT_SSH_COMMAND="$SSH" git clone -q "ssh://root@127.0.0.1$dir/src.git" "$dir/clone-ssh")
git_dssh=$(seconds env GIT_SSH_COMMAND="$B/bin/d-ssh" git clone -q "vps:$dir/src.git" "$dir/clone-dssh")

head -c $((RSYNC_MB * 1048576)) /dev/urandom >"$dir/big"
mkdir -p "$dir/to-ssh" "$dir/to-dssh"
rsync_ssh=$(seconds rsync -a -e "$SSH" "$dir/big" "root@127.0.0.1:$dir/to-ssh/")
rsync_dssh=$(seconds rsync -a -e "$B/bin/d-ssh" "$dir/big" "vps:$dir/to-dssh/")
cmp "$dir/big" "$dir/to-dssh/big"

echo "d-ssh against OpenSSH (ed25519, default ciphers) on 127.0.0.1, one run each:"
printf '  %-44s %8s s   ssh %8s s  (%sx ssh, target <= 1x)\n' "git clone, $REPO_MB MB repository" "$git_dssh" "$git_ssh" "$(ratio "$git_dssh" "$git_ssh")"
printf '  %-44s %8s s   ssh %8s s  (%sx ssh, target <= 1x)\n' "rsync -a, one $RSYNC_MB MB file" "$rsync_dssh" "$rsync_ssh" "$(ratio "$rsync_dssh" "$rsync_ssh")"
