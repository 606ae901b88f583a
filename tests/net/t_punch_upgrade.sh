#!/bin/bash
# A relayed tunnel moves to a punched direct path under a live TCP session
# (docs/nat.md): a and b start behind random-port NAPTs, so their tunnel
# runs through the TRS; then both routers switch to port-keeping
# masquerade and lose their mappings (a reconfiguration, a reboot).  The
# nodes' next keepalives show the NMS their new endpoints, they ask for a
# punch, the NMS sends both ends each other's, and the same tunnel (same
# session) leaves the relay while the TCP session carries on.
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+
#   ns cloud                ns r1 (NAPT)             ns r2 (NAPT)
#   192.0.2.1/24            eth0 192.0.2.20/24       eth0 192.0.2.21/24
#   AS, NMS, TRS            random port -> kept      random port -> kept
#                           ns a 198.51.100.10       ns b 203.0.113.10
source "$(dirname "$0")/lib.sh"
require

pretty "topology: a and b behind random-port NAPTs r1 and r2"
topo_relay_napt
VB=$(vip b 4)
ok "a and b registered, each behind its own random-port NAPT"

pretty "a TCP session a -> b, through the TRS"
stream_start a b "$VB" 12
stream_chunk 0
for x in a b; do
	[[ $x == a ]] && y=b || y=a
	[[ $(tunnel_get "$x" "$y" .path) == relay ]] ||
		fail "$x: the tunnel to $y is $(tunnel_get "$x" "$y" .path), not relay"
done
TID=$(tunnel_get a b .tunnel_id)
ok "1 MB arrived through the relay (tunnel $TID)"

pretty "both NAPTs start keeping ports and lose their mappings, the stream running"
for r in r1 r2; do
	n "$r" nft flush chain ip nat postrouting
	n "$r" nft add rule ip nat postrouting oifname "eth0" masquerade
	n "$r" conntrack -F 2>/dev/null
done
stream_until_path a b direct 1 10
check_found a b punch
for x in a b; do
	[[ $x == a ]] && y=b || y=a
	[[ $(tunnel_get "$x" "$y" .tunnel_id) == "$TID" ]] ||
		fail "$x: the tunnel was replaced ($TID -> $(tunnel_get "$x" "$y" .tunnel_id))"
done
[[ $(ep_host "$(tunnel_get a b .endpoint)") == 192.0.2.21 ]] ||
	fail "a: endpoint $(tunnel_get a b .endpoint), not b's NAPT"
[[ $(stat_get .nms.punches) -ge 1 ]] || fail "nms.punches = $(stat_get .nms.punches)"
ok "the same tunnel went direct $STREAM_MS ms after the change, $STREAM_K MB sent meanwhile"

pretty "the rest of the stream goes direct"
fwd=$(stat_get .trs.fwd_bytes)
for ((k = STREAM_K; k < 12; k++)); do stream_chunk "$k"; done
stream_finish
fwd2=$(stat_get .trs.fwd_bytes)
(((fwd2 - fwd) < 1 << 20)) || fail "the relay forwarded $((fwd2 - fwd)) bytes more after the switch"
ok "12 MB arrived intact over one TCP session; the relay forwarded $((fwd2 - fwd)) bytes since"

no_drops "a b" "auth malformed"
stop_all
ok "all daemons stopped cleanly, no sanitizer report"
