#!/bin/bash
# The birthday approach (docs/nat.md): a behind a port-keeping NAPT, b
# behind a random-port NAPT (masquerade fully-random: a new public port
# for every destination).  Plain probes cannot meet: b's probe leaves r2
# at a port nobody knows, and a's probe to the port the NMS saw is
# dropped.  Each node learns how its NAPT maps it by comparing where the
# NMS and the TRS see it, and tells the NMS with its Punch Request; the
# NMS then has b open PUNCH_MANY_SOCKETS sockets, each probing a's
# candidate (one mapping of r2 each), and a probe PUNCH_SPRAY_PROBES
# ports of r2's address.  A probe that hits one of b's mappings is
# answered from that socket, which becomes the tunnel's own.
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+
#   ns cloud                ns r1 (NAPT, keeps)      ns r2 (NAPT, random)
#   192.0.2.1/24            eth0 192.0.2.20/24       eth0 192.0.2.21/24
#   AS, NMS, TRS            lan 198.51.100.1/24      lan 203.0.113.1/24
#                           ns a 198.51.100.10       ns b 203.0.113.10
source "$(dirname "$0")/lib.sh"
require

pretty "topology: a behind a port-keeping NAPT, b behind a random-port NAPT"
topo_relay_napt eim random
ok "a and b registered, both behind NAPT"

pretty "a -> b: relayed at once, a TCP session through it"
VB=$(vip b 4)
got=$(resolve a b A) || fail "a: dig $(fqdn b) A failed"
[[ $got == "$VB" ]] || fail "a: dig $(fqdn b) A gave '$got', not $VB"
stream_start a b "$VB" 12
stream_chunk 0
ok "a: $(fqdn b) A $got; 1 MB arrived"

pretty "each learns how its NAPT maps it; the birthday approach finds the direct path"
mappings_known() { [[ $(status_get a .mapping) == keeps && $(status_get b .mapping) == varies ]]; }
wait_for 10 mappings_known
ok "a: one mapping for every destination; b: one per destination"
# A burst meets with about 98% (docs/nat.md); PUNCH_BIRTHDAYS bursts, one
# every PUNCH_AGAIN_MS at worst, fit in 70 s.  The TCP session stays open.
t0=$(now_ms)
wait_for 70 both_on a b direct
STREAM_MS=$(($(now_ms) - t0))
check_found a b birthday
[[ $(ep_host "$(tunnel_get a b .endpoint)") == 192.0.2.21 ]] ||
	fail "a: endpoint $(tunnel_get a b .endpoint), not b's NAPT"
[[ $(tunnel_get b a .endpoint) == 192.0.2.20:* ]] ||
	fail "b: endpoint $(tunnel_get b a .endpoint), not a's NAPT"
# Usually one of b's 256 spare sockets is met; about one time in 60 a's
# spray meets the mapping b's own socket made with its first, plain probes,
# which is as good a path (docs/nat.md).
log_grep b "the birthday approach met on socket|direct path to .* found by punching" ||
	fail "b: the direct path was not found by punching"
[[ $(stat_get .nms.punches) -ge 1 ]] || fail "nms.punches = $(stat_get .nms.punches)"
ok "direct after $STREAM_MS ms more; a sees b at $(tunnel_get a b .endpoint)"

pretty "the rest of the stream goes direct, through b's own socket"
fwd=$(stat_get .trs.fwd_bytes)
for ((k = 1; k < 12; k++)); do stream_chunk "$k"; done
stream_finish
fwd2=$(stat_get .trs.fwd_bytes)
(((fwd2 - fwd) < 1 << 20)) || fail "the relay forwarded $((fwd2 - fwd)) bytes more after the switch"
vping b "$(vip a 6)" || fail "b: ping a's VIP6 gets no replies"
no_drops "a b" "replay auth unknown"
ok "12 MB arrived intact over one TCP session; b pings a's VIP6; the relay forwarded $((fwd2 - fwd)) bytes since"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
