#!/bin/bash
# Two nodes, each behind its own endpoint-independent NAPT (nftables
# masquerade keeps the source port): no direct path by address, so the NMS
# relays the route through the TRS and hands each end the other's observed
# endpoint as a candidate.  Both probe it at once (the CN first, before it
# confirms); the later probe passes both NAPTs and is acknowledged, and the
# tunnel moves from the relay to the punched direct path (docs/nat.md).
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+
#        |                      |                       |
#   ns cloud                ns r1 (NAPT)             ns r2 (NAPT)
#   192.0.2.1/24            eth0 192.0.2.20/24       eth0 192.0.2.21/24
#   AS, NMS, TRS            lan 198.51.100.1/24      lan 203.0.113.1/24
#                                |                        |
#                           ns a 198.51.100.10       ns b 203.0.113.10
#
#   a: dig b.example.test -> relayed route + candidates -> a <==punched==> b
source "$(dirname "$0")/lib.sh"
require

pretty "topology: cloud (AS, NMS, TRS), a and b behind their own endpoint-independent NAPTs"
NAPT_KIND=eim topo_relay_napt
for x in a b; do
	[[ $(status_get "$x" .nat) == true ]] || fail "$x: nat is not true"
done
ok "a and b registered, both behind NAPT"

pretty "a -> b: the path is punched, direct between the two NAPTs"
pair_check a b '192\.0\.2\.20' '192\.0\.2\.21' 20
check_found a b punch
log_grep a "direct path to 192\.0\.2\.21:[0-9]* found by punching" ||
	log_grep b "direct path to 192\.0\.2\.20:[0-9]* found by punching" ||
	fail "neither log says the path was punched"
ok "both: path direct, found by punching; first DNS answer after $DNS_COLD_MS ms"

pretty "the relay stands by: one TRS session, none of the 24 MB through it"
[[ $(stat_get .trs.sessions) == 1 ]] || fail "trs.sessions = $(stat_get .trs.sessions)"
fwd=$(stat_get .trs.fwd_bytes)
((fwd < 1 << 20)) || fail "trs.fwd_bytes = $fwd: the data went through the relay"
no_drops "a b" "replay auth unknown malformed"
ok "trs: 1 session, $fwd bytes forwarded (the handshake); no drops on the nodes"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
