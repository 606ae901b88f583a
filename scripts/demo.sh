#!/bin/bash
# scripts/demo.sh BINDIR: the CYPHONIC testbed, brought up and torn down.
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+
#        |                      |                       |
#   ns cloud                ns alpha (global)      ns r (NAPT router)
#   192.0.2.1/24            192.0.2.10/24          eth0 192.0.2.20/24
#   2001:db8::1/64          2001:db8::10/64        nft masquerade on eth0
#   cyphonic-cloud          cyphonicd              lan 198.51.100.1/24
#   AS :7443 NMS :7444                                  |
#                                                  ns beta (behind NAPT)
#                                                  198.51.100.10/24
#                                                  cyphonicd
#
# Both nodes log in and register; alpha resolves beta's name (route
# selection, tunnel set-up: the NMS tells beta, behind the NAPT, to open the
# path), pings it, sends it a file; their status with the tunnel, the
# cloud's list and an evaluation table (registration time, cold DNS answer,
# ping RTT, throughput) are printed; then everything is stopped and removed.
[[ $# -ge 1 ]] || { echo "usage: $0 BINDIR" >&2; exit 2; }
export CYPHONIC_BIN=$1
export CY_LOG_LEVEL=${CY_LOG_LEVEL:-info}
source "$(dirname "$0")/../tests/net/lib.sh"
require

title() { printf '\n%s== %s ==%s\n' "$C_OK" "$*" "$C_RST"; }

printf 'CYPHONIC demo: a cloud, a global node and a node behind NAPT, in network namespaces\n'
title "Testbed"
sed -n '/^#  /,/^#$/p' "$0" | sed 's/^#//'
topo_basic alpha beta
ok "namespaces, veths, the Internet bridge, NAPT router with nftables masquerade"

title "Cloud"
cloud_new 192.0.2.1,2001:db8::1
node_new alpha
node_new beta
for x in alpha beta; do conf_set "$(node_conf "$x")" node keepalive 15; done
start_cloud
ok "cyphonic-cloud up in ns cloud: AS tcp/7443, NMS udp/7444"
cy list --dir "$CLOUD_DIR"

title "Nodes: start, log in, register"
declare -A T_REG=()
start_node alpha alpha
start_node beta beta
# Poll both status sockets every ~10 ms: the time from the daemon's start
# to `registered: true` as a user sees it.
deadline=$(($(now_ms) + 30000))
while ((${#T_REG[@]} < 2)); do
	for x in alpha beta; do
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

title "alpha resolves beta.$CY_DOMAIN   (route selection + tunnel set-up; beta is behind NAPT)"
vip4_b=$(vip beta 4)
# The cold query, timed inside ns alpha (microseconds, no process start in
# the timing), then the same name with dig as a user asks it.
out=$(dns_probe alpha "$(fqdn beta)" "$vip4_b") || fail "alpha: no answer for $(fqdn beta)"
DNS_MS=$(awk -v u="${out% *}" 'BEGIN { printf "%.2f", u / 1000 }')
PING1_MS=$(awk -v u="${out#* }" 'BEGIN { printf "%.2f", u / 1000 }')
dns=$(status_get alpha .dns)
ans=$(qdig alpha "$(fqdn beta)" A) || fail "alpha: dig $(fqdn beta) failed: $ans"
printf '$ dig @%s -p %s %s A\n' "$(ep_host "$dns")" "${dns##*:}" "$(fqdn beta)"
sed -n '/ANSWER SECTION/,/^$/p' <<<"$ans"
grep -q "[[:space:]]$vip4_b\$" <<<"$ans" || fail "alpha: $(fqdn beta) did not resolve to $vip4_b"
ok "$(fqdn beta) -> $vip4_b: first (cold) answer after $DNS_MS ms, first ping reply after $PING1_MS ms"

title "ping beta's VIP4 from alpha"
out=$(n alpha ping -n -c 5 -i 0.2 "$vip4_b") || fail "alpha: ping $vip4_b: $out"
echo "$out"
RTT_MS=$(sed -n 's|^rtt .* = [0-9.]*/\([0-9.]*\)/.*|\1|p' <<<"$out")
vping beta "$(vip alpha 6)" || fail "beta: ping alpha's VIP6"
ok "and beta pings alpha's VIP6 $(vip alpha 6) back"

title "a file from alpha to beta over the tunnel (20 MB, nc over TCP)"
transfer alpha beta "$vip4_b" 20
XFER=$XFER_MBPS
ok "20 MB arrived with the same SHA-256, $XFER Mbit/s"

if cy_has ping; then
	title "cyphonic ping $(fqdn beta)   (in ns alpha)"
	cy ping "$(fqdn beta)" -c "$(node_conf alpha)" || fail "cyphonic ping failed"
fi

for x in alpha beta; do
	title "cyphonic status -c nodes/$x.conf   (with the tunnel)"
	cy status -c "$(node_conf "$x")"
done

title "Evaluation"
printf '%-22s %-32s %-5s %-22s %-16s %s\n' node network nat observed vip4 "start->registered"
for x in alpha beta; do
	s=$(status "$x")
	case $x in
	alpha) net="global 192.0.2.10, 2001:db8::10" ;;
	beta) net="NAPT LAN 198.51.100.10" ;;
	esac
	printf '%-22s %-32s %-5s %-22s %-16s %10d ms\n' "$x.$CY_DOMAIN" "$net" \
		"$(jq -r .nat <<<"$s")" "$(jq -r .observed <<<"$s")" "$(jq -r .vip4 <<<"$s")" \
		"${T_REG[$x]}"
done
echo
printf '%-26s %-7s %-16s %17s %15s %10s %11s\n' tunnel path endpoint "DNS answer, cold" \
	"-> first ping" "ping RTT" TCP
printf '%-26s %-7s %-16s %14s ms %12s ms %7s ms %4s Mbit/s\n' "alpha -> beta.$CY_DOMAIN" \
	"$(tunnel_get alpha beta .path)" "$(tunnel_get alpha beta .endpoint)" "$DNS_MS" "$PING1_MS" \
	"$RTT_MS" "$XFER"
echo "(deck, Raspberry Pi: route selection 16.2 ms + tunnel set-up 2.23 ms, RTT 2.523 ms)"
echo
echo "cloud counters:"
stats | jq -r '.as, .nms | to_entries | map("\(.key)=\(.value)") | join("  ")' |
	paste -d' ' <(printf '  AS \n  NMS\n') -

title "Teardown"
stop_all
ok "daemons stopped (SIGTERM, exit 0); namespaces removed on exit"
