#!/bin/bash
# A relayed tunnel outlives its relay session: restart cyphonic-cloud (the
# TRS forgets every session), and the nodes notice on their own that the
# TRS no longer acknowledges their Relay Hellos (docs/protocol.md, "Relay
# Ack"), drop the tunnel, select the route again and get a new session.
# The tunnel is idle meanwhile: no Data, so the data plane's dead-peer
# rule cannot be what notices.
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+
#        |                      |                       |
#   ns cloud                ns r1 (NAPT)             ns r2 (NAPT)
#   192.0.2.1/24            eth0 192.0.2.20/24       eth0 192.0.2.21/24
#   2001:db8::1/64          lan 198.51.100.1/24      lan 203.0.113.1/24
#   cyphonic-cloud               |                        |
#   AS, NMS, TRS            ns a (behind r1)         ns b (behind r2)
#   (stopped, started)      198.51.100.10/24         203.0.113.10/24
#
#   a ==> TRS ==> b; cloud restarted; a ==> TRS (new session) ==> b
source "$(dirname "$0")/lib.sh"
require

pretty "topology: cloud (AS, NMS, TRS), a behind NAPT r1, b behind NAPT r2"
topo_relay_napt
ok "a and b registered, both behind NAPT"

pretty "a -> b through the TRS"
got=$(resolve a b A 2>&1) || fail "a: dig $(fqdn b) A failed: $got"
[[ $got == "$(vip b 4)" ]] || fail "a: dig $(fqdn b) A gave '$got', not $(vip b 4)"
vping a "$(vip b 4)" || fail "a: ping b's VIP4 gets no replies"
check_relay_tunnel a b '192\.0\.2\.1'
old_tid=$(tunnel_get a b .tunnel_id)
[[ $(stat_get .trs.sessions) == 1 ]] || fail "trs.sessions = $(stat_get .trs.sessions) (expected 1)"
[[ $(stat_get .trs.hellos) -ge 2 ]] || fail "trs.hellos = $(stat_get .trs.hellos)"
ok "relayed tunnel $old_tid, ping works"
# Past the first hellos' fast phase (relay.h): the session is now only
# checked by the steady hello every 15 s, the case an idle tunnel lives in.
tunnel_older() { (($(tunnel_get a b .age) >= $1)); }
wait_for 20 tunnel_older 12
ok "tunnel $(tunnel_get a b .age) s old: hellos at the steady rate"

pretty "restart the cloud: the TRS loses the relay session"
stop_daemon cloud
ok "cloud exited 0, no sanitizer report"
start_cloud
[[ $(stat_get .trs.sessions) == 0 ]] || fail "trs.sessions = $(stat_get .trs.sessions) on the new cloud"
t0=$(now_ms)

# A relayed tunnel a -> b other than the old one, and pings through it.
new_relay_ok()
{
	local tid path
	tid=$(tunnel_get a b .tunnel_id) || return 1
	path=$(tunnel_get a b .path) || return 1
	[[ $tid != "$old_tid" && $path == relay ]] || return 1
	vping a "$(vip b 4)" 1
}
wait_for 50 new_relay_ok
ok "a pings b again through tunnel $(tunnel_get a b .tunnel_id), $(($(now_ms) - t0)) ms after the restart"
grep -q 'relay session lost' "$(log_of a)" || fail "a: no 'relay session lost' in its log"

pretty "the new cloud's view: one new relay session"
wait_for 5 sh -c "[ \$(\"$CYPHONIC_BIN/cyphonic\" stats --dir \"$CLOUD_DIR\" --json | jq .trs.sessions) = 1 ]"
[[ $(stat_get .trs.sessions_opened) -ge 1 ]] || fail "trs.sessions_opened = $(stat_get .trs.sessions_opened)"
[[ $(stat_get .trs.hellos) -ge 2 ]] || fail "trs.hellos = $(stat_get .trs.hellos) on the new cloud"
check_relay_tunnel a b '192\.0\.2\.1'
check_relay_tunnel b a '192\.0\.2\.1'
for x in a b; do
	for d in auth malformed; do
		[[ $(drop_get "$x" "$d") == 0 ]] || fail "$x: drops.$d = $(drop_get "$x" "$d")"
	done
done
vping b "$(vip a 4)" || fail "b: ping a's VIP4 gets no replies"
ok "trs: 1 session; b pings a too; no forged or malformed datagrams on the nodes"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
