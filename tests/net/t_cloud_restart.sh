#!/bin/bash
# Restart the cloud: the nodes notice, then register again on their own,
# with the same VIPs.
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+
#        |                      |                       |
#   ns cloud                ns a (global)          ns r (NAPT router)
#   192.0.2.1/24            192.0.2.10/24          eth0 192.0.2.20/24
#   2001:db8::1/64          2001:db8::10/64        nft masquerade on eth0
#   cyphonic-cloud          cyphonicd "a"          lan 198.51.100.1/24
#   (stopped, started)                                  |
#                                                  ns b (behind NAPT)
#                                                  198.51.100.10/24
#                                                  cyphonicd "b"
source "$(dirname "$0")/lib.sh"
require

topo_basic
cloud_new
node_new a
node_new b
start_cloud
start_node a a
start_node b b
wait_registered a
wait_registered b
declare -A V4 V6
for x in a b; do
	V4[$x]=$(status_get "$x" .vip4)
	V6[$x]=$(status_get "$x" .vip6)
done
ok "registered: a ${V4[a]} ${V6[a]}, b ${V4[b]} ${V6[b]}"

pretty "stop the cloud (SIGTERM)"
stop_daemon cloud
ok "cloud exited 0, no sanitizer report"
wait_for 40 is_unregistered a
wait_for 40 is_unregistered b
ok "both nodes report registered=false"

pretty "start the cloud again"
start_cloud
wait_registered a 40
wait_registered b 40
ok "both registered again"
for x in a b; do
	[[ $(status_get "$x" .vip4) == "${V4[$x]}" ]] || fail "$x: vip4 changed"
	[[ $(status_get "$x" .vip6) == "${V6[$x]}" ]] || fail "$x: vip6 changed"
	[[ $(list_get "$x" .vip4) == "${V4[$x]}" ]] || fail "$x: list vip4 changed"
	[[ $(list_get "$x" .registered) == true ]] || fail "$x: list says not registered"
	tun_has "$x" cy0 "${V4[$x]}" || fail "$x: ${V4[$x]} no longer on cy0"
	tun_has "$x" cy0 "${V6[$x]}" || fail "$x: ${V6[$x]} no longer on cy0"
done
[[ $(status_get b .nat) == true ]] || fail "b: nat is not true after the restart"
ok "same VIPs as before, still on cy0"

stop_all
ok "all daemons stopped cleanly"
