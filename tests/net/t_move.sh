#!/bin/bash
# Mobility (docs/mobility.md): a node with a TCP session open moves from
# behind a NAPT to a global IPv4 network, then to an IPv6-only network.
# The session carries on and its bytes arrive intact, the VIP never
# changes, and the correspondent's status follows the node each time.
#
#                          inet: bridge br0 (the "Internet")
#     +-----------------+-----------------+------------------------+
#     |                 |                 |                        |
#  ns cloud          ns a (global)     ns r (NAPT router)       ns m, eth1
#  192.0.2.1/24      192.0.2.10/24     eth0 192.0.2.20/24       (1) 192.0.2.40/24
#  2001:db8::1/64    2001:db8::10/64   lan 198.51.100.1/24      (2) 2001:db8::40/64 only
#  cyphonic-cloud    cyphonicd "a"            |
#                                      ns m, eth0 198.51.100.10/24 (start; down at (1))
#                                      cyphonicd "m"
source "$(dirname "$0")/lib.sh"
require

pretty "topology: a global, m behind NAPT r with a spare link to the Internet"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
inet_host a 192.0.2.10/24 2001:db8::10/64
napt r 192.0.2.20/24 198.51.100.1/24
lan_host m r 198.51.100.10/24
veth m eth1 inet p-m2
n inet ip link set p-m2 master br0
nodes_up a m
VA=$(vip a 4)
VM=$(vip m 4)
[[ $(status_get m .nat) == true ]] || fail "m: nat is not true behind r"
ok "a and m registered; m behind NAPT (vip4 $VM)"

# a's tunnel to m has its endpoint on an address matching the ERE $1.
a_sees_m_at() { [[ $(ep_host "$(tunnel_get a m .endpoint)") =~ ^($1)$ ]]; }
m_observed() { [[ $(ep_host "$(status_get m .observed)") =~ ^($1)$ ]]; }

pretty "a TCP session m -> a, fed a megabyte at a time"
stream_start m a "$VA" 3
stream_chunk 0
wait_for 5 a_sees_m_at '192\.0\.2\.20'
ok "1 MB arrived; a sees m at its NAPT router 192.0.2.20"

pretty "move 1: behind the NAPT -> global IPv4"
n m ip addr add 192.0.2.40/24 dev eth1
t0=$(now_ms)
n m ip link set eth0 down
wait_for 5 a_sees_m_at '192\.0\.2\.40'
t1=$(now_ms)
wait_for 5 m_observed '192\.0\.2\.40'
[[ $(status_get m .nat) == false ]] || fail "m: still behind a NAPT after moving to 192.0.2.40"
stream_chunk 1
ok "a follows m to 192.0.2.40 ($((t1 - t0)) ms after the old link went down); 2 MB arrived"

pretty "move 2: global IPv4 -> IPv6-only"
n m ip -6 addr add 2001:db8::40/64 dev eth1 nodad
t0=$(now_ms)
n m ip addr del 192.0.2.40/24 dev eth1
wait_for 10 a_sees_m_at '2001:db8::40'
t1=$(now_ms)
wait_for 5 m_observed '2001:db8::40'
stream_chunk 2
stream_finish
ok "a follows m to 2001:db8::40 ($((t1 - t0)) ms after its IPv4 address went); 3 MB intact"

pretty "the VIPs stayed, the tunnel is direct, nothing forged or replayed was seen"
[[ $(vip m 4) == "$VM" && $(status_get m .vip4) == "$VM" ]] || fail "m's VIP changed"
[[ $(tunnel_get a m .path) == direct ]] || fail "a: the tunnel to m is $(tunnel_get a m .path)"
no_drops "a m" "auth malformed stale_move"
ok "m keeps $VM; a reaches it directly over IPv6"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
