#!/bin/bash
# The data plane with its speed-ups on and off (src/node/batch.h): the same
# checks as t_direct (resolve, ping both VIPs both ways, 50 MB over TCP on
# the VIP4 and 10 MB back on the VIP6, SHA-256 compared, one direct tunnel
# each side, no drops) plus fragmented inner packets (ping -s 3000: IPv4
# and IPv6 fragments through the tunnel), under three settings:
#   off       CY_DP=0: one packet per system call, no offloads, MTU 1400
#   on        the defaults (sendmmsg/recvmmsg, UDP GSO/GRO, TUN TSO), MTU 1400
#   on-1280   the defaults with a small tunnel MTU (1280, the IPv6 minimum)
# Each setting restarts both nodes (no tunnel carried over).
#
#                          inet: bridge br0 (the "Internet")
#        +-------------------+-------------------+-------------------+
#   ns cloud             ns dns              ns a (global)       ns c (global)
#   192.0.2.1/24         192.0.2.53/24       192.0.2.10/24       192.0.2.30/24
#   2001:db8::1/64       2001:db8::53/64     2001:db8::10/64     2001:db8::30/64
source "$(dirname "$0")/lib.sh"
require

pretty "topology: cloud, upstream DNS, a and c global"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
upstream_dns
inet_host a 192.0.2.10/24 2001:db8::10/64
inet_host c 192.0.2.30/24 2001:db8::30/64
cloud_new
for x in a c; do
	node_new "$x"
	node_upstream "$x" "$UPSTREAM4"
	conf_set "$(node_conf "$x")" node log_level info
done
start_cloud

# setting NAME ENV MTU: restart a and c with ENV (VAR=VALUE) and tunnel MTU.
setting()
{
	local name=$1 env=$2 mtu=$3 x
	pretty "setting $name: $env, tunnel MTU $mtu"
	for x in a c; do
		! is_running "$x" || stop_daemon "$x"
		conf_set "$(node_conf "$x")" node mtu "$mtu"
	done
	export CY_DP=1 CY_DP_MMSG=1 CY_DP_GSO=1 CY_DP_GRO=1 CY_DP_VNET=1
	export "${env?}"
	start_node a a
	start_node c c
	wait_registered a
	wait_registered c
	log_grep a "data plane: .*tun offload $([[ $env == CY_DP=0 ]] && echo off || echo on)" ||
		fail "a: the log does not show the data plane setting $env"
	[[ $(n a ip -j link show cy0 | jq -r '.[0].mtu') == "$mtu" ]] ||
		fail "a: cy0 does not have MTU $mtu"
	ok "a and c registered, data plane: $(log_first a 'data plane:' | sed 's/.*data plane: //')"
}

check()
{
	local f
	pair_check a c '192\.0\.2\.10|2001:db8::10' '192\.0\.2\.30|2001:db8::30' 50
	for f in 4 6; do
		n a ping -n -q -c 3 -i 0.2 -s 3000 -W 2 -w 10 "$(vip c $f)" >/dev/null ||
			fail "a: ping -s 3000 $(vip c $f) (fragmented VIP$f packets) gets no replies"
	done
	ok "a -> c: 3000-byte pings (inner fragments) over VIP4 and VIP6"
	for x in a c; do
		for d in replay auth unknown malformed bad_src bad_dst; do
			[[ $(drop_get "$x" "$d") == 0 ]] || fail "$x: drops.$d = $(drop_get "$x" "$d")"
		done
	done
	ok "drops: 0 on both sides"
	# "on" must be on: the daemons fall back quietly (a warning, then the
	# plain path) when the kernel refuses a technique, and the bytes would
	# still arrive.
	if [[ $CY_DP == 1 ]]; then
		for x in a c; do
			! log_grep "$x" 'GSO refused|GRO not available|TUNSETOFFLOAD|IFF_VNET_HDR: plain' ||
				fail "$x: a data-plane technique fell back: $(log_first "$x" \
					'GSO refused|GRO not available|TUNSETOFFLOAD|IFF_VNET_HDR: plain')"
		done
		ok "no technique fell back (UDP GSO/GRO, TUN offload, vnet header)"
	fi
}

setting off CY_DP=0 1400
check
setting on CY_DP=1 1400
check
setting on-1280 CY_DP=1 1280
check

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
