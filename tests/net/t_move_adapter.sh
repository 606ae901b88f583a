#!/bin/bash
# An adapter moves (docs/mobility.md): its uplink goes from behind a NAPT to
# a global network while a general node behind it has a TCP session to a
# node.  The general node takes no part: its DHCP client ran once, before,
# and nothing on it changes; its session carries on, intact.
#
#                          inet: bridge br0 (the "Internet")
#     +-----------------+------------------+----------------------+
#  ns cloud          ns a (global)       ns r (NAPT)            ns ad, eth1
#  192.0.2.1/24      192.0.2.10/24       eth0 192.0.2.20/24     (move) 192.0.2.41/24
#  2001:db8::1/64    2001:db8::10/64     lan 198.51.100.1/24
#                                               |
#                                        ns ad (adapter), eth0 198.51.100.40/24
#                                        lan0 (bridge) -- ns g1 (general node)
source "$(dirname "$0")/lib.sh"
require
require_adapter

M1=02:c1:00:00:00:01

pretty "topology: node a, adapter ad behind NAPT r with a spare link, g1 behind ad"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
upstream_dns
inet_host a 192.0.2.10/24 2001:db8::10/64
napt r 192.0.2.20/24 198.51.100.1/24
adapter_behind ad r 198.51.100.40/24
veth ad eth1 inet p-ad2
n inet ip link set p-ad2 master br0
gn_host g1 ad "$M1"
cloud_new
node_new a
node_upstream a "$UPSTREAM4"
adapter_new ad
gn_new g1 ad "$M1"
start_cloud
start_node a a
start_adapter ad
wait_registered a
udhcpc_once g1 || fail "g1: udhcpc got no lease"
G1=$(gn_addr g1)
[[ $G1 == "$(vip g1 4)" ]] || fail "g1: address '$G1', not $(vip g1 4)"
ok "ad registered behind r; g1 leased $G1"

a_sees_g1_at() { [[ $(ep_host "$(tunnel_get a g1 .endpoint)") == "$1" ]]; }

pretty "a TCP session g1 -> a"
stream_start g1 a "$(vip a 4)" 2
stream_chunk 0
wait_for 5 a_sees_g1_at 192.0.2.20
ok "1 MB arrived; a sees g1 at ad's NAPT router"

pretty "the adapter's uplink moves: behind the NAPT -> global"
n ad ip addr add 192.0.2.41/24 dev eth1
t0=$(now_ms)
n ad ip link set eth0 down
wait_for 5 a_sees_g1_at 192.0.2.41
t1=$(now_ms)
stream_chunk 1
stream_finish
ok "a follows g1 to 192.0.2.41 ($((t1 - t0)) ms); 2 MB intact"

[[ $(status_get ad .nat) == false ]] || fail "ad: still behind a NAPT after the move"
[[ $(gn_status ad "$M1" .registered) == true ]] || fail "ad: g1's identity is not registered"
ok "ad is global now; g1's identity registered from there"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
