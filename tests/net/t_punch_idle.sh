#!/bin/bash
# Idle tunnels keep their NAPT mappings (docs/nat.md): with the NAPTs' UDP
# conntrack timeouts cut to 30 s, a punched tunnel (a <-> b, port-keeping
# NAPTs) and a relayed one (c <-> d, random-port NAPTs) left idle for 100 s
# (more than three timeouts: each mapping must be refreshed at least three
# times) carry the next packet at once: the tunnel keepalive (every 25 s)
# and the Relay Hellos (every 15 s) keep every mapping open.
#
#   ns cloud (AS, NMS, TRS) 192.0.2.1
#   ns r1 192.0.2.20 (eim) - a 198.51.100.10    ns r2 192.0.2.21 (eim) - b 203.0.113.10
#   ns r3 192.0.2.22 (random) - c 198.18.0.10   ns r4 192.0.2.23 (random) - d 198.18.1.10
source "$(dirname "$0")/lib.sh"
require

IDLE_S=${IDLE_S:-100}

pretty "topology: a, b behind port-keeping NAPTs; c, d behind random-port ones; UDP conntrack 30 s"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
NAPT_KIND=eim napt r1 192.0.2.20/24 198.51.100.1/24
NAPT_KIND=eim napt r2 192.0.2.21/24 203.0.113.1/24
NAPT_KIND=random napt r3 192.0.2.22/24 198.18.0.1/24
NAPT_KIND=random napt r4 192.0.2.23/24 198.18.1.1/24
lan_host a r1 198.51.100.10/24
lan_host b r2 203.0.113.10/24
lan_host c r3 198.18.0.10/24
lan_host d r4 198.18.1.10/24
for r in r1 r2 r3 r4; do
	n "$r" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=30 \
		net.netfilter.nf_conntrack_udp_timeout_stream=30
done
nodes_up a b c d
vping a "$(vip b 4)" || fail "a: ping b gets no replies"
vping c "$(vip d 4)" || fail "c: ping d gets no replies"
[[ $(tunnel_get a b .path) == direct && $(tunnel_get c d .path) == relay ]] ||
	fail "paths: a-b $(tunnel_get a b .path), c-d $(tunnel_get c d .path)"
TAB=$(tunnel_get a b .tunnel_id)
TCD=$(tunnel_get c d .tunnel_id)
ok "a <-> b direct (tunnel $TAB), c <-> d relayed (tunnel $TCD)"

pretty "both tunnels idle for $IDLE_S s (over three UDP conntrack timeouts)"
rx0=$(tunnel_get a b .rx_packets)
sleep "$IDLE_S"   # the idle time is what is tested

pretty "the next packet of each gets through at once"
n a ping -n -c 1 -W 1 "$(vip b 4)" >/dev/null || fail "a: the first ping to b after $IDLE_S s idle got no reply within 1 s"
n d ping -n -c 1 -W 1 "$(vip c 4)" >/dev/null || fail "d: the first ping to c after $IDLE_S s idle got no reply within 1 s"
[[ $(tunnel_get a b .tunnel_id) == "$TAB" && $(tunnel_get a b .path) == direct ]] ||
	fail "a: tunnel $(tunnel_get a b .tunnel_id) path $(tunnel_get a b .path), was $TAB direct"
[[ $(tunnel_get c d .tunnel_id) == "$TCD" && $(tunnel_get c d .path) == relay ]] ||
	fail "c: tunnel $(tunnel_get c d .tunnel_id) path $(tunnel_get c d .path), was $TCD relay"
ok "both answered within 1 s on the same tunnels ($(($(tunnel_get a b .rx_packets) - rx0)) keepalives and pings received by a meanwhile)"

no_drops "a b c d" "auth malformed"
stop_all
ok "all daemons stopped cleanly, no sanitizer report"
