#!/bin/bash
# Direct paths across a real NAPT (nftables masquerade), both ways round:
#   b (behind NAPT) -> a (global): b opens the tunnel to a.
#   c (global) -> b (behind NAPT): the NMS tells b to open the path to c,
#   through its own NAPT mapping.
#
#                          inet: bridge br0 (the "Internet")
#     +--------------+--------------+--------------+--------------+
#     |              |              |              |              |
#  ns cloud       ns dns         ns a (global)  ns c (global)  ns r (NAPT router)
#  192.0.2.1/24   192.0.2.53/24  192.0.2.10/24  192.0.2.30/24  eth0 192.0.2.20/24
#  2001:db8::1/64 2001:db8::53   2001:db8::10   2001:db8::30   masquerade on eth0
#  cyphonic-cloud dnsmasq        cyphonicd "a"  cyphonicd "c"  lan 198.51.100.1/24
#                                                                     |
#                                                              ns b (behind NAPT)
#                                                              198.51.100.10/24
#                                                              IPv4 only, cyphonicd "b"
source "$(dirname "$0")/lib.sh"
require

pretty "topology: cloud, upstream DNS, a and c global, b behind NAPT r"
topo_basic a b
upstream_dns
inet_host c 192.0.2.30/24 2001:db8::30/64
cloud_new
for x in a b c; do
	node_new "$x"
	node_upstream "$x" "$UPSTREAM4"
done
start_cloud
for x in a b c; do start_node "$x" "$x"; done
for x in a b c; do wait_registered "$x"; done
[[ $(status_get b .nat) == true ]] || fail "b: nat is not true"
ok "a, b, c registered; b behind NAPT"

pretty "b (behind NAPT) -> a (global)"
# b has only IPv4: the tunnel runs over it; a sees b at the router's WAN.
pair_check b a '192\.0\.2\.20' '192\.0\.2\.10'

pretty "c (global) -> b (behind NAPT): b opens the path"
pair_check c b '192\.0\.2\.30' '192\.0\.2\.20'

pretty "one tunnel per pair, nothing dropped"
[[ $(tunnel_count a c) == 0 ]] || fail "a has a tunnel to c, which nobody asked for"
[[ $(status b | jq '.tunnels | length') == 2 ]] || fail "b: not exactly 2 tunnels: $(status b | jq -c .tunnels)"
for x in a b c; do
	for d in replay auth unknown malformed; do
		[[ $(drop_get "$x" "$d") == 0 ]] || fail "$x: drops.$d = $(drop_get "$x" "$d")"
	done
done
ok "b holds two tunnels (a, c); no drops"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
