#!/bin/bash
# A packet to a peer's VIP, with no DNS query before, selects the route and
# sets the tunnel up by itself: ping by address works, over VIP4 and VIP6,
# also when the peer is behind NAPT (the NMS tells it to open the path).
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+-----------------+
#        |                      |                       |                 |
#   ns cloud                ns a (global)          ns r (NAPT router)  ns c (global)
#   192.0.2.1/24            192.0.2.10/24          eth0 192.0.2.20/24  192.0.2.30/24
#   2001:db8::1/64          2001:db8::10/64        masquerade on eth0  2001:db8::30/64
#   cyphonic-cloud          cyphonicd "a"          lan 198.51.100.1/24 cyphonicd "c"
#                                                       |
#                                                  ns b (behind NAPT)
#                                                  198.51.100.10/24, cyphonicd "b"
source "$(dirname "$0")/lib.sh"
require

pretty "topology: cloud, a and c global, b behind NAPT r"
topo_basic a b
inet_host c 192.0.2.30/24 2001:db8::30/64
cloud_new
for x in a b c; do node_new "$x"; done
start_cloud
for x in a b c; do start_node "$x" "$x"; done
for x in a b c; do wait_registered "$x"; done
ok "a, b, c registered"

pretty "a pings c's VIP4, no name lookup before"
[[ $(tunnel_count a c) == 0 ]] || fail "a: a tunnel to c before any packet"
t0=$(now_ms)
vping a "$(vip c 4)" || fail "a: ping $(vip c 4) (c's VIP4): no replies"
ok "a: 3 replies from $(vip c 4) within $(($(now_ms) - t0)) ms"
check_tunnel a c '192\.0\.2\.30|2001:db8::30'
check_tunnel c a '192\.0\.2\.10|2001:db8::10'
vping c "$(vip a 6)" || fail "c: ping $(vip a 6) back over the tunnel"
ok "c pings a's VIP6 back over the same tunnel"

pretty "c pings b's VIP6 (b behind NAPT), no name lookup before"
t0=$(now_ms)
vping c "$(vip b 6)" || fail "c: ping $(vip b 6) (b's VIP6): no replies"
ok "c: 3 replies from $(vip b 6) within $(($(now_ms) - t0)) ms"
check_tunnel c b '192\.0\.2\.20'
check_tunnel b c '192\.0\.2\.30'

pretty "a VIP nobody has: no tunnel, the daemon carries on"
n a ping -n -q -c 1 -W 1 100.127.255.254 >/dev/null 2>&1 && fail "a: 100.127.255.254 answered"
vping a "$(vip c 4)" || fail "a: ping c after pinging an unknown VIP"
[[ $(status a | jq '.tunnels | length') == 1 ]] || fail "a: $(status a | jq -c .tunnels)"
ok "unknown VIP: no reply, no tunnel; a still reaches c"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
