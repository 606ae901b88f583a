#!/bin/bash
# Prometheus metrics ([cloud] metrics, [node] metrics): each daemon serves
# GET /metrics in the text format, which Debian's promtool accepts, with
# the values a user would look at after two nodes logged in and pinged
# each other: logins, registrations, route selections, the tunnel by path,
# bytes both ways, drops by reason; anything but GET /metrics is refused.
#
#   ns cloud 192.0.2.1 (metrics 127.0.0.1:9470)
#   ns a 192.0.2.10 (metrics 127.0.0.1:9471)
#   ns r (NAPT) -- ns b 198.51.100.10 (metrics [::1]:9999)
source "$(dirname "$0")/lib.sh"
require

topo_basic
nodes_new a b
conf_set "$CLOUD_DIR/cloud.conf" cloud metrics 127.0.0.1
conf_set "$(node_conf a)" node metrics 127.0.0.1
conf_set "$(node_conf b)" node metrics "[::1]:9999"
nodes_start a b
vping a "$(vip b 4)" 5 || fail "a: ping b"
vping b "$(vip a 4)" 5 || fail "b: ping a"
ok "a and b registered and pinged each other"

pretty "the cloud's metrics"
prom_scrape cloud http://127.0.0.1:9470/metrics cloud
(($(prom_value cloud cyphonic_as_login_ok_total) >= 2)) || fail "cloud: logins $(prom_value cloud cyphonic_as_login_ok_total)"
(($(prom_value cloud cyphonic_nms_registrations_total) >= 2)) || fail "cloud: registrations"
(($(prom_value cloud cyphonic_nms_directions_ok_total) >= 1)) || fail "cloud: no route selection"
prom_value cloud cyphonic_trs_sessions >/dev/null || fail "cloud: no TRS sessions gauge"
grep -q '^# TYPE cyphonic_trs_sessions gauge' "$RUN_DIR/cloud.prom" || fail "cloud: sessions is no gauge"
# the store's latency: every call timed, as a histogram whose +Inf bucket
# is its count, and the same count in `cyphonic stats`
calls=$(prom_value cloud cyphonic_store_call_duration_seconds_count)
((calls > 0)) || fail "cloud: no store call timed"
[[ $(prom_value cloud 'cyphonic_store_call_duration_seconds_bucket{le="+Inf"}') == "$calls" ]] ||
	fail "cloud: store histogram's +Inf bucket is not its count"
grep -q '^# TYPE cyphonic_store_call_duration_seconds histogram' "$RUN_DIR/cloud.prom" ||
	fail "cloud: store latency is no histogram"
(($(stat_get .store.calls) >= calls)) || fail "cloud: stats shows fewer store calls than metrics"
ok "promtool accepts it; $calls store calls timed, $(prom_value cloud cyphonic_as_login_ok_total) logins, $(prom_value cloud cyphonic_nms_registrations_total) registrations, $(prom_value cloud cyphonic_nms_directions_ok_total) route selections"

pretty "the nodes' metrics"
prom_scrape a http://127.0.0.1:9471/metrics a
prom_scrape b "http://[::1]:9999/metrics" b
for x in a b; do
	[[ $(prom_value "$x" cyphonic_node_registered) == 1 ]] || fail "$x: not registered"
	peer=$([[ $x == a ]] && echo b || echo a)
	sel="{peer=\"$(fqdn "$peer")\"}"
	(($(prom_value "$x" "cyphonic_node_tunnel_rx_bytes_total$sel") > 0)) || fail "$x: no bytes from $peer"
	(($(prom_value "$x" "cyphonic_node_tunnel_tx_bytes_total$sel") > 0)) || fail "$x: no bytes to $peer"
	t=$(($(prom_value "$x" 'cyphonic_node_tunnels{path="direct"}') +
	    $(prom_value "$x" 'cyphonic_node_tunnels{path="relay"}')))
	((t == 1)) || fail "$x: $t tunnels"
	prom_value "$x" 'cyphonic_node_drops_total{reason="replay"}' >/dev/null || fail "$x: no drops by reason"
	[[ $(prom_value "$x" cyphonic_node_sched_realtime) == 0 ]] ||
		fail "$x: not the default normal scheduling"
done
ok "promtool accepts both; each registered, one tunnel with bytes both ways, drops by reason, normal scheduling"

pretty "only GET /metrics"
code=$(n a curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9471/other)
[[ $code == 404 ]] || fail "GET /other: $code"
code=$(n a curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:9471/metrics)
[[ $code == 405 ]] || fail "POST /metrics: $code"
! n cloud curl -s -o /dev/null --max-time 2 http://192.0.2.1:9470/metrics ||
	fail "the cloud's metrics answer on its public address"
ok "GET /other 404, POST 405, nothing on the public address"

stop_all
ok "all daemons stopped cleanly"
