#!/bin/bash
# A relayed tunnel survives a move (docs/mobility.md): a and b sit behind
# their own NAPTs, so their tunnel runs through the TRS; a moves to a third
# NAPT.  Its Relay Hello from the new address tells the TRS where it is, its
# move probe follows through the relay, and the TCP session carries on.
#
#                          inet: bridge br0 (the "Internet")
#     +----------------+--------------------+--------------------+--------------------+
#  ns cloud         ns r1 (NAPT)         ns r2 (NAPT)         ns r3 (NAPT)
#  192.0.2.1/24     eth0 192.0.2.20/24   eth0 192.0.2.21/24   eth0 192.0.2.22/24
#  AS, NMS, TRS     lan 198.51.100.1/24  lan 203.0.113.1/24   lan 198.18.0.1/24
#                        |                    |                    |
#                   ns a eth0 .10        ns b eth0 .10        ns a eth1 198.18.0.10 (move)
source "$(dirname "$0")/lib.sh"
require

pretty "topology: a behind r1 (a spare link behind r3), b behind r2"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
NAPT_KIND=random napt r1 192.0.2.20/24 198.51.100.1/24
NAPT_KIND=random napt r2 192.0.2.21/24 203.0.113.1/24
NAPT_KIND=random napt r3 192.0.2.22/24 198.18.0.1/24
lan_host a r1 198.51.100.10/24
lan_host b r2 203.0.113.10/24
veth a eth1 r3 l-a2
n r3 ip link set l-a2 master lan
nodes_up a b
VB=$(vip b 4)
ok "a and b registered, each behind its own NAPT"

pretty "a TCP session a -> b, through the TRS"
stream_start a b "$VB" 2
stream_chunk 0
[[ $(tunnel_get a b .path) == relay && $(tunnel_get b a .path) == relay ]] ||
	fail "the tunnel is not relayed: a $(tunnel_get a b .path), b $(tunnel_get b a .path)"
ok "1 MB arrived through the relay"

pretty "a moves: from behind r1 to behind r3"
TID=$(tunnel_get a b .tunnel_id)
addr a eth1 198.18.0.10/24
n a ip route add default via 198.18.0.1 metric 100
n a ip link set eth0 down
wait_for 5 eval '[[ $(ep_host "$(status_get a .observed)") == 192.0.2.22 ]]'
stream_chunk 1
stream_finish
[[ $(tunnel_get a b .path) == relay ]] || fail "a: the tunnel to b is $(tunnel_get a b .path) now"
[[ $(tunnel_get a b .tunnel_id) == "$TID" ]] ||
	fail "a: the tunnel was replaced ($TID -> $(tunnel_get a b .tunnel_id)): the relay did not follow"
ok "the same relayed tunnel $TID carried on from r3 (a hello told the TRS); 2 MB intact"

no_drops "a b" "auth malformed stale_move"
stop_all
ok "all daemons stopped cleanly, no sanitizer report"
