#!/bin/bash
# bench/nat.sh BINDIR: the NAT matrix (docs/nat.md).  Six nodes, each on a
# kind of network users have, every pair connected in turn:
#   g4  global IPv4 only                 192.0.2.10
#   g6  global IPv6 only                 2001:db8::11
#   f6  IPv6 only, behind a stateful firewall (fw6 router f)
#   e   behind an endpoint-independent NAPT (port-keeping masquerade, r1)
#   r   behind a random-port NAPT (masquerade fully-random, r2)
#   c   behind two NAPTs in a row: a home router behind a carrier-grade NAT
# For each pair: the path it got (direct by address, direct punched, or
# relayed) and the time from the DNS query to the first ping reply (the
# route selection, the tunnel, the first packet), taken by the first node
# of the pair (dns_probe: no process start before the answer).  A direct path is possible for every pair with a common
# family (a random-port NAPT against a port-keeping one only with many
# probes: the birthday approach).
#
#          inet: bridge br0 (the "Internet", documentation prefixes only)
#   ns cloud 192.0.2.1 2001:db8::1 (AS, NMS, TRS)   ns g4 192.0.2.10   ns g6 2001:db8::11
#   ns f 2001:db8::20 (firewall) - f6 2001:db8:1::10
#   ns r1 192.0.2.21 (eim) - e 198.51.100.10      ns r2 192.0.2.22 (random) - r 203.0.113.10
#   ns cg 192.0.2.23 (eim, CGNAT) - ns h 198.18.0.2 (eim, home) - c 198.18.1.10
[[ $# -ge 1 ]] || { echo "usage: $0 BINDIR" >&2; exit 2; }
export CYPHONIC_BIN=$1
export CY_LOG_LEVEL=${CY_LOG_LEVEL:-info}
export CY_QUIET=${CY_QUIET:-1}
source "$(dirname "$0")/../tests/net/lib.sh"
require

NODES=(g4 g6 f6 e r c)
declare -A KIND=([g4]="global IPv4" [g6]="global IPv6" [f6]="IPv6, firewall"
	[e]="NAPT, port-keeping" [r]="NAPT, random port" [c]="two NAPTs (CGNAT)")
declare -A FAM=([g4]=4 [g6]=6 [f6]=6 [e]=4 [r]=4 [c]=4)

internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
inet_host g4 192.0.2.10/24 -
inet_host g6 - 2001:db8::11/64
fw6 f 2001:db8::20/64 2001:db8:1::1/64
lan_host f6 f - 2001:db8:1::10/64
route6 "cloud g6" 2001:db8:1::/64 2001:db8::20
NAPT_KIND=eim napt r1 192.0.2.21/24 198.51.100.1/24
lan_host e r1 198.51.100.10/24
NAPT_KIND=random napt r2 192.0.2.22/24 203.0.113.1/24
lan_host r r2 203.0.113.10/24
NAPT_KIND=eim napt cg 192.0.2.23/24 198.18.0.1/24
NAPT_KIND=eim napt_behind h cg 198.18.0.2/24 198.18.1.1/24
lan_host c h 198.18.1.10/24
nodes_up "${NODES[@]}"

# possible A B: a direct path exists in principle: a common family (and
# not random-port NAPTs on both sides, which this matrix has not).
possible() { [[ ${FAM[$1]} == "${FAM[$2]}" ]]; }
# poll_direct X Y SECONDS: true once X's tunnel to Y is direct (polled every
# 0.1 s; wait_for would count a pair that stays relayed as a failure).
poll_direct()
{
	local w
	for ((w = 0; w < $3 * 10; w++)); do
		[[ $(tunnel_get "$1" "$2" .path 2>/dev/null) == direct ]] && return 0
		sleep 0.1
	done
	return 1
}

declare -a ROWS=()
total=0 connected=0 want_direct=0 got_direct=0
for ((i = 0; i < ${#NODES[@]}; i++)); do
	for ((j = i + 1; j < ${#NODES[@]}; j++)); do
		x=${NODES[$i]} y=${NODES[$j]}
		total=$((total + 1))
		ok=0 dns=- first=-
		if out=$(dns_probe "$x" "$(fqdn "$y")" "$(vip "$y" 4)" 2>/dev/null); then
			ok=1
			dns=$(awk -v u="${out% *}" 'BEGIN { printf "%.2f", u / 1000 }')
			first=$(awk -v u="${out#* }" 'BEGIN { printf "%.2f", u / 1000 }')
		fi
		path=- found=-
		if ((ok)); then
			connected=$((connected + 1))
			# Punching runs beside the relay: the path once direct, or
			# 3 s later (a plain burst that fails, then the birthday
			# approach).
			poll_direct "$x" "$y" 3 || true
			path=$(tunnel_get "$x" "$y" .path)
			found=$(tunnel_get "$x" "$y" .found)
		fi
		p=no
		if possible "$x" "$y"; then
			p=yes
			want_direct=$((want_direct + 1))
			[[ $path == direct ]] && got_direct=$((got_direct + 1))
		fi
		ROWS+=("$(printf '  %-24s %-24s %-4s %-7s %-8s %9s %9s   %s' "$x (${KIND[$x]})" \
			"$y (${KIND[$y]})" "$( ((ok)) && echo yes || echo NO)" "$path" "$found" "$dns" \
			"$first" "$p")")
	done
done

# The birthday approach's success rate: e (port-keeping) and r (random
# port) restarted, so each trial is a new tunnel from scratch; a trial
# succeeds when the path is direct by the birthday approach within 5 s of
# the DNS answer (its first attempt: a second one would come 30 s later).
TRIALS=${BENCH_BIRTHDAY_TRIALS:-20}
bd_ok=0 bd_ms=()
for ((t = 0; t < TRIALS; t++)); do
	stop_daemon e
	stop_daemon r
	start_node e e
	start_node r r
	wait_registered e
	wait_registered r
	out=$(dns_probe e "$(fqdn r)" "$(vip r 4)" 2>/dev/null) || continue
	t0=$(now_ms)
	if poll_direct e r 5 && [[ $(tunnel_get e r .found) == birthday ]]; then
		bd_ok=$((bd_ok + 1))
		bd_ms+=($(($(now_ms) - t0)))
	fi
done
bd_med=-
if ((${#bd_ms[@]})); then
	bd_med=$(printf '%s\n' "${bd_ms[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
fi
stop_all

printf '\nCYPHONIC NAT matrix, %s UTC (%s)\n' "$(date -u '+%Y-%m-%d %H:%M')" "$CYPHONIC_BIN/cyphonicd"
printf 'every pair: the first asks its resolver for the other'"'"'s name (cold: route selection and\n'
printf 'tunnel), then pings the answer; ms from the DNS query to its answer and to the first reply\n'
printf '(the ping process'"'"'s start included); the path up to 3 s later\n\n'
printf '  %-24s %-24s %-4s %-7s %-8s %9s %9s   %s\n' from to ok path found "DNS ms" "reply ms" \
	"direct possible"
for r in "${ROWS[@]}"; do printf '%s\n' "$r"; done
printf '\n  connected: %d of %d pairs\n' "$connected" "$total"
printf '  direct where possible: %d of %d pairs\n' "$got_direct" "$want_direct"
printf '\nthe birthday approach (e, port-keeping NAPT <-> r, random-port NAPT), a new tunnel each trial:\n'
printf '  budget per attempt: 256 sockets x 1 probe + 1024 probes to distinct ports, 56 bytes each\n'
printf '  predicted: 1 - exp(-256 * 1024 / 64512) = 98.3%%\n'
printf '  direct on the first attempt: %d of %d trials; median %s ms from the DNS answer to direct\n' \
	"$bd_ok" "$TRIALS" "$bd_med"
printf 'targets:\n'
printf '  100%% connect                          %s\n' "$( ((connected == total)) && echo met || echo 'NOT met')"
printf '  direct wherever possible              %s\n' \
	"$( ((got_direct == want_direct)) && echo met || echo "NOT met ($((want_direct - got_direct)) pairs relayed)")"
