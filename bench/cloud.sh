#!/bin/bash
# bench/cloud.sh BINDIR: the cloud under the load of many nodes
# (`make bench-cloud`): cy_cloudload (bench/load/cloudload.c) drives
# simulated nodes speaking the real protocol against cyphonic-cloud, on
# SQLite (one host) and on PostgreSQL (one host and two), and prints
# logins/s, registrations/s, keepalives/s, route selections/s, their
# p50/p99, and the cloud's CPU and memory per registered node.
#
#          inet: bridge br0 (documentation prefixes only)
#   +------------------+------------------+
#   |                  |                  |
# ns cloud           ns cloudb          ns load
# 192.0.2.1          192.0.2.2          192.0.2.50
# cloud-a            cloud-b            cy_cloudload
#
# Sizes (environment): CLOUD_NODES (100000) registered at once,
# CLOUD_LOGINS (3000) of them logging in with a certificate, 6 at a
# time (the AS takes 8 connections at once from one address),
# CLOUD_ROUTES (20000) route selections, 64 in flight (and a quarter as
# many 4 at a time, for the latency of a cloud not saturated), CLOUD_KA_SECS
# (30) seconds of keepalives at the node's default interval (15 s).
# CLOUD_CONFIGS picks the runs (default "sqlite pg1 pg2"); CLOUD_STATS=1
# also prints the cloud's counters and both ends' UDP receive drops.
[[ $# -ge 1 ]] || { echo "usage: $0 BINDIR" >&2; exit 2; }
export CYPHONIC_BIN=$1
export CY_LOG_LEVEL=${CY_LOG_LEVEL:-warn}
export CY_QUIET=${CY_QUIET:-1}
source "$(dirname "$0")/../tests/net/lib.sh"
require

NODES=${CLOUD_NODES:-100000}
LOGINS=${CLOUD_LOGINS:-3000}
ROUTES=${CLOUD_ROUTES:-20000}
KA_SECS=${CLOUD_KA_SECS:-30}
CONFIGS=${CLOUD_CONFIGS:-sqlite pg1 pg2}
LOAD=$CYPHONIC_BIN/cy_cloudload
[[ -x $LOAD ]] || fail "no $LOAD"

internet
inet_host cloud 192.0.2.1/24 -
inet_host cloudb 192.0.2.2/24 -
inet_host load 192.0.2.50/24 -
[[ $CONFIGS != *pg* ]] || pg_start

# run CONFIG: one cloud (or two hosts) on a fresh store, the load, the
# figures kept in $RUN_DIR/CONFIG.out
run()
{
	local cfg=$1 hosts=1 store as nms pids
	CLOUD_DIR=$RUN_DIR/cloud-$cfg
	case $cfg in
	sqlite) store="" ;;
	pg1 | pg2)
		psql -qAtX "$PG_URL" -c "CREATE SCHEMA cy_$cfg"
		store="$PG_URL&options=-csearch_path%3Dcy_$cfg"
		[[ $cfg == pg1 ]] || hosts=2 ;;
	esac
	CY_STORE=$store cloud_new 192.0.2.1,192.0.2.2
	conf_set "$CLOUD_DIR/cloud.conf" cloud host cloud-a
	if ((hosts == 2)); then
		as=192.0.2.1:7443,192.0.2.2:7443 nms=192.0.2.1:7444,192.0.2.2:7444
	else
		as=192.0.2.1:7443 nms=192.0.2.1:7444
		conf_set "$CLOUD_DIR/cloud.conf" as nms 192.0.2.1:7444
	fi
	start_daemon "$cfg-a" cloud cloud "$CYPHONIC_BIN/cyphonic-cloud" -c "$CLOUD_DIR/cloud.conf"
	wait_for 20 n cloud sh -c 'ss -Hltn sport = :7443 | grep -q . && ss -Hlun sport = :7444 | grep -q .'
	pids=(--pid "${DPID[$cfg-a]}")
	if ((hosts == 2)); then
		cp -p "$CLOUD_DIR/cloud.conf" "$CLOUD_DIR/cloudb.conf"
		conf_set "$CLOUD_DIR/cloudb.conf" cloud host cloud-b
		conf_set "$CLOUD_DIR/cloudb.conf" cloud control "$CLOUD_DIR/cloudb.sock"
		start_daemon "$cfg-b" cloudb cloud "$CYPHONIC_BIN/cyphonic-cloud" -c "$CLOUD_DIR/cloudb.conf"
		wait_for 20 n cloudb sh -c 'ss -Hltn sport = :7443 | grep -q . && ss -Hlun sport = :7444 | grep -q .'
		pids+=(--pid "${DPID[$cfg-b]}")
	fi
	n load "$LOAD" --store "${store:-$CLOUD_DIR/cloud.db}" --ca-dir "$CLOUD_DIR" \
		--domain "$CY_DOMAIN" --as "$as" --nms "$nms" --local 192.0.2.50:7446 \
		"${pids[@]}" --nodes "$NODES" --logins "$LOGINS" --routes "$ROUTES" \
		--ka-secs "$KA_SECS" --window 64 --conc 6 >"$RUN_DIR/$cfg.out" || { cat "$RUN_DIR/$cfg.out"; false; } ||
		fail "$cfg: cy_cloudload failed"
	cy stats --dir "$CLOUD_DIR" --json >"$RUN_DIR/$cfg.stats" || true
	[[ -z ${CLOUD_STATS:-} ]] || { n cloud nstat -az UdpRcvbufErrors UdpInErrors; n load nstat -az UdpRcvbufErrors UdpInErrors; } >&2
	stop_daemon "$cfg-a"
	((hosts == 1)) || stop_daemon "$cfg-b"
}

# val CONFIG PHASE KEY
val() { awk -v p="$2" -v k="$3" '$1 == p { for (i = 2; i <= NF; i++) { split($i, kv, "=");
	if (kv[1] == k) print kv[2] } }' "$RUN_DIR/$1.out"; }

for cfg in $CONFIGS; do
	run "$cfg"
done

echo "== cloud under load: $NODES nodes, $LOGINS certificate logins, $ROUTES route selections"
printf '%-34s' ""
for cfg in $CONFIGS; do printf '%14s' "$cfg"; done
echo
row()
{
	local label=$1 phase=$2 key=$3 cfg
	printf '%-34s' "$label"
	for cfg in $CONFIGS; do printf '%14s' "$(val "$cfg" "$phase" "$key")"; done
	echo
}
row "logins/s" login per_s
row "login p50 (ms)" login p50_ms
row "login p99 (ms)" login p99_ms
row "login: cloud CPU (cores)" login cloud_cores
row "login: cloud event loop (cores)" login loop_cores
row "login: load generator (cores)" login load_cores
row "registrations/s" register per_s
row "registration p50 (ms)" register p50_ms
row "registration p99 (ms)" register p99_ms
row "nodes registered at once" keepalive registered
row "keepalives/s answered" keepalive per_s
row "cloud CPU for them (cores)" keepalive cloud_cores
row "cloud RSS per node (kB)" keepalive kb_per_node
row "route selections/s" route per_s
row "route p50 (ms)" route p50_ms
row "route p99 (ms)" route p99_ms
row "route failures" route failed
row "route p50, 4 in flight (ms)" route_light p50_ms
row "route p99, 4 in flight (ms)" route_light p99_ms
echo "targets: 100000 registered at once; >= 1000 logins/s; >= 10000 route selections/s;"
echo "         route p99 < 5 ms; keepalives of 100000 nodes < 0.5 core"
for cfg in $CONFIGS; do
	echo "-- $cfg"
	cat "$RUN_DIR/$cfg.out"
	[[ -z ${CLOUD_STATS:-} ]] || jq -c . "$RUN_DIR/$cfg.stats"
done
