#!/bin/bash
# Hostile IPv6 on the adapter's LAN.  From an enrolled general node g2:
# Router Advertisements (the adapter's own kernel, which takes RAs on its
# LAN, must not take them: no default route, no address through g2);
# thousands of Neighbour Solicitations for random overlay addresses, from
# its own MAC and from random ones (the adapter answers for the overlay
# without keeping state: its neighbour table and memory stay bounded, its
# log gets a few lines, g1 keeps working meanwhile); malformed NDP and
# DHCPv6 messages (each counted in `status .lan`, nothing answered).
# Throughout, g1 keeps its lease, resolves and reaches node a over IPv6.
#
#                          inet: bridge br0 (the "Internet")
#        +-------------------+-------------------+
#        |                   |                   |
#   ns cloud             ns a (global)       ns ad (adapter, global)
#   192.0.2.1/24         192.0.2.10/24       eth0 192.0.2.40/24
#   cyphonic-cloud       cyphonicd "a"       lan0 (bridge, takes RAs)
#                                         +------+------+
#                                         |             |
#                                       ns g1         ns g2
#                                       dhclient -6   frames sender
source "$(dirname "$0")/lib.sh"
require
require_adapter
require_adapter6

M1=02:c1:00:00:00:01 M2=02:c1:00:00:00:02

pretty "topology: cloud, node a, adapter ad with g1 and g2 enrolled"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
upstream_dns
inet_host a 192.0.2.10/24 2001:db8::10/64
adapter_global ad 192.0.2.40/24 2001:db8::40/64
# As a Linux host takes RAs on an interface by default: only the adapter's
# nftables keeps a general node's RA out.
n ad sysctl -qw "net.ipv6.conf.$ADAPTER_LAN.accept_ra=1"
gn_host6 g1 ad "$M1"
gn_host6 g2 ad "$M2"
cloud_new
node_new a
node_upstream a "$UPSTREAM4"
adapter_new ad
gn_new g1 ad "$M1"
gn_new g2 ad "$M2"
start_cloud
start_node a a
# Its RSS is compared below: under ASan without the quarantine, which
# would keep every freed block.
ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=0:thread_local_quarantine_size_kb=0" start_adapter ad
wait_registered a
ad6=$(vip ad 6)
a6=$(vip a 6)
admac=$(adapter_mac ad)
g2ll=$(n g2 ip -j -6 addr show dev eth0 scope link | jq -r '.[0].addr_info[0].local')
pfx=${ad6%::*}
dhclient6_once g1 || fail "g1: dhclient -6 got no lease"
[[ $(dhcp6_get g1 ip6) == "$(vip g1 6)" ]] || fail "g1: leased '$(dhcp6_get g1 ip6)'"
# The route to the overlay comes with the adapter's RA (within 0.5 s of
# g1's first frame), the address is usable once DAD is done.
wait_for 10 n g1 ip -6 route get "$a6"
wait_for 10 dad_done g1
vping g1 "$a6" || fail "g1: ping -6 a before the bad input"
ok "g1 $(vip g1 6) pings a $a6 through ad"

lan() { status_get ad ".lan.$1"; }
lan_ge() { (($(lan "$1") >= $2)); }
# g1_works: g1 resolves a's AAAA through the adapter and pings it.
g1_works()
{
	local got
	got=$(n g1 dig @"$ad6" +time=5 +tries=1 +short AAAA "$(fqdn a)")
	[[ $got == "$a6" ]] || fail "g1: AAAA $(fqdn a) is '$got', not $a6"
	vping g1 "$a6" || fail "g1: ping -6 a gets no replies"
}

pretty "Router Advertisements from g2: ignored"
# RA: hop limit 64, M and O clear, router lifetime 1800 s; a source
# link-layer option; a prefix for autoconfiguration 2001:db8:bad::/64.
ra=86000000400007080000000000000000           # type, code, checksum, hop limit, flags,
ra+=0101${M2//:/}                             # lifetimes; source link-layer option
ra+=030440c0000007080000070800000000          # prefix option: L and A, lifetimes
ra+=20010db80bad00000000000000000000          # 2001:db8:bad::/64
before=$(lan ra_guard)
mapfile -t fr < <(for _ in 1 2 3; do
	frame6 "$M2" 33:33:00:00:00:01 "$g2ll" ff02::1 255 58 "$ra" 2; echo; done)
raw_send g2 eth0 "${fr[@]}"
wait_for 5 lan_ge ra_guard $((before + 3)) || fail "ad: ra_guard $(lan ra_guard), not $((before + 3))"
# The kernel would have made g2 the default router and added a SLAAC
# address at once: neither is there.
[[ -z $(n ad ip -6 route show default) ]] ||
	fail "ad: a default route from g2's RA: $(n ad ip -6 route show default)"
[[ -z $(n ad ip -6 addr show dev "$ADAPTER_LAN" | grep 2001:db8:bad) ]] ||
	fail "ad: an address from g2's RA: $(n ad ip -6 addr show dev "$ADAPTER_LAN")"
ok "3 RAs from g2: counted in ra_guard, no route or address on the adapter"

pretty "a flood of Neighbour Solicitations for random overlay addresses"
rss() { awk '/^VmRSS/ { print $2 }' "/proc/${DPID[ad]}/status"; }
neigh() { n ad ip -6 neigh show dev "$ADAPTER_LAN" | grep -c . || true; }
# flood: 5000 NS from g2, then 3000 from random MACs, while g1 resolves
# and pings; each from g2 is answered (the adapter answers for the
# overlay) from no state (some may be lost in socket buffers, most not),
# and the unknown MACs cost a few log lines.
flood()
{
	local before lines0 lines fpid
	before=$(lan ns_answered)
	ns_flood g2 eth0 "$M2" "$g2ll" "$pfx" 5000 &
	fpid=$!
	g1_works
	wait "$fpid" || fail "g2: the flood failed"
	wait_for 10 lan_ge ns_answered $((before + 4000)) ||
		fail "ad: ns_answered $(lan ns_answered) after 5000 NS (from $before)"
	lines0=$(grep -c "unknown MAC" "$(log_of ad)" || true)
	ns_flood g2 eth0 random "$g2ll" "$pfx" 3000
	g1_works
	lines=$(($(grep -c "unknown MAC" "$(log_of ad)" || true) - lines0))
	((lines <= 10)) || fail "ad: $lines log lines about unknown MACs for 3000 of them"
	(($(neigh) <= 8)) || fail "ad: $(neigh) neighbour entries on $ADAPTER_LAN after the flood"
	ok "5000 NS from g2 ($(($(lan ns_answered) - before)) answered) and 3000 from random MACs ($lines log lines); $(neigh) neighbour entries; g1 works"
}
rss0=$(rss)
flood
rss1=$(rss)
# The first flood warms the daemon up (new code paths, buffers); a table
# that grew with the targets or the MACs would grow again in the second.
flood
rss2=$(rss)
((rss2 - rss1 < 1024)) || fail "ad: RSS grew from $rss1 to $rss2 kB in the second flood"
ok "RSS $rss0 kB before, $rss1 after one flood, $rss2 after two"

pretty "malformed NDP from g2"
# A well-formed NS from g2 for a's VIPv6: type, code, checksum, reserved,
# the target, a source link-layer option; each message below breaks it.
a6hex=$(perl -e 'use Socket qw(inet_pton AF_INET6); print unpack("H*", inet_pton(AF_INET6, $ARGV[0]))' "$a6")
ns_ok=8700000000000000${a6hex}0101${M2//:/}
mapfile -t fr < <(
	frame6 "$M2" "$admac" "$g2ll" "$ad6" 64 58 "$ns_ok" 2; echo                       # hop limit 64
	frame6 "$M2" "$admac" "$g2ll" "$ad6" 255 58 "${ns_ok:0:4}1234${ns_ok:8}" -1; echo # checksum
	frame6 "$M2" "$admac" "$g2ll" "$ad6" 255 58 "${ns_ok:0:48}0100${M2//:/}" 2; echo  # option length 0
	frame6 "$M2" "$admac" "$g2ll" "$ad6" 255 58 "${ns_ok:0:48}0102${M2//:/}" 2; echo  # option past the end
	frame6 "$M2" 33:33:00:00:00:02 "$g2ll" ff02::2 255 58 85000000 2; echo             # RS cut short
)
before=$(lan ndp_malformed)
answered=$(lan ns_answered)
raw_send g2 eth0 "${fr[@]}"
wait_for 5 lan_ge ndp_malformed $((before + 5)) ||
	fail "ad: ndp_malformed $(lan ndp_malformed) after 5 malformed messages (from $before)"
[[ $(lan ns_answered) == "$answered" ]] || fail "ad: answered a malformed NS"
ok "5 malformed NDP messages: ndp_malformed $before -> $(lan ndp_malformed), none answered"

pretty "malformed DHCPv6 from g2"
# DHCPv6 to all servers from g2: a header cut short; a client identifier
# running past the end; no client identifier; two; an ADVERTISE (a
# server's message).
duid=0003000102c100000002
dhcp6_frames()
{
	local p
	for p in 01ab "011234560001001000030001${M2//:/}" 01123457000800020000 \
		"011234580001000a${duid}0001000a${duid}" "021234590001000a${duid}"; do
		frame6 "$M2" 33:33:00:01:00:02 "$g2ll" ff02::1:2 1 17 \
			"02220223$(printf %04x $((8 + ${#p} / 2)))0000$p" 6
		echo
	done
}
mapfile -t fr < <(dhcp6_frames)
before=$(lan dhcp6_malformed)
replies=$(($(lan dhcp6_advertise) + $(lan dhcp6_reply)))
raw_send g2 eth0 "${fr[@]}"
wait_for 5 lan_ge dhcp6_malformed $((before + 5)) ||
	fail "ad: dhcp6_malformed $(lan dhcp6_malformed) after 5 malformed messages (from $before)"
[[ $(($(lan dhcp6_advertise) + $(lan dhcp6_reply))) == "$replies" ]] ||
	fail "ad: answered a malformed DHCPv6 message"
ok "5 malformed DHCPv6 messages: dhcp6_malformed $before -> $(lan dhcp6_malformed), none answered"

pretty "the adapter keeps serving"
is_running ad || fail "ad is not running"
g1_works
dhclient6_once g2 || fail "g2: dhclient -6 got no lease after the bad input"
[[ $(dhcp6_get g2 ip6) == "$(vip g2 6)" ]] || fail "g2: leased '$(dhcp6_get g2 ip6)'"
wait_for 10 n g2 ip -6 route get "$a6"
wait_for 10 dad_done g2
vping g2 "$a6" || fail "g2: ping -6 a gets no replies"
ok "g1 resolves and pings a; g2 leased $(vip g2 6) and pings a"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
