#!/bin/bash
# bench/bench.sh BINDIR: CYPHONIC's direct path against the plain network
# and wireguard-go (userspace WireGuard over a TUN, like us), on one machine.
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+
#        |                      |                       |
#   ns cloud                ns h1 (client)         ns h2 (server)
#   192.0.2.1/24            192.0.2.10/24          192.0.2.30/24
#   cyphonic-cloud          cy0: h1's VIPs         cy0: h2's VIPs      CYPHONIC, MTU 1400
#                           wgb1 198.51.100.1      wgb2 198.51.100.2   wireguard-go, MTU 1400
#                           iperf3 -c, ping        iperf3 -s
#
# Three systems, measured in alternation, BENCH_ROUNDS (3) rounds, medians:
#   plain     h1 -> 192.0.2.30 (the limit: veth + bridge)
#   wg-go     h1 -> 198.51.100.2 over `wireguard-go wgb1` (never the kernel module)
#   cyphonic  h1 -> h2's VIP4 over the tunnel the resolver set up (direct path)
# TCP: iperf3 -t BENCH_SECONDS (5).  UDP: iperf3 -u -l 1300 at the highest
# rate with <= 1% loss (found once per system, from the rate that arrives at
# full offered load).  RTT: ping -c 200 -i 0.01, p50 and p99.  CYPHONIC only:
# the cold DNS answer (route selection + tunnel set-up) and the first ping
# reply after the query, BENCH_COLD (5) times, both daemons restarted before
# each so nothing is cached.
#
# Prints a table (also written next to BINDIR: BUILD/bench-results.txt)
# with the ratios CYPHONIC / wireguard-go and the deck's Raspberry Pi
# figures.  Everything is removed on exit.
[[ $# -ge 1 ]] || { echo "usage: $0 BINDIR" >&2; exit 2; }
export CYPHONIC_BIN=$1
export CY_LOG_LEVEL=${CY_LOG_LEVEL:-info}
# A release build: no sanitizer options are needed, none hurt.
source "$(dirname "$0")/../tests/net/lib.sh"
require
for t in iperf3 wireguard-go wg ping dig; do
	command -v "$t" >/dev/null || fail "missing tool: $t (run scripts/deps.sh)"
done

ROUNDS=${BENCH_ROUNDS:-3}
SECS=${BENCH_SECONDS:-5}
COLD=${BENCH_COLD:-5}
OUT=$(cd "$CYPHONIC_BIN/.." && pwd)/bench-results.txt
read -ra SYSTEMS <<<"${BENCH_SYSTEMS:-plain wg cy}"   # a subset, for trying the bench out
declare -A ADDR=() LABEL=([plain]="plain veth" [wg]="wireguard-go" [cy]="CYPHONIC")
declare -A RES=()   # "sys metric" -> space-separated samples

add() { RES["$1 $2"]+="$3 "; }

# median / percentile over the arguments (numbers).
pct()
{
	local p=$1
	shift
	(($#)) || { echo -; return; }
	printf '%s\n' "$@" | sort -g | awk -v p="$p" '{ v[NR] = $1 }
		END { if (!NR) { print "-"; exit } i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1
			if (i > NR) i = NR; print v[i] }'
}
med() { pct 50 ${RES["$1 $2"]:-}; }

# ---------------------------------------------------------------- set-up

pretty "testbed: cloud, h1 and h2 on one bridge"
internet
inet_host cloud 192.0.2.1/24 -
inet_host h1 192.0.2.10/24 -
inet_host h2 192.0.2.30/24 -
ADDR[plain]=192.0.2.30

pretty "wireguard-go between h1 and h2"
wg_up()
{
	local h=$1 me=$2 peer=$3 peer_ip=$4 key=$RUN_DIR/wg-$1.key
	start_daemon "wg-$h" "$h" aux env WG_PROCESS_FOREGROUND=1 wireguard-go -f "wg$h"
	wait_for 5 n "$h" ip link show "wg$h"
	n "$h" ip -d link show "wg$h" | grep -q 'tun type tun' ||
		fail "wg$h is not a TUN device: not wireguard-go"
	n "$h" wg set "wg$h" listen-port 51820 private-key "$key" \
		peer "$(cat "$RUN_DIR/wg-$peer.pub")" allowed-ips "$peer_ip/32" \
		endpoint "$5:51820"
	n "$h" ip addr add "$me/24" dev "wg$h"
	n "$h" ip link set "wg$h" mtu 1400 up
}
for h in h1 h2; do
	(umask 077 && wg genkey >"$RUN_DIR/wg-$h.key")
	wg pubkey <"$RUN_DIR/wg-$h.key" >"$RUN_DIR/wg-$h.pub"
done
wg_up h1 198.51.100.1 h2 198.51.100.2 192.0.2.30
wg_up h2 198.51.100.2 h1 198.51.100.1 192.0.2.10
ADDR[wg]=198.51.100.2
wait_for 10 n h1 ping -c 1 -W 1 198.51.100.2
ok "wgh1 <-> wgh2 up (TUN devices of wireguard-go $(wireguard-go --version | awk '{ print $2; exit }'))"

has_cy() { [[ " ${SYSTEMS[*]} " == *" cy "* ]]; }
if has_cy; then
pretty "CYPHONIC: cloud, nodes h1 and h2"
cloud_new 192.0.2.1
conf_set "$CLOUD_DIR/cloud.conf" cloud log_level info
for h in h1 h2; do
	node_new "$h"
	conf_set "$(node_conf "$h")" node keepalive 15
done
start_cloud
start_node h2 h2
start_node h1 h1
wait_registered h2
wait_registered h1
ADDR[cy]=$(vip h2 4)
ok "h1 and h2 registered; h2's VIP4 ${ADDR[cy]}"
fi

# ---------------------------------------------------------------- cold start

us2ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }

# One cold run: h1 and h2 restarted (no route, no tunnel), then the time from the
# query to its answer, and to the first ping reply; then the same query
# warm (tunnel up: what the resolver itself costs).
cold_run()
{
	local out got
	# Both restarted: neither keeps a route or a tunnel from the run before.
	stop_daemon h1
	stop_daemon h2
	start_node h2 h2
	start_node h1 h1
	wait_for 20 is_registered h2
	wait_for 20 is_registered h1
	has_tunnel h1 h2 && fail "h1 has a tunnel to h2 right after its restart"
	out=$(dns_probe h1 "$(fqdn h2)" "${ADDR[cy]}") || fail "h1: cold query for $(fqdn h2) failed"
	add cy dns_ms "$(us2ms "${out% *}")"
	add cy ping1_ms "$(us2ms "${out#* }")"
	got=$(qdig h1 +short "$(fqdn h2)" A)
	[[ $got == "${ADDR[cy]}" ]] || fail "h1: $(fqdn h2) resolves to '$got', not ${ADDR[cy]}"
	out=$(dns_probe h1 "$(fqdn h2)") || fail "h1: warm query for $(fqdn h2) failed"
	add cy dns_warm_ms "$(us2ms "${out% *}")"
}
if has_cy; then
pretty "CYPHONIC cold start: $COLD runs"
for ((i = 1; i <= COLD; i++)); do cold_run; done
ok "DNS answer cold (ms): ${RES[cy dns_ms]}; first ping reply (ms): ${RES[cy ping1_ms]}"
# Resolving leaves the tunnel for the measurements below.
has_tunnel h1 h2 || fail "h1 has no tunnel to h2 after resolving it"
[[ $(tunnel_get h1 h2 .path) == direct ]] || fail "h1 -> h2 is not direct"
fi

# ---------------------------------------------------------------- throughput

start_daemon iperf h2 aux iperf3 -s
wait_for 5 n h2 sh -c 'ss -Hltn "sport = :5201" | grep -q .'

# iperf SYS ARGS...: one iperf3 client run from h1 to SYS's address (JSON);
# retried once: the server answers one client at a time.
iperf()
{
	local sys=$1 out
	shift
	out=$(n h1 iperf3 -c "${ADDR[$sys]}" -J "$@" 2>&1) ||
		out=$(n h1 iperf3 -c "${ADDR[$sys]}" -J "$@" 2>&1) ||
		fail "iperf3 to ${LABEL[$sys]} (${ADDR[$sys]}) $*: $(jq -r .error <<<"$out" 2>/dev/null || echo "$out")"
	echo "$out"
}
mbps() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }

# udp_run SYS RATE SECS: sets U_RX (Mbit/s received) and U_LOSS (%).
U_RX=0 U_LOSS=0
udp_run()
{
	local j
	j=$(iperf "$1" -u -l 1300 -b "$2" -t "$3")
	U_LOSS=$(jq -r '.end.sum.lost_percent * 100 | round / 100' <<<"$j")
	U_RX=$(jq -r '.end.sum.bits_per_second * (1 - .end.sum.lost_percent / 100)' <<<"$j")
	U_RX=$(mbps "$U_RX")
}

# The UDP rate per system: offer far too much, then offer 90% of what
# arrived until the loss is at most 1% (at most 5 tries, 2 s each).
declare -A URATE=()
pretty "UDP: finding each system's rate at <= 1% loss"
for s in "${SYSTEMS[@]}"; do
	rate=10000
	for ((try = 0; try < 5; try++)); do
		udp_run "$s" "${rate}M" 2
		say "${LABEL[$s]}: offered ${rate} Mbit/s, received $U_RX Mbit/s, loss $U_LOSS%"
		awk -v l="$U_LOSS" 'BEGIN { exit !(l <= 1) }' && break
		rate=$(awk -v r="$U_RX" 'BEGIN { r = int(r * 0.9); print r < 1 ? 1 : r }')
	done
	URATE[$s]=$rate
done

for ((r = 1; r <= ROUNDS; r++)); do
	pretty "round $r of $ROUNDS"
	for s in "${SYSTEMS[@]}"; do
		j=$(iperf "$s" -t "$SECS")
		add "$s" tcp "$(mbps "$(jq -r .end.sum_received.bits_per_second <<<"$j")")"
	done
	for s in "${SYSTEMS[@]}"; do
		udp_run "$s" "${URATE[$s]}M" "$SECS"
		add "$s" udp "$U_RX"
		add "$s" udp_loss "$U_LOSS"
	done
	for s in "${SYSTEMS[@]}"; do
		mapfile -t rtts < <(n h1 ping -n -c 200 -i 0.01 -W 1 "${ADDR[$s]}" |
			sed -n 's/.* time=\([0-9.]*\) ms/\1/p')
		((${#rtts[@]} >= 190)) || fail "${LABEL[$s]}: only ${#rtts[@]} of 200 echoes answered"
		add "$s" p50 "$(pct 50 "${rtts[@]}")"
		add "$s" p99 "$(pct 99 "${rtts[@]}")"
	done
	for s in "${SYSTEMS[@]}"; do
		say "$(printf '%-13s TCP %8s  UDP %8s (%s%% loss)  RTT p50 %s p99 %s' "${LABEL[$s]}" \
			"$(awk '{ print $NF }' <<<"${RES[$s tcp]}")" "$(awk '{ print $NF }' <<<"${RES[$s udp]}")" \
			"$(awk '{ print $NF }' <<<"${RES[$s udp_loss]}")" \
			"$(awk '{ print $NF }' <<<"${RES[$s p50]}")" "$(awk '{ print $NF }' <<<"${RES[$s p99]}")")"
	done
done
! has_cy || [[ $(tunnel_get h1 h2 .path) == direct ]] || fail "h1 -> h2 is no longer direct"
stop_daemon iperf 0 1 143

# ---------------------------------------------------------------- table

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
row()
{
	local name=$1 m=$2 deck=$3 p w c r
	p=$(med plain "$m")
	w=$(med wg "$m")
	c=$(med cy "$m")
	r=$(ratio "$c" "$w")
	[[ $m != udp_loss ]] || r=-
	printf '%-28s %12s %14s %12s %10s %12s\n' "$name" "$p" "$w" "$c" "$r" "$deck"
}
{
	printf 'CYPHONIC bench, %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'host: %s, %s CPUs, Linux %s; cyphonicd %s\n' \
		"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)" "$(nproc)" \
		"$(uname -r)" "$CYPHONIC_BIN/cyphonicd"
	printf 'medians of %s rounds (systems alternating); iperf3 -t %s; UDP -l 1300 at the rate\n' \
		"$ROUNDS" "$SECS"
	printf 'with <= 1%% loss; ping -c 200 -i 0.01; cold start: %s runs, both nodes restarted each time\n' \
		"$COLD"
	printf 'all hosts share this machine (client, server, both daemons and the cloud)\n\n'
	printf '%-28s %12s %14s %12s %10s %12s\n' "" "plain veth" "wireguard-go" "CYPHONIC" \
		"CY/wg-go" "deck (RPi)"
	row "TCP throughput (Mbit/s)" tcp 44.4
	row "UDP throughput (Mbit/s)" udp 30
	row "UDP loss at that rate (%)" udp_loss -
	row "RTT p50 (ms)" p50 2.523
	row "RTT p99 (ms)" p99 -
	printf '%-28s %12s %14s %12s %10s %12s\n' "DNS answer, cold (ms)" - - "$(med cy dns_ms)" - \
		"18.43"
	printf '%-28s %12s %14s %12s %10s %12s\n' "DNS answer, warm (ms)" - - \
		"$(med cy dns_warm_ms)" - -
	printf '%-28s %12s %14s %12s %10s %12s\n' "query -> first ping (ms)" - - "$(med cy ping1_ms)" \
		- -
	printf '\ndeck (Raspberry Pi): route selection 16.2 ms + tunnel set-up 2.23 ms = 18.43 ms,\n'
	printf 'TCP 44.4 Mbit/s, UDP 30 Mbit/s, RTT 2.523 ms.  "DNS answer, cold": one UDP query for\n'
	printf 'a name with no route and no tunnel yet (both nodes just restarted), from the\n'
	printf 'query sent to the answer received: route selection + tunnel set-up + the resolver;\n'
	printf '"warm": the same query with the tunnel up.  "query -> first ping": until the first\n'
	printf 'echo reply (ping started after the answer).\n'
	printf '\nsamples:\n'
	for k in $(printf '%s\n' "${!RES[@]}" | sort | tr ' ' '|'); do
		printf '  %-18s %s\n' "${k/|/ }" "${RES[${k/|/ }]}"
	done
} | tee "$OUT"
echo "(written to $OUT)"

stop_all
