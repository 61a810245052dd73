#!/usr/bin/env bash
# Adds `source …/sshgit.sh` to the user's bashrc, once. Safe to run any number of times.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rc=${BASHRC:-$HOME/.bashrc}
line="[ -f '$here/sshgit.sh' ] && source '$here/sshgit.sh'  # automatelinux"
touch "$rc"
if grep -qF "$here/sshgit.sh" "$rc"; then
  echo "already set up in $rc"
else
  printf '\n%s\n' "$line" >>"$rc"
  echo "added automatelinux shell functions to $rc"
fi
