# automatelinux shell wrappers — source this file from your bashrc.
# The functions run locally and execute remotely through the local daemon (`d`); sourcing this
# file does not make them exist on the peers.

: "${AUTOMATELINUX_REPO_DIR:=/opt/automateLinux}"       # vpsPull, vpsInstall, vpsExec, desktopExec
: "${AUTOMATELINUX_CAD_DIR:=/home/yaniv/cad-prod}"       # vpsCADPull
: "${AUTOMATELINUX_VPS_PEER:=vps}"
: "${AUTOMATELINUX_DESKTOP_PEER:=desktop}"
: "${AUTOMATELINUX_WG_INTERFACE:=wg0}"
# WireGuard address → peer id, used when the daemon cannot say who we are.
: "${AUTOMATELINUX_PEER_MAP:=10.0.0.1=vps 10.0.0.2=desktop 10.0.0.4=laptop}"

_al_usage() { echo "usage: $1" >&2; return 2; }

# getCurrentPeerId: this machine's peer id (from the daemon, else from the WireGuard address).
getCurrentPeerId() {
  local id
  id=$(d getPeerStatus --json 2>/dev/null | sed -n 's/^ *"id": *"\([^"]*\)".*/\1/p')
  if [ -n "$id" ]; then echo "$id"; return 0; fi
  local addr pair
  addr=$(ip -4 -o addr show dev "$AUTOMATELINUX_WG_INTERFACE" 2>/dev/null | awk '{print $4}' | cut -d/ -f1)
  for pair in $AUTOMATELINUX_PEER_MAP; do
    if [ "${pair%%=*}" = "$addr" ] && [ -n "$addr" ]; then echo "${pair#*=}"; return 0; fi
  done
  echo "getCurrentPeerId: cannot tell which peer this is (daemon not configured, no $AUTOMATELINUX_WG_INTERFACE address)" >&2
  return 1
}

_al_refuse_self() {
  local self
  self=$(getCurrentPeerId 2>/dev/null) || return 0
  if [ "$self" = "$1" ]; then echo "Cannot exec on self ($1)" >&2; return 1; fi
}

# execOnPeer PEER DIR CMD…: CMD's words are joined with spaces into one shell command, as ssh does.
execOnPeer() {
  [ $# -ge 3 ] || { _al_usage "execOnPeer <peer> <dir> <cmd…>"; return 2; }
  local peer=$1 dir=$2
  shift 2
  _al_refuse_self "$peer" || return 255
  d execOnPeer --peer "$peer" --directory "$dir" --command "$*"
}

# gitOnPeer PEER DIR GIT_ARGS…: git's arguments travel as an argv, untouched.
gitOnPeer() {
  [ $# -ge 3 ] || { _al_usage "gitOnPeer <peer> <dir> <git-args…>"; return 2; }
  local peer=$1 dir=$2
  shift 2
  _al_refuse_self "$peer" || return 255
  d gitOnPeer --peer "$peer" --directory "$dir" "$@"
}

vpsPull() { gitOnPeer "$AUTOMATELINUX_VPS_PEER" "$AUTOMATELINUX_REPO_DIR" pull "$@"; }
vpsCADPull() { gitOnPeer "$AUTOMATELINUX_VPS_PEER" "$AUTOMATELINUX_CAD_DIR" pull "$@"; }
vpsInstall() { execOnPeer "$AUTOMATELINUX_VPS_PEER" "$AUTOMATELINUX_REPO_DIR" ./install.sh --minimal; }
vpsExec() {
  [ $# -ge 1 ] || { _al_usage "vpsExec <cmd…>"; return 2; }
  execOnPeer "$AUTOMATELINUX_VPS_PEER" "$AUTOMATELINUX_REPO_DIR" "$@"
}
desktopExec() {
  [ $# -ge 1 ] || { _al_usage "desktopExec <cmd…>"; return 2; }
  execOnPeer "$AUTOMATELINUX_DESKTOP_PEER" "$AUTOMATELINUX_REPO_DIR" "$@"
}

# Deprecated ssh-based shapes, kept working for old scripts.
sshCmd() {
  [ $# -ge 3 ] || { _al_usage "sshCmd <user@host> <dir> <cmd…>"; return 2; }
  echo "sshCmd is deprecated: use execOnPeer <peer> <dir> <cmd…> (runs through the automatelinux daemon)" >&2
  local host=$1 dir=$2
  shift 2
  ssh "$host" "cd $(printf '%q' "$dir") && $*"
}
sshGit() {
  [ $# -ge 3 ] || { _al_usage "sshGit <user@host> <dir> <git-args…>"; return 2; }
  echo "sshGit is deprecated: use gitOnPeer <peer> <dir> <git-args…> (runs through the automatelinux daemon)" >&2
  local host=$1 dir=$2
  shift 2
  ssh "$host" "cd $(printf '%q' "$dir") && git $(printf '%q ' "$@")"
}
