#!/bin/bash
# General nodes over IPv6, as stock clients see the adapter: rdisc6 sees its
# Router Advertisement (Managed and Other set, the overlay's range as a route
# and on link, the adapter as DNS server, the tunnel MTU, no default route);
# `dhclient -6` on a dual-stack general node and `dhcpcd` on an IPv6-only one
# (no IPv4 at all) each get exactly their enrolled VIPv6, and the kernel's
# duplicate-address detection succeeds; `dig AAAA` through the adapter
# (its VIPv6 and its link-local address, UDP and TCP) answers a node's VIPv6; ping -6 and 20 MB over TCP both ways arrive
# intact; the node reaches each general node back by FQDN; an unknown MAC
# gets no DHCPv6 lease.
#
#                          inet: bridge br0 (the "Internet")
#        +-------------------+-------------------+-------------------+
#        |                   |                   |                   |
#   ns cloud             ns dns              ns a (global)       ns ad (adapter, global)
#   192.0.2.1/24         192.0.2.53/24       192.0.2.10/24       eth0 192.0.2.40/24
#   2001:db8::1/64                           2001:db8::10/64     2001:db8::40/64
#   cyphonic-cloud       dnsmasq             cyphonicd "a"       cyphonicd "ad" [adapter]
#                                                                lan0 (bridge)
#                                                      +-------------+-------------+
#                                                      |             |             |
#                                                   ns g1         ns g2         ns x
#                                                   MAC M1        MAC M2        MAC M9
#                                                   dual stack    IPv6 only     not enrolled
#                                                   dhclient -6   dhcpcd        dhclient -6
source "$(dirname "$0")/lib.sh"
require
require_adapter
require_adapter6

M1=02:c1:00:00:00:01 M2=02:c1:00:00:00:02 M9=02:c1:00:00:00:09

pretty "topology: cloud, upstream DNS, node a, adapter ad; g1 (dual stack), g2 (IPv6 only), x"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
upstream_dns
inet_host a 192.0.2.10/24 2001:db8::10/64
adapter_global ad 192.0.2.40/24 2001:db8::40/64
gn_host6 g1 ad "$M1"
gn_host6 g2 ad "$M2" v6only
gn_host6 x ad "$M9"
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
ad6=$(vip ad 6)
a6=$(vip a 6)
ok "adapter ad registered, VIPv6 $ad6; node a VIPv6 $a6"

pretty "rdisc6 on g1: the adapter's Router Advertisement"
ra=$(n g1 rdisc6 -1 -r 3 -w 1500 eth0 2>&1) || fail "g1: rdisc6 got no RA: $ra"
say "$(tr '\n' ';' <<<"$ra" | tr -s ' ')"
grep -Eq '^ *Stateful address conf\. *: *Yes' <<<"$ra" || fail "g1: RA without the Managed flag: $ra"
grep -Eq '^ *Stateful other conf\. *: *Yes' <<<"$ra" || fail "g1: RA without the Other flag: $ra"
grep -Eq '^ *Router lifetime *: *0 ' <<<"$ra" || fail "g1: RA names the adapter a default router: $ra"
# cyphonic init's default VIPv6 range: a ULA /48, VIPs numbered from ::1.
net6=${ad6%::*}::/48
grep -Eq "^ *Route *: *$net6\$" <<<"$ra" || fail "g1: RA has no route for the overlay's $net6: $ra"
grep -Eq "^ *Prefix *: *$net6\$" <<<"$ra" || fail "g1: RA puts no overlay prefix $net6 on link: $ra"
grep -Eq '^ *Autonomous address conf\. *: *No' <<<"$ra" || fail "g1: RA prefix is for autoconfiguration: $ra"
grep -Eq "^ *Recursive DNS server *: *$ad6\$" <<<"$ra" || fail "g1: RA names no DNS server $ad6: $ra"
grep -Eq '^ *MTU *: *1[0-9]{3} bytes' <<<"$ra" || fail "g1: RA has no MTU: $ra"
grep -Eq "^ *from fe80::" <<<"$ra" || fail "g1: RA not from a link-local address: $ra"
ok "g1: RA with M and O, route and on-link prefix $net6 (no SLAAC), RDNSS $ad6, MTU, no default route"
adll=$(sed -n 's/^ *from \(fe80::[0-9a-f:]*\).*/\1/p' <<<"$ra")

# check_lease6 GN: GN's DHCPv6 lease is its enrolled VIPv6 with the adapter
# as DNS server and the cloud's domain; eth0 holds the address past the
# kernel's duplicate-address detection.
check_lease6()
{
	local gn=$1 want got
	want=$(vip "$gn" 6)
	got=$(dhcp6_get "$gn" ip6)
	[[ $got == "$want" ]] || fail "$gn: leased '$got', not its VIPv6 $want"
	[[ $(dhcp6_get "$gn" dns6) == "$ad6" ]] ||
		fail "$gn: DNS server '$(dhcp6_get "$gn" dns6)', not the adapter's VIPv6 $ad6"
	[[ $(dhcp6_get "$gn" domain6) == "$CY_DOMAIN"* ]] ||
		fail "$gn: domain '$(dhcp6_get "$gn" domain6)', not $CY_DOMAIN"
	wait_for 10 dad_done "$gn"
	[[ $(gn_addr6 "$gn") == "$want" ]] || fail "$gn: eth0 has '$(gn_addr6 "$gn")', not $want"
	[[ ! $(gn_addr6_flags "$gn") =~ dadfailed ]] ||
		fail "$gn: duplicate-address detection failed for $want: $(gn_addr6_flags "$gn")"
	ok "$gn: $want, DNS $ad6, domain $CY_DOMAIN, duplicate-address detection passed"
}

pretty "dhclient -6 on g1"
t0=$(now_ms)
dhclient6_once g1 || fail "g1: dhclient -6 got no lease: $(tail -n 5 "$LOG_DIR/dhclient6-g1.log")"
ok "g1: lease in $(($(now_ms) - t0)) ms"
check_lease6 g1

pretty "dhcpcd on g2 (IPv6 only)"
t0=$(now_ms)
dhcpcd6_start g2 || fail "g2: dhcpcd got no lease: $(tail -n 20 "$LOG_DIR/dhcpcd-g2.log")"
ok "g2: lease in $(($(now_ms) - t0)) ms"
check_lease6 g2
[[ -z $(gn_addr g2) ]] || fail "g2 has an IPv4 address: $(gn_addr g2)"

pretty "the adapter registered both on their behalf"
cloud_registered() { [[ $(list_get "$1" .registered) == true ]]; }
wait_for 20 cloud_registered g1
wait_for 20 cloud_registered g2
lease6_ok() { [[ $(gn_status ad "$1" '.lease6 // 0') -gt 0 ]]; }
lease6_ok "$M1" && lease6_ok "$M2" || fail "ad: status: $(status ad | jq -c .general_nodes)"
ok "ad status: $(status ad | jq -c '[.general_nodes[] | {fqdn, vip6, lease6, registered}]')"

for gn in g1 g2; do
	pretty "$gn: dig AAAA, ping -6 and 20 MB both ways with node a"
	got=$(n "$gn" dig @"$ad6" +time=5 +tries=1 +short AAAA "$(fqdn a)")
	[[ $got == "$a6" ]] || fail "$gn: AAAA $(fqdn a) through the adapter is '$got', not $a6"
	got2=$(n "$gn" dig @"$ad6" +tcp +time=5 +tries=1 +short AAAA "$(fqdn a)")
	got3=$(n "$gn" dig @"$adll%eth0" +time=5 +tries=1 +short AAAA "$(fqdn a)")
	got4=$(n "$gn" dig @"$adll%eth0" +tcp +time=5 +tries=1 +short AAAA "$(fqdn a)")
	[[ $got2 == "$a6" && $got3 == "$a6" && $got4 == "$a6" ]] ||
		fail "$gn: AAAA $(fqdn a) over TCP '$got2', at $adll '$got3', over TCP there '$got4'"
	ok "$gn: $(fqdn a) AAAA $got, over UDP and TCP, at $ad6 and $adll"
	vping "$gn" "$a6" || fail "$gn: ping -6 $a6 gets no replies"
	ok "$gn: ping -6 node a $a6"
	transfer "$gn" a "$a6" 20
	ok "$gn -> a: 20 MB intact over IPv6 ($XFER_MBPS Mbit/s)"
	got=$(resolve a "$gn" AAAA)
	[[ $got == "$(vip "$gn" 6)" ]] || fail "a: AAAA $(fqdn "$gn") is '$got', not $(vip "$gn" 6)"
	vping a "$got" || fail "a: ping -6 $gn ($got) gets no replies"
	transfer a "$gn" "$got" 20
	ok "a -> $gn: $(fqdn "$gn") AAAA $got, ping -6, 20 MB intact ($XFER_MBPS Mbit/s)"
done

pretty "adapter restart: the DHCPv6 leases survive, g1 keeps working"
stop_daemon ad
start_adapter ad
wait_for 10 lease6_ok "$M1"
wait_for 10 lease6_ok "$M2"
kill -0 "$(cat "$RUN_DIR/g1.dhclient6.pid")" || fail "g1: dhclient -6 is gone"
# As a rebooting client: the running dhclient stopped without releasing
# (-x), a new one with the same lease file asks the restarted adapter.
n g1 dhclient -6 -x -pf "$RUN_DIR/g1.dhclient6.pid" >/dev/null 2>&1
dhclient6_once g1 || fail "g1: dhclient -6 got no lease from the restarted adapter"
[[ $(dhcp6_get g1 ip6) == "$(vip g1 6)" ]] || fail "g1: leased '$(dhcp6_get g1 ip6)' after the restart"
vping g1 "$a6" || fail "g1: ping -6 a after the adapter's restart"
ok "ad restarted: leases of g1 and g2 loaded ($(status ad | jq -c '[.general_nodes[] | .lease6]')), g1 got $(vip g1 6) again and pings a"

pretty "unenrolled MAC x: no DHCPv6 lease"
dhclient6_once x && fail "x (unenrolled $M9) got a lease: $(cat "$(dhcp6_out x)")"
[[ -z $(gn_addr6 x) ]] || fail "x has an address: $(gn_addr6 x)"
[[ $(status_get ad .lan.dhcp6_unknown_mac) -ge 1 ]] ||
	fail "ad: dhcp6_unknown_mac $(status_get ad .lan.dhcp6_unknown_mac)"
ok "x: no lease; ad counted $(status_get ad .lan.dhcp6_unknown_mac) messages from unknown MACs"

stop_daemon dhcpcd-g2
stop_all
ok "all daemons stopped cleanly, no sanitizer report"
