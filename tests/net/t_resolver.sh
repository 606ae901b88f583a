#!/bin/bash
# The node's resolver: CYPHONIC names get the peer's VIPs (over UDP and
# TCP, any letter case), an unknown CYPHONIC name gets NXDOMAIN at once,
# every other name is forwarded to the upstream resolver.
#
#                          inet: bridge br0 (the "Internet")
#        +-------------------+-------------------+-------------------+
#        |                   |                   |                   |
#   ns cloud             ns dns              ns a (global)       ns c (global)
#   192.0.2.1/24         192.0.2.53/24       192.0.2.10/24       192.0.2.30/24
#   2001:db8::1/64       2001:db8::53/64     2001:db8::10/64     2001:db8::30/64
#   cyphonic-cloud       dnsmasq:            cyphonicd "a"       cyphonicd "c"
#                        www.example.org     resolver at its `status .dns`,
#                        = 192.0.2.80        upstream 192.0.2.53
#                          2001:db8::80
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
dns=$(status_get a .dns) || fail "a: status has no dns"
wait_for 5 n a sh -c "ss -Hlun 'sport = :${dns##*:}' | grep -q ." ||
	fail "a: nothing listens on udp $dns"
n a ss -Hltn "sport = :${dns##*:}" | grep -q . || fail "a: nothing listens on tcp $dns"
ok "a's resolver listens on $dns (udp and tcp)"

# rcode NAME dig-args...: the status dig reports (NOERROR, NXDOMAIN, ...).
rcode() { qdig "$@" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }

pretty "unknown CYPHONIC name: NXDOMAIN, at once"
for t in A AAAA; do
	t0=$(now_ms)
	rc=$(rcode a "nosuch.$CY_DOMAIN" $t)
	ms=$(($(now_ms) - t0))
	[[ $rc == NXDOMAIN ]] || fail "a: dig nosuch.$CY_DOMAIN $t: status '$rc', not NXDOMAIN"
	((ms < 1500)) || fail "a: NXDOMAIN for nosuch.$CY_DOMAIN $t took $ms ms"
	ok "nosuch.$CY_DOMAIN $t: NXDOMAIN in $ms ms"
done
[[ $(status a | jq '.tunnels | length') == 0 ]] || fail "a: an unknown name left a tunnel"

pretty "an ordinary name goes to the upstream"
got=$(qdig a +short "$WWW_NAME" A)
[[ $got == "$WWW_A" ]] || fail "a: dig $WWW_NAME A gave '$got', not $WWW_A"
got=$(qdig a +short "$WWW_NAME" AAAA)
[[ $got == "$WWW_AAAA" ]] || fail "a: dig $WWW_NAME AAAA gave '$got', not $WWW_AAAA"
log_grep dns "query\[A\] $WWW_NAME from 192\.0\.2\.10" ||
	fail "the upstream never saw a's query for $WWW_NAME"
ok "$WWW_NAME: A $WWW_A, AAAA $WWW_AAAA, answered by the upstream for a"
got=$(qdig a +tcp +short "$WWW_NAME" A)
[[ $got == "$WWW_A" ]] || fail "a: dig +tcp $WWW_NAME A gave '$got'"
ok "$WWW_NAME over TCP: $got"

pretty "CYPHONIC name over TCP (cold: route selection + tunnel)"
got=$(qdig a +tcp +short "c.$CY_DOMAIN" A)
[[ $got == "$(vip c 4)" ]] || fail "a: dig +tcp c.$CY_DOMAIN A gave '$got', not $(vip c 4)"
ok "dig +tcp c.$CY_DOMAIN A: $got"
got=$(qdig a +tcp +short "c.$CY_DOMAIN" AAAA)
[[ $got == "$(vip c 6)" ]] || fail "a: dig +tcp c.$CY_DOMAIN AAAA gave '$got', not $(vip c 6)"
ok "dig +tcp c.$CY_DOMAIN AAAA: $got"

pretty "names are case-insensitive, the trailing dot is optional"
got=$(qdig a +short "C.${CY_DOMAIN^^}." A)
[[ $got == "$(vip c 4)" ]] || fail "a: dig C.${CY_DOMAIN^^}. A gave '$got'"
ok "C.${CY_DOMAIN^^}. A: $got"
[[ $(rcode a "c.$CY_DOMAIN" A) == NOERROR ]] || fail "a: c.$CY_DOMAIN is not NOERROR"
[[ $(tunnel_count a c) == 1 ]] || fail "a: $(tunnel_count a c) tunnels to c after 4 queries"
vping a "$(vip c 4)" || fail "a: ping c's VIP4 after resolving"
ok "one tunnel to c, ping works"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
