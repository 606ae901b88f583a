#!/bin/bash
# Two cloud hosts on one PostgreSQL store (docs/cloud.md): both run the
# AS, NMS and TRS from one config (each its own host name, control socket
# and TRS address).  Nodes are handed both; they register on the first
# they reach, and `cyphonic list` says where.
#  - c reaches only cloud-b, a only... both, registered on cloud-a: a
#    resolves c and they ping each other (the hosts pass the Route
#    Direction and its Confirmation through PostgreSQL's NOTIFY);
#  - c is revoked through cloud-a: its tunnel with a goes at once;
#  - cloud-a stops: a and b move to cloud-b by themselves with the same
#    VIPs, and a ping through their tunnel carries on the whole time.
#
#   ns cloud 192.0.2.1 (host cloud-a)    ns cloudb 192.0.2.2 (host cloud-b)
#   ns a 192.0.2.10    ns c 192.0.2.30 (cannot reach cloud-a)
#   ns r (NAPT) -- ns b 198.51.100.10
#   PostgreSQL: a private server on a UNIX socket (tests/pg.sh)
source "$(dirname "$0")/lib.sh"
require

pg_start
psql -qAtX "$PG_URL" -c "CREATE SCHEMA cy_hosts"
CY_STORE="$PG_URL&options=-csearch_path%3Dcy_hosts"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
inet_host cloudb 192.0.2.2/24 2001:db8::2/64
inet_host a 192.0.2.10/24 2001:db8::10/64
inet_host c 192.0.2.30/24 2001:db8::30/64
n c nft -f - <<'NFT'
table inet only_b {
	chain out {
		type filter hook output priority 0;
		ip daddr 192.0.2.1 drop
		ip6 daddr 2001:db8::1 drop
	}
}
NFT
napt r 192.0.2.20/24 198.51.100.1/24
lan_host b r 198.51.100.10/24
cloud_new 192.0.2.1,192.0.2.2
conf_set "$CLOUD_DIR/cloud.conf" cloud host cloud-a
conf_set "$CLOUD_DIR/cloud.conf" trs public 192.0.2.1,2001:db8::1
cp -p "$CLOUD_DIR/cloud.conf" "$CLOUD_DIR/cloudb.conf"
conf_set "$CLOUD_DIR/cloudb.conf" cloud host cloud-b
conf_set "$CLOUD_DIR/cloudb.conf" cloud control "$CLOUD_DIR/cloudb.sock"
conf_set "$CLOUD_DIR/cloudb.conf" trs public 192.0.2.2,2001:db8::2
node_new a
node_new b
node_new c
grep -q '^cloud = 192.0.2.1,192.0.2.2$' "$(node_conf a)" || fail "a's config does not name both hosts"

start_cloud
start_daemon cloudb cloudb cloud "$CYPHONIC_BIN/cyphonic-cloud" -c "$CLOUD_DIR/cloudb.conf"
wait_for 20 n cloudb sh -c 'ss -Hltn sport = :7443 | grep -q . && ss -Hlun sport = :7444 | grep -q .'
ok "cloud-a and cloud-b run on one store"
for x in a b; do start_node "$x" "$x"; done
for x in a b; do wait_registered "$x"; done
declare -A V4
for x in a b; do
	V4[$x]=$(status_get "$x" .vip4)
	[[ $(list_get "$x" .host) == cloud-a ]] || fail "list: $x on host $(list_get "$x" .host)"
done
vping a "$(vip b 4)" || fail "a: ping b"
ok "a ${V4[a]} and b ${V4[b]} registered on cloud-a (cyphonic list says so), a pings b"

pretty "c reaches only cloud-b; a, on cloud-a, reaches c"
start_node c c
wait_registered c 60
[[ $(list_get c .host) == cloud-b ]] || fail "list: c on host $(list_get c .host)"
[[ $(resolve a c A) == "$(vip c 4)" ]] || fail "a: $(fqdn c) does not resolve to c's VIP"
vping a "$(vip c 4)" || fail "a: ping c"
vping c "$(vip a 4)" || fail "c: ping a"
ok "c registered on cloud-b; a resolves it and they ping each other"
n_bus() { cy stats --dir "$CLOUD_DIR" --json | jq -er '.nms.bus_out'; }
(($(n_bus) >= 1)) || fail "cloud-a sent no signal to cloud-b"

pretty "c revoked through cloud-a: its tunnel with a goes"
cy revoke c --dir "$CLOUD_DIR" --reason "test" >/dev/null
wait_for 5 eval '! vping a "$(vip c 4)" 1'
expect_exit c
ok "a no longer reaches c"

pretty "cloud-a stops: a and b move to cloud-b, the ping carries on"
n a ping -n -i 0.2 -w 40 "$(vip b 4)" >"$RUN_DIR/ping.out" 2>&1 &
PING_PID=$!
stop_daemon cloud
for x in a b; do
	wait_for 40 eval "[[ \$(list_get $x .host) == cloud-b ]] && is_registered $x"
	[[ $(status_get "$x" .vip4) == "${V4[$x]}" ]] || fail "$x: VIP changed to $(status_get "$x" .vip4)"
done
ok "a and b registered on cloud-b with the same VIPs"
kill -INT "$PING_PID" 2>/dev/null
wait "$PING_PID" || true
sent=$(awk '/packets transmitted/ { print $1 }' "$RUN_DIR/ping.out")
got=$(awk '/packets transmitted/ { print $4 }' "$RUN_DIR/ping.out")
lost=$((sent - got))
((sent > 10 && lost <= 2)) || fail "ping across the move: $got of $sent came back"
ok "ping a -> b across the move: $got of $sent came back"
vping b "$(vip a 4)" || fail "b: ping a after the move"

pretty "cloud-b alone serves new logins"
stop_daemon a
start_node a a
wait_registered a 40
[[ $(list_get a .host) == cloud-b && $(status_get a .vip4) == "${V4[a]}" ]] ||
	fail "a, restarted: host $(list_get a .host), vip $(status_get a .vip4)"
ok "a logged in again through cloud-b, same VIP"

stop_all
ok "all daemons stopped cleanly"
