#!/bin/bash
# Punches are authenticated (docs/nat.md): a node never becomes a packet
# cannon.  a's genuine probe to b is captured on b's LAN while a and b
# punch; sent to b again later (from its router's LAN address, as anyone
# who can reach b could), it is refused as a replay, and a forged one (the
# same probe, one bit of its tag changed; a made-up tunnel) fails to
# authenticate; b sends nothing at all to the address they came from.
#
#   ns cloud (AS, NMS, TRS) 192.0.2.1
#   ns r1 192.0.2.20 - a 198.51.100.10        ns r2 192.0.2.21, lan 203.0.113.1 - b 203.0.113.10
source "$(dirname "$0")/lib.sh"
require
command -v tcpdump >/dev/null || fail "missing tool: tcpdump (run scripts/deps.sh)"

pretty "topology: a and b behind port-keeping NAPTs; a capture on b's LAN"
NAPT_KIND=eim topo_relay_napt
cap=$RUN_DIR/probe.pcap
# A Punch (01 34) of kind probe (byte 3 = 1) from a's NAPT to b.
n r2 timeout 20 tcpdump -i lan -n -c 1 -U -w "$cap" \
	'dst host 203.0.113.10 and src host 192.0.2.20 and udp dst port 7446 and udp[8:2] = 0x0134 and udp[11] = 1' \
	2>"$RUN_DIR/cap.err" &
cpid=$!
wait_for 5 grep -q 'listening on' "$RUN_DIR/cap.err"
vping a "$(vip b 4)" || fail "a: ping b gets no replies"
wait "$cpid" || fail "no probe captured: $(cat "$RUN_DIR/cap.err")"
[[ $(tunnel_get a b .path) == direct ]] || fail "a: path $(tunnel_get a b .path), not direct"
pl=$(pcap_udp_payload "$cap") || fail "cannot read $cap"
((${#pl} / 2 == 56)) || fail "captured a $((${#pl} / 2))-byte Punch, not 56"
ok "punched; captured a's probe to b: tunnel ${pl:8:16}"

# b's datagrams to r2's LAN address (where the copies come from).
n r2 tcpdump -i lan -n -l 'src host 203.0.113.10 and dst host 203.0.113.1 and udp' \
	>"$RUN_DIR/back.txt" 2>"$RUN_DIR/back.err" &
BACK=$!
wait_for 5 grep -q 'listening on' "$RUN_DIR/back.err"
send() { hex_write "$1" "$RUN_DIR/pkt"; udp_file r2 203.0.113.10 7446 "$RUN_DIR/pkt"; }
d_replay=$(drop_get b replay)
d_auth=$(drop_get b auth)
d_early=$(drop_get b punch_early)

pretty "the captured probe again: a replay"
send "$pl"
wait_for 5 eval '(($(drop_get b replay) == d_replay + 1))'
ok "b: drops.replay $d_replay -> $(drop_get b replay)"

pretty "forged: the tag changed, and a tunnel b does not hold"
last=${pl: -2}
send "${pl:0:110}$(printf '%02x' $((16#$last ^ 1)))"
wait_for 5 eval '(($(drop_get b auth) == d_auth + 1))'
send "${pl:0:8}0000000000000001${pl:24}"
wait_for 5 eval '(($(drop_get b punch_early) == d_early + 1))'
ok "b: drops.auth $d_auth -> $(drop_get b auth), punch_early $d_early -> $(drop_get b punch_early)"

# b answers a probe while it handles it, before a counter moves: any reply
# left b before the counters above changed; the ping gives the capture the
# time to print one.
vping a "$(vip b 4)" || fail "a: ping b gets no replies after the forgeries"
kill "$BACK" 2>/dev/null
wait "$BACK" 2>/dev/null || true
sent=$(grep -c . "$RUN_DIR/back.txt" || true)
((sent == 0)) || fail "b sent $sent datagrams to the forger's address: $(cat "$RUN_DIR/back.txt")"
ok "b sent nothing to 203.0.113.1; the tunnel still works"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
