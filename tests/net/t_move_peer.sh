#!/bin/bash
# Mobility of the side that accepted the tunnel, and of both sides at once
# (docs/mobility.md): m opens a TCP session to a (m initiates the tunnel);
#  1. a moves to another global address: m follows it;
#  2. a and m move at the same moment: each one's move probe goes to the
#     other's old address, and both converge through the NMS.
#
#                          inet: bridge br0 (the "Internet")
#     +-----------------+------------------+----------------------+
#  ns cloud          ns a                ns r (NAPT)            ns m, eth1
#  192.0.2.1/24      eth0 192.0.2.10/24  eth0 192.0.2.20/24     (2) 192.0.2.40/24
#  2001:db8::1/64    (1) eth1 192.0.2.11  lan 198.51.100.1/24
#                    (2) eth0 192.0.2.12        |
#                                        ns m, eth0 198.51.100.10/24 (down at 2)
source "$(dirname "$0")/lib.sh"
require

pretty "topology: a global with a spare link, m behind NAPT r with a spare link"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
inet_host a 192.0.2.10/24 -
veth a eth1 inet p-a2
n inet ip link set p-a2 master br0
napt r 192.0.2.20/24 198.51.100.1/24
lan_host m r 198.51.100.10/24
veth m eth1 inet p-m2
n inet ip link set p-m2 master br0
nodes_up a m
VA=$(vip a 4)
ok "a and m registered"

sees() { [[ $(ep_host "$(tunnel_get "$1" "$2" .endpoint)") == "$3" ]]; }

pretty "a TCP session m -> a; m opened the tunnel, a accepted it"
stream_start m a "$VA" 3
stream_chunk 0
wait_for 5 sees m a 192.0.2.10
ok "1 MB arrived; m sees a at 192.0.2.10"

pretty "move 1: a (the accepting side) moves to 192.0.2.11"
n a ip addr add 192.0.2.11/24 dev eth1
t0=$(now_ms)
n a ip link set eth0 down
wait_for 5 sees m a 192.0.2.11
t1=$(now_ms)
stream_chunk 1
ok "m follows a ($((t1 - t0)) ms); 2 MB arrived"

pretty "move 2: a and m move at the same moment"
n a ip addr flush dev eth0
n a ip addr add 192.0.2.12/24 dev eth0
n m ip addr add 192.0.2.40/24 dev eth1
t0=$(now_ms)
n a ip link set eth0 up
n a ip link set eth1 down
n m ip link set eth0 down
wait_for 10 sees m a 192.0.2.12
wait_for 10 sees a m 192.0.2.40
t1=$(now_ms)
stream_chunk 2
stream_finish
ok "both found each other through the NMS ($((t1 - t0)) ms); 3 MB intact"

[[ $(tunnel_count a m) == 1 && $(tunnel_count m a) == 1 ]] ||
	fail "not one tunnel each way: a $(tunnel_count a m), m $(tunnel_count m a)"
no_drops "a m" "auth malformed stale_move"
stop_all
ok "all daemons stopped cleanly, no sanitizer report"
