#!/bin/bash
# bench/bench.sh BINDIR: CYPHONIC's node, general-node and relayed paths
# against the plain network, wireguard-go (userspace WireGuard over a TUN,
# like us) and Nebula (Debian's, userspace over a TUN too), on one machine.
#
#                          inet: bridge br0 (the "Internet")
#     +-----------------+------------------+------------------+-----------------+
#     |                 |                  |                  |                 |
#  ns cloud         ns h1 (client)     ns h2 (server)     ns ad (adapter)   ns peers
#  192.0.2.1/24     192.0.2.10/24      192.0.2.30/24      192.0.2.40/24     192.0.2.50/24
#  cyphonic-cloud   cy0: h1's VIPs     cy0: h2's VIPs     cyphonicd with    BENCH_PEERS
#                   wgh1 198.51.100.1  wgh2 198.51.100.2  [adapter]         idle nodes (for
#                   nb1 10.88.0.1      nb1 10.88.0.2
#                   iperf3 -c, ping    iperf3 -s          lan0 (bridge)     RSS per peer)
#                                                          |
#                                                         ns gn (general node, stock tools)
#                                                         eth0: VIP4 by udhcpc, VIP6 by
#                                                         dhclient -6
#                                                         iperf3 -c, ping, arping
#  also on inet: ns r1 (NAPT) 192.0.2.20 -- ns rl1 203.0.113.10/25 (cyphonicd, iperf3 -c)
#                ns r2 (NAPT) 192.0.2.21 -- ns rl2 203.0.113.140/25 (cyphonicd, iperf3 -s)
#
# Four systems, measured in alternation, BENCH_ROUNDS (3) rounds, medians:
#   plain     h1 -> 192.0.2.30 (the limit: veth + bridge)
#   wg        h1 -> 198.51.100.2 over `wireguard-go wgh1` (never the kernel module)
#   nb        h1 -> 10.88.0.2 over Nebula (static host map, no lighthouse)
#   cy        h1 -> h2's VIP4 over the tunnel the resolver set up (node path, direct)
#   gn        gn -> h2's VIP4 through the adapter ad (general-node path, direct)
#   gn6       gn -> h2's VIP6 through the adapter ad (the same over IPv6)
#   relay     rl1 -> rl2's VIP4, both behind NAPT: through the TRS in the cloud
# TCP: iperf3 -t BENCH_SECONDS (5), one stream and -P 4.  UDP: iperf3 -u -l 1300
# at the highest rate with <= 1% loss (found once per system: from the rate
# that arrives at full offered load, up in steps of a fifth, then halving).  RTT: ping -c 200 -i 0.01, p50 and p99;
# the same again while one bulk TCP flow (iperf3) runs through the same
# tunnel: latency under load; and beside a TCP flow held to BENCH_PACED_MBPS
# (200 Mbit/s, a rate every system carries): the wait a tunnel adds when
# it is not itself the bottleneck.
# CPU seconds per GB: utime + stime of the tunnel daemons at both ends
# (/proc/PID/stat) over the single-stream TCP run, over the bytes moved.
# Memory: VmRSS of each idle daemon with one peer, and per peer (RSS with
# BENCH_PEERS (32) more peers, minus RSS with one, over BENCH_PEERS).
# Node and GN paths only: the cold DNS answer (route selection + tunnel
# set-up; for the GN asked through the adapter), the warm one, and the first
# ping reply after the query, BENCH_COLD (5, at least 1) times, daemons restarted before
# each so nothing is cached; for the GN also the ARP answer for the peer's
# VIP (arping, answered by the adapter with its own MAC).
#
# BENCH_SCHED: [node] sched_priority of every CYPHONIC daemon (unset: the
# default, 0, normal scheduling; 1: SCHED_FIFO 1).
# Prints a table (also written next to BINDIR: BUILD/bench-results.txt)
# with the ratios CYPHONIC / wireguard-go and general node / node, and the
# deck's Raspberry Pi figures.  Everything is removed on exit.
# BENCH_SYSTEMS="cy gn" measures a subset; gn is left out (with a note) when
# the CLI has no `adapter` command.
[[ $# -ge 1 ]] || { echo "usage: $0 BINDIR" >&2; exit 2; }
export CYPHONIC_BIN=$1
export CY_LOG_LEVEL=${CY_LOG_LEVEL:-info}
# A release build: no sanitizer options are needed, none hurt.
source "$(dirname "$0")/../tests/net/lib.sh"
source "$(dirname "$0")/gn.sh"
require
for t in iperf3 wireguard-go wg nebula nebula-cert ping dig udhcpc arping perl; do
	command -v "$t" >/dev/null || fail "missing tool: $t (run scripts/deps.sh)"
done

ROUNDS=${BENCH_ROUNDS:-3}
SECS=${BENCH_SECONDS:-5}
COLD=${BENCH_COLD:-5}
# The cold runs also set up the tunnels the measurements below use.
((COLD >= 1)) || { echo "bench: BENCH_COLD must be at least 1 (it was $COLD)" >&2; exit 2; }
NPEERS=${BENCH_PEERS:-32}
PACED=${BENCH_PACED_MBPS:-200}
OUT=$(cd "$CYPHONIC_BIN/.." && pwd)/bench-results.txt
read -ra SYSTEMS <<<"${BENCH_SYSTEMS:-plain wg nb cy gn gn6 relay}"
declare -A ADDR=() LABEL=([plain]="plain veth" [wg]="wireguard-go" [nb]="Nebula" [cy]="CY node"
	[gn]="CY GN" [gn6]="CY GN IPv6" [relay]="CY relay")
declare -A CLIENT=([plain]=h1 [wg]=h1 [nb]=h1 [cy]=h1 [gn]=gn [gn6]=gn [relay]=rl1)
declare -A RES=()   # "sys metric" -> space-separated samples
NOTES=()
GN_MAC=02:00:00:00:53:01

add() { RES["$1 $2"]+="$3 "; }
# bench_conf FILE: the bench's settings for a CYPHONIC daemon's config.
bench_conf()
{
	conf_set "$1" node keepalive 15
	[[ -z ${BENCH_SCHED:-} ]] || conf_set "$1" node sched_priority "$BENCH_SCHED"
}
has() { [[ " ${SYSTEMS[*]} " == *" $1 "* ]]; }
has_gn() { has gn || has gn6; }
has_cy() { has cy || has_gn || has relay; }

if has_gn && ! adapter_cli; then
	NOTES+=("general-node path not measured: this build's CLI has no 'adapter' command")
	read -ra SYSTEMS <<<"$(printf '%s ' "${SYSTEMS[@]}" | sed 's/\bgn6\?\b//g')"
fi

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

# ticks PID...: utime + stime of the processes (all their threads), clock ticks.
ticks()
{
	local p s=0 f
	for p in "$@"; do
		f=$(<"/proc/$p/stat")
		f=${f##*) }
		s=$((s + $(awk '{ print $12 + $13 }' <<<"$f")))
	done
	echo "$s"
}
CLK_TCK=$(getconf CLK_TCK)

# rss_kb PID: VmRSS in kB.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# The tunnel daemons of a system, both ends.
sys_pids()
{
	case $1 in
	wg) echo "${DPID[wg-h1]} ${DPID[wg-h2]}" ;;
	nb) echo "${DPID[nb-h1]} ${DPID[nb-h2]}" ;;
	cy) echo "${DPID[h1]} ${DPID[h2]}" ;;
	gn | gn6) echo "${DPID[ad]} ${DPID[h2]}" ;;
	relay) echo "${DPID[rl1]} ${DPID[rl2]} ${DPID[cloud]}" ;;
	esac
}

# ---------------------------------------------------------------- set-up

pretty "testbed: cloud, h1, h2 and the adapter ad on one bridge; gn behind ad"
internet
inet_host cloud 192.0.2.1/24 -
inet_host h1 192.0.2.10/24 -
inet_host h2 192.0.2.30/24 -
ADDR[plain]=192.0.2.30
if has_gn; then
	adapter_global ad 192.0.2.40/24
	gn_host6 gn ad "$GN_MAC"
fi
if has relay; then
	NAPT_KIND=random napt r1 192.0.2.20/24 203.0.113.1/25
	NAPT_KIND=random napt r2 192.0.2.21/24 203.0.113.129/25
	lan_host rl1 r1 203.0.113.10/25
	lan_host rl2 r2 203.0.113.140/25
fi

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

# Nebula between h1 and h2: a CA, a certificate each, a static host map
# (no lighthouse), every flow allowed, the same MTU as the others.
nb_up()
{
	local h=$1 me=$2 peer_ip=$3 peer_ep=$4 d=$RUN_DIR/nebula
	nebula-cert sign -ca-crt "$d/ca.crt" -ca-key "$d/ca.key" -name "$h" -ip "$me/24" \
		-out-crt "$d/$h.crt" -out-key "$d/$h.key"
	cat >"$d/$h.yml" <<EOF
pki: { ca: $d/ca.crt, cert: $d/$h.crt, key: $d/$h.key }
static_host_map: { "$peer_ip": ["$peer_ep:4242"] }
lighthouse: { am_lighthouse: false, hosts: [] }
listen: { host: 0.0.0.0, port: 4242 }
punchy: { punch: false }
tun: { dev: nb1, mtu: 1400, drop_local_broadcast: false, drop_multicast: false }
logging: { level: warning }
firewall:
  outbound: [{ port: any, proto: any, host: any }]
  inbound: [{ port: any, proto: any, host: any }]
EOF
	start_daemon "nb-$h" "$h" aux nebula -config "$d/$h.yml"
	wait_for 5 n "$h" ip link show nb1
}
if has nb; then
	pretty "Nebula between h1 and h2"
	mkdir -p "$RUN_DIR/nebula"
	nebula-cert ca -name cyphonic-bench -out-crt "$RUN_DIR/nebula/ca.crt" \
		-out-key "$RUN_DIR/nebula/ca.key"
	nb_up h1 10.88.0.1 10.88.0.2 192.0.2.30
	nb_up h2 10.88.0.2 10.88.0.1 192.0.2.10
	ADDR[nb]=10.88.0.2
	wait_for 10 n h1 ping -c 1 -W 1 10.88.0.2
	ok "nb1 <-> nb1 up (Nebula $(nebula -version | awk '{ print $2; exit }'))"
fi

# gn_ready: the adapter has logged gn in and registered it (a restarted
# adapter learns the GN again from its lease file or from its next frame;
# udhcpc once more after 5 s, as a rebooting device would).
# The adapter's own view counts too: it lists gn in general_nodes (and, if
# its entry has a "registered" field, that is true).
gn_up()
{
	local st
	gn_registered gn || return 1
	st=$(status ad | jq -c --arg m "$GN_MAC" \
		'first(.general_nodes[]? | select((.mac | ascii_downcase) == $m))') || return 1
	[[ -n $st && $st != null ]] || return 1
	jq -e '(.registered // true) == true' <<<"$st" >/dev/null
}
gn_ready()
{
	wait_for 20 is_registered ad
	if ! WAIT_STEP=0.05 wait_for 5 gn_up 2>/dev/null; then
		CY_FAILED=0
		udhcpc_once gn || fail "gn: no lease from the restarted adapter"
		wait_for 20 gn_up
	fi
}

if has_cy; then
	pretty "CYPHONIC: cloud, nodes h1 and h2$(has_gn && echo ", adapter ad with general node gn")"
	cloud_new 192.0.2.1
	conf_set "$CLOUD_DIR/cloud.conf" cloud log_level info
	for h in h1 h2; do
		node_new "$h"
		bench_conf "$(node_conf "$h")"
	done
	start_cloud
	start_node h2 h2
	start_node h1 h1
	wait_registered h2
	wait_registered h1
	ADDR[cy]=$(vip h2 4)
	ok "h1 and h2 registered; h2's VIP4 ${ADDR[cy]}"
	if [[ -n ${BENCH_SCHED:-} ]]; then
		want=$( ((BENCH_SCHED > 0)) && echo realtime || echo normal)
		for h in h1 h2; do
			[[ $(status_get "$h" .sched.policy) == "$want" ]] ||
				fail "$h: scheduling $(status_get "$h" .sched.policy), not $want (BENCH_SCHED=$BENCH_SCHED)"
		done
		NOTES+=("CYPHONIC daemons at [node] sched_priority $BENCH_SCHED ($want scheduling)")
	fi
	if has_gn; then
		adapter_new ad
		# Bench settings: no 1 s keepalive, no 2 s list refresh.
		bench_conf "$(node_conf ad)"
		conf_set "$(node_conf ad)" adapter refresh 60
		conf_set "$(node_conf ad)" node log_level "$CY_LOG_LEVEL"
		gn_new gn ad "$GN_MAC"
		start_node ad ad
		wait_registered ad
		udhcpc_once gn || fail "gn: udhcpc got no lease from the adapter"
		[[ $(dhcp_get gn ip) == "$(vip gn 4)" ]] ||
			fail "gn: leased $(dhcp_get gn ip), not its VIP4 $(vip gn 4)"
		[[ $(dhcp_get gn router) == "$(vip ad 4)" && $(dhcp_get gn dns) == "$(vip ad 4)"* ]] ||
			fail "gn: router '$(dhcp_get gn router)', DNS '$(dhcp_get gn dns)', not the adapter's $(vip ad 4)"
		wait_for 20 gn_up
		ADDR[gn]=${ADDR[cy]}
		ok "gn leased $(dhcp_get gn ip)/$(dhcp_get gn mask), router and DNS $(dhcp_get gn router), MTU $(dhcp_get gn mtu); registered by ad"
		AD_MAC=$(adapter_mac ad)
		if has gn6; then
			dhclient6_once gn || fail "gn: dhclient -6 got no lease from the adapter"
			[[ $(dhcp6_get gn ip6) == "$(vip gn 6)" ]] ||
				fail "gn: leased $(dhcp6_get gn ip6), not its VIP6 $(vip gn 6)"
			wait_for 10 dad_done gn
			ADDR[gn6]=$(vip h2 6)
			ok "gn leased $(dhcp6_get gn ip6) by DHCPv6 too"
		fi
	fi
	if has relay; then
		for h in rl1 rl2; do
			node_new "$h"
			bench_conf "$(node_conf "$h")"
			start_node "$h" "$h"
		done
		for h in rl1 rl2; do wait_registered "$h"; done
		ADDR[relay]=$(vip rl2 4)
		got=$(resolve rl1 rl2 A) && [[ $got == "${ADDR[relay]}" ]] ||
			fail "rl1: $(fqdn rl2) resolves to '$got', not ${ADDR[relay]}"
		[[ $(tunnel_get rl1 rl2 .path) == relay ]] ||
			fail "rl1 -> rl2 is $(tunnel_get rl1 rl2 .path), not relay"
		ok "rl1 and rl2 behind NAPT: tunnel through the TRS at $(tunnel_get rl1 rl2 .endpoint)"
	fi
fi

# ---------------------------------------------------------------- cold start

us2ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }

# One cold run: the daemons restarted (no route, no tunnel), then for each
# path the time from the query to its answer, and to the first ping reply;
# then the same query warm (tunnel up: what the resolver itself costs).
cold_node()
{
	local out got
	has_tunnel h1 h2 && fail "h1 has a tunnel to h2 right after its restart"
	out=$(dns_probe h1 "$(fqdn h2)" "${ADDR[cy]}") || fail "h1: cold query for $(fqdn h2) failed"
	add cy dns_ms "$(us2ms "${out% *}")"
	add cy ping1_ms "$(us2ms "${out#* }")"
	got=$(qdig h1 +short "$(fqdn h2)" A)
	[[ $got == "${ADDR[cy]}" ]] || fail "h1: $(fqdn h2) resolves to '$got', not ${ADDR[cy]}"
	out=$(dns_probe h1 "$(fqdn h2)") || fail "h1: warm query for $(fqdn h2) failed"
	add cy dns_warm_ms "$(us2ms "${out% *}")"
}
cold_gn()
{
	local out
	# The GN's kernel must ask for the peer's MAC again: the ARP is part of
	# the first packet's delay, as in the deck.
	n gn ip neigh del "${ADDR[gn]}" dev eth0 2>/dev/null || true
	out=$(gn_probe gn "$(fqdn h2)" "${ADDR[gn]}" 2>&1) ||
		fail "gn: cold query for $(fqdn h2) through the adapter: $out"
	read -r a b _ <<<"$out"
	add gn dns_ms "$(us2ms "$a")"
	add gn ping1_ms "$(us2ms "$b")"
	out=$(gn_probe gn "$(fqdn h2)" "${ADDR[gn]}" 2>&1) ||
		fail "gn: warm query for $(fqdn h2) through the adapter: $out"
	add gn dns_warm_ms "$(us2ms "${out%% *}")"
}
cold_run()
{
	local i=$1 d
	for d in h1 h2 $(has_gn && echo ad); do stop_daemon "$d"; done
	start_node h2 h2
	start_node h1 h1
	! has_gn || start_node ad ad
	wait_for 20 is_registered h2
	wait_for 20 is_registered h1
	! has_gn || gn_ready
	# Alternate which path goes first.
	if ((i % 2)) || ! has gn; then
		! has cy || cold_node
		! has gn || cold_gn
	else
		cold_gn
		! has cy || cold_node
	fi
}
if has_cy; then
	pretty "CYPHONIC cold start: $COLD runs"
	for ((i = 1; i <= COLD; i++)); do cold_run "$i"; done
	for s in cy gn; do
		has "$s" || continue
		ok "${LABEL[$s]}: DNS answer cold (ms): ${RES[$s dns_ms]}; first ping reply (ms): ${RES[$s ping1_ms]}"
	done
	# Resolving leaves the tunnels for the measurements below.
	if has cy; then
		has_tunnel h1 h2 || fail "h1 has no tunnel to h2 after resolving it"
		[[ $(tunnel_get h1 h2 .path) == direct ]] || fail "h1 -> h2 is not direct"
	fi
fi

# ---------------------------------------------------------------- memory

pretty "memory: idle daemons with one peer"
add wg rss_kb "$(rss_kb "${DPID[wg-h1]}")"
! has nb || add nb rss_kb "$(rss_kb "${DPID[nb-h1]}")"
! has cy || add cy rss_kb "$(rss_kb "${DPID[h1]}")"
! has_gn || add gn rss_kb "$(rss_kb "${DPID[ad]}")"
for s in wg nb cy gn; do
	[[ -n ${RES[$s rss_kb]:-} ]] && say "${LABEL[$s]}: VmRSS ${RES[$s rss_kb]}kB"
done

# RSS per peer: BENCH_PEERS more peers for h1 (CYPHONIC: nodes in ns peers,
# each with its own TUN, port and resolver address, resolved by h1 so it
# holds a tunnel to each; wireguard-go: peers configured on wgh1, no
# handshake), RSS after minus RSS before, over BENCH_PEERS.
tunnels_ge() { (($(status "$1" | jq '.tunnels | length') >= $2)); }
if ((NPEERS > 0)) && has cy; then
	pretty "memory per peer: $NPEERS more peers for h1"
	inet_host peers 192.0.2.50/24 -
	for ((i = 1; i <= NPEERS; i++)); do
		node_new "p$i" >/dev/null
		f=$(node_conf "p$i")
		bench_conf "$f"
		conf_set "$f" node log_level warn
		conf_set "$f" node tun "cyp$i"
		conf_set "$f" node port $((7500 + i))
		conf_set "$f" resolver listen "127.0.1.$i:53"
	done
	for ((i = 1; i <= NPEERS; i++)); do start_node "p$i" peers; done
	for ((i = 1; i <= NPEERS; i++)); do wait_for 30 is_registered "p$i"; done
	r0=$(rss_kb "${DPID[h1]}")
	for ((i = 1; i <= NPEERS; i++)); do
		got=$(resolve h1 "p$i" A) && [[ $got == "$(vip "p$i" 4)" ]] ||
			fail "h1: $(fqdn "p$i") resolves to '$got'"
	done
	wait_for 10 tunnels_ge h1 $((NPEERS + 1))
	r1=$(rss_kb "${DPID[h1]}")
	add cy rss_peer_kb "$(awk -v a="$r0" -v b="$r1" -v n="$NPEERS" 'BEGIN { printf "%.2f", (b - a) / n }')"
	say "cyphonicd h1: VmRSS ${r0}kB with 1 tunnel, ${r1}kB with $((NPEERS + 1))"
	r0=$(rss_kb "${DPID[wg-h1]}")
	for ((i = 1; i <= NPEERS; i++)); do
		n h1 wg set wgh1 peer "$(wg genkey | wg pubkey)" allowed-ips "10.99.$i.0/24" \
			endpoint "192.0.2.50:$((7500 + i))"
	done
	sleep 0.5
	r1=$(rss_kb "${DPID[wg-h1]}")
	add wg rss_peer_kb "$(awk -v a="$r0" -v b="$r1" -v n="$NPEERS" 'BEGIN { printf "%.2f", (b - a) / n }')"
	say "wireguard-go h1: VmRSS ${r0}kB with 1 peer, ${r1}kB with $((NPEERS + 1))"
	for ((i = 1; i <= NPEERS; i++)); do stop_daemon "p$i"; done
fi

# ---------------------------------------------------------------- throughput

start_daemon iperf h2 aux iperf3 -s
wait_for 5 n h2 sh -c 'ss -Hltn "sport = :5201" | grep -q .'
if has relay; then
	start_daemon iperf-rl2 rl2 aux iperf3 -s
	wait_for 5 n rl2 sh -c 'ss -Hltn "sport = :5201" | grep -q .'
fi

# iperf SYS ARGS...: one iperf3 client run from SYS's client to SYS's
# address (JSON); retried once: the server answers one client at a time.
iperf()
{
	local sys=$1 out
	shift
	out=$(n "${CLIENT[$sys]}" iperf3 -c "${ADDR[$sys]}" -J "$@" 2>&1) ||
		out=$(n "${CLIENT[$sys]}" iperf3 -c "${ADDR[$sys]}" -J "$@" 2>&1) ||
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

# tcp_run SYS: one single-stream run, with the CPU time of SYS's daemons.
tcp_run()
{
	local s=$1 pids c0 c1 j bytes
	pids=$(sys_pids "$s")
	[[ -z $pids ]] || c0=$(ticks $pids)
	j=$(iperf "$s" -t "$SECS")
	add "$s" tcp "$(mbps "$(jq -r .end.sum_received.bits_per_second <<<"$j")")"
	[[ -n $pids ]] || return 0
	c1=$(ticks $pids)
	bytes=$(jq -r .end.sum_received.bytes <<<"$j")
	add "$s" cpu_gb "$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v b="$bytes" \
		'BEGIN { printf "%.2f", t / hz / (b / 1e9) }')"
}

# The UDP rate per system: offer far too much, then offer 90% of what
# arrived until a try passes (at most 5 tries, 2 s each).  What
# arrives under overload is not the most a system carries (a receiver
# flooded past its rate can deliver less than it would at a rate it
# keeps up with), so from the first rate that passes, climb by a fifth
# while it passes, then halve the gap to the first rate that failed,
# until the step is under 2% (at most 6 more tries).  A 2 s try passes
# at <= 0.5% loss: the rounds' longer runs at that rate scatter more.
# The systems search in step, one try each in turn, as the rounds
# alternate them: a slow moment of this shared machine falls on one try
# of each system, not on one system's whole search.
declare -A URATE=() U_PASSED=() U_BAD=() U_TRIES=() U_DONE=()
udp_ok() { awk -v l="$U_LOSS" 'BEGIN { exit !(l <= 0.5) }'; }
# udp_step SYS: SYS's next try of the search.
udp_step()
{
	local s=$1 rate=${URATE[$1]} bad=${U_BAD[$1]} next
	if ((!U_PASSED[$s])); then
		udp_run "$s" "${rate}M" 2
		say "${LABEL[$s]}: offered ${rate} Mbit/s, received $U_RX Mbit/s, loss $U_LOSS%"
		U_TRIES[$s]=$((U_TRIES[$s] + 1))
		if udp_ok; then
			U_PASSED[$s]=1 U_TRIES[$s]=0
		else
			URATE[$s]=$(awk -v r="$U_RX" 'BEGIN { r = int(r * 0.9); print r < 1 ? 1 : r }')
			((U_TRIES[$s] < 5)) || U_DONE[$s]=1
		fi
		return 0
	fi
	next=$((bad ? (rate + bad) / 2 : rate * 6 / 5))
	if ((next <= rate + rate / 50 || U_TRIES[$s] >= 6)); then
		U_DONE[$s]=1
		return 0
	fi
	udp_run "$s" "${next}M" 2
	say "${LABEL[$s]}: offered ${next} Mbit/s, received $U_RX Mbit/s, loss $U_LOSS%"
	U_TRIES[$s]=$((U_TRIES[$s] + 1))
	if udp_ok; then URATE[$s]=$next; else U_BAD[$s]=$next; fi
}
pretty "UDP: finding each system's rate at <= 1% loss"
for s in "${SYSTEMS[@]}"; do
	URATE[$s]=10000 U_PASSED[$s]=0 U_BAD[$s]=0 U_TRIES[$s]=0 U_DONE[$s]=0
done
searching=1
while ((searching)); do
	searching=0
	for s in "${SYSTEMS[@]}"; do
		((U_DONE[$s])) && continue
		udp_step "$s"
		((U_DONE[$s])) || searching=1
	done
done
for s in "${SYSTEMS[@]}"; do
	((U_PASSED[$s])) ||
		NOTES+=("${LABEL[$s]}: no UDP rate passed in 5 tries; the rounds use ${URATE[$s]} Mbit/s, untested")
done

last() { awk '{ print $NF }' <<<"${RES[$1 $2]:-}"; }
# bulk_flowing SYS: SYS's client has an iperf3 data connection with a
# congestion window past its first ten segments (slow start is over: the
# queues on the path fill).
bulk_flowing()
{
	n "${CLIENT[$1]}" ss -Htni state established 'dport = :5201' |
		awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^cwnd:/) { split($i, c, ":"); if (c[2] > 20) f = 1 } }
			END { exit !f }'
}
# paced_flowing SYS: SYS's client has an iperf3 data connection that has
# carried a megabyte (the paced flow runs; it never leaves slow start's
# window, so bulk_flowing's sign does not come).
paced_flowing()
{
	n "${CLIENT[$1]}" ss -Htni state established 'dport = :5201' |
		awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^bytes_acked:/) { split($i, b, ":"); if (b[2] > 1000000) f = 1 } }
			END { exit !f }'
}
# rtts_beside SYS KEY IPERF-ARGS...: 200 pings while an iperf3 flow with
# IPERF-ARGS runs through SYS's tunnel (once READY SYS holds), their p50
# and p99 as KEY's p50_KEY, p99_KEY, and the share lost as KEY_loss.
rtts_beside()
{
	local s=$1 key=$2 ready=$3 bulk rtts
	shift 3
	n "${CLIENT[$s]}" iperf3 -c "${ADDR[$s]}" -t 4 -J "$@" >"$RUN_DIR/beside.json" 2>&1 &
	bulk=$!
	wait_for 5 "$ready" "$s"
	mapfile -t rtts < <(n "${CLIENT[$s]}" ping -n -c 200 -i 0.01 -W 1 "${ADDR[$s]}" |
		sed -n 's/.* time=\([0-9.]*\) ms/\1/p')
	wait "$bulk" || fail "${LABEL[$s]}: the flow beside the pings failed: $(tail -n 5 "$RUN_DIR/beside.json")"
	# a loaded tunnel may lose a ping: counted, not fatal, unless most
	((${#rtts[@]} >= 100)) || fail "${LABEL[$s]}: beside a flow only ${#rtts[@]} of 200 echoes answered"
	add "$s" "p50_$key" "$(pct 50 "${rtts[@]}")"
	add "$s" "p99_$key" "$(pct 99 "${rtts[@]}")"
	add "$s" "${key}_loss" "$(awk -v n=${#rtts[@]} 'BEGIN { printf "%.1f", (200 - n) / 2 }')"
	BESIDE_MBPS=$(mbps "$(jq -r .end.sum_received.bits_per_second "$RUN_DIR/beside.json")")
}
for ((r = 1; r <= ROUNDS; r++)); do
	pretty "round $r of $ROUNDS"
	for s in "${SYSTEMS[@]}"; do tcp_run "$s"; done
	for s in "${SYSTEMS[@]}"; do
		j=$(iperf "$s" -t "$SECS" -P 4)
		add "$s" tcp4 "$(mbps "$(jq -r .end.sum_received.bits_per_second <<<"$j")")"
	done
	for s in "${SYSTEMS[@]}"; do
		udp_run "$s" "${URATE[$s]}M" "$SECS"
		add "$s" udp "$U_RX"
		add "$s" udp_loss "$U_LOSS"
		awk -v l="$U_LOSS" 'BEGIN { exit !(l > 1) }' &&
			NOTES+=("${LABEL[$s]}: round $r lost $U_LOSS% of UDP at ${URATE[$s]} Mbit/s, above 1%")
	done
	for s in "${SYSTEMS[@]}"; do
		mapfile -t rtts < <(n "${CLIENT[$s]}" ping -n -c 200 -i 0.01 -W 1 "${ADDR[$s]}" |
			sed -n 's/.* time=\([0-9.]*\) ms/\1/p')
		((${#rtts[@]} >= 190)) || fail "${LABEL[$s]}: only ${#rtts[@]} of 200 echoes answered"
		add "$s" p50 "$(pct 50 "${rtts[@]}")"
		add "$s" p99 "$(pct 99 "${rtts[@]}")"
	done
	# Latency under load: the same pings while one bulk TCP flow runs
	# through the same tunnel (from its slow start's end to past the
	# pings' end).
	for s in "${SYSTEMS[@]}"; do rtts_beside "$s" load bulk_flowing; done
	# The same beside a flow held to PACED Mbit/s (iperf3 paces it).
	for s in "${SYSTEMS[@]}"; do
		rtts_beside "$s" paced paced_flowing -b "${PACED}M"
		awk -v m="$BESIDE_MBPS" -v p="$PACED" 'BEGIN { exit !(m < 0.95 * p) }' &&
			NOTES+=("${LABEL[$s]}: round $r carried $BESIDE_MBPS of the paced ${PACED} Mbit/s beside the pings")
	done
	if has gn; then
		mapfile -t arps < <(arp_times gn "${ADDR[gn]}" 20)
		((${#arps[@]} >= 18)) || fail "gn: only ${#arps[@]} of 20 ARP requests for ${ADDR[gn]} answered"
		for a in "${arps[@]}"; do
			[[ ${a%% *} == "$AD_MAC" ]] ||
				fail "gn: ARP for ${ADDR[gn]} answered by ${a%% *}, not the adapter's $AD_MAC"
		done
		add gn arp_ms "$(us2ms "$(pct 50 "${arps[@]#* }")")"
	fi
	for s in "${SYSTEMS[@]}"; do
		say "$(printf '%-13s TCP %8s  -P4 %8s  UDP %8s (%s%% loss)  RTT p50 %s p99 %s, loaded %s %s, paced %s %s' \
			"${LABEL[$s]}" "$(last "$s" tcp)" "$(last "$s" tcp4)" "$(last "$s" udp)" \
			"$(last "$s" udp_loss)" "$(last "$s" p50)" "$(last "$s" p99)" \
			"$(last "$s" p50_load)" "$(last "$s" p99_load)" \
			"$(last "$s" p50_paced)" "$(last "$s" p99_paced)")"
	done
done
! has cy || [[ $(tunnel_get h1 h2 .path) == direct ]] || fail "h1 -> h2 is no longer direct"
! has relay || [[ $(tunnel_get rl1 rl2 .path) == relay ]] || fail "rl1 -> rl2 is no longer relayed"
stop_daemon iperf 0 1 143
! has relay || stop_daemon iperf-rl2 0 1 143

# ---------------------------------------------------------------- table

ratio()
{
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || a == "" || b == "" || b == 0)
		print "-"; else printf "%.2f", a / b }'
}
FMT='%-30s %10s %12s %10s %10s %10s %10s %10s %13s %8s %8s %8s %10s %10s\n'
# best_peer METRIC: "value peer" of the better of wireguard-go and Nebula
# (higher is better for throughput, lower for the rest), or "-".
best_peer()
{
	local w n
	w=$(med wg "$1")
	n=$(med nb "$1")
	awk -v w="$w" -v n="$n" -v m="$1" 'BEGIN {
		hi = (m ~ /^(tcp|tcp4|udp)$/)
		if (w == "-" || w == "") { if (n == "-" || n == "") print "-"; else print n, "nb"; exit }
		if (n == "-" || n == "") { print w, "wg"; exit }
		if ((hi && n > w) || (!hi && n < w)) print n, "nb"; else print w, "wg" }'
}
# row NAME METRIC DECK_NODE DECK_GN
row()
{
	local p w nb c g g6 r rb rg rg6 rr best
	p=$(med plain "$2")
	w=$(med wg "$2")
	nb=$(med nb "$2")
	c=$(med cy "$2")
	g=$(med gn "$2")
	g6=$(med gn6 "$2")
	r=$(med relay "$2")
	best=$(best_peer "$2")
	rb=$(ratio "$c" "${best% *}")
	[[ $rb == - ]] || rb="$rb (${best#* })"
	rg=$(ratio "$g" "$c")
	rg6=$(ratio "$g6" "$g")
	rr=$(ratio "$r" "$c")
	[[ $2 != udp_loss && $2 != load_loss && $2 != paced_loss ]] || rb=- rg=- rg6=- rr=-
	# shellcheck disable=SC2059
	printf "$FMT" "$1" "$p" "$w" "$nb" "$c" "$g" "$g6" "$r" "$rb" "$rg" "$rg6" "$rr" "$3" "$4"
}
# verdict TEXT OK: one line of the targets.
verdict()
{
	local v=MISS
	[[ $2 == - ]] && v="n/a" || { awk "BEGIN { exit !($2) }" && v=met; }
	printf '  %-62s %s\n' "$1" "$v"
}
{
	printf 'CYPHONIC bench, %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'host: %s, %s CPUs, Linux %s; cyphonicd %s\n' \
		"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)" "$(nproc)" \
		"$(uname -r)" "$CYPHONIC_BIN/cyphonicd"
	printf 'medians of %s rounds (systems alternating); iperf3 -t %s; UDP -l 1300 at the rate\n' \
		"$ROUNDS" "$SECS"
	printf 'with <= 1%% loss; ping -c 200 -i 0.01, idle and beside one iperf3 TCP flow through the\n'
	printf 'same tunnel (from the end of its slow start), and beside one held to %s Mbit/s\n' "$PACED"
	printf '(iperf3 -b: a rate every system carries); cold start: %s runs, daemons restarted each time\n' \
		"$COLD"
	printf 'CY/best peer: CY node over the better of wireguard-go (wg) and Nebula (nb) on each line\n'
	printf '(above 1 is better for throughput; below 1 for RTT, CPU and memory)\n'
	printf 'all hosts share this machine (clients, servers, every daemon and the cloud)\n'
	printf 'CY node: h1 -> h2 (two cyphonicd); CY GN: general node -> adapter -> h2 (IPv4;\n'
	printf 'CY GN6: the same over IPv6, to h2 VIP6); CY relay: rl1 -> rl2, each behind its own\n'
	printf 'NAPT, through the TRS (cyphonic-cloud)\n\n'
	# shellcheck disable=SC2059
	printf "$FMT" "" "plain veth" "wireguard-go" "Nebula" "CY node" "CY GN" "CY GN6" "CY relay" \
		"CY/best peer" "GN/node" "GN6/GN" "rly/node" "deck node" "deck GN"
	row "TCP, 1 stream (Mbit/s)" tcp 44.4 37.3
	row "TCP, 4 streams (Mbit/s)" tcp4 - -
	row "UDP at <= 1% loss (Mbit/s)" udp 49.9 39.6
	row "UDP loss at that rate (%)" udp_loss 0.056 0.93
	row "RTT p50 (ms)" p50 2.523 3.594
	row "RTT p99 (ms)" p99 - -
	row "RTT p50 under TCP load (ms)" p50_load - -
	row "RTT p99 under TCP load (ms)" p99_load - -
	row "pings lost under TCP load (%)" load_loss - -
	row "RTT p50 beside ${PACED}M TCP (ms)" p50_paced - -
	row "RTT p99 beside ${PACED}M TCP (ms)" p99_paced - -
	row "pings lost beside ${PACED}M TCP (%)" paced_loss - -
	row "DNS answer, cold (ms)" dns_ms 21.40 27.00
	row "DNS answer, warm (ms)" dns_warm_ms - -
	row "ARP answer, peer VIP (ms)" arp_ms - "0.32/1.00"
	row "query -> first ping (ms)" ping1_ms 21.40 28.00
	row "CPU s per GB (TCP, 2 ends)" cpu_gb - -
	row "idle RSS, 1 peer (kB)" rss_kb - -
	row "RSS per extra peer (kB)" rss_peer_kb - -
	printf '\ndeck (Raspberry Pi 4, slides 19-20, 23-24): node / general node via the adapter:\n'
	printf 'TCP 44.4 / 37.3 Mbit/s (GN/node 0.84); RTT 2.523 / 3.594 ms; UDP 30.0 / 30.0 Mbit/s\n'
	printf 'with no loss (slide 20), highest rate at <= 1%% loss 49.9 (0.056%%) / 39.6 (0.93%%,\n'
	printf 'GN -> node; 49.5 at 0.46%% node -> GN) Mbit/s (slides 23-24); route selection\n'
	printf '16.20 / 19.74 ms + tunnel set-up 2.23 / 2.75 ms; delay of the initial communication\n'
	printf '21.40 / 28.00 ms (GN: DNS answer 27.00 + ARP answer 1.00); ARP process 0.32 ms.\n'
	printf '"DNS answer, cold": one UDP query for a name with no route and no tunnel yet\n'
	printf '(daemons just restarted), from the query sent to the answer received (the GN asks\n'
	printf 'the adapter, its DHCP-given DNS server); "warm": the same query with the tunnel up;\n'
	printf '"query -> first ping": until the first echo reply (ping started after the answer;\n'
	printf 'for the GN including its ARP for the peer VIP).  "ARP answer": arping from the GN\n'
	printf 'for the peer VIP, answered with the adapter MAC (deck: 0.32 ms in the adapter, 1.00\n'
	printf 'ms at the GN).  CPU: utime+stime of the daemons at both ends (wireguard-go: wgh1,\n'
	printf 'wgh2; Nebula: both nebula; node: h1, h2; GN: the adapter and h2; relay: rl1, rl2 and the cloud, whose\n'
	printf 'TRS forwards every packet) over the 1-stream TCP run, per GB\n'
	printf 'received; kernel work in softirq on their behalf is not counted.  RSS: VmRSS of\n'
	printf 'wireguard-go wgh1, nebula on h1, cyphonicd h1, the adapter (with its one GN); per extra peer:\n'
	printf '(RSS with %s more peers - RSS with one) / %s (CYPHONIC: tunnels set up by\n' \
		"$NPEERS" "$NPEERS"
	printf 'resolving; wireguard-go: peers configured, no handshake; Nebula: not measured).\n'
	printf '\ntargets (this run):\n'
	tw=$(med wg tcp) tc=$(med cy tcp) tg=$(med gn tcp) tg6=$(med gn6 tcp)
	ok_cmp() { [[ $1 == - || $2 == - ]] && echo - || echo "$1 $3 $2"; }
	# times X F: X * F, or - when X was not measured
	times() { [[ $1 == - ]] && echo - || awk -v c="$1" -v f="$2" 'BEGIN { print c * f }'; }
	verdict "GN TCP >= 90% of node TCP ($tg vs $tc Mbit/s)" \
		"$(ok_cmp "$tg" "$(times "$tc" 0.9)" '>=')"
	verdict "GN IPv6 TCP within 5% of GN IPv4 ($tg6 vs $tg Mbit/s)" \
		"$(ok_cmp "$tg6" "$(times "$tg" 0.95)" '>=')"
	verdict "node TCP >= 2x wireguard-go ($tc vs $tw Mbit/s)" \
		"$(ok_cmp "$tc" "$(times "$tw" 2)" '>=')"
	verdict "node RTT p50 < wireguard-go's ($(med cy p50) vs $(med wg p50) ms)" \
		"$(ok_cmp "$(med cy p50)" "$(med wg p50)" '<')"
	verdict "node RTT p99 under one bulk TCP flow < 1 ms ($(med cy p99_load) ms)" \
		"$(ok_cmp "$(med cy p99_load)" 1 '<')"
	verdict "node RTT p99 beside $PACED Mbit/s TCP < 1 ms ($(med cy p99_paced) ms)" \
		"$(ok_cmp "$(med cy p99_paced)" 1 '<')"
	verdict "idle cyphonicd < 10 MB RSS ($(med cy rss_kb) kB)" "$(ok_cmp "$(med cy rss_kb)" 10240 '<')"
	verdict "< 1 KB RSS per peer ($(med cy rss_peer_kb) kB)" "$(ok_cmp "$(med cy rss_peer_kb)" 1 '<')"
	for n in "${NOTES[@]}"; do printf 'note: %s\n' "$n"; done
	printf '\nsamples:\n'
	for k in $(printf '%s\n' "${!RES[@]}" | sort | tr ' ' '|'); do
		printf '  %-18s %s\n' "${k/|/ }" "${RES[${k/|/ }]}"
	done
} | tee "$OUT"
echo "(written to $OUT)"

stop_all
