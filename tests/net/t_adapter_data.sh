#!/bin/bash
# Data through adapters, with the general nodes' stock tools (udhcpc, dig,
# ping, nc): general node <-> node both ways, a node reaching a general node
# by its FQDN, general node <-> general node behind two adapters (one behind
# a NAPT), and general node <-> general node on the same adapter.  Every
# transfer is 20 MB over TCP with the SHA-256 checked on arrival.
#
#                          inet: bridge br0 (the "Internet")
#     +--------------+--------------+--------------+---------------------+
#     |              |              |              |                     |
#  ns cloud       ns dns         ns a (global)  ns ad1 (adapter)      ns r (NAPT router)
#  192.0.2.1/24   192.0.2.53/24  192.0.2.10/24  eth0 192.0.2.40/24    eth0 192.0.2.20/24
#  cyphonic-cloud dnsmasq        cyphonicd "a"  lan0 (bridge)         lan 198.51.100.1/24
#                                                 +-----+-----+            |
#                                                 |           |       ns ad2 (adapter)
#                                              ns g1       ns g2      eth0 198.51.100.40/24
#                                                                     lan0 (bridge)
#                                                                          |
#                                                                       ns g3
source "$(dirname "$0")/lib.sh"
require
require_adapter

M1=02:c1:00:00:00:01 M2=02:c1:00:00:00:02 M3=02:c2:00:00:00:03
MB=20

pretty "topology: node a, adapter ad1 (global) with g1, g2; adapter ad2 behind NAPT r with g3"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
upstream_dns
inet_host a 192.0.2.10/24 2001:db8::10/64
adapter_global ad1 192.0.2.40/24 2001:db8::40/64
napt r 192.0.2.20/24 198.51.100.1/24
adapter_behind ad2 r 198.51.100.40/24
gn_host g1 ad1 "$M1"
gn_host g2 ad1 "$M2"
gn_host g3 ad2 "$M3"
cloud_new
node_new a
node_upstream a "$UPSTREAM4"
adapter_new ad1
conf_set "$(node_conf ad1)" node metrics 127.0.0.1
adapter_new ad2
gn_new g1 ad1 "$M1"
gn_new g2 ad1 "$M2"
gn_new g3 ad2 "$M3"
start_cloud
start_node a a
start_adapter ad1
start_adapter ad2
wait_registered a
[[ $(status_get ad2 .nat) == true ]] || fail "ad2: nat is not true behind the NAPT"
for g in g1 g2 g3; do
	udhcpc_once "$g" || fail "$g: udhcpc got no lease"
	[[ $(gn_addr "$g") == "$(vip "$g" 4)" ]] || fail "$g: address '$(gn_addr "$g")', not $(vip "$g" 4)"
done
ok "ad1, ad2 registered (ad2 behind NAPT); g1 $(vip g1 4), g2 $(vip g2 4), g3 $(vip g3 4) leased"

# gresolve GN PEER: GN asks its DNS server (the adapter) for PEER's FQDN, A.
gresolve()
{
	local gn=$1 peer=$2 got
	got=$(gdig "$gn" +short "$(fqdn "$peer")" A 2>&1) || fail "$gn: dig $(fqdn "$peer") A failed: $got"
	[[ $got == "$(vip "$peer" 4)" ]] ||
		fail "$gn: dig $(fqdn "$peer") A gave '$got', not $(vip "$peer" 4)"
	ok "$gn: $(fqdn "$peer") A $got"
}

# both_ways X Y: ping each way, then MB megabytes over TCP each way.
both_ways()
{
	local x=$1 y=$2
	vping "$x" "$(vip "$y" 4)" || fail "$x: ping $(vip "$y" 4) ($y) gets no replies"
	vping "$y" "$(vip "$x" 4)" || fail "$y: ping $(vip "$x" 4) ($x) gets no replies"
	ok "ping $x <-> $y"
	transfer "$x" "$y" "$(vip "$y" 4)" "$MB"
	ok "$x -> $y: $MB MB over TCP, same SHA-256 ($XFER_MBPS Mbit/s)"
	transfer "$y" "$x" "$(vip "$x" 4)" "$MB"
	ok "$y -> $x: $MB MB over TCP, same SHA-256 ($XFER_MBPS Mbit/s)"
}

pretty "general node g1 <-> node a"
gresolve g1 a
both_ways g1 a
check_tunnel a g1 '192\.0\.2\.40'

pretty "node a reaches general node g2 by its FQDN"
has_tunnel a g2 && fail "a already has a tunnel to g2"
got=$(resolve a g2 A 2>&1) || fail "a: dig $(fqdn g2) A failed: $got"
[[ $got == "$(vip g2 4)" ]] || fail "a: dig $(fqdn g2) A gave '$got', not $(vip g2 4)"
ok "a: $(fqdn g2) A $got"
vping a "$(vip g2 4)" || fail "a: ping $(vip g2 4) (g2) gets no replies"
ok "a: ping $(fqdn g2)"
transfer a g2 "$(vip g2 4)" "$MB"
ok "a -> g2: $MB MB over TCP, same SHA-256 ($XFER_MBPS Mbit/s)"
check_tunnel a g2 '192\.0\.2\.40'

pretty "g1 (adapter ad1) <-> g3 (adapter ad2, behind NAPT)"
gresolve g1 g3
both_ways g1 g3
gresolve g3 g2
vping g3 "$(vip g2 4)" || fail "g3: ping $(vip g2 4) (g2) gets no replies"
ok "g3: ping g2"

pretty "g1 <-> g2 on the same adapter"
gresolve g1 g2
both_ways g1 g2

for x in a; do
	for d in replay auth unknown malformed; do
		[[ $(drop_get "$x" "$d") == 0 ]] || fail "$x: drops.$d = $(drop_get "$x" "$d")"
	done
done
ok "a: no drops"

pretty "ad1's metrics: its two general nodes, registered and leased"
prom_scrape ad1 http://127.0.0.1:9471/metrics ad1
for m in general_nodes general_nodes_registered dhcp_leases; do
	[[ $(prom_value ad1 "cyphonic_adapter_$m") == 2 ]] ||
		fail "ad1: cyphonic_adapter_$m is $(prom_value ad1 "cyphonic_adapter_$m"), not 2"
done
ok "promtool accepts them; 2 general nodes, 2 registered, 2 leases"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
