#!/bin/bash
# Two IPv6-only nodes, each behind a stateful firewall (an IPv6 router that
# lets UDP in from the Internet only as a reply).  Neither is behind NAPT,
# so the NMS sees each at its own address and routes them directly, the CN
# initiating, each told at once.  The MN's probe, sent as its route
# arrives, opens its firewall: before the CN's Request comes, which then
# passes, or after the firewall dropped it, and then the CN sends the same
# Request again as the probe comes (docs/nat.md), not a second later.
# Which of the two depends on which daemon runs first; both must work.
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+
#        |                      |                       |
#   ns cloud                ns r1 (firewall)         ns r2 (firewall)
#   192.0.2.1/24            eth0 2001:db8::20/64     eth0 2001:db8::21/64
#   2001:db8::1/64          lan 2001:db8:1::1/64     lan 2001:db8:2::1/64
#   AS, NMS, TRS                 |                        |
#                           ns a 2001:db8:1::10      ns b 2001:db8:2::10
#                           IPv6 only                IPv6 only
source "$(dirname "$0")/lib.sh"
require

pretty "topology: a and b, IPv6 only, each behind its own stateful firewall"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
fw6 r1 2001:db8::20/64 2001:db8:1::1/64
fw6 r2 2001:db8::21/64 2001:db8:2::1/64
lan_host a r1 - 2001:db8:1::10/64
lan_host b r2 - 2001:db8:2::10/64
route6 "cloud r2" 2001:db8:1::/64 2001:db8::20
route6 "cloud r1" 2001:db8:2::/64 2001:db8::21
nodes_new a b
conf_set "$(node_conf b)" node metrics "[::1]:9999"
nodes_start a b
for x in a b; do
	[[ $(status_get "$x" .nat) == false ]] || fail "$x: nat is not false"
done
ok "a and b registered, not behind NAPT"

pretty "a -> b: direct through both firewalls"
r1_dropped_more() { (($(fw6_drops r1) > d0)); }
d0=$(fw6_drops r1)
n b bash -c 'echo unsolicited > /dev/udp/2001:db8:1::10/9'
wait_for 5 r1_dropped_more
d0=$(fw6_drops r1)
ok "r1's firewall is in the way: it dropped an unsolicited datagram from b to a"
pair_check a b '2001:db8:1::10' '2001:db8:2::10' 10
check_found a b address
d=$(($(fw6_drops r1) - d0))
prom_scrape b "http://[::1]:9999/metrics" b
q=$(prom_value b cyphonic_node_requests_on_probe_total)
((q <= 1)) || fail "b sent its Request again on a's probe $q times, more than once"
((d == 0 || q == 1)) ||
	fail "r1 dropped $d of b's datagrams and b never sent its Request again on a's probe"
if ((d == 0)); then
	ok "path direct, found by address; a's probe opened r1 before b's Request came"
else
	ok "path direct, found by address; r1 dropped $d datagram(s) (b's first Request), b sent it again on a's probe"
fi
no_drops "a b" "replay auth unknown malformed"
[[ $(stat_get .trs.sessions) == 0 ]] || fail "trs.sessions = $(stat_get .trs.sessions)"
ok "no relay session, no drops on the nodes"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
