# A three-host network inside namespaces this test creates: a bridge in its own namespace and
# one namespace per host with the seed's addresses (vps 10.0.0.1, desktop 10.0.0.2, laptop
# 10.0.0.4). Nothing is configured outside these namespaces; teardown deletes them all.

netns_available() {
  [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null && ip netns list >/dev/null 2>&1
}

netns_setup() {
  NET_PREFIX=al$$x$RANDOM
  export NET_PREFIX
  ip netns add "$NET_PREFIX-br" || return 1
  ip -n "$NET_PREFIX-br" link add br0 type bridge
  ip -n "$NET_PREFIX-br" link set br0 up
  local i=0 entry host addr
  for entry in vps:10.0.0.1 desktop:10.0.0.2 laptop:10.0.0.4 intruder:10.0.0.9; do
    host=${entry%%:*} addr=${entry#*:}
    i=$((i + 1))
    ip netns add "$NET_PREFIX-$host"
    ip -n "$NET_PREFIX-br" link add "v$i" type veth peer name eth0 netns "$NET_PREFIX-$host"
    ip -n "$NET_PREFIX-br" link set "v$i" master br0 up
    ip -n "$NET_PREFIX-$host" addr add "$addr/24" dev eth0
    ip -n "$NET_PREFIX-$host" link set eth0 up
    ip -n "$NET_PREFIX-$host" link set lo up
  done
}

netns_teardown() {
  [ -n "${NET_PREFIX:-}" ] || return 0
  local ns
  for ns in $(ip netns list | awk '{print $1}' | grep "^$NET_PREFIX-"); do
    # Anything still running inside is ours: stop it before the namespace goes.
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip netns del "$ns"
  done
}
