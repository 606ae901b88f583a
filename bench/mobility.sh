#!/bin/bash
# bench/mobility.sh BINDIR: how long a moving node's traffic stops
# (docs/mobility.md).  m keeps a TCP flow (iperf3, 20 Mbit/s) and a 100 Hz
# ping to a's VIP running while it moves:
#   1. behind NAPT r1 -> global IPv4      (address added, old link down)
#   2. global IPv4 -> IPv6-only           (IPv6 address added, IPv4 removed)
#   3. IPv6-only -> behind NAPT r1 again  (old link up, IPv6 removed)
#   4. link failure with two uplinks      (r2's link up as a backup with a
#                                          worse default route, then r1's down)
# For each: the interruption, the longest time without a ping reply from
# the moment the change was made (the reply interval, 10 ms, included),
# and at the end whether the TCP flow broke.
#
#          inet: bridge br0 (the "Internet", documentation prefixes only)
#   +--------------+----------------+--------------------+--------------------+
# ns cloud       ns a             ns r1 (NAPT)         ns r2 (NAPT)         ns m, eth2
# 192.0.2.1      192.0.2.10       192.0.2.20           192.0.2.21           192.0.2.40 or
# 2001:db8::1    2001:db8::10     lan 198.51.100.1     lan 203.0.113.1      2001:db8::40
#                                   | m eth0 .10          | m eth1 .10 (metric 200)
[[ $# -ge 1 ]] || { echo "usage: $0 BINDIR" >&2; exit 2; }
export CYPHONIC_BIN=$1
export CY_LOG_LEVEL=${CY_LOG_LEVEL:-info}
export CY_QUIET=${CY_QUIET:-1}
source "$(dirname "$0")/../tests/net/lib.sh"
require

TARGET_MS=200

internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
inet_host a 192.0.2.10/24 2001:db8::10/64
napt r1 192.0.2.20/24 198.51.100.1/24
napt r2 192.0.2.21/24 203.0.113.1/24
lan_host m r1 198.51.100.10/24
veth m eth1 r2 l-m2
n r2 ip link set l-m2 master lan
addr m eth1 203.0.113.10/24
n m ip link set eth1 down   # the backup uplink joins for move 4
veth m eth2 inet p-m3
n inet ip link set p-m3 master br0
cloud_new
for x in a m; do node_new "$x"; done
start_cloud
for x in a m; do start_node "$x" "$x"; done
for x in a m; do wait_registered "$x"; done
VA=$(vip a 4)
vping m "$VA" || fail "m cannot ping a's VIP"

a_sees_m_at() { [[ $(ep_host "$(tunnel_get a m .endpoint)") =~ ^($1)$ ]]; }

n a iperf3 -s -1 -B "$VA" >/dev/null 2>&1 &
IPERF_S=$!
wait_for 5 n a sh -c 'ss -Hltn "sport = :5201" | grep -q .'
n m iperf3 -c "$VA" -t 30 -b 20M -J >"$RUN_DIR/iperf.json" 2>&1 &
IPERF_C=$!
n m ping -n -D -i 0.01 -w 32 "$VA" >"$RUN_DIR/ping.txt" 2>&1 &
PING=$!
wait_for 5 test -s "$RUN_DIR/ping.txt"

# gap_ms T0_MS: the longest time without a reply from T0_MS on, until 3 s
# after, counting from T0_MS to the first reply too.
gap_ms()
{
	local t0=$1
	wait_for 10 eval "awk -v t=$(((t0 + 3000) / 1000)) -F'[][]' '/bytes from/ && \$2 > t { f = 1 } END { exit !f }' '$RUN_DIR/ping.txt'"
	awk -F'[][]' -v t0="$t0" '
		/bytes from/ { ms = $2 * 1000; if (ms < t0) next; if (ms > t0 + 3000) exit
			       g = ms - (prev ? prev : t0); if (g > max) max = g; prev = ms }
		END { printf "%.0f", max }' "$RUN_DIR/ping.txt"
}

declare -a NAMES=() GAPS=()
move()
{
	local name=$1 ere=$2 t0 g
	shift 2
	t0=$(now_ms)
	"$@"
	wait_for 10 a_sees_m_at "$ere"
	g=$(gap_ms "$t0")
	NAMES+=("$name")
	GAPS+=("$g")
}

move "behind NAPT -> global IPv4" '192\.0\.2\.40' \
	eval 'n m ip addr add 192.0.2.40/24 dev eth2; n m ip link set eth0 down'
move "global IPv4 -> IPv6-only" '2001:db8::40' \
	eval 'n m ip -6 addr add 2001:db8::40/64 dev eth2 nodad; n m ip addr del 192.0.2.40/24 dev eth2'
move "IPv6-only -> behind NAPT" '192\.0\.2\.20' \
	eval 'n m ip link set eth0 up; n m ip route replace default via 198.51.100.1; n m ip -6 addr del 2001:db8::40/64 dev eth2'
# A link that went down lost its routes: the backup's comes back with it.
n m ip link set eth1 up
n m ip route replace default via 203.0.113.1 metric 200
wait_for 10 a_sees_m_at '192\.0\.2\.20'
move "two uplinks: the one in use fails" '192\.0\.2\.21' \
	n m ip link set eth0 down

TCP_RC=0
wait "$IPERF_C" || TCP_RC=$?
wait "$IPERF_S" || true
kill "$PING" 2>/dev/null || true
wait "$PING" 2>/dev/null || true
MBPS=$(jq -r '.end.sum_received.bits_per_second // 0 | . / 1e6 | floor' "$RUN_DIR/iperf.json")
stop_all

printf '\nCYPHONIC mobility bench, %s UTC (%s)\n' "$(date -u '+%Y-%m-%d %H:%M')" "$CYPHONIC_BIN/cyphonicd"
printf 'm -> a: iperf3 TCP at 20 Mbit/s and ping every 10 ms through the tunnel while m moves;\n'
printf 'interruption: the longest time without a ping reply from the change on (10 ms interval included)\n\n'
worst=0
for i in "${!NAMES[@]}"; do
	printf '  %-38s %6s ms\n' "${NAMES[$i]}" "${GAPS[$i]}"
	((GAPS[i] > worst)) && worst=${GAPS[$i]}
done
if ((TCP_RC == 0)); then
	tcp="unbroken (30 s, $MBPS Mbit/s received)"
else
	tcp="BROKEN (iperf3 exit $TCP_RC: $(jq -r '.error // empty' "$RUN_DIR/iperf.json"))"
fi
printf '  %-38s %s\n\n' "TCP connection" "$tcp"
printf 'targets:\n'
printf '  every move under %d ms (worst %d ms)  %s\n' "$TARGET_MS" "$worst" \
	"$( ((worst < TARGET_MS)) && echo met || echo 'NOT met')"
printf '  zero TCP connections lost             %s\n' "$( ((TCP_RC == 0)) && echo met || echo 'NOT met')"
