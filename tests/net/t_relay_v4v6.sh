#!/bin/bash
# An IPv4-only node and an IPv6-only node have no common address family
# (docs/protocol.md, path choice rule 3): the dual-stack TRS relays, each
# node reaching it in its own family.
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+
#        |                      |                       |
#   ns cloud                ns a (IPv4 only)         ns c (IPv6 only)
#   192.0.2.1/24            192.0.2.10/24            2001:db8::30/64
#   2001:db8::1/64          cyphonicd "a"            cyphonicd "c"
#   cyphonic-cloud
#   AS, NMS, TRS (dual-stack)
#
#   a: dig c.example.test -> NMS: Relay Request -> TRS
#   a ==IPv4==> TRS 192.0.2.1 ==IPv6==> c
source "$(dirname "$0")/lib.sh"
require

pretty "topology: dual-stack cloud, a IPv4-only, c IPv6-only"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
inet_host a 192.0.2.10/24 -
inet_host c - 2001:db8::30/64
cloud_new
for x in a c; do node_new "$x"; done
start_cloud
for x in a c; do start_node "$x" "$x"; done
for x in a c; do wait_registered "$x"; done
[[ $(ep_host "$(status_get a .observed)") == 192.0.2.10 ]] || fail "a: not seen over IPv4"
[[ $(ep_host "$(status_get c .observed)") == 2001:db8::30 ]] || fail "c: not seen over IPv6"
for x in a c; do
	[[ $(status_get "$x" .nat) == false ]] || fail "$x: nat is not false"
done
ok "a registered over IPv4, c over IPv6, neither behind NAPT"

pretty "a (IPv4) -> c (IPv6) through the TRS"
relay_pair_check a c '192\.0\.2\.1' '2001:db8::1' 10

pretty "the cloud's view"
[[ $(stat_get .trs.sessions) == 1 ]] || fail "trs.sessions = $(stat_get .trs.sessions) (expected 1)"
fwd=$(stat_get .trs.fwd_bytes)
((fwd > 10 << 20)) || fail "trs.fwd_bytes = $fwd, less than the 10 MB transferred"
for c in ctl_auth_fail hello_auth_fail drop_malformed drop_unknown_src; do
	[[ $(stat_get .trs.$c) == 0 ]] || fail "trs.$c = $(stat_get .trs.$c)"
done
for x in a c; do
	for d in replay auth malformed; do
		[[ $(drop_get "$x" "$d") == 0 ]] || fail "$x: drops.$d = $(drop_get "$x" "$d")"
	done
done
ok "trs: 1 session, $fwd bytes forwarded between IPv4 and IPv6; no drops"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
