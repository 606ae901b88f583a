#!/bin/bash
# Two nodes register: one global, one behind a real NAPT (nftables
# masquerade).  Their VIPs are on their TUN devices and `nat` tells them apart.
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+
#        |                      |                       |
#   ns cloud                ns a (global)          ns r (NAPT router)
#   192.0.2.1/24            192.0.2.10/24          eth0 192.0.2.20/24
#   2001:db8::1/64          2001:db8::10/64        nft masquerade on eth0
#   cyphonic-cloud          cyphonicd "a"          lan 198.51.100.1/24
#   AS :7443 NMS :7444                                  |
#                                                  ns b (behind NAPT)
#                                                  198.51.100.10/24, IPv4 only
#                                                  cyphonicd "b"
source "$(dirname "$0")/lib.sh"
require

pretty "topology: cloud, a global, b behind NAPT r"
topo_basic
cloud_new
node_new a
node_new b
start_cloud
start_node a a
start_node b b

pretty "both nodes register"
wait_registered a; ok "a registered after ${REG_MS} ms"
wait_registered b; ok "b registered after ${REG_MS} ms"

pretty "identity and VIPs"
for x in a b; do
	vip4=$(list_get "$x" .vip4)
	vip6=$(list_get "$x" .vip6)
	[[ $vip4 =~ ^100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\.[0-9]+\.[0-9]+$ ]] ||
		fail "$x: vip4 '$vip4' is not in 100.64.0.0/10"
	[[ $vip6 =~ ^f[cd][0-9a-f]{2}: ]] || fail "$x: vip6 '$vip6' is not a ULA"
	[[ $(status_get "$x" .vip4) == "$vip4" ]] || fail "$x: status vip4 != list vip4 ($vip4)"
	[[ $(status_get "$x" .vip6) == "$vip6" ]] || fail "$x: status vip6 != list vip6 ($vip6)"
	[[ $(status_get "$x" .fqdn) == "$x.$CY_DOMAIN" ]] || fail "$x: status fqdn"
	[[ $(list_get "$x" .fqdn) == "$x.$CY_DOMAIN" ]] || fail "$x: list fqdn"
	[[ $(list_get "$x" .registered) == true ]] || fail "$x: list says not registered"
	wait_for 5 tun_has "$x" cy0 "$vip4" || fail "$x: $vip4 is not on cy0"
	wait_for 5 tun_has "$x" cy0 "$vip6" || fail "$x: $vip6 is not on cy0"
	ok "$x.$CY_DOMAIN: $vip4 and $vip6 on cy0"
done
[[ $(list_get a .vip4) != "$(list_get b .vip4)" ]] || fail "a and b have the same vip4"
[[ $(list_get a .vip6) != "$(list_get b .vip6)" ]] || fail "a and b have the same vip6"

pretty "nat tells the NAPT node apart"
[[ $(status_get a .nat) == false ]] || fail "a: status nat is not false"
[[ $(list_get a .nat) == false ]] || fail "a: list nat is not false"
[[ $(status_get b .nat) == true ]] || fail "b: status nat is not true"
[[ $(list_get b .nat) == true ]] || fail "b: list nat is not true"
obs_a=$(status_get a .observed)
obs_b=$(status_get b .observed)
[[ $(ep_host "$obs_a") == 192.0.2.10 || $(ep_host "$obs_a") == 2001:db8::10 ]] ||
	fail "a: observed $obs_a is not a's own address"
[[ $(ep_host "$obs_b") == 192.0.2.20 ]] || fail "b: observed $obs_b is not the router's WAN"
[[ $(list_get b .observed) == "$obs_b" ]] || fail "b: list observed != status observed"
ok "a: nat=false observed $obs_a; b: nat=true observed $obs_b"

pretty "keepalives hold the registrations"
k0=$(stat_get .nms.keepalives)
wait_for 15 eval '(( $(stat_get .nms.keepalives) >= k0 + 4 ))'
is_registered a && is_registered b || fail "a node lost its registration"
(( $(stat_get .nms.registrations) >= 2 )) || fail "nms.registrations < 2"
ok "keepalives acked, both still registered"

pretty "a stops cleanly: deregistered, cy0 gone"
stop_daemon a
wait_for 10 eval '[[ $(list_get a .registered) == false ]]'
n a ip link show cy0 >/dev/null 2>&1 && fail "a: cy0 still exists after the daemon stopped"
is_registered b || fail "b lost its registration"
ok "a deregistered; b unaffected"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
