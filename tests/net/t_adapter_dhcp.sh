#!/bin/bash
# The adapter's DHCP server, as stock clients see it: busybox udhcpc and
# isc-dhcp-client each get the general node's enrolled VIP, with the adapter
# as router and DNS server and a netmask that puts peer VIPs on-link; an
# unenrolled MAC gets no lease and is logged once; `cyphonic status` on the
# adapter lists the general nodes with their leases, which survive an
# adapter restart (a renew afterwards gets the same address).
#
#                          inet: bridge br0 (the "Internet")
#        +-------------------+-------------------+-------------------+
#        |                   |                   |                   |
#   ns cloud             ns dns              ns a (global)       ns ad (adapter, global)
#   192.0.2.1/24         192.0.2.53/24       192.0.2.10/24       eth0 192.0.2.40/24
#   cyphonic-cloud       dnsmasq             cyphonicd "a"       cyphonicd "ad" [adapter]
#                                                                lan0 (bridge, no address)
#                                                      +-------------+-------------+
#                                                      |             |             |
#                                                   ns g1         ns g2         ns x
#                                                   MAC M1        MAC M2        MAC M9
#                                                   udhcpc        dhclient      not enrolled
source "$(dirname "$0")/lib.sh"
require
require_adapter

VIP4_NET=100.64.0.0 VIP4_LEN=10 # cyphonic init's default VIPv4 range
M1=02:c1:00:00:00:01 M2=02:c1:00:00:00:02 M9=02:c1:00:00:00:09

pretty "topology: cloud, upstream DNS, node a, adapter ad; g1, g2 enrolled, x not"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
upstream_dns
inet_host a 192.0.2.10/24 2001:db8::10/64
adapter_global ad 192.0.2.40/24 2001:db8::40/64
gn_host g1 ad "$M1"
gn_host g2 ad "$M2"
gn_host x ad "$M9"
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
advip=$(vip ad 4)
admac=$(adapter_mac ad)
ok "adapter ad registered, VIP4 $advip, LAN MAC $admac"

# check_lease GN: GN's last lease gives its enrolled VIP, a netmask that puts
# the VIP range (peer VIPs) on-link, the adapter as router and DNS server,
# the cloud's domain and an MTU; and GN's eth0 holds the address.
check_lease()
{
	local gn=$1 want got
	want=$(vip "$gn" 4)
	got=$(dhcp_get "$gn" ip)
	[[ $got == "$want" ]] || fail "$gn: leased '$got', not its VIP $want"
	got=$(dhcp_get "$gn" mask)
	((got <= VIP4_LEN)) && in_prefix "$(vip a 4)" "$want" "$got" ||
		fail "$gn: netmask /$got does not put the peer VIP $(vip a 4) on-link"
	[[ $(dhcp_get "$gn" router) == "$advip" ]] ||
		fail "$gn: router '$(dhcp_get "$gn" router)', not the adapter's VIP $advip"
	[[ $(dhcp_get "$gn" dns) == "$advip" ]] ||
		fail "$gn: DNS server '$(dhcp_get "$gn" dns)', not the adapter's VIP $advip"
	[[ $(dhcp_get "$gn" serverid) == "$advip" ]] ||
		fail "$gn: server identifier '$(dhcp_get "$gn" serverid)', not $advip"
	[[ $(dhcp_get "$gn" domain) == "$CY_DOMAIN" ]] ||
		fail "$gn: domain '$(dhcp_get "$gn" domain)', not $CY_DOMAIN"
	got=$(dhcp_get "$gn" mtu)
	[[ $got =~ ^[0-9]+$ ]] && ((got >= 1280 && got <= 1500)) ||
		fail "$gn: MTU option '$got' (expected the tunnel MTU)"
	[[ $(gn_addr "$gn") == "$want" ]] || fail "$gn: eth0 has '$(gn_addr "$gn")', not $want"
	ok "$gn: $want/$(dhcp_get "$gn" mask), router and DNS $advip, domain $CY_DOMAIN, MTU $got"
}

# lease_ok AD MAC: the adapter's status lists MAC's general node with a lease.
LEASE_OK='(.lease | if type == "number" then . > 0 elif type == "string" then length > 0
	elif type == "object" then true else false end)'
lease_ok() { [[ $(gn_status "$1" "$2" "$LEASE_OK") == true ]]; }

# check_gn_status AD GN MAC: AD's status lists GN with fqdn, mac, vip4, lease.
check_gn_status()
{
	local ad=$1 gn=$2 mac=$3 got
	got=$(gn_status "$ad" "$mac" .fqdn) || fail "$ad: status has no general node $mac: $(status "$ad" | jq -c .general_nodes)"
	[[ ${got%.} == "$(fqdn "$gn")" ]] || fail "$ad: general node $mac has fqdn '$got', not $(fqdn "$gn")"
	got=$(gn_status "$ad" "$mac" .vip4)
	[[ $got == "$(vip "$gn" 4)" ]] || fail "$ad: general node $mac has vip4 '$got', not $(vip "$gn" 4)"
	lease_ok "$ad" "$mac" || fail "$ad: general node $mac has no lease: $(status "$ad" | jq -c .general_nodes)"
	ok "$ad status: $(status "$ad" | jq -c --arg m "$mac" '.general_nodes[] | select((.mac | ascii_downcase) == $m)')"
}

pretty "udhcpc on g1"
t0=$(now_ms)
udhcpc_start g1
ok "g1: lease in $(($(now_ms) - t0)) ms"
check_lease g1
vping g1 "$advip" || fail "g1: ping the adapter ($advip) gets no replies"
ok "g1: ping the adapter $advip"

pretty "dhclient on g2"
t0=$(now_ms)
dhclient_once g2 || fail "g2: dhclient got no lease: $(tail -n 5 "$LOG_DIR/dhclient-g2.log")"
ok "g2: lease in $(($(now_ms) - t0)) ms"
check_lease g2

pretty "the adapter registered the leased general nodes on their behalf"
cloud_registered() { [[ $(list_get "$1" .registered) == true ]]; }
wait_for 20 cloud_registered g1
wait_for 20 cloud_registered g2
ok "cyphonic list: g1 and g2 registered"

pretty "adapter status lists the general nodes"
[[ $(status ad | jq -r '.general_nodes | type') == array ]] ||
	fail "ad: status has no general_nodes array: $(status ad | jq -c .)"
check_gn_status ad g1 "$M1"
check_gn_status ad g2 "$M2"

pretty "unenrolled MAC x: no lease, logged once"
udhcpc_once x 3 && fail "x (unenrolled $M9) got a lease: $(cat "$(dhcp_out x)")"
[[ -z $(gn_addr x) ]] || fail "x has an address: $(gn_addr x)"
udhcpc_once x 3 && fail "x (unenrolled $M9) got a lease on the second try"
# The unknown MAC in a line above debug level (debug lines may trace each frame).
macl=$(tail -c +"$((${DLOGOFF[ad]} + 1))" "$(log_of ad)" | grep -i -F -- "$M9" | grep -v ' debug: ' || true)
lines=$(grep -c . <<<"$macl" || true)
[[ $lines == 1 ]] || fail "ad: the log names the unknown MAC $M9 in $lines lines (expected 1): $macl"
ok "x: no lease after 6 DISCOVERs; ad logged once: $macl"
[[ $(gn_status ad "$M9" .mac 2>/dev/null) == "" ]] || fail "ad: status lists the unknown MAC $M9"

pretty "adapter restart: leases survive, a renew keeps the address"
stop_daemon ad
start_adapter ad
wait_for 10 lease_ok ad "$M1"
check_gn_status ad g1 "$M1"
check_gn_status ad g2 "$M2"
n0=$(wc -l <"$(dhcp_out g1).events")
kill -USR1 "${DPID[udhcpc-g1]}"
renewed() { tail -n +"$((n0 + 1))" "$(dhcp_out g1).events" | grep -q '^renew '; }
wait_for 15 renewed
got=$(tail -n +"$((n0 + 1))" "$(dhcp_out g1).events" | grep '^renew ' | head -n1)
[[ $got == "renew $(vip g1 4)" ]] || fail "g1: renew after the restart gave '$got', not $(vip g1 4)"
check_lease g1
ok "g1: renewed $(vip g1 4) from the restarted adapter"
vping g1 "$advip" || fail "g1: ping the adapter after its restart"

stop_daemon udhcpc-g1 0 143
stop_all
ok "all daemons stopped cleanly, no sanitizer report"
