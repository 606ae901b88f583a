#!/bin/bash
# Two nodes, each behind its own random-port NAPT (nftables masquerade
# fully-random): no direct path (docs/protocol.md, path choice rule 3), and
# punching cannot find one (each flow leaves through a port nobody can
# guess: docs/nat.md), so the tunnel stays on the TRS relay session, which
# forwards between the two NAPT mappings without seeing the End Key.
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+
#        |                      |                       |
#   ns cloud                ns r1 (NAPT)             ns r2 (NAPT)
#   192.0.2.1/24            eth0 192.0.2.20/24       eth0 192.0.2.21/24
#   2001:db8::1/64          lan 198.51.100.1/24      lan 203.0.113.1/24
#   cyphonic-cloud               |                        |
#   AS, NMS, TRS            ns a (behind r1)         ns b (behind r2)
#                           198.51.100.10/24         203.0.113.10/24
#                           IPv4 only, cyphonicd     IPv4 only, cyphonicd
#
#   a: dig b.example.test -> NMS: Relay Request -> TRS; a ==> TRS ==> b
source "$(dirname "$0")/lib.sh"
require

pretty "topology: cloud (AS, NMS, TRS), a behind random-port NAPT r1, b behind r2"
topo_relay_napt
for x in a b; do
	[[ $(status_get "$x" .nat) == true ]] || fail "$x: nat is not true"
done
ok "a and b registered, both behind NAPT"

pretty "a -> b through the TRS"
relay_pair_check a b '192\.0\.2\.1' '192\.0\.2\.1' 20
log_grep a "no direct path found by punching, staying on the relay" ||
	fail "a: the log does not say punching found nothing"

pretty "the cloud's view: one relay session, traffic forwarded, nothing odd"
[[ $(stat_get .nms.relays) -ge 1 ]] || fail "nms.relays = $(stat_get .nms.relays)"
[[ $(stat_get .nms.relays_failed) == 0 ]] || fail "nms.relays_failed = $(stat_get .nms.relays_failed)"
[[ $(stat_get .trs.sessions) == 1 ]] || fail "trs.sessions = $(stat_get .trs.sessions) (expected 1)"
[[ $(stat_get .trs.hellos) -ge 2 ]] || fail "trs.hellos = $(stat_get .trs.hellos)"
fwd=$(stat_get .trs.fwd_bytes)
((fwd > 20 << 20)) || fail "trs.fwd_bytes = $fwd, less than the 20 MB transferred"
for c in ctl_auth_fail hello_auth_fail drop_malformed; do
	[[ $(stat_get .trs.$c) == 0 ]] || fail "trs.$c = $(stat_get .trs.$c)"
done
for x in a b; do
	for d in replay auth malformed; do
		[[ $(drop_get "$x" "$d") == 0 ]] || fail "$x: drops.$d = $(drop_get "$x" "$d")"
	done
done
ok "trs: 1 session, $fwd bytes forwarded; no drops on the nodes"

pretty "hostile datagrams at the TRS are dropped and counted"
port=$(tunnel_get a b .endpoint)
port=${port##*:}
printf 'garbage' >"$RUN_DIR/junk"
udp_file r1 192.0.2.1 7445 "$RUN_DIR/junk"
udp_file r1 192.0.2.1 "$port" "$RUN_DIR/junk"
wait_for 5 sh -c "[ \$(\"$CYPHONIC_BIN/cyphonic\" stats --dir \"$CLOUD_DIR\" --json | jq .trs.ctl_malformed) -ge 1 ]"
wait_for 5 sh -c "[ \$(\"$CYPHONIC_BIN/cyphonic\" stats --dir \"$CLOUD_DIR\" --json | jq .trs.drop_malformed) -ge 1 ]"
vping a "$(vip b 4)" || fail "a: ping b after the junk gets no replies"
ok "junk on the control port and on the session port counted; the relay still works"

pretty "the cloud's event loop held up (its store locked for 8 s): the relay goes on"
# The TRS runs on a thread of its own: whatever holds the loop that
# carries logins, registrations and the store does not hold relayed
# packets. Another writer takes the store's lock; the cloud's next write
# (its keepalives, flushed every second) waits for it on the loop.
vb=$(vip b 4)   # `cyphonic list` reads the store: before the lock
sqlite3 "$CLOUD_DIR/cloud.db" "BEGIN EXCLUSIVE;" ".shell sleep 8" "COMMIT;" &
LOCK_PID=$!
wait_for 5 eval '! timeout 1 "$CYPHONIC_BIN/cyphonic" stats --dir "$CLOUD_DIR" --json >/dev/null'
n a ping -n -i 0.1 -w 4 "$vb" >"$RUN_DIR/ping.out" 2>&1 || true
held=no
timeout 1 "$CYPHONIC_BIN/cyphonic" stats --dir "$CLOUD_DIR" --json >/dev/null || held=yes
wait "$LOCK_PID"
sent=$(awk '/packets transmitted/ { print $1 }' "$RUN_DIR/ping.out")
got=$(awk '/packets transmitted/ { print $4 }' "$RUN_DIR/ping.out")
[[ $held == yes ]] || fail "the cloud's loop answered during the ping: nothing held it"
((sent >= 30 && got >= sent * 9 / 10)) || fail "relayed ping while the cloud's loop was held: $got of $sent"
wait_for 15 eval 'timeout 1 "$CYPHONIC_BIN/cyphonic" stats --dir "$CLOUD_DIR" --json >/dev/null'
ok "the cloud did not answer its control socket, and $got of $sent relayed pings came back"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
