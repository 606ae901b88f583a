#!/bin/bash
# Hostile frames on the adapter's LAN.  From a general node's namespace,
# raw Ethernet frames (an AF_PACKET socket, perl) carry malformed DHCP
# (truncated, bad magic cookie, an option running past the end), malformed
# ARP, malformed DNS to the adapter, truncated frames and oversized frames.
# Each batch must raise the adapter's `status .lan` drop counters; the
# adapter stays up and keeps serving: a well-formed general node still gets
# its lease and pings the peer.  A host with an unenrolled MAC and a static
# address in the VIP range reaches nothing in the overlay: ARP for the peer
# is not answered, and with the adapter's MAC forced into its neighbour
# table its pings die at the adapter (the peer sees nothing).  g1 sending
# with g2's VIP as its source is dropped and counted at the adapter.
#
#                          inet: bridge br0 (the "Internet")
#        +-------------------+-------------------+
#        |                   |                   |
#   ns cloud             ns a (global)       ns ad (adapter, global)
#   192.0.2.1/24         192.0.2.10/24       eth0 192.0.2.40/24
#   cyphonic-cloud       cyphonicd "a"       lan0 (bridge)
#                                         +------+------+
#                                         |      |      |
#                                       ns g1  ns g2  ns x (not enrolled,
#                                       frames  well-   static 100.127.255.250/10)
#                                       sender  formed
source "$(dirname "$0")/lib.sh"
require
require_adapter

M1=02:c1:00:00:00:01 M2=02:c1:00:00:00:02 M9=02:c1:00:00:00:09
ROGUE=100.127.255.250 # in the VIP range, allocated to nobody

pretty "topology: cloud, node a, adapter ad with g1, g2 enrolled, x not"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
upstream_dns
inet_host a 192.0.2.10/24 2001:db8::10/64
adapter_global ad 192.0.2.40/24 2001:db8::40/64
gn_host g1 ad "$M1"
gn_host g2 ad "$M2"
gn_host x ad "$M9"
cloud_new
node_new a
node_upstream a "$UPSTREAM4"
adapter_new ad
# No periodic GN-list fetch during the test: each one below is caused.
conf_set "$(node_conf ad)" adapter refresh 3600
gn_new g1 ad "$M1"
gn_new g2 ad "$M2"
start_cloud
start_node a a
start_adapter ad
wait_registered a
udhcpc_once g1 || fail "g1: udhcpc got no lease"
advip=$(vip ad 4)
admac=$(adapter_mac ad)
avip=$(vip a 4)
vping g1 "$avip" || fail "g1: ping a before the bad input"
ok "g1 $(gn_addr g1) pings a $avip through ad"

# lan_sum KEY...: the sum of those counters of the adapter's `status .lan`
# (each must be there).
lan_sum()
{
	status ad | jq -er "[$(printf '.lan.%s,' "$@" | sed 's/,$//')] | if all(type == \"number\") then add else error(\"missing\") end"
}
[[ $(status ad | jq -r '.lan | type') == object ]] ||
	fail "ad: status has no .lan counters: $(status ad | jq -c .)"
ok "ad: status .lan $(status ad | jq -c .lan)"

# Frame builder: perl prints "LABEL HEX" per frame.  IPv4 header checksums
# are right, UDP checksums 0 (none), so only the part under test is broken.
FRAMES='
use strict;
use warnings;
my ($smac, $amac, $sip, $aip, $pip) = @ARGV;
sub mac { my $m = shift; $m =~ s/://g; pack("H12", $m) }
sub ip4 { pack("C4", split /\./, shift) }
sub csum {
	my $d = shift;
	$d .= "\0" if length($d) % 2;
	my $s = 0;
	$s += $_ for unpack("n*", $d);
	$s = ($s >> 16) + ($s & 0xffff) while $s >> 16;
	pack("n", ~$s & 0xffff);
}
sub ipv4 {
	my ($src, $dst, $proto, $payload, $tlen, $frag) = @_;
	$tlen //= 20 + length $payload;
	$frag //= 0x4000;
	my $h = pack("CCnnnCCn", 0x45, 0, $tlen, 0x1234, $frag, 64, $proto, 0) . ip4($src) . ip4($dst);
	substr($h, 10, 2) = csum($h);
	$h . $payload;
}
sub udp { my ($sp, $dp, $p) = @_; pack("nnnn", $sp, $dp, 8 + length $p, 0) . $p }
sub eth { my ($dst, $type, $p) = @_; $dst . mac($smac) . pack("n", $type) . $p }
my $bc = "\xff" x 6;
my $cookie = pack("N", 0x63825363);
sub bootp {
	my ($ck, $opts) = @_;
	pack("CCCCNnn", 1, 1, 6, 0, 0x5eed0001, 0, 0x8000) . ("\0" x 16) . mac($smac) .
		("\0" x 10) . ("\0" x 192) . $ck . $opts;
}
sub dhcp { eth($bc, 0x0800, ipv4("0.0.0.0", "255.255.255.255", 17, udp(68, 67, shift))) }
sub dns { eth(mac($amac), 0x0800, ipv4($sip, $aip, 17, udp(40000, 53, shift))) }
my $arp = pack("nnCCn", 1, 0x0800, 6, 4, 1) . mac($smac) . ip4($sip) . ("\0" x 6) . ip4($pip);
my @f = (
	# DHCP: cut inside the fixed BOOTP part; a wrong magic cookie; option
	# 61 claiming 200 bytes with 3 left and no end option.
	[ dhcp => dhcp(substr(bootp($cookie, pack("CCC", 53, 1, 1) . "\xff"), 0, 100)) ],
	[ dhcp => dhcp(bootp(pack("N", 0xdeadbeef), pack("CCC", 53, 1, 1) . "\xff")) ],
	[ dhcp => dhcp(bootp($cookie, pack("CCC", 53, 1, 1) . pack("CC", 61, 200) . "abc")) ],
	# ARP: cut after 10 bytes; cut inside the target hardware address.
	[ arp => eth($bc, 0x0806, substr($arp, 0, 10)) ],
	[ arp => eth($bc, 0x0806, substr($arp, 0, 20)) ],
	# DNS to the adapter: shorter than a header; a label past the end; a
	# name that is a compression pointer to itself.
	[ dns => dns("\x12\x34\x01\x00\x00") ],
	[ dns => dns(pack("nnnnnn", 0x1234, 0x0100, 1, 0, 0, 0) . "\x3f" . "short") ],
	[ dns => dns(pack("nnnnnn", 0x1235, 0x0100, 1, 0, 0, 0) . "\xc0\x0c" . pack("nn", 1, 1)) ],
	# Truncated frames: an IPv4 header cut short; an IPv4 packet to the
	# peer VIP whose total length (1000) runs past the frame.
	[ trunc => eth(mac($amac), 0x0800, substr(ipv4($sip, $pip, 17, udp(1, 9, "x")), 0, 10)) ],
	[ trunc => eth(mac($amac), 0x0800, ipv4($sip, $pip, 17, udp(1, 9, "x" x 20), 1000)) ],
	# Oversized: frames far beyond the LAN MTU (1500) with no GSO in the
	# vnet header, to the peer VIP with DF (may be answered by ICMP
	# "fragmentation needed", counted as frag_needed), without DF, and a
	# DHCP DISCOVER.
	[ big => eth(mac($amac), 0x0800, ipv4($sip, $pip, 17, udp(40000, 9, "B" x 7972))) ],
	[ big => eth(mac($amac), 0x0800, ipv4($sip, $pip, 17, udp(40001, 9, "b" x 7972), undef, 0)) ],
	[ big => dhcp(bootp($cookie, pack("CCC", 53, 1, 1) . ("\0" x 7700) . "\xff")) ],
);
print "$_->[0] ", unpack("H*", $_->[1]), "\n" for @f;
'
mapfile -t frames < <(perl -e "$FRAMES" "$M1" "$admac" "$(gn_addr g1)" "$advip" "$avip")
((${#frames[@]} == 13)) || fail "frame builder made ${#frames[@]} frames"

# inject LABEL KEY...: send the frames of that batch from g1; the sum of
# the adapter's `status .lan` counters KEY... rises by one per frame; the
# adapter stays up and answers status.
BAD_KEYS=()
lan_bad() { lan_sum "${BAD_KEYS[@]}"; }
lan_bad_ge() { (($(lan_bad) >= $1)); }
inject()
{
	local label=$1 before want f hex=() cnt=0
	shift
	BAD_KEYS=("$@")
	for f in "${frames[@]}"; do
		[[ ${f%% *} == "$label" ]] || continue
		hex+=("${f#* }")
		cnt=$((cnt + 1))
	done
	before=$(lan_bad)
	raw_send g1 eth0 "${hex[@]}"
	want=$((before + cnt))
	wait_for 5 lan_bad_ge "$want" ||
		fail "ad: $cnt malformed $label frames raised .lan.{$(echo "$@" | tr ' ' ,)} from $before to $(lan_bad) (expected $want): $(status ad | jq -c .lan)"
	ok "$label: $cnt frames dropped and counted in .lan.{$(echo "$@" | tr ' ' ,)} ($before -> $(lan_bad))"
}

pretty "malformed DHCP, ARP and DNS from g1"
inject dhcp dhcp_malformed malformed
inject arp arp_malformed malformed
inject dns dns_malformed malformed

pretty "truncated and oversized frames from g1"
inject trunc malformed vip_malformed
mtu=$(n g1 ip -j link show dev eth0 | jq -r '.[0].mtu')
n ad ip link set dev g-g1 mtu 9000
n g1 ip link set dev eth0 mtu 9000
inject big oversize malformed frag_needed
n g1 ip link set dev eth0 mtu "$mtu"
n ad ip link set dev g-g1 mtu 1500

pretty "the adapter keeps serving"
is_running ad || fail "ad is not running"
is_registered ad || fail "ad is no longer registered"
vping g1 "$avip" || fail "g1: ping a after the bad input"
got=$(gdig g1 +short "$(fqdn a)" A) || fail "g1: dig $(fqdn a) A failed after the bad input"
[[ $got == "$avip" ]] || fail "g1: dig $(fqdn a) A gave '$got' after the bad input"
udhcpc_once g2 || fail "g2: udhcpc got no lease after the bad input"
[[ $(dhcp_get g2 ip) == "$(vip g2 4)" ]] || fail "g2: leased '$(dhcp_get g2 ip)', not $(vip g2 4)"
vping g2 "$avip" || fail "g2: ping a ($avip) gets no replies"
ok "g1 still pings and resolves a; g2 leased $(vip g2 4) and pings a"

pretty "unenrolled x with a static VIP-range address reaches nothing in the overlay"
addr x eth0 "$ROGUE/10"
n x ip route add default via "$advip"
fetches=$(stat_get .as.info_ok)
got=$(arp_macs x "$avip" 3) && fail "x (unenrolled): arping $avip answered by $got"
[[ $(stat_get .as.info_ok) == "$fetches" ]] ||
	fail "x's ARPs made ad fetch its GN list ($fetches -> $(stat_get .as.info_ok) Information Requests)"
ok "x: arping a's VIP $avip: no answer, and no GN-list fetch for an unknown MAC's ARPs"
n x ip neigh replace "$avip" lladdr "$admac" dev eth0 nud permanent
pcap=$RUN_DIR/a-rogue.pcap
n a timeout 30 tcpdump -i any -n -U -w "$pcap" "icmp and host $ROGUE" 2>"$pcap.err" &
tpid=$!
wait_for 10 grep -q 'listening on' "$pcap.err"
n x ping -n -q -c 3 -i 0.2 -W 1 -w 3 "$avip" >/dev/null && fail "x (unenrolled): ping $avip got replies"
kill -TERM "$tpid" 2>/dev/null || true
wait "$tpid" || true
seen=$(tcpdump -r "$pcap" -n 2>/dev/null | wc -l)
[[ $seen == 0 ]] || fail "a saw $seen packets from the unenrolled x: $(tcpdump -r "$pcap" -n 2>/dev/null | head -n 3)"
ok "x: ping a's VIP $avip: no replies; a saw nothing from $ROGUE"
vping g1 "$avip" || fail "g1: ping a after x's attempts"

pretty "x asks for a lease: ad fetches its GN list once (x may have been enrolled)"
udhcpc_once x 3 && fail "x (unenrolled) got a DHCP lease"
wait_for 10 eval '(($(stat_get .as.info_ok) > fetches))'
ok "no lease for x; Information Requests $fetches -> $(stat_get .as.info_ok)"

pretty "g1 sends with g2's VIP as its source: dropped at the adapter, counted"
V2=$(vip g2 4)
b0=$(status ad | jq -r .lan.vip_bad_src)
addr g1 eth0 "$V2/32"
n a timeout 30 tcpdump -i any -n -U -w "$pcap" "icmp and host $V2" 2>"$pcap.err" &
tpid=$!
wait_for 10 grep -q 'listening on' "$pcap.err"
n g1 ping -n -q -c 3 -i 0.2 -W 1 -w 3 -I "$V2" "$avip" >/dev/null &&
	fail "g1: ping a from g2's VIP $V2 got replies"
kill -TERM "$tpid" 2>/dev/null || true
wait "$tpid" || true
seen=$(tcpdump -r "$pcap" -n 2>/dev/null | wc -l)
[[ $seen == 0 ]] || fail "a saw $seen packets from $V2 sent by g1: $(tcpdump -r "$pcap" -n 2>/dev/null | head -n 3)"
b1=$(status ad | jq -r .lan.vip_bad_src)
((b1 >= b0 + 3)) || fail "ad: lan.vip_bad_src went from $b0 to $b1, not up by 3"
ok "ad dropped and counted them (lan.vip_bad_src $b0 -> $b1); a saw nothing from $V2"

pretty "g1 pings the adapter's own VIP with g2's VIP as its source: the adapter's kernel takes none"
n ad timeout 30 tcpdump -i any -n -U -w "$pcap" "icmp and src host $advip and dst host $V2" \
	2>"$pcap.err" &
tpid=$!
wait_for 10 grep -q 'listening on' "$pcap.err"
n g1 ping -n -q -c 3 -i 0.2 -W 1 -w 3 -I "$V2" "$advip" >/dev/null &&
	fail "g1: ping $advip from g2's VIP $V2 got replies"
kill -TERM "$tpid" 2>/dev/null || true
wait "$tpid" || true
seen=$(tcpdump -r "$pcap" -n 2>/dev/null | wc -l)
[[ $seen == 0 ]] || fail "ad answered $seen packets sent by g1 as $V2: $(tcpdump -r "$pcap" -n 2>/dev/null | head -n 3)"
n g1 ip addr del "$V2/32" dev eth0
vping g1 "$avip" || fail "g1: ping a from its own VIP after the spoofing"
n g1 ping -n -q -c 1 -W 2 "$advip" >/dev/null || fail "g1: ping the adapter ($advip) from its own VIP"
ok "ad answered none of them; g1's own pings to a and to the adapter still pass"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
