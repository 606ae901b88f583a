#!/bin/bash
# Data packets taken off the wire and sent again change nothing: a replayed
# copy is dropped as a replay, a modified copy fails authentication, a copy
# with a receiver index nobody has is unknown, a truncated one malformed,
# and one kept from c and sent later from elsewhere (authentic, never seen,
# but older than what came since) is a stale move (docs/mobility.md).
# None is delivered on the TUN, none moves the tunnel's endpoint.
#
#                          inet: bridge br0 (the "Internet")
#        +-------------------+-------------------+-------------------+
#        |                   |                   |                   |
#   ns cloud             ns a (global)       ns c (global)       ns m (attacker)
#   192.0.2.1/24         192.0.2.10/24       192.0.2.30/24       192.0.2.66/24
#   2001:db8::1/64       cyphonicd "a"       cyphonicd "c"       raw UDP to c:7446
#   cyphonic-cloud       tcpdump on eth0     tcpdump on cy0
#
# a and c are IPv4-only so the capture filter can look into the UDP payload
# (udp[8:2] = 0x0140: version 1, type data).
source "$(dirname "$0")/lib.sh"
require
command -v tcpdump >/dev/null || fail "missing tool: tcpdump (run scripts/deps.sh)"
command -v perl >/dev/null || fail "missing tool: perl"

pretty "topology: cloud, a and c global (IPv4), m on the Internet"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
inet_host a 192.0.2.10/24 -
inet_host c 192.0.2.30/24 -
inet_host m 192.0.2.66/24 -
cloud_new
for x in a c; do node_new "$x"; done
start_cloud
start_node a a
start_node c c
wait_registered a
wait_registered c
got=$(resolve a c A)
[[ $got == "$(vip c 4)" ]] || fail "a: dig c.$CY_DOMAIN A gave '$got'"
vping a "$(vip c 4)" || fail "a: ping c"
ok "tunnel a -> c up"

pretty "capture one data packet a -> c on the wire"
cap=$RUN_DIR/data.pcap
n c tcpdump -i cy0 -n -l -q 'udp dst port 9999' >"$RUN_DIR/c-cy0.txt" 2>"$RUN_DIR/c-cy0.err" &
n a timeout 20 tcpdump -i eth0 -n -c 1 -U -w "$cap" \
	'dst host 192.0.2.30 and udp dst port 7446 and udp[8:2] = 0x0140 and udp[4:2] > 200' \
	2>"$RUN_DIR/a-cap.err" &
cpid=$!
wait_for 5 grep -q 'listening on' "$RUN_DIR/c-cy0.err"
wait_for 5 grep -q 'listening on' "$RUN_DIR/a-cap.err"
# One datagram of 200 bytes to c's VIP, port 9999.
n a bash -c 'printf "%0200d" 0 >"/dev/udp/$1/9999"' _ "$(vip c 4)"
wait "$cpid" || fail "no data packet captured: $(cat "$RUN_DIR/a-cap.err")"
delivered() { grep -c 'length 200' "$RUN_DIR/c-cy0.txt" || true; }
wait_for 5 eval '(( $(delivered) == 1 ))' || fail "the original datagram did not arrive on c's cy0"
pl=$(pcap_udp_payload "$cap") || fail "cannot read $cap"
[[ ${pl:0:8} == 01400000 ]] || fail "captured payload starts ${pl:0:8}, not 01400000"
idx=${pl:8:8}
ctr=${pl:16:16}
((${#pl} / 2 == 16 + 228 + 16)) || fail "data packet of $((${#pl} / 2)) bytes, expected 260"
ok "captured: receiver index $idx, counter $((16#$ctr)), $((${#pl} / 2)) bytes; delivered once"

# More traffic: the replay window moves past the captured counter.
vping a "$(vip c 4)" || fail "a: ping c"

# send_raw NAME HEX: HEX as one datagram from m to c's port 7446.
send_raw()
{
	hex_write "$2" "$RUN_DIR/$1.bin"
	udp_file m 192.0.2.30 7446 "$RUN_DIR/$1.bin"
}
declare -A d0=()
DROPS="replay auth unknown malformed stale_move"
snap() { local d; for d in $DROPS; do d0[$d]=$(drop_get c "$d"); done; }
# expect_drop REASON: c's drops.REASON went up by one, the others did not move.
expect_drop()
{
	local d
	wait_for 5 eval "(( \$(drop_get c $1 || echo -1) == ${d0[$1]} + 1 ))" ||
		fail "c: drops.$1 is $(drop_get c "$1"), expected $((d0[$1] + 1))"
	for d in $DROPS; do
		[[ $d == "$1" ]] && continue
		[[ $(drop_get c "$d") == "${d0[$d]}" ]] ||
			fail "c: drops.$d moved from ${d0[$d]} to $(drop_get c "$d")"
	done
	[[ $(delivered) == 1 ]] || fail "c: the datagram was delivered again ($(delivered) times)"
}

pretty "the same packet again, later, from m: replay"
snap
send_raw replay "$pl"
expect_drop replay
ok "drops.replay ${d0[replay]} -> $(drop_get c replay), nothing delivered"

pretty "a modified copy (fresh counter, a ciphertext byte flipped): auth"
snap
newctr=$(printf '%016x' $((16#$ctr + 100000)))
b=$(printf '%02x' $((16#${pl:32:2} ^ 0xff)))
send_raw auth "${pl:0:16}$newctr$b${pl:34}"
expect_drop auth
ok "drops.auth ${d0[auth]} -> $(drop_get c auth), nothing delivered"

pretty "a copy to a receiver index nobody has: unknown"
snap
ridx=$idx
while [[ $ridx == "$idx" ]]; do ridx=$(printf '%08x' $((SRANDOM & 0xffffffff))); done
send_raw unknown "${pl:0:8}$ridx${pl:16}"
expect_drop unknown
ok "drops.unknown ${d0[unknown]} -> $(drop_get c unknown) (index $ridx), nothing delivered"

pretty "a truncated copy: malformed"
snap
send_raw short "${pl:0:40}"
expect_drop malformed
ok "drops.malformed ${d0[malformed]} -> $(drop_get c malformed), nothing delivered"

pretty "a packet kept from c (c's firewall drops it), sent later from m: stale move"
snap
cap2=$RUN_DIR/held.pcap
n c nft -f - <<-EOF
table inet hold {
	chain in {
		type filter hook input priority -200; policy accept;
		ip saddr 192.0.2.10 udp dport 7446 udp length > 200 @th,64,16 0x0140 drop
	}
}
EOF
n c timeout 20 tcpdump -i eth0 -n -c 1 -U -w "$cap2" \
	'src host 192.0.2.10 and udp dst port 7446 and udp[8:2] = 0x0140 and udp[4:2] > 200' \
	2>"$RUN_DIR/c-cap.err" &
cpid=$!
wait_for 5 grep -q 'listening on' "$RUN_DIR/c-cap.err"
n a bash -c 'printf "%0200d" 0 >"/dev/udp/$1/9999"' _ "$(vip c 4)"
wait "$cpid" || fail "no data packet captured on c: $(cat "$RUN_DIR/c-cap.err")"
n c nft delete table inet hold
held=$(pcap_udp_payload "$cap2") || fail "cannot read $cap2"
[[ $(delivered) == 1 ]] || fail "c: the held datagram was delivered"
vping a "$(vip c 4)" || fail "a: ping c"   # newer counters arrive from a
send_raw held "$held"
expect_drop stale_move
ok "drops.stale_move ${d0[stale_move]} -> $(drop_get c stale_move): authentic, unseen, but not the newest: nothing delivered"

pretty "the tunnel is untouched"
vping a "$(vip c 4)" || fail "a: ping c after the attack"
vping c "$(vip a 4)" || fail "c: ping a after the attack"
check_tunnel c a '192\.0\.2\.10'
ok "still one tunnel, endpoint still a's address (not m's)"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
