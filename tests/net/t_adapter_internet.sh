#!/bin/bash
# The general node's ordinary Internet traffic, IPv4 and IPv6: routed by the
# adapter and NATed out of its uplink.  The general node fetches a page with
# curl from a plain web server on the "Internet", which has no route back to
# the VIP ranges (so the answer can only come back through the adapter's
# NAT), by address and by a name resolved through the adapter.  For IPv6
# the adapter's host forwards IPv6 (the operator's choice, nat.h): its RAs
# then name it the general node's default router.
#
#                          inet: bridge br0 (the "Internet")
#        +-------------------+-------------------+-------------------+
#        |                   |                   |                   |
#   ns cloud             ns dns              ns web              ns ad (adapter, global)
#   192.0.2.1/24         192.0.2.53/24       192.0.2.80/24       eth0 192.0.2.40/24
#                                            2001:db8::80/64     2001:db8::40/64
#   cyphonic-cloud       dnsmasq:            busybox httpd :80   cyphonicd "ad" [adapter]
#                        www.example.org                         lan0 (bridge)
#                        = 192.0.2.80                                 |
#                          2001:db8::80                      ns g1 (udhcpc, dhclient -6)
source "$(dirname "$0")/lib.sh"
require
require_adapter

M1=02:c1:00:00:00:01 M9=02:c1:00:00:00:09
PAGE="CYPHONIC general node test page $$"

pretty "topology: cloud, upstream DNS, web server, adapter ad with g1"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
upstream_dns
WEB6=$WWW_AAAA/64 web_server web "$WWW_A/24" "$PAGE"
adapter_global ad 192.0.2.40/24 2001:db8::40/64
n ad sysctl -qw net.ipv6.conf.all.forwarding=1
gn_host6 g1 ad "$M1"
gn_host x ad "$M9"
cloud_new
adapter_new ad
gn_new g1 ad "$M1"
start_cloud
start_adapter ad
udhcpc_once g1 || fail "g1: udhcpc got no lease"
[[ $(n g1 ip -j route show default | jq -r '.[0].gateway') == "$(vip ad 4)" ]] ||
	fail "g1: default route is not via the adapter: $(n g1 ip route)"
[[ -z $(n web ip route show 100.64.0.0/10) ]] || fail "web has a route to the VIP range"
ok "g1: $(gn_addr g1), default route via the adapter $(vip ad 4)"

pretty "g1 fetches a page by address"
got=$(n g1 curl -sS --max-time 10 "http://$WWW_A/") || fail "g1: curl http://$WWW_A/ failed: $got"
[[ $got == "$PAGE" ]] || fail "g1: curl http://$WWW_A/ gave '$got', not '$PAGE'"
ok "g1: http://$WWW_A/: '$got'"
log_grep web '192\.0\.2\.40\]?:[0-9]+: url:/' ||
	fail "web did not see the request from the adapter's uplink address 192.0.2.40: $(tail -n 4 "$(log_of web)")"
log_grep web "$(gn_addr g1 | sed 's/\./\\./g')" && fail "web saw g1's VIP: the request was not NATed"
ok "web saw the request from 192.0.2.40 (NATed by the adapter)"

pretty "g1 fetches a page by name (resolved through the adapter)"
ip=$(gdig g1 +short "$WWW_NAME" A) || fail "g1: dig $WWW_NAME A failed"
[[ $ip == "$WWW_A" ]] || fail "g1: dig $WWW_NAME A gave '$ip', not $WWW_A"
got=$(n g1 curl -sS --max-time 10 --resolve "$WWW_NAME:80:$ip" "http://$WWW_NAME/") ||
	fail "g1: curl http://$WWW_NAME/ failed: $got"
[[ $got == "$PAGE" ]] || fail "g1: curl http://$WWW_NAME/ gave '$got'"
ok "g1: http://$WWW_NAME/ ($ip): '$got'"

pretty "over IPv6: g1 fetches the page by address and by name"
dhclient6_once g1 || fail "g1: dhclient -6 got no lease"
wait_for 10 dad_done g1
have_default6() { [[ -n $(n g1 ip -6 route show default) ]]; }
wait_for 10 have_default6
[[ $(n g1 ip -j -6 route show default | jq -r '.[0].gateway') == fe80::* ]] ||
	fail "g1: IPv6 default route not via the adapter's link-local address: $(n g1 ip -6 route)"
n web ip -6 route get "$(vip g1 6)" >/dev/null 2>&1 &&
	fail "web has a route to g1's VIPv6: $(n web ip -6 route get "$(vip g1 6)")"
ok "g1: $(vip g1 6), IPv6 default route $(n g1 ip -6 route show default | head -n1)"
got=$(n g1 curl -sS -6 --max-time 10 "http://[$WWW_AAAA]/") ||
	fail "g1: curl http://[$WWW_AAAA]/ failed: $got"
[[ $got == "$PAGE" ]] || fail "g1: curl http://[$WWW_AAAA]/ gave '$got', not '$PAGE'"
log_grep web '2001:db8::40\]?:[0-9]+: url:/' ||
	fail "web did not see the IPv6 request from the adapter's uplink 2001:db8::40: $(tail -n 4 "$(log_of web)")"
log_grep web "$(vip g1 6)" && fail "web saw g1's VIPv6: the request was not NATed"
ok "g1: http://[$WWW_AAAA]/: '$got', seen from 2001:db8::40 (NATed by the adapter)"
ip=$(n g1 dig @"$(vip ad 6)" +time=5 +tries=1 +short "$WWW_NAME" AAAA) ||
	fail "g1: dig $WWW_NAME AAAA failed"
[[ $ip == "$WWW_AAAA" ]] || fail "g1: dig $WWW_NAME AAAA gave '$ip', not $WWW_AAAA"
got=$(n g1 curl -sS -6 --max-time 10 --resolve "$WWW_NAME:80:[$ip]" "http://$WWW_NAME/") ||
	fail "g1: curl -6 http://$WWW_NAME/ failed: $got"
[[ $got == "$PAGE" ]] || fail "g1: curl -6 http://$WWW_NAME/ gave '$got'"
ok "g1: http://$WWW_NAME/ ($ip): '$got'"

pretty "a LAN host that is no general node, with g1's VIP as its source: not forwarded"
n x ip addr add "$(vip g1 4)/32" dev eth0
n x ip route add "$(vip ad 4)/32" dev eth0
n x ip route add default via "$(vip ad 4)"
n x ip neigh replace "$(vip ad 4)" lladdr "$(adapter_mac ad)" dev eth0 nud permanent
# (Were it forwarded, web's answer would go to g1, the VIP's owner, which
# resets it: so count what reaches web, not what it answers.)
pcap=$RUN_DIR/web-x.pcap
n web timeout 30 tcpdump -i eth0 -n -U -w "$pcap" "tcp port 80" 2>"$pcap.err" &
tpid=$!
wait_for 10 grep -q 'listening on' "$pcap.err"
got=$(n x curl -sS --max-time 3 "http://$WWW_A/" 2>&1) && fail "x as $(vip g1 4): curl got '$got'"
kill -TERM "$tpid" 2>/dev/null || true
wait "$tpid" || true
seen=$(tcpdump -r "$pcap" -n 2>/dev/null | wc -l)
[[ $seen == 0 ]] || fail "web saw $seen packets from x with g1's VIP: $(tcpdump -r "$pcap" -n 2>/dev/null | head -n 2)"
ok "x ($M9) as $(vip g1 4): no packet reached the web server ($(echo $got | head -c 60))"

stop_daemon web 0 143
stop_all
ok "all daemons stopped cleanly, no sanitizer report"
