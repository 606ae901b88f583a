#!/bin/bash
# Two cloud hosts on one PostgreSQL store (docs/cloud.md): both run the
# AS, NMS and TRS from one config (each its own host name, control socket
# and TRS address).  Nodes are handed both; they register on the first,
# and `cyphonic list` says where.  Host A stops: the nodes notice, move to
# host B by themselves with the same VIPs, and a ping through their tunnel
# carries on the whole time.
#
#   ns cloud 192.0.2.1 (host cloud-a)    ns cloudb 192.0.2.2 (host cloud-b)
#   ns a 192.0.2.10                      ns r (NAPT) -- ns b 198.51.100.10
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
