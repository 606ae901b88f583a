#!/bin/bash
# One host cannot take the AS's connection slots: at most 8 connections
# from one source are kept, one that never starts TLS is closed after the
# 3 s handshake timeout, and so is one that sends its handshake a byte a
# second (the deadline is absolute); while x holds what it can, node a
# logs in.  With every slot of a small table ([as] max_conns = 16) held by
# silent clients of two hosts, a new login cuts the oldest handshake.
#
#          inet: bridge br0 (the "Internet")
#   +-----------+-----------+
#   |           |           |
# ns cloud    ns a        ns x
# 192.0.2.1   192.0.2.10  192.0.2.66
# cloud       node a      holder (cy_abuse hold)
source "$(dirname "$0")/lib.sh"
require

internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
inet_host a 192.0.2.10/24 -
inet_host x 192.0.2.66/24 -
inet_host y 192.0.2.67/24 -
cloud_new
node_new a
start_cloud
W=$RUN_DIR/work
mkdir -p "$W"

pretty "x opens 1100 connections and holds them 2 s"
out=$(n x "$CYPHONIC_BIN/cy_abuse" hold 192.0.2.1 7443 1100 2)
say "$out"
[[ $out == "open "* ]] || fail "cy_abuse hold: $out"
((${out#open } <= 8)) || fail "x kept ${out#open } connections open"
ok "x kept ${out#open } of 1100"

pretty "connections without TLS are closed after the handshake timeout"
out=$(n x "$CYPHONIC_BIN/cy_abuse" hold 192.0.2.1 7443 8 5)
[[ $out == "open 0" ]] || fail "after 5 s without a handshake: $out"
ok "none left after 5 s"

pretty "a handshake sent a byte a second is cut off at 3 s, not kept alive by each byte"
out=$(n x "$CYPHONIC_BIN/cy_abuse" drip 192.0.2.1 7443 10)
say "$out"
[[ $out =~ ^closed\ after\ ([0-9]+)\ s$ ]] || fail "a dripping handshake stayed open 10 s: $out"
((BASH_REMATCH[1] <= 4)) || fail "a dripping handshake was closed only after ${BASH_REMATCH[1]} s"
ok "$out"

pretty "a logs in while x holds its connections"
n x "$CYPHONIC_BIN/cy_abuse" hold 192.0.2.1 7443 1100 20 >"$W/hold" &
holder=$!
refused_over() { (($(stat_get .as.conn_refused) > $1)); }
wait_for 5 refused_over 1000
start_node a a
wait_registered a 10
ok "a registered in $REG_MS ms with x holding"
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
refused=$(stat_get .as.conn_refused)
((refused > 1000)) || fail "as.conn_refused is $refused"
ok "as.conn_refused $refused"

pretty "every slot held by silent clients (x and y, 8 each of 16): a's login cuts the oldest handshake"
stop_daemon a
stop_daemon cloud
conf_set "$CLOUD_DIR/cloud.conf" as max_conns 16
start_cloud
n x "$CYPHONIC_BIN/cy_abuse" hold 192.0.2.1 7443 8 6 >"$W/hold-x" &
hx=$!
n y "$CYPHONIC_BIN/cy_abuse" hold 192.0.2.1 7443 8 6 >"$W/hold-y" &
hy=$!
held() { (($(n cloud ss -Htn state established '( sport = :7443 )' | wc -l) >= 16)); }
wait_for 5 held
# Only a handshake that has had AS_EVICT_AGE_MS (0.2 s) is cut: let the
# holders' age past it (a time, not an event to wait for).
sleep 0.3
r0=$(stat_get .as.conn_refused)
e0=$(stat_get .as.conn_evicted)
start_node a a
wait_registered a 10
r1=$(stat_get .as.conn_refused)
e1=$(stat_get .as.conn_evicted)
((r1 == r0)) || fail "a's login was refused while silent clients held every slot (conn_refused $r0 -> $r1)"
((e1 > e0)) || fail "no silent connection was cut (conn_evicted $e0 -> $e1)"
wait "$hx" "$hy" 2>/dev/null || true
ok "a registered in $REG_MS ms; conn_refused stayed $r0, conn_evicted $e0 -> $e1"
stop_all
