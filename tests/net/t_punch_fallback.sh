#!/bin/bash
# A punched direct path that dies falls back to the relay the tunnel kept,
# under a live TCP session, without a new tunnel (docs/nat.md): a and b
# punch through their endpoint-independent NAPTs, then r1's firewall
# starts dropping everything from b's NAPT.  a hears nothing back on the
# direct path, goes back to the TRS within OVERLAY_DIRECT_DEAD_MS, b
# follows a's Data there, and `cyphonic ping` running across the change
# says the path changed.
#
#   ns cloud (AS, NMS, TRS) 192.0.2.1     ns r1 192.0.2.20       ns r2 192.0.2.21
#                                         ns a 198.51.100.10     ns b 203.0.113.10
source "$(dirname "$0")/lib.sh"
require

pretty "topology: a and b behind endpoint-independent NAPTs, punched"
NAPT_KIND=eim topo_relay_napt
VB=$(vip b 4)
stream_start a b "$VB" 8
stream_chunk 0
for x in a b; do
	[[ $x == a ]] && y=b || y=a
	[[ $(tunnel_get "$x" "$y" .path) == direct ]] ||
		fail "$x: the tunnel to $y is $(tunnel_get "$x" "$y" .path), not direct"
done
TID=$(tunnel_get a b .tunnel_id)
ok "1 MB arrived on the punched path (tunnel $TID)"

pretty "r1 drops everything from b's NAPT; a ping and the stream run across it"
tx0=$(tunnel_get a b .tx_packets)
cy ping "$(fqdn b)" -c "$(node_conf a)" -n 80 -i 100 >"$RUN_DIR/ping.out" 2>&1 &
PING=$!
# The ping's first probes go on the direct path (the stream is idle).
wait_for 5 eval '(($(tunnel_get a b .tx_packets) >= tx0 + 3))'
n r1 nft -f - <<-EOF2
	table ip fw {
		chain cut {
			type filter hook forward priority filter; policy accept;
			ip saddr 192.0.2.21 drop
		}
	}
	EOF2
stream_until_path a b relay 1 6
for x in a b; do
	[[ $x == a ]] && y=b || y=a
	[[ $(tunnel_get "$x" "$y" .tunnel_id) == "$TID" ]] ||
		fail "$x: the tunnel was replaced ($TID -> $(tunnel_get "$x" "$y" .tunnel_id))"
done
log_grep a "nothing back on the direct path .* back to the relay" ||
	fail "a: the log does not say it fell back to the relay"
ok "both back on the relay $STREAM_MS ms after the cut, the same tunnel"
for ((k = STREAM_K; k < 8; k++)); do stream_chunk "$k"; done
stream_finish
ok "8 MB arrived intact over one TCP session"

wait "$PING" || fail "cyphonic ping failed: $(cat "$RUN_DIR/ping.out")"
grep -q "the path changed .* (first direct, last relay)" "$RUN_DIR/ping.out" ||
	fail "cyphonic ping does not show the change: $(cat "$RUN_DIR/ping.out")"
ok "cyphonic ping: $(grep 'path changed' "$RUN_DIR/ping.out"); $(grep received "$RUN_DIR/ping.out")"

no_drops "a b" "auth malformed"
stop_all
ok "all daemons stopped cleanly, no sanitizer report"
