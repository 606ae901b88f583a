#!/bin/bash
# Direct path between two IPv6-only nodes: the tunnel runs over IPv6 and
# carries both overlay families (VIP4 and VIP6).
#
#                          inet: bridge br0 (the "Internet")
#        +-------------------+-------------------+-------------------+
#        |                   |                   |                   |
#   ns cloud             ns dns              ns d (IPv6 only)    ns e (IPv6 only)
#   192.0.2.1/24         192.0.2.53/24       2001:db8::40/64     2001:db8::50/64
#   2001:db8::1/64       2001:db8::53/64     cyphonicd "d"       cyphonicd "e"
#   cyphonic-cloud       dnsmasq
source "$(dirname "$0")/lib.sh"
require

pretty "topology: cloud, upstream DNS, d and e IPv6-only"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
upstream_dns
inet_host d - 2001:db8::40/64
inet_host e - 2001:db8::50/64
cloud_new
for x in d e; do
	node_new "$x"
	node_upstream "$x" "[$UPSTREAM6]:53"
done
start_cloud
start_node d d
start_node e e
wait_registered d
wait_registered e
ok "d and e registered over IPv6"

pretty "d -> e over IPv6"
pair_check d e '2001:db8::40' '2001:db8::50'

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
