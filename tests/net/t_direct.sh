#!/bin/bash
# Direct path between two global nodes: a resolves c's name, which selects
# the route and sets the tunnel up; ping and 50 MB over TCP both ways.
#
#                          inet: bridge br0 (the "Internet")
#        +-------------------+-------------------+-------------------+
#        |                   |                   |                   |
#   ns cloud             ns dns              ns a (global)       ns c (global)
#   192.0.2.1/24         192.0.2.53/24       192.0.2.10/24       192.0.2.30/24
#   2001:db8::1/64       2001:db8::53/64     2001:db8::10/64     2001:db8::30/64
#   cyphonic-cloud       dnsmasq             cyphonicd "a"       cyphonicd "c"
#
#   a: dig c.example.test -> c's VIPs; a <== tunnel (direct) ==> c
source "$(dirname "$0")/lib.sh"
require

pretty "topology: cloud, upstream DNS, a and c global"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
upstream_dns
inet_host a 192.0.2.10/24 2001:db8::10/64
inet_host c 192.0.2.30/24 2001:db8::30/64
cloud_new
for x in a c; do
	node_new "$x"
	node_upstream "$x" "$UPSTREAM4"
done
start_cloud
start_node a a
start_node c c
wait_registered a
wait_registered c
ok "a and c registered"

pretty "a -> c, both global"
# Both are dual-stack: the tunnel may run over either family.
pair_check a c '192\.0\.2\.10|2001:db8::10' '192\.0\.2\.30|2001:db8::30'

pretty "nothing was dropped on the way"
for x in a c; do
	for d in replay auth unknown malformed; do
		[[ $(drop_get "$x" "$d") == 0 ]] || fail "$x: drops.$d = $(drop_get "$x" "$d")"
	done
done
ok "drops: 0 on both sides"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
