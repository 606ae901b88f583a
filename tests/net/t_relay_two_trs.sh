#!/bin/bash
# Two TRS hosts (docs/nat.md): the NMS spreads relay sessions over both,
# and when one dies its relayed pairs recover through the other while a
# ping runs, without anyone doing anything.  Both pairs sit behind
# random-port NAPTs, so they stay relayed.
#
#   ns cloud 192.0.2.1: AS, NMS, TRS 1      ns trs2 192.0.2.2: TRS 2 only
#   ns r1 192.0.2.20 - a    ns r2 192.0.2.21 - b    ns r3 192.0.2.22 - c    ns r4 192.0.2.23 - d
source "$(dirname "$0")/lib.sh"
require

pretty "topology: the cloud with TRS 1, a second TRS host, two pairs behind random-port NAPTs"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
inet_host trs2 192.0.2.2/24 -
NAPT_KIND=random napt r1 192.0.2.20/24 198.51.100.1/24
NAPT_KIND=random napt r2 192.0.2.21/24 203.0.113.1/24
NAPT_KIND=random napt r3 192.0.2.22/24 198.18.0.1/24
NAPT_KIND=random napt r4 192.0.2.23/24 198.18.1.1/24
lan_host a r1 198.51.100.10/24
lan_host b r2 203.0.113.10/24
lan_host c r3 198.18.0.10/24
lan_host d r4 198.18.1.10/24
cloud_new
for x in a b c d; do node_new "$x"; done
conf_set "$CLOUD_DIR/cloud.conf" nms trs "192.0.2.1:7445,192.0.2.2:7445"
T2=$RUN_DIR/trs2
mkdir -p "$T2"
cat >"$T2/cloud.conf" <<-EOF2
	[cloud]
	domain = $CY_DOMAIN
	control = $T2/cloud.sock
	log_level = debug
	[trs]
	listen = 0.0.0.0:7445
	key = $CLOUD_DIR/trs.key
	public = 192.0.2.2
EOF2
start_cloud
start_daemon trs2 trs2 cloud "$CYPHONIC_BIN/cyphonic-cloud" -c "$T2/cloud.conf"
wait_for 10 n trs2 sh -c 'ss -Hlun sport = :7445 | grep -q .'
for x in a b c d; do start_node "$x" "$x"; done
for x in a b c d; do wait_registered "$x"; done
ok "four nodes registered; TRS 1 on the cloud host, TRS 2 on its own"

pretty "two relayed pairs: one session on each TRS"
vping a "$(vip b 4)" || fail "a: ping b gets no replies"
vping c "$(vip d 4)" || fail "c: ping d gets no replies"
t2() { cy stats --dir "$T2" --json | jq -er "$1"; }
[[ $(stat_get .trs.sessions) == 1 && $(t2 .trs.sessions) == 1 ]] ||
	fail "sessions: TRS 1 $(stat_get .trs.sessions), TRS 2 $(t2 .trs.sessions)"
ab=$(ep_host "$(tunnel_get a b .endpoint)")
cd_=$(ep_host "$(tunnel_get c d .endpoint)")
[[ $ab != "$cd_" ]] || fail "both pairs relayed through $ab"
ok "a <-> b through $ab, c <-> d through $cd_"

pretty "TRS 2 dies while a ping runs on its pair"
if [[ $ab == 192.0.2.2 ]]; then m=a p=b; else m=c p=d; fi
cy ping "$(fqdn $p)" -c "$(node_conf $m)" -n 100 -i 150 >"$RUN_DIR/ping.out" 2>&1 &
PING=$!
tid=$(tunnel_get $m $p .tunnel_id)
t0=$(now_ms)
stop_daemon trs2
wait_for 20 eval '[[ $(ep_host "$(tunnel_get '$m' '$p' .endpoint)") == 192.0.2.1 ]]'
ms=$(($(now_ms) - t0))
vping $m "$(vip $p 4)" || fail "$m: ping $p through TRS 1 gets no replies"
ok "$m <-> $p relayed through TRS 1 again after $ms ms (tunnel $tid -> $(tunnel_get $m $p .tunnel_id))"
wait "$PING" || fail "cyphonic ping failed: $(cat "$RUN_DIR/ping.out")"
rcv=$(sed -n 's/.* sent, \([0-9]*\) received.*/\1/p' "$RUN_DIR/ping.out")
((rcv >= 40)) || fail "only $rcv of 100 probes answered: $(cat "$RUN_DIR/ping.out")"
ok "cyphonic ping across it: $(grep received "$RUN_DIR/ping.out")"
[[ $(stat_get .trs.sessions) == 2 ]] || fail "TRS 1 holds $(stat_get .trs.sessions) sessions, not 2"

no_drops "a b c d" "auth malformed"
stop_all
ok "all daemons stopped cleanly, no sanitizer report"
