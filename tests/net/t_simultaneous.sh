#!/bin/bash
# Both nodes ask for each other at the same moment (two route selections
# cross, two handshakes may cross): both get their answers, ping works both
# ways and each ends with exactly one tunnel to the other.  Three rounds,
# the nodes restarted in between.
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+
#        |                      |                       |
#   ns cloud                ns a (global)          ns c (global)
#   192.0.2.1/24            192.0.2.10/24          192.0.2.30/24
#   2001:db8::1/64          2001:db8::10/64        2001:db8::30/64
#   cyphonic-cloud          cyphonicd "a"          cyphonicd "c"
#                           dig c.example.test  &  dig a.example.test
source "$(dirname "$0")/lib.sh"
require

pretty "topology: cloud, a and c global"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
inet_host a 192.0.2.10/24 2001:db8::10/64
inet_host c 192.0.2.30/24 2001:db8::30/64
cloud_new
for x in a c; do node_new "$x"; done
start_cloud

for round in 1 2 3; do
	pretty "round $round: a and c resolve each other at once"
	start_node a a
	start_node c c
	wait_registered a
	wait_registered c
	da=$(status_get a .dns)
	dc=$(status_get c .dns)
	n a dig @"$(ep_host "$da")" -p "${da##*:}" +time=5 +tries=1 +short "c.$CY_DOMAIN" A \
		>"$RUN_DIR/a.ans" 2>&1 &
	pa=$!
	n c dig @"$(ep_host "$dc")" -p "${dc##*:}" +time=5 +tries=1 +short "a.$CY_DOMAIN" A \
		>"$RUN_DIR/c.ans" 2>&1 &
	pc=$!
	wait "$pa" || fail "a: dig c.$CY_DOMAIN failed: $(cat "$RUN_DIR/a.ans")"
	wait "$pc" || fail "c: dig a.$CY_DOMAIN failed: $(cat "$RUN_DIR/c.ans")"
	[[ $(cat "$RUN_DIR/a.ans") == "$(vip c 4)" ]] ||
		fail "a: c.$CY_DOMAIN A gave '$(cat "$RUN_DIR/a.ans")', not $(vip c 4)"
	[[ $(cat "$RUN_DIR/c.ans") == "$(vip a 4)" ]] ||
		fail "c: a.$CY_DOMAIN A gave '$(cat "$RUN_DIR/c.ans")', not $(vip a 4)"
	ok "a got $(vip c 4), c got $(vip a 4)"
	vping a "$(vip c 4)" || fail "a: ping c's VIP4"
	vping c "$(vip a 4)" || fail "c: ping a's VIP4"
	vping a "$(vip c 6)" || fail "a: ping c's VIP6"
	ok "ping both ways"
	# A second handshake that lost the race must not leave a second tunnel,
	# now or a moment later.
	check_tunnel a c '192\.0\.2\.30|2001:db8::30'
	check_tunnel c a '192\.0\.2\.10|2001:db8::10'
	vping c "$(vip a 6)" || fail "c: ping a's VIP6"
	[[ $(status a | jq '.tunnels | length') == 1 ]] || fail "a: $(status a | jq -c .tunnels)"
	[[ $(status c | jq '.tunnels | length') == 1 ]] || fail "c: $(status c | jq -c .tunnels)"
	stop_daemon a
	stop_daemon c
done

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
