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
  if [ "$self" = "$1" ]; then echo "d: Cannot exec on self ($1)" >&2; return 1; fi
}

# _al_options ARGS…: the leading words that are options for `d` — anything that starts with "-"
# before the peer; --timeout, --name and --fanout take the next word as their value; "--" ends
# them — go to the array _al_opts; _al_nopts says how many words that was.
_al_options() {
  _al_opts=()
  _al_nopts=0
  while [ $# -gt 0 ]; do
    case $1 in
      --) _al_nopts=$((_al_nopts + 1)); return 0 ;;
      --timeout | --name | --fanout)
        [ $# -ge 2 ] || { echo "d: '$1' needs a value" >&2; return 1; }
        _al_opts+=("$1" "$2"); _al_nopts=$((_al_nopts + 2)); shift 2 ;;
      -?*) _al_opts+=("$1"); _al_nopts=$((_al_nopts + 1)); shift ;;
      *) return 0 ;;
    esac
  done
}

# execOnPeer [OPTIONS] PEER DIR CMD…: CMD's words are joined with spaces into one shell command,
# as ssh does. OPTIONS go to `d execOnPeer` unchanged: -n/--no-stdin, --timeout D, --detach,
# --name N, --json, --group, --skip-offline, --fanout N.
execOnPeer() {
  _al_options "$@" || return 255
  local opts=("${_al_opts[@]}")
  shift "$_al_nopts"
  [ $# -ge 3 ] || { _al_usage "execOnPeer [options] <peer> <dir> <cmd…>"; return 2; }
  local peer=$1 dir=$2
  shift 2
  _al_refuse_self "$peer" || return 255
  d execOnPeer "${opts[@]}" --peer "$peer" --directory "$dir" --command "$*"
}

# gitOnPeer [OPTIONS] PEER DIR GIT_ARGS…: git's arguments travel as an argv, untouched. OPTIONS
# (before PEER) go to `d gitOnPeer`: -n/--no-stdin, --timeout D, --json, --group, …
gitOnPeer() {
  _al_options "$@" || return 255
  local opts=("${_al_opts[@]}")
  shift "$_al_nopts"
  [ $# -ge 3 ] || { _al_usage "gitOnPeer [options] <peer> <dir> <git-args…>"; return 2; }
  local peer=$1 dir=$2
  shift 2
  _al_refuse_self "$peer" || return 255
  d gitOnPeer "${opts[@]}" --peer "$peer" --directory "$dir" "$@"
}

# vpsPull and vpsCADPull: every argument is git's (vpsPull --rebase); vpsInstall [OPTIONS].
vpsPull() { gitOnPeer "$AUTOMATELINUX_VPS_PEER" "$AUTOMATELINUX_REPO_DIR" pull "$@"; }
vpsCADPull() { gitOnPeer "$AUTOMATELINUX_VPS_PEER" "$AUTOMATELINUX_CAD_DIR" pull "$@"; }
vpsInstall() { execOnPeer "$@" "$AUTOMATELINUX_VPS_PEER" "$AUTOMATELINUX_REPO_DIR" ./install.sh --minimal; }
# vpsExec [OPTIONS] CMD… and desktopExec [OPTIONS] CMD…: OPTIONS as for execOnPeer.
vpsExec() {
  _al_options "$@" || return 255
  local opts=("${_al_opts[@]}")
  shift "$_al_nopts"
  [ $# -ge 1 ] || { _al_usage "vpsExec [options] <cmd…>"; return 2; }
  execOnPeer "${opts[@]}" -- "$AUTOMATELINUX_VPS_PEER" "$AUTOMATELINUX_REPO_DIR" "$@"
}
desktopExec() {
  _al_options "$@" || return 255
  local opts=("${_al_opts[@]}")
  shift "$_al_nopts"
  [ $# -ge 1 ] || { _al_usage "desktopExec [options] <cmd…>"; return 2; }
  execOnPeer "${opts[@]}" -- "$AUTOMATELINUX_DESKTOP_PEER" "$AUTOMATELINUX_REPO_DIR" "$@"
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
