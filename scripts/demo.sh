#!/bin/bash
# scripts/demo.sh BINDIR: the CYPHONIC testbed, brought up and torn down.
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+-----------------------+
#        |                      |                       |                       |
#   ns cloud                ns alpha (global)      ns r (NAPT router)      ns ad (adapter, global)
#   192.0.2.1/24            192.0.2.10/24          eth0 192.0.2.20/24      192.0.2.40/24
#   2001:db8::1/64          2001:db8::10/64        nft masquerade on eth0  cyphonicd, [adapter]
#   cyphonic-cloud          cyphonicd              lan 198.51.100.1/24     lan0: DHCP, ARP, DNS
#   AS :7443 NMS :7444                                  |                       |
#   TRS :7445 console :7447                        ns beta (behind NAPT)   ns sensor (general node)
#                                                  198.51.100.10/24        eth0, VIP4 by udhcpc;
#                                                  cyphonicd               stock tools only
#                                                                          ns meter (general node,
#                                                                          IPv6 only): VIP6 by
#                                                                          RA + dhcpcd
#   br0 ---------------+-----------------------+
#                      |                       |
#                 ns r2 (NAPT router,     ns r3 (NAPT router)
#                 random ports)
#                 eth0 192.0.2.21/24      eth0 192.0.2.22/24
#                 lan 203.0.113.1/25      lan 203.0.113.129/25
#                      |                       |
#                 ns gamma, ns epsilon    ns delta (behind NAPT)
#                 (behind NAPT)           203.0.113.130/25
#                 203.0.113.10/25, .11    cyphonicd
#                 cyphonicd
#
# The nodes and the adapter log in and register; alpha resolves beta's name
# (route selection, tunnel set-up: the NMS tells beta, behind the NAPT, to
# open the path), pings it, sends it a file.  The general node "sensor" runs
# no CYPHONIC software: it gets its VIP with udhcpc from the adapter, which
# logs it in and registers it on its behalf; it asks the adapter (its DNS
# server) for alpha's name, pings alpha, sends it a file; beta pings sensor
# by name.  The general node "meter" speaks only IPv6 (its IPv4 is dropped):
# dhcpcd takes the adapter's Router Advertisement and its VIPv6 by DHCPv6,
# it resolves alpha's AAAA through the adapter, pings it and sends it a
# file, and alpha reaches it by name.  gamma and delta, each behind its own NAPT, have no direct path
# by address: gamma resolves delta's name (the NMS asks the TRS for a relay
# session, and both ends punch beside it), pings it and sends it a file.
# r2 gives every flow a random port, so plain probes find nothing; the
# birthday approach (gamma probes from many sockets, delta to many ports)
# moves the tunnel off the relay.  beta and delta, behind NAPTs that keep
# ports, get the same kind of route, and their plain probes pass.  gamma and
# epsilon, behind the same random-port NAPT, stay on the relay
# (docs/nat.md).  Status (with the tunnels
# and the adapter's general_nodes), the cloud's list and an evaluation table
# (registration time, cold DNS answer, ARP answer, ping RTT, throughput,
# the AS, NMS and TRS counters) are printed.  Then beta moves from behind
# its NAPT to the Internet in the middle of a TCP transfer to alpha, which
# finishes intact (docs/mobility.md).  The web console lists every node
# with the VIPs the store holds, and headless Chromium (when installed)
# shows them on its page, saved as build/artefacts/demo-console.png; then
# everything is stopped and removed.
[[ $# -ge 1 ]] || { echo "usage: $0 BINDIR" >&2; exit 2; }
export CYPHONIC_BIN=$1
export CY_LOG_LEVEL=${CY_LOG_LEVEL:-info}
source "$(dirname "$0")/../tests/net/lib.sh"
source "$(dirname "$0")/../bench/gn.sh"
require
for t in udhcpc arping perl; do
	command -v "$t" >/dev/null || fail "missing tool: $t (run scripts/deps.sh)"
done
# The general node is shown once the CLI knows adapters.
GN=0
! adapter_cli || GN=1
SENSOR_MAC=02:00:00:00:53:01
METER_MAC=02:00:00:00:53:02

title() { printf '\n%s== %s ==%s\n' "$C_OK" "$*" "$C_RST"; }
# row TUNNEL PATH ENDPOINT DNS_MS PING1_MS RTT_MS MBPS: one line of the tunnel table.
row() { printf '%-28s %-7s %-16s %14s ms %12s ms %7s ms %4s Mbit/s\n' "$@"; }

# show_pair MN CN WHY VIA: MN resolves CN (cold, timed, then with dig as a
# user asks), pings CN's VIP4 and CN pings MN's VIP6 back, then 20 MB
# MN -> CN over TCP.  WHY follows the resolve title, VIA the ping and
# transfer titles.  Sets P_DNS_MS P_PING1_MS P_RTT_MS P_XFER.
show_pair()
{
	local mn=$1 cn=$2 why=$3 via=$4 v4 out dns ans

	title "$mn resolves $(fqdn "$cn")   ($why)"
	v4=$(vip "$cn" 4)
	# The cold query, timed inside ns MN (microseconds, no process start
	# in the timing), then the same name with dig as a user asks it.
	out=$(dns_probe "$mn" "$(fqdn "$cn")" "$v4") || fail "$mn: no answer for $(fqdn "$cn")"
	P_DNS_MS=$(awk -v u="${out% *}" 'BEGIN { printf "%.2f", u / 1000 }')
	P_PING1_MS=$(awk -v u="${out#* }" 'BEGIN { printf "%.2f", u / 1000 }')
	dns=$(status_get "$mn" .dns)
	ans=$(qdig "$mn" "$(fqdn "$cn")" A) || fail "$mn: dig $(fqdn "$cn") failed: $ans"
	printf '$ dig @%s -p %s %s A\n' "$(ep_host "$dns")" "${dns##*:}" "$(fqdn "$cn")"
	sed -n '/ANSWER SECTION/,/^$/p' <<<"$ans"
	grep -q "[[:space:]]$v4\$" <<<"$ans" || fail "$mn: $(fqdn "$cn") did not resolve to $v4"
	ok "$(fqdn "$cn") -> $v4: first (cold) answer after $P_DNS_MS ms, first ping reply after $P_PING1_MS ms"

	title "ping $cn's VIP4 from $mn$via"
	out=$(n "$mn" ping -n -c 5 -i 0.2 "$v4") || fail "$mn: ping $v4: $out"
	echo "$out"
	P_RTT_MS=$(sed -n 's|^rtt .* = [0-9.]*/\([0-9.]*\)/.*|\1|p' <<<"$out")
	vping "$cn" "$(vip "$mn" 6)" || fail "$cn: ping $mn's VIP6"
	ok "and $cn pings $mn's VIP6 $(vip "$mn" 6) back"

	title "a file from $mn to $cn$via (20 MB, nc over TCP)"
	transfer "$mn" "$cn" "$v4" 20
	P_XFER=$XFER_MBPS
	ok "20 MB arrived with the same SHA-256, $P_XFER Mbit/s"
}


printf 'CYPHONIC demo: a cloud, a global node, a node behind NAPT, an adapter with a\n'
printf 'general node and three nodes behind NAPTs, in network namespaces\n'
title "Testbed"
sed -n '/^#  /,/^#$/p' "$0" | sed 's/^#//'
topo_basic alpha beta
# beta's spare link to the Internet, for the move at the end.
veth beta eth1 inet p-beta2
n inet ip link set p-beta2 master br0
NAPT_KIND=random napt r2 192.0.2.21/24 203.0.113.1/25
napt r3 192.0.2.22/24 203.0.113.129/25
lan_host gamma r2 203.0.113.10/25
lan_host epsilon r2 203.0.113.11/25
lan_host delta r3 203.0.113.130/25
if ((GN)); then
	adapter_global ad 192.0.2.40/24 2001:db8::40/64
	gn_host sensor ad "$SENSOR_MAC"
	gn_host6 meter ad "$METER_MAC" v6only
	# The Internet's DNS server, for the names that are not CYPHONIC's.
	upstream_dns
fi
ok "namespaces, veths, the Internet bridge, NAPT routers r, r3 (port-keeping) and r2 (random ports) with nftables masquerade"
((GN)) && ok "adapter ad on the Internet, its LAN bridge lan0 wired to sensor's eth0 ($SENSOR_MAC); DNS server $UPSTREAM4 with $WWW_NAME" ||
	say "(this build has no 'cyphonic adapter': the general node is left out)"

title "Cloud"
cloud_new 192.0.2.1,2001:db8::1
for x in alpha beta gamma delta epsilon; do node_new "$x"; done
for x in alpha beta gamma delta epsilon; do conf_set "$(node_conf "$x")" node keepalive 15; done
if ((GN)); then
	adapter_new ad
	conf_set "$(node_conf ad)" node keepalive 15
	gn_new sensor ad "$SENSOR_MAC"
	gn_new meter ad "$METER_MAC"
fi
DEMO_PW=cyphonic-demo
console_on demo "$DEMO_PW"
start_cloud
ok "cyphonic-cloud up in ns cloud: AS tcp/7443, NMS udp/7444, TRS udp/7445, console tcp/7447"
cy list --dir "$CLOUD_DIR"

title "Nodes$( ((GN)) && echo " and the adapter"): start, log in, register"
declare -A T_REG=()
DAEMONS=(alpha beta gamma delta epsilon)
((GN)) && DAEMONS+=(ad)
for x in "${DAEMONS[@]}"; do start_node "$x" "$x"; done
# Poll the status sockets every ~10 ms: the time from the daemon's start
# to `registered: true` as a user sees it.
deadline=$(($(now_ms) + 30000))
while ((${#T_REG[@]} < ${#DAEMONS[@]})); do
	for x in "${DAEMONS[@]}"; do
		[[ -n ${T_REG[$x]:-} ]] && continue
		if is_registered "$x" 2>/dev/null; then
			T_REG[$x]=$(($(now_ms) - DSTART[$x]))
			ok "$x.$CY_DOMAIN registered"
		fi
	done
	check_alive
	(($(now_ms) < deadline)) || fail "nodes not registered after 30 s"
	sleep 0.01
done

for x in alpha beta; do
	title "cyphonic status -c nodes/$x.conf   (in ns $x)"
	cy status -c "$(node_conf "$x")"
	title "ip addr show cy0   (in ns $x)"
	n "$x" ip -brief addr show dev cy0
done

title "cyphonic list --dir CLOUD"
cy list --dir "$CLOUD_DIR"

show_pair alpha beta "route selection + tunnel set-up; beta is behind NAPT" ""
read -r DNS_MS PING1_MS RTT_MS XFER <<<"$P_DNS_MS $P_PING1_MS $P_RTT_MS $P_XFER"

if cy_has ping; then
	title "cyphonic ping $(fqdn beta)   (in ns alpha)"
	cy ping "$(fqdn beta)" -c "$(node_conf alpha)" || fail "cyphonic ping failed"
fi

for x in alpha beta; do
	title "cyphonic status -c nodes/$x.conf   (with the tunnel)"
	cy status -c "$(node_conf "$x")"
done

if ((GN)); then
	title "sensor (general node) asks for an address: udhcpc -i eth0   (in ns sensor)"
	t0=$(now_ms)
	udhcpc_once sensor || fail "sensor: udhcpc got no lease (log: $LOG_DIR/udhcpc-sensor.log)"
	DHCP_MS=$(($(now_ms) - t0))
	grep -Ei 'lease|obtained|sending|bound' "$LOG_DIR/udhcpc-sensor.log" | sed 's/^/  /' || true
	vip4_s=$(vip sensor 4)
	vip4_ad=$(vip ad 4)
	[[ $(dhcp_get sensor ip) == "$vip4_s" ]] ||
		fail "sensor: leased $(dhcp_get sensor ip), not its VIP4 $vip4_s"
	[[ $(dhcp_get sensor router) == "$vip4_ad" && $(dhcp_get sensor dns) == "$vip4_ad"* ]] ||
		fail "sensor: router $(dhcp_get sensor router), DNS $(dhcp_get sensor dns), not the adapter's $vip4_ad"
	ok "lease: $(dhcp_get sensor ip)/$(dhcp_get sensor mask), router $(dhcp_get sensor router), DNS $(dhcp_get sensor dns), domain $(dhcp_get sensor domain), MTU $(dhcp_get sensor mtu), $(dhcp_get sensor lease) s"
	n sensor ip -brief addr show dev eth0
	n sensor ip route
	# The adapter logs the general node in and registers it on its behalf:
	# from udhcpc's start until the cloud lists it as registered.
	deadline=$(($(now_ms) + 20000))
	until gn_registered sensor 2>/dev/null; do
		check_alive
		(($(now_ms) < deadline)) || fail "sensor not registered 20 s after its lease"
		sleep 0.01
	done
	T_REG[sensor]=$(($(now_ms) - t0))
	ok "$(fqdn sensor) registered by the adapter ($DHCP_MS ms to the lease, ${T_REG[sensor]} ms to registered)"

	vip4_a=$(vip alpha 4)
	title "sensor resolves $(fqdn alpha) through the adapter   (route selection + tunnel set-up)"
	n sensor ip neigh del "$vip4_a" dev eth0 2>/dev/null || true
	out=$(gn_probe sensor "$(fqdn alpha)" "$vip4_a" 2>&1) ||
		fail "sensor: no answer for $(fqdn alpha) from the adapter: $out"
	read -r a b _ <<<"$out"
	GN_DNS_MS=$(awk -v u="$a" 'BEGIN { printf "%.2f", u / 1000 }')
	GN_PING1_MS=$(awk -v u="$b" 'BEGIN { printf "%.2f", u / 1000 }')
	ans=$(n sensor dig @"$vip4_ad" +time=5 +tries=1 "$(fqdn alpha)" A) ||
		fail "sensor: dig $(fqdn alpha) failed: $ans"
	printf '$ dig @%s %s A\n' "$vip4_ad" "$(fqdn alpha)"
	sed -n '/ANSWER SECTION/,/^$/p' <<<"$ans"
	grep -q "[[:space:]]$vip4_a\$" <<<"$ans" || fail "sensor: $(fqdn alpha) did not resolve to $vip4_a"
	ok "$(fqdn alpha) -> $vip4_a: first (cold) answer after $GN_DNS_MS ms, first ping reply after $GN_PING1_MS ms"

	title "sensor resolves an ordinary name through the adapter   (its upstream: $UPSTREAM4)"
	got=$(gdig sensor +short "$WWW_NAME" A) || fail "sensor: dig $WWW_NAME failed: $got"
	echo "\$ dig @$vip4_ad +short $WWW_NAME A"
	echo "$got"
	[[ $got == "$WWW_A" ]] || fail "sensor: $WWW_NAME resolves to '$got', not $WWW_A"
	ok "$WWW_NAME -> $WWW_A"

	title "arping alpha's VIP4 from sensor   (the adapter answers with its own MAC)"
	AD_MAC=$(adapter_mac ad)
	n sensor arping -i eth0 -c 3 "$vip4_a" || fail "sensor: arping $vip4_a gets no answer"
	mapfile -t arps < <(arp_times sensor "$vip4_a" 10)
	((${#arps[@]})) || fail "sensor: arping $vip4_a gets no answer"
	for a in "${arps[@]}"; do
		[[ ${a%% *} == "$AD_MAC" ]] || fail "sensor: ARP for $vip4_a answered by ${a%% *}, not $AD_MAC"
	done
	ARP_MS=$(printf '%s\n' "${arps[@]#* }" | sort -g | awk '{ v[NR] = $1 }
		END { printf "%.3f", v[int((NR + 1) / 2)] / 1000 }')
	ok "answered by the adapter's MAC $AD_MAC, median $ARP_MS ms over ${#arps[@]} requests"

	title "ping alpha's VIP4 from sensor"
	out=$(n sensor ping -n -c 5 -i 0.2 "$vip4_a") || fail "sensor: ping $vip4_a: $out"
	echo "$out"
	GN_RTT_MS=$(sed -n 's|^rtt .* = [0-9.]*/\([0-9.]*\)/.*|\1|p' <<<"$out")

	title "a file from sensor to alpha through the adapter (20 MB, nc over TCP)"
	transfer sensor alpha "$vip4_a" 20
	GN_XFER=$XFER_MBPS
	ok "20 MB arrived with the same SHA-256, $GN_XFER Mbit/s"

	title "beta reaches sensor by its FQDN"
	got=$(resolve beta sensor A) || fail "beta: dig $(fqdn sensor) failed: $got"
	[[ $got == "$vip4_s" ]] || fail "beta: $(fqdn sensor) resolves to '$got', not $vip4_s"
	vping beta "$vip4_s" || fail "beta: ping $(fqdn sensor) ($vip4_s) gets no replies"
	ok "beta: $(fqdn sensor) A $got, ping answered"

	title "cyphonic status -c nodes/ad.conf --json   (the adapter, with its general nodes)"
	s=$(status ad) || fail "ad: cyphonic status failed"
	jq . <<<"$s"
	jq -e --arg m "$SENSOR_MAC" --arg v "$vip4_s" \
		'[.general_nodes[]? | select((.mac | ascii_downcase) == $m and .vip4 == $v)] | length == 1' \
		<<<"$s" >/dev/null || fail "ad: status lists no general node $SENSOR_MAC with $vip4_s"
	ok "general_nodes lists $(fqdn sensor) ($SENSOR_MAC, $vip4_s)"

	title "meter, IPv6 only: the adapter's RA and DHCPv6 (dhcpcd)"
	t0=$(now_ms)
	dhcpcd6_start meter || fail "meter: dhcpcd got no lease"
	vip6_m=$(vip meter 6)
	vip6_a=$(vip alpha 6)
	[[ $(dhcp6_get meter ip6) == "$vip6_m" ]] ||
		fail "meter: leased $(dhcp6_get meter ip6), not its VIP6 $vip6_m"
	wait_for 10 dad_done meter
	[[ -z $(gn_addr meter) ]] || fail "meter has an IPv4 address: $(gn_addr meter)"
	ok "meter: $vip6_m by DHCPv6 in $(($(now_ms) - t0)) ms (DNS $(dhcp6_get meter dns6)), no IPv4 address"
	n meter ip -6 route show | grep -v '^fe80' | sed 's/^/    /'

	title "meter resolves $(fqdn alpha) AAAA through the adapter, pings it, sends it 20 MB"
	got=$(n meter dig @"$(vip ad 6)" +time=5 +tries=1 +short AAAA "$(fqdn alpha)")
	[[ $got == "$vip6_a" ]] || fail "meter: $(fqdn alpha) AAAA is '$got', not $vip6_a"
	ok "meter: $(fqdn alpha) AAAA $got"
	out=$(n meter ping -n -c 5 -i 0.2 "$vip6_a") || fail "meter: ping -6 $vip6_a: $out"
	echo "$out"
	transfer meter alpha "$vip6_a" 20
	ok "20 MB over IPv6 arrived with the same SHA-256, $XFER_MBPS Mbit/s"

	title "alpha reaches meter by its FQDN (AAAA)"
	got=$(resolve alpha meter AAAA) || fail "alpha: dig $(fqdn meter) AAAA failed: $got"
	[[ $got == "$vip6_m" ]] || fail "alpha: $(fqdn meter) AAAA is '$got', not $vip6_m"
	vping alpha "$vip6_m" || fail "alpha: ping -6 $(fqdn meter) gets no replies"
	ok "alpha: $(fqdn meter) AAAA $got, ping answered"
	stop_daemon dhcpcd-meter
fi

show_pair gamma delta "behind a random-port NAPT and a port-keeping one: a relay, the birthday approach beside it" ""
read -r BD_DNS_MS BD_PING1_MS BD_RTT_MS BD_XFER <<<"$P_DNS_MS $P_PING1_MS $P_RTT_MS $P_XFER"
wait_for 70 both_on gamma delta direct
check_found gamma delta birthday
ok "gamma: $(status_get gamma .mapping), delta: $(status_get delta .mapping); $(log_first gamma 'the birthday approach met' | cut -d' ' -f4-)"

show_pair gamma epsilon "both behind the same random-port NAPT: a relay" " through the TRS"
read -r RL_DNS_MS RL_PING1_MS RL_RTT_MS RL_XFER <<<"$P_DNS_MS $P_PING1_MS $P_RTT_MS $P_XFER"
# Both ends send to the TRS (the cloud's 192.0.2.1), never to each other:
# r2 maps each destination elsewhere for both, and does not hairpin.
check_relay_tunnel gamma epsilon '192\.0\.2\.1'
check_relay_tunnel epsilon gamma '192\.0\.2\.1'
ok "punching found nothing through r2: $(log_first epsilon 'no direct path found by punching' | cut -d' ' -f4-)"

show_pair beta delta "both behind NAPT, both keep ports: punched beside the relay" ", punched direct"
read -r PN_DNS_MS PN_PING1_MS PN_RTT_MS PN_XFER <<<"$P_DNS_MS $P_PING1_MS $P_RTT_MS $P_XFER"
for x in beta delta; do
	[[ $x == beta ]] && y=delta ep='192\.0\.2\.22' || y=beta ep='192\.0\.2\.20'
	check_tunnel "$x" "$y" "$ep" direct
done
check_found beta delta punch
ok "beta and delta send to each other's NAPT, not to the TRS: $(log_first beta 'found by punching' | cut -d' ' -f4-)"

if cy_has ping; then
	title "cyphonic ping $(fqdn epsilon)   (in ns gamma)"
	cy ping "$(fqdn epsilon)" -c "$(node_conf gamma)" || fail "cyphonic ping failed"
fi

title "cyphonic status -c nodes/gamma.conf   (a tunnel found by the birthday approach, a relayed one)"
cy status -c "$(node_conf gamma)"

title "Evaluation"
printf '%-22s %-32s %-5s %-22s %-16s %s\n' node network nat observed vip4 "start->registered"
for x in "${DAEMONS[@]}" $( ((GN)) && echo sensor); do
	case $x in
	alpha) net="global 192.0.2.10, 2001:db8::10" ;;
	beta) net="NAPT LAN 198.51.100.10" ;;
	gamma) net="NAPT LAN 203.0.113.10" ;;
	delta) net="NAPT LAN 203.0.113.130" ;;
	epsilon) net="NAPT LAN 203.0.113.11" ;;
	ad) net="adapter, global 192.0.2.40" ;;
	sensor) net="general node behind ad" ;;
	esac
	if [[ $x == sensor ]]; then
		# No daemon of its own: what the cloud knows of it.
		s=$(cy list --dir "$CLOUD_DIR" --json | jq -c --arg n sensor '.[] | select(.name == $n)')
	else
		s=$(status "$x")
	fi
	printf '%-22s %-32s %-5s %-22s %-16s %10d ms\n' "$x.$CY_DOMAIN" "$net" \
		"$(jq -r .nat <<<"$s")" "$(jq -r .observed <<<"$s")" "$(jq -r .vip4 <<<"$s")" \
		"${T_REG[$x]}"
done
((GN)) && echo "(sensor: from udhcpc's start to registered by the adapter)"
echo
printf '%-28s %-7s %-16s %17s %15s %10s %11s\n' tunnel path endpoint "DNS answer, cold" \
	"-> first ping" "ping RTT" TCP
row "alpha -> beta.$CY_DOMAIN" \
	"$(tunnel_get alpha beta .path)" "$(tunnel_get alpha beta .endpoint)" "$DNS_MS" "$PING1_MS" \
	"$RTT_MS" "$XFER"
row "gamma -> delta.$CY_DOMAIN" \
	"$(tunnel_get gamma delta .path)" "$(tunnel_get gamma delta .endpoint)" "$BD_DNS_MS" \
	"$BD_PING1_MS" "$BD_RTT_MS" "$BD_XFER"
# The tunnel as gamma sees it: its endpoint is the TRS's session port.
row "gamma -> epsilon.$CY_DOMAIN" \
	"$(tunnel_get gamma epsilon .path)" "$(tunnel_get gamma epsilon .endpoint)" "$RL_DNS_MS" \
	"$RL_PING1_MS" "$RL_RTT_MS" "$RL_XFER"
row "beta -> delta.$CY_DOMAIN" \
	"$(tunnel_get beta delta .path)" "$(tunnel_get beta delta .endpoint)" "$PN_DNS_MS" \
	"$PN_PING1_MS" "$PN_RTT_MS" "$PN_XFER"
if ((GN)); then
	# The tunnel as alpha sees it: its endpoint is the adapter's socket for sensor.
	row "sensor -> alpha.$CY_DOMAIN" "$(tunnel_get alpha sensor .path)" \
		"$(tunnel_get alpha sensor .endpoint)" "$GN_DNS_MS" "$GN_PING1_MS" "$GN_RTT_MS" "$GN_XFER"
	echo "ARP answer for alpha's VIP4 at sensor: $ARP_MS ms (the adapter's MAC $AD_MAC)"
fi
echo "(deck, Raspberry Pi: route selection 16.2 ms + tunnel set-up 2.23 ms, RTT 2.523 ms;"
echo " general node via the adapter: DNS answer 27.00 ms + ARP answer 1.00 ms (0.32 ms in the"
echo " adapter), RTT 3.594 ms, TCP 37.3 Mbit/s vs the node's 44.4)"
echo
echo "cloud counters:"
stats | jq -r '.as, .nms, .trs | to_entries | map("\(.key)=\(.value)") | join("  ")' |
	paste -d' ' <(printf '  AS \n  NMS\n  TRS\n') -

title "Mobility: beta moves from behind the NAPT to the Internet, mid-transfer"
stream_start beta alpha "$(vip alpha 4)" 4
stream_chunk 0
ep0=$(tunnel_get alpha beta .endpoint)
ok "1 MB of 4 sent beta -> alpha over TCP; alpha sees beta at $ep0"
n beta ip addr add 192.0.2.50/24 dev eth1
t0=$(now_ms)
n beta ip link set eth0 down
beta_moved() { [[ $(ep_host "$(tunnel_get alpha beta .endpoint)") == 192.0.2.50 ]]; }
wait_for 5 beta_moved
t1=$(now_ms)
ok "beta's link to r went down, 192.0.2.50 is its address now: alpha follows ($((t1 - t0)) ms)"
for k in 1 2 3; do stream_chunk "$k"; done
stream_finish
printf '%-12s %-5s %-22s %-16s %s\n' node nat observed vip4 "tunnel at alpha"
printf '%-12s %-5s %-22s %-16s %s\n' beta "$(status_get beta .nat)" "$(status_get beta .observed)" \
	"$(status_get beta .vip4)" "$(tunnel_get alpha beta .endpoint)"
ok "the same TCP connection carried all 4 MB (SHA-256 equal); beta kept its VIP $(vip beta 4)"

title "Zero trust: certificates, privileges, revocation"
cy ca status --dir "$CLOUD_DIR"
ok "alpha keeps: $(log_first alpha 'privileges: uid' | cut -d' ' -f5-)"
vping gamma "$(vip epsilon 4)" 2 || fail "gamma: ping epsilon"
t0=$(now_ms)
cy revoke epsilon --dir "$CLOUD_DIR" --reason "demo: lost device" >/dev/null
expect_exit epsilon
wait_for 5 eval '! has_tunnel gamma epsilon'
ok "epsilon revoked: gamma dropped its tunnel to it $(($(now_ms) - t0)) ms later (the command included)"

title "The web console: https://192.0.2.1:7447/ (account demo, password $DEMO_PW)"
con_login alpha op demo "$DEMO_PW"
con alpha op /api/view
con_expect 200 "the console's view"
jq -r '.nodes[] | [.fqdn, .kind, .vip4, (if .revoked then "revoked" elif .registered then "registered" else "enrolled" end), (.observed // "-"), (if .nat then "NAPT" else "" end)] | @tsv' \
	"$RUN_DIR/con.body" | awk -F'\t' '{ printf "  %-24s %-8s %-15s %-11s %-22s %s\n", $1, $2, $3, $4, $5, $6 }'
for x in $(cy list --dir "$CLOUD_DIR" --json | jq -r '.[].name'); do
	[[ $(cbody ".nodes[] | select(.name == \"$x\") | .vip4") == "$(vip "$x" 4)" ]] ||
		fail "the console shows $x with another VIP than the store's"
done
ok "the console lists every node with the store's VIPs; route selections: $(cbody '.overview.routes | "\(.selected) answered, \(.relayed) relayed, \(.punched) punched"')"
if command -v chromium >/dev/null && [[ -x /usr/bin/chromedriver ]]; then
	ART=${CY_ARTEFACT_DIR:-$(cd "$CYPHONIC_BIN/.." && pwd)/artefacts}
	mkdir -p "$ART"
	pairs=$(cy list --dir "$CLOUD_DIR" --json | jq -r '.[] | "\(.name)=\(.vip4)"')
	# shellcheck disable=SC2086
	n alpha env HOME="$RUN_DIR" /usr/bin/python3 "$(dirname "$0")/../tests/net/tools/console_browser.py" \
		show "$CONSOLE_URL" demo "$DEMO_PW" $pairs "$ART/demo-console.png" ||
		fail "Chromium did not show the demo's nodes"
	ok "Chromium shows every node with its VIP: $ART/demo-console.png"
fi

title "Teardown"
stop_all
ok "daemons stopped (SIGTERM, exit 0); namespaces removed on exit"
