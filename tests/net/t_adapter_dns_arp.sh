#!/bin/bash
# DNS and ARP through the adapter, with the general node's stock tools:
# `dig` at the DNS server its lease names (the adapter) gives a CYPHONIC
# peer's VIP, after the adapter has set the tunnel up on the general node's
# behalf; an ordinary name is answered by the upstream resolver; both also
# over TCP (`dig +tcp`, RFC 7766: the adapter listens on its LAN address),
# where a LAN host that is no general node is closed at once and a peer
# reaching the adapter's VIP through the overlay finds no listener; `arping`
# for the peer's VIP is answered by the adapter's LAN MAC, for another
# general node on the same LAN by that node alone, for an address outside
# the VIP range by nobody.  Last, the LAN host takes a general node's VIP
# (another MAC): its DNS over TCP is closed too, and the general node's own
# still answered once the address is back.
#
#                          inet: bridge br0 (the "Internet")
#        +-------------------+-------------------+-------------------+
#        |                   |                   |                   |
#   ns cloud             ns dns              ns a (global)       ns ad (adapter, global)
#   192.0.2.1/24         192.0.2.53/24       192.0.2.10/24       eth0 192.0.2.40/24
#   cyphonic-cloud       dnsmasq:            cyphonicd "a"       cyphonicd "ad" [adapter]
#                        www.example.org                         upstream 192.0.2.53
#                        = 192.0.2.80                            lan0 (bridge)
#                                                               +------+------+------+
#                                                               |             |      |
#                                                            ns g1         ns g2   ns x
#                                                            udhcpc        udhcpc  198.51.100.7
#                                                                                  (no GN)
source "$(dirname "$0")/lib.sh"
require
require_adapter

M1=02:c1:00:00:00:01 M2=02:c1:00:00:00:02
OUTSIDE=203.0.113.99 # not a VIP, not on any host
XMAC=02:c1:00:00:00:99 XIP=198.51.100.7 # x: a LAN host that is no general node

pretty "topology: cloud, upstream DNS, node a, adapter ad with g1, g2"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
upstream_dns
inet_host a 192.0.2.10/24 2001:db8::10/64
adapter_global ad 192.0.2.40/24 2001:db8::40/64
gn_host g1 ad "$M1"
gn_host g2 ad "$M2"
cloud_new
node_new a
node_upstream a "$UPSTREAM4"
adapter_new ad
gn_new g1 ad "$M1"
gn_new g2 ad "$M2"
start_cloud
start_node a a
start_adapter ad
wait_registered a
udhcpc_once g1 || fail "g1: udhcpc got no lease"
udhcpc_once g2 || fail "g2: udhcpc got no lease"
[[ $(dhcp_get g1 dns) == "$(vip ad 4)" ]] || fail "g1: DNS server '$(dhcp_get g1 dns)', not the adapter"
admac=$(adapter_mac ad)
ok "g1 $(dhcp_get g1 ip), g2 $(dhcp_get g2 ip); DNS server and router: ad $(vip ad 4) ($admac)"

# rcode GN dig-args...: the status dig reports.
rcode() { gdig "$@" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }

pretty "dig a CYPHONIC name through the adapter (cold: route selection + tunnel)"
has_tunnel a g1 && fail "a already has a tunnel to g1"
t0=$(date +%s%N)
got=$(gdig g1 +short "$(fqdn a)" A 2>&1) || fail "g1: dig $(fqdn a) A failed: $got"
ms=$(awk -v ns=$(($(date +%s%N) - t0)) 'BEGIN { printf "%.1f", ns / 1e6 }')
[[ $got == "$(vip a 4)" ]] || fail "g1: dig @$(vip ad 4) $(fqdn a) A gave '$got', not $(vip a 4)"
ok "g1: $(fqdn a) A $got ($ms ms)"
# The answer came after the tunnel was set up on g1's behalf: a lists it.
wait_for 5 has_tunnel a g1
ok "a lists a tunnel to g1 ($(tunnel_get a g1 .path), endpoint $(tunnel_get a g1 .endpoint))"
got=$(gdig g1 +short "$(fqdn a | tr a-z A-Z)." A)
[[ $got == "$(vip a 4)" ]] || fail "g1: dig $(fqdn a | tr a-z A-Z). A gave '$got'"
[[ $(tunnel_count a g1) == 1 ]] || fail "a: $(tunnel_count a g1) tunnels to g1 after two queries"
ok "g1: case-insensitive, warm answer $got; still one tunnel"

pretty "dig another general node on the same LAN"
got=$(gdig g1 +short "$(fqdn g2)" A 2>&1) || fail "g1: dig $(fqdn g2) A failed: $got"
[[ $got == "$(vip g2 4)" ]] || fail "g1: dig $(fqdn g2) A gave '$got', not $(vip g2 4)"
ok "g1: $(fqdn g2) A $got"

pretty "unknown CYPHONIC name: NXDOMAIN"
rc=$(rcode g1 "nosuch.$CY_DOMAIN" A)
[[ $rc == NXDOMAIN ]] || fail "g1: dig nosuch.$CY_DOMAIN A: status '$rc', not NXDOMAIN"
ok "g1: nosuch.$CY_DOMAIN NXDOMAIN"

pretty "an ordinary name goes to the adapter's upstream"
got=$(gdig g1 +short "$WWW_NAME" A 2>&1) || fail "g1: dig $WWW_NAME A failed: $got"
[[ $got == "$WWW_A" ]] || fail "g1: dig @$(vip ad 4) $WWW_NAME A gave '$got', not $WWW_A"
log_grep dns "query\[A\] $WWW_NAME from 192\.0\.2\.40" ||
	fail "the upstream never saw the adapter's query for $WWW_NAME"
ok "g1: $WWW_NAME A $WWW_A, answered by the upstream for ad"

# dtcp KEY: the adapter's DNS-over-TCP counter KEY (status .dns_tcp).
dtcp() { status_get ad ".dns_tcp.$1"; }

pretty "DNS over TCP through the adapter (dig +tcp)"
[[ $(dtcp listening) == true ]] || fail "ad: no DNS-over-TCP listener: $(status ad | jq -c .dns_tcp)"
acc0=$(dtcp accepted)
udp0=$(status_get ad .lan.dns_queries)
has_tunnel a g2 && fail "a already has a tunnel to g2"
got=$(gdig g2 +tcp +short "$(fqdn a)" A 2>&1) || fail "g2: dig +tcp $(fqdn a) A failed: $got"
[[ $got == "$(vip a 4)" ]] || fail "g2: dig +tcp $(fqdn a) A gave '$got', not $(vip a 4)"
wait_for 5 has_tunnel a g2
ok "g2: +tcp $(fqdn a) A $got, after the tunnel was set up on g2's behalf"
got=$(gdig g1 +tcp +short "$WWW_NAME" A 2>&1) || fail "g1: dig +tcp $WWW_NAME A failed: $got"
[[ $got == "$WWW_A" ]] || fail "g1: dig +tcp $WWW_NAME A gave '$got', not $WWW_A"
ok "g1: +tcp $WWW_NAME A $got (upstream)"
# Two queries on one connection (+keepopen): framing of both answers.
got=$(gdig g1 +tcp +keepopen +short "$(fqdn g2)" A "$WWW_NAME" A 2>&1) ||
	fail "g1: dig +tcp +keepopen failed: $got"
[[ $got == "$(vip g2 4)"$'\n'"$WWW_A" ]] ||
	fail "g1: dig +tcp +keepopen $(fqdn g2) $WWW_NAME gave '$got'"
ok "g1: two queries on one TCP connection: $(echo $got)"
[[ $(dtcp accepted) == $((acc0 + 3)) ]] ||
	fail "ad: dns_tcp.accepted $acc0 -> $(dtcp accepted), not +3: $(status ad | jq -c .dns_tcp)"
[[ $(status_get ad .lan.dns_queries) == "$udp0" ]] ||
	fail "ad: the TCP queries were counted as UDP (lan.dns_queries $udp0 -> $(status_get ad .lan.dns_queries))"
ok "ad: 3 TCP connections handed to the general nodes' resolvers, none over UDP"

pretty "DNS over TCP from a LAN host that is no general node: dropped"
gn_host x ad "$XMAC" # on the LAN, never enrolled
n x ip addr add "$XIP/32" dev eth0
n x ip route add "$(vip ad 4)/32" dev eth0
# The adapter host can reach x on the LAN: the handshake completes, so it
# is the adapter that turns x away, not the network.
n ad ip route add "$XIP/32" dev "$ADAPTER_LAN"
# tcp53_drops: the packets the adapter's nftables dropped on their way to
# its DNS-over-TCP listener (not from an enrolled MAC with its VIP): by
# the rules for TCP port 53, or, for a VIP source, by the one that drops
# any VIP source whose MAC is not that general node's.
tcp53_drops()
{
	n ad nft list chain inet "cyphonic_adapter_$ADAPTER_LAN" input |
		awk '/tcp dport 53|saddr != @gn[46]/ {
			for (i = 1; i < NF; i++) if ($i == "packets") s += $(i + 1) }
			END { print s + 0 }'
}
ng0=$(dtcp not_gn)
acc0=$(dtcp accepted)
dr0=$(tcp53_drops)
got=$(n x dig @"$(vip ad 4)" +tcp +time=2 +tries=1 +short "$WWW_NAME" A 2>&1) &&
	fail "x: dig +tcp @$(vip ad 4) was answered: $got"
[[ $got != *"$WWW_A"* ]] || fail "x: got an answer: $got"
(($(tcp53_drops) > dr0)) || fail "ad: nftables dropped none of x's TCP segments to port 53"
[[ $(dtcp not_gn) == "$ng0" && $(dtcp accepted) == "$acc0" ]] ||
	fail "ad: a connection from x reached the listener: $(status ad | jq -c .dns_tcp)"
ok "x ($XIP): its SYNs dropped by the adapter's nftables ($dr0 -> $(tcp53_drops)), no answer ($(echo $got | head -c 80))"

pretty "the adapter's VIP through the overlay: no DNS over TCP there"
got=$(resolve a ad A) || fail "a: resolving $(fqdn ad) failed"
[[ $got == "$(vip ad 4)" ]] || fail "a: $(fqdn ad) A gave '$got', not $(vip ad 4)"
vping a "$(vip ad 4)" || fail "a: cannot ping the adapter's VIP $(vip ad 4)"
got=$(n a dig @"$(vip ad 4)" +tcp +time=5 +tries=1 +short "$WWW_NAME" A 2>&1) &&
	fail "a: dig +tcp @$(vip ad 4) through the overlay was answered: $got"
[[ $(dtcp not_gn) == "$ng0" && $(dtcp accepted) == "$acc0" ]] ||
	fail "ad: a connection from the overlay reached the listener: $(status ad | jq -c .dns_tcp)"
ok "a: pings $(vip ad 4), but TCP 53 there finds no listener (bound to $ADAPTER_LAN)"

pretty "arping the peer's VIP: the adapter's MAC answers"
got=$(arp_macs g1 "$(vip a 4)" 3) || fail "g1: arping $(vip a 4) (a's VIP) got no answer"
[[ $got == "$admac" ]] || fail "g1: arping $(vip a 4) answered by '$got', not the adapter's $admac"
ok "g1: arping $(vip a 4) -> $got"
got=$(arp_macs g2 "$(vip a 4)" 3) || fail "g2: arping $(vip a 4) got no answer"
[[ $got == "$admac" ]] || fail "g2: arping $(vip a 4) answered by '$got', not $admac"
ok "g2: arping $(vip a 4) -> $got"
n g1 ip neigh flush dev eth0
vping g1 "$(vip a 4)" || fail "g1: ping a's VIP after arping"
[[ $(n g1 ip -j neigh show to "$(vip a 4)" dev eth0 | jq -r '.[0].lladdr') == "$admac" ]] ||
	fail "g1: the kernel's neighbour entry for $(vip a 4) is not the adapter's MAC: $(n g1 ip neigh)"
ok "g1: the kernel resolved $(vip a 4) to $admac and pings a"

pretty "arping another general node: only that node answers"
got=$(arp_macs g1 "$(vip g2 4)" 3) || fail "g1: arping $(vip g2 4) (g2) got no answer"
[[ $got == "$M2" ]] || fail "g1: arping $(vip g2 4) answered by '$(echo $got)', not g2's $M2 alone"
ok "g1: arping $(vip g2 4) -> $got"

pretty "arping an address outside the VIP range: no answer"
got=$(arp_macs g1 "$OUTSIDE" 3) && fail "g1: arping $OUTSIDE was answered by $got"
ok "g1: arping $OUTSIDE: no answer"

# Last, as it takes g2's address over on the LAN for a moment.
pretty "DNS over TCP from x with g2's VIP (x's MAC, not g2's): dropped"
G2IP=$(vip g2 4)
mm0=$(dtcp mac_mismatch)
acc0=$(dtcp accepted)
dr0=$(tcp53_drops)
n x ip addr add "$G2IP/32" dev eth0
# x asks for the adapter's MAC again, naming g2's VIP as its own: the
# adapter's kernel now holds x's MAC for it, and the handshake completes
# with x.
n x ip neigh flush dev eth0
got=$(n x dig @"$(vip ad 4)" -b "$G2IP" +tcp +time=2 +tries=1 +short "$WWW_NAME" A 2>&1) &&
	fail "x: dig +tcp -b $G2IP @$(vip ad 4) was answered: $got"
n x ip addr del "$G2IP/32" dev eth0
[[ $got != *"$WWW_A"* ]] || fail "x: got an answer as $G2IP: $got"
(($(tcp53_drops) > dr0)) || fail "ad: nftables dropped none of x's TCP segments as $G2IP"
[[ $(dtcp mac_mismatch) == "$mm0" && $(dtcp accepted) == "$acc0" ]] ||
	fail "ad: a connection from x as $G2IP reached the listener: $(status ad | jq -c .dns_tcp)"
ok "x as $G2IP: its SYNs dropped by the adapter's nftables (MAC $XMAC, not $M2), no answer"
# The adapter resolves g2's VIP afresh: g2 alone answers, and is served.
n ad ip neigh del "$G2IP" dev "$ADAPTER_LAN" 2>/dev/null || true
got=$(gdig g2 +tcp +short "$WWW_NAME" A 2>&1) || fail "g2: dig +tcp $WWW_NAME A failed after x: $got"
[[ $got == "$WWW_A" ]] || fail "g2: dig +tcp $WWW_NAME A gave '$got' after x"
[[ $(dtcp accepted) == $((acc0 + 1)) && $(dtcp mac_mismatch) == "$mm0" ]] ||
	fail "ad: g2's connection not accepted after x: $(status ad | jq -c .dns_tcp)"
ok "g2: +tcp $WWW_NAME A $got, from its own MAC again"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
