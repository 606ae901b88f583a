#!/bin/bash
# The cloud on PostgreSQL: `cyphonic init --store postgresql://...` makes
# its schema in a (private) PostgreSQL server; the cloud runs on it: the
# nodes log in, register and talk, `cyphonic list` reads the same store,
# a revocation lands there; PostgreSQL restarts while a ping runs through
# a tunnel: the ping carries on, the cloud reconnects by itself and a node
# logs in and selects a route again; PostgreSQL stops answering: the cloud
# waits for it once, answers at once from then on, refuses a login it
# cannot record and serves it when PostgreSQL is back; and a restarted
# cloud finds every VIP where it was.
#
#   ns cloud 192.0.2.1 (store: PostgreSQL over its UNIX socket)
#   ns a 192.0.2.10          ns r (NAPT) -- ns b 198.51.100.10
source "$(dirname "$0")/lib.sh"
require

pg_start
CY_STORE="$PG_URL&options=-csearch_path%3Dcy_net"
n_psql() { psql -qAtX "$PG_URL" -c "$1"; }
n_psql "CREATE SCHEMA cy_net"
topo_basic
inet_host c 192.0.2.30/24 2001:db8::30/64
cloud_new
grep -q "^store = postgresql://" "$CLOUD_DIR/cloud.conf" || fail "cloud.conf: no PostgreSQL store"
[[ ! -e $CLOUD_DIR/cloud.db ]] || fail "init made a SQLite file too"
node_new a
node_new b
node_new c
(($(n_psql "SELECT count(*) FROM cy_net.nodes") == 3)) || fail "the schema does not hold 3 nodes"
ok "init and node add wrote to PostgreSQL (schema cy_net, $(n_psql "SELECT max(version) FROM cy_net.schema_version") migrations)"
! cy init --dir "$RUN_DIR/again" --domain other.test --cloud 192.0.2.1 --store "$CY_STORE" ||
	fail "a second init took over the store"
ok "a second init on the same store is refused"

start_cloud
for x in a b c; do start_node "$x" "$x"; done
for x in a b c; do wait_registered "$x"; done
ok "a, b and c registered"
[[ $(resolve a b A) == "$(vip b 4)" ]] || fail "a: $(fqdn b) does not resolve to b's VIP"
vping a "$(vip b 4)" || fail "a: ping b"
vping b "$(vip c 6)" || fail "b: ping c's VIP6"
ok "names resolve, pings through NAPT and over IPv6"
[[ $(list_get a .registered) == true ]] || fail "list: a not registered"

pretty "revoke c: the store says so, c's tunnels go"
cy revoke c --dir "$CLOUD_DIR" --reason "test" >/dev/null
[[ $(n_psql "SELECT revoked FROM cy_net.nodes WHERE name = 'c'") == 1 ]] || fail "c not revoked in the store"
wait_for 5 eval '! vping b "$(vip c 6)" 1'
expect_exit c
ok "c revoked in PostgreSQL, b no longer reaches it"

pretty "PostgreSQL restarts: tunnels carry on, the cloud reconnects, nothing is lost"
vb=$(vip b 4)
n a ping -n -i 0.2 -w 20 "$vb" >"$RUN_DIR/ping.out" 2>&1 &
PING_PID=$!
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -m fast -w \
	restart >/dev/null || fail "PostgreSQL did not restart"
k0=$(stat_get .nms.keepalives)
wait_for 20 eval '(( $(stat_get .nms.keepalives) >= k0 + 4 ))'
for x in a b; do is_registered "$x" || fail "$x lost its registration"; done
stop_daemon b
start_node b b
wait_registered b
vping b "$(vip a 4)" || fail "b, logged in again: ping a"
wait "$PING_PID" || true
sent=$(awk '/packets transmitted/ { print $1 }' "$RUN_DIR/ping.out")
got=$(awk '/packets transmitted/ { print $4 }' "$RUN_DIR/ping.out")
((sent > 10 && got >= sent * 9 / 10)) || fail "ping through the restart: $got of $sent came back"
[[ $(list_get a .vip4) == "$(vip a 4)" && $(list_get a .registered) == true ]] ||
	fail "list after the restart: a $(list_get a .vip4) $(list_get a .registered)"
ok "keepalives answered again, b logged in and reached a; the a -> b ping: $got of $sent"
grep -q "connection lost, reconnecting" "$(log_of cloud)" || fail "the cloud's log does not say it reconnected"

pretty "PostgreSQL stops answering: the cloud waits once, then goes on without it"
inet_host d 192.0.2.40/24 2001:db8::40/64
node_new d
n a ping -n -i 0.2 -w 16 "$vb" >"$RUN_DIR/ping.out" 2>&1 &
PING_PID=$!
pg_freeze
start_node d d
# d's login needs the store: the cloud waits for it (5 s at most), then
# fails at once. Its loop answers the control socket again within that:
# for 12 s, control requests back to back; the ones since the last that
# took over a second must span 5 s.
t_end=$(($(date +%s%N) + 12000000000))
since=$(date +%s%N)
answered=0
while (($(date +%s%N) < t_end)); do
	if timeout 1 "$CYPHONIC_BIN/cyphonic" stats --dir "$CLOUD_DIR" --json >/dev/null; then
		answered=$((answered + 1))
	else
		since=$(date +%s%N)
		answered=0
	fi
done
span=$((($(date +%s%N) - since) / 1000000))
((answered > 0 && span >= 5000)) ||
	fail "the cloud's loop is held: control requests answered within a second for only the last $span ms"
! is_registered d || fail "d registered while the store did not answer"
log_grep cloud "no answer in [0-9]+ ms, reconnecting" || fail "the cloud's log does not say it gave up waiting"
pg_thaw
wait_registered d
vping d "$(vip a 4)" || fail "d, after PostgreSQL came back: ping a"
wait "$PING_PID" || true
sent=$(awk '/packets transmitted/ { print $1 }' "$RUN_DIR/ping.out")
got=$(awk '/packets transmitted/ { print $4 }' "$RUN_DIR/ping.out")
((sent > 10 && got >= sent * 9 / 10)) || fail "a's ping of b while PostgreSQL was stopped: $got of $sent came back"
ok "control answered in under a second for the last $span ms of 12 s ($answered requests), d logged in once it was back, the a -> b ping: $got of $sent"

pretty "restart the cloud: the same VIPs"
declare -A V4
for x in a b; do V4[$x]=$(status_get "$x" .vip4); done
stop_daemon cloud
start_cloud
for x in a b; do
	wait_for 40 eval "[[ \$(status_get $x .vip4) == ${V4[$x]} ]] && is_registered $x"
done
vping a "$(vip b 4)" || fail "a: ping b after the restart"
ok "a and b registered again with ${V4[a]} and ${V4[b]}, and talk"

stop_all
ok "all daemons stopped cleanly"
