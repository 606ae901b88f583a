#!/bin/bash
# Mobility without a new address of the node's own (docs/mobility.md):
#  1. NAPT rebinding: the router forgets its mappings (conntrack flush) and
#     maps the node to a new random port; the session carries on.
#  2. Two uplinks: the one in use loses its link; the other's default
#     route takes over and the session moves to it, without timeouts.
#
#                          inet: bridge br0 (the "Internet")
#     +-----------------+--------------------+--------------------+
#  ns cloud          ns a (global)        ns r1 (NAPT, random)  ns r2 (NAPT)
#  192.0.2.1/24      192.0.2.10/24        eth0 192.0.2.20/24    eth0 192.0.2.21/24
#  2001:db8::1/64    2001:db8::10/64      lan 198.51.100.1/24   lan 203.0.113.1/24
#                                               |  eth0 (metric 0)   | eth1 (metric 200)
#                                               +------ ns m --------+
source "$(dirname "$0")/lib.sh"
require

pretty "topology: a global, m with two uplinks through two NAPT routers"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
inet_host a 192.0.2.10/24 2001:db8::10/64
napt r1 192.0.2.20/24 198.51.100.1/24
napt r2 192.0.2.21/24 203.0.113.1/24
# r1 maps to random ports: a new mapping is a new port.
n r1 nft flush ruleset
n r1 nft -f - <<-EOF
table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "eth0" masquerade random
	}
}
EOF
lan_host m r1 198.51.100.10/24
veth m eth1 r2 l-m2
n r2 ip link set l-m2 master lan
addr m eth1 203.0.113.10/24
n m ip route add default via 203.0.113.1 metric 200
nodes_up a m
VA=$(vip a 4)
ok "a and m registered; m's traffic leaves through r1"

a_sees_m_at() { [[ $(tunnel_get a m .endpoint) =~ ^($1)$ ]]; }

pretty "a TCP session m -> a"
stream_start m a "$VA" 3
stream_chunk 0
EP=$(tunnel_get a m .endpoint)
[[ $(ep_host "$EP") == 192.0.2.20 ]] || fail "a sees m at $EP, not behind r1"
ok "1 MB arrived; a sees m at $EP"

pretty "NAPT rebinding: r1 forgets every mapping"
n r1 conntrack -F 2>/dev/null
stream_chunk 1
EP2=$(tunnel_get a m .endpoint)
[[ $(ep_host "$EP2") == 192.0.2.20 && $EP2 != "$EP" ]] ||
	fail "a sees m at $EP2 after the flush (before: $EP)"
ok "the session carries on; a follows m from $EP to $EP2"

pretty "two uplinks: the one in use loses its link"
t0=$(now_ms)
n m ip link set eth0 down
wait_for 5 a_sees_m_at '192\.0\.2\.21:[0-9]+'
t1=$(now_ms)
stream_chunk 2
stream_finish
ok "a follows m to r2 ($((t1 - t0)) ms after the link went down); 3 MB intact"

no_drops "a m" "auth malformed stale_move"
stop_all
ok "all daemons stopped cleanly, no sanitizer report"
