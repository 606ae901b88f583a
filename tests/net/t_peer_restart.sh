#!/bin/bash
# A peer that restarts has lost its tunnels; the other side still holds
# one.  Reconnecting must work at once all the same:
#   1. a (which opened the tunnel) restarts and resolves c again at once:
#      the answer comes, ping works, c holds one tunnel to a (the new one);
#   2. c restarts: a, still holding the old tunnel, pings c's VIP again and
#      gets replies within 30 s (a new route and tunnel, or a new handshake).
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+
#        |                      |                       |
#   ns cloud                ns a (global)          ns c (global)
#   192.0.2.1/24            192.0.2.10/24          192.0.2.30/24
#   2001:db8::1/64          2001:db8::10/64        2001:db8::30/64
#   cyphonic-cloud          cyphonicd "a"          cyphonicd "c"
source "$(dirname "$0")/lib.sh"
require

pretty "topology: cloud, a and c global"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
inet_host a 192.0.2.10/24 2001:db8::10/64
inet_host c 192.0.2.30/24 2001:db8::30/64
cloud_new
for x in a c; do node_new "$x"; done
start_cloud
start_node a a
start_node c c
wait_registered a
wait_registered c
got=$(resolve a c A)
[[ $got == "$(vip c 4)" ]] || fail "a: dig c.$CY_DOMAIN A gave '$got'"
vping a "$(vip c 4)" || fail "a: ping c"
ok "tunnel a -> c up"

pretty "a restarts and resolves c again at once"
stop_daemon a
start_node a a
wait_registered a
got=$(resolve a c A 2>&1) || true
[[ $got == "$(vip c 4)" ]] ||
	fail "a, restarted: dig c.$CY_DOMAIN A gave '$got' (c kept the old tunnel?)"
vping a "$(vip c 4)" || fail "a, restarted: ping c"
vping c "$(vip a 4)" || fail "c: ping the restarted a"
[[ $(tunnel_count c a) == 1 ]] || fail "c: $(tunnel_count c a) tunnels to a"
ok "answer $got, ping both ways, c holds one tunnel to a"

pretty "c restarts; a, holding the old tunnel, pings c again"
stop_daemon c
start_node c c
wait_registered c
t0=$(now_ms)
n a ping -n -q -c 1 -W 30 -w 30 "$(vip c 4)" >/dev/null ||
	fail "a: no reply from the restarted c in 30 s"
ok "first reply after $(($(now_ms) - t0)) ms"
vping a "$(vip c 4)" || fail "a: ping c"
vping c "$(vip a 4)" || fail "c: ping a"
[[ $(tunnel_count a c) == 1 && $(tunnel_count c a) == 1 ]] ||
	fail "tunnels: a $(status a | jq -c .tunnels) c $(status c | jq -c .tunnels)"
ok "ping both ways, one tunnel each"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
