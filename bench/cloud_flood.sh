#!/bin/bash
# bench/cloud_flood.sh BINDIR: what a bounded flood from one test host costs
# the cloud and the nodes it serves, beside the same without the flood.
#
#          inet: bridge br0 (the "Internet", documentation prefixes only)
#   +-----------------+-----------------+-----------------+
#   |                 |                 |                 |
# ns cloud          ns h1             ns h2             ns x (the flood)
# 192.0.2.1         192.0.2.10        192.0.2.30        192.0.2.66
# cyphonic-cloud    cyphonicd         cyphonicd         cy_abuse
#                   (ns l 192.0.2.11: node "late", started to time a login)
#
# Quiet, then flooded for FLOOD_SECONDS (10), the same measurements:
#   - h1 -> h2's VIP4 ping RTT through their tunnel (ping -i 0.01, p50/p99)
#   - the cloud's RSS (the highest sample, every 0.2 s)
#   - how long `cyphonic stats` takes (the cloud's event loop)
#   - how long a node with a certificate takes to log in and register
# The flood, all from x: 2 connections at a time sending 1 MiB of pipelined
# malformed AS requests without reading, 2 at a time pipelining 40 wrong
# passwords, and FLOOD_RATE (20000) random datagrams a second at the NMS,
# half of them with a sealed header and a random key id.  The peak RSS
# under the flood includes scrypt's 32 MiB for each of the 2 hashing
# workers (N = 2^15, r = 8), transient and bounded by the worker count.
[[ $# -ge 1 ]] || { echo "usage: $0 BINDIR" >&2; exit 2; }
export CYPHONIC_BIN=$1
export CY_LOG_LEVEL=${CY_LOG_LEVEL:-warn}
export CY_QUIET=${CY_QUIET:-1}
source "$(dirname "$0")/../tests/net/lib.sh"
require

SECS=${FLOOD_SECONDS:-10}
RATE=${FLOOD_RATE:-20000}
ABUSE=$CYPHONIC_BIN/cy_abuse
[[ -x $ABUSE ]] || fail "no $ABUSE (built with the tests)"

internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
inet_host h1 192.0.2.10/24 -
inet_host h2 192.0.2.30/24 -
inet_host l 192.0.2.11/24 -
inet_host x 192.0.2.66/24 -
{
	cloud_new
	node_new h1
	node_new h2
	node_new late
	node_new p --password 'correct horse battery staple'
} >"$RUN_DIR/setup.log"
start_cloud
start_node h1 h1
start_node h2 h2
wait_registered h1
wait_registered h2
cy ping h2 -c "$(node_conf h1)" -n 3 >/dev/null || fail "h1 cannot reach h2"
VIP=$(vip h2 4)
CLOUD_PID=${DPID[cloud]}

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$CLOUD_PID/status"; }

# pcts P... < numbers: the percentiles, in order.
pcts()
{
	sort -g | awk -v ps="$*" '{ v[NR] = $1 } END {
		n = split(ps, p, " ")
		for (k = 1; k <= n; k++) {
			i = int(NR * p[k] / 100 + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR
			printf "%s%s", (k > 1 ? " " : ""), (NR ? v[i] : "-")
		}
		print ""
	}'
}

declare -A R=()
# measure PHASE: the four figures, into R["PHASE what"].
measure()
{
	local ph=$1 peak t0 s rtts
	peak=$(rss)
	( while sleep 0.2; do rss; done ) >"$RUN_DIR/rss.$ph" &
	local sampler=$!
	rtts=$(n h1 ping -c 300 -i 0.01 -W 1 "$VIP" 2>/dev/null |
		sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | pcts 50 99)
	R["$ph p50"]=${rtts% *}
	R["$ph p99"]=${rtts#* }
	t0=$(now_ms)
	stats >/dev/null || fail "$ph: cyphonic stats failed"
	R["$ph stats"]=$(($(now_ms) - t0))
	start_node late l
	wait_registered late 20
	R["$ph login"]=$REG_MS
	stop_daemon late
	kill "$sampler" 2>/dev/null
	wait "$sampler" 2>/dev/null || true
	for s in $(cat "$RUN_DIR/rss.$ph"); do ((s > peak)) && peak=$s; done
	R["$ph rss"]=$peak
}

measure quiet

# the flood, bounded in time; every loop ends by itself
flood_end=$(($(now_ms) + SECS * 1000))
loop() { while (($(now_ms) < flood_end)); do "$@" >/dev/null 2>&1 || true; done; }
pids=()
for i in 1 2; do
	n x bash -c "$(declare -f now_ms loop); flood_end=$flood_end; loop $ABUSE flood 192.0.2.1 7443 $((1 << 20))" &
	pids+=($!)
	n x bash -c "$(declare -f now_ms loop); flood_end=$flood_end; loop $ABUSE guess 192.0.2.1 7443 p 40" &
	pids+=($!)
done
n x "$ABUSE" udp 192.0.2.1 7444 "$RATE" "$SECS" >"$RUN_DIR/udp" &
pids+=($!)
measure flood
for p in "${pids[@]}"; do wait "$p" || true; done
S=$(stats)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0) printf "%.2f", b / a; else print "-" }'; }
row()
{
	printf '%-34s %10s %10s %8s\n' "$1" "${R[quiet $2]}" "${R[flood $2]}" \
		"$(ratio "${R[quiet $2]}" "${R[flood $2]}")"
}
echo
echo "Cloud under a bounded flood from one host (${SECS} s: AS floods and password"
echo "guessing, $(cat "$RUN_DIR/udp" | awk '{ print $2 }') NMS datagrams), beside the same without it"
printf '%-34s %10s %10s %8s\n' "" quiet flood "flood/quiet"
row "cloud RSS, peak (kB)" rss
row "h1 -> h2 ping RTT p50 (ms)" p50
row "h1 -> h2 ping RTT p99 (ms)" p99
row "cyphonic stats (ms)" stats
row "a node logs in and registers (ms)" login
printf 'AS during the flood: %s refused, %s throttled, %s connections refused; NMS: %s malformed, %s unknown key\n' \
	"$(jq -r .as.login_refused <<<"$S")" "$(jq -r .as.throttled <<<"$S")" \
	"$(jq -r .as.conn_refused <<<"$S")" "$(jq -r .nms.malformed <<<"$S")" \
	"$(jq -r .nms.unknown_key <<<"$S")"
stop_all
