#!/bin/bash
# Password guessing neither stalls the cloud nor gets many tries: hashing
# runs on worker threads, a refusal closes the connection, and after five
# failures a source and a name back off without any hashing.
#
#   - 6 connections from x pipeline 40 wrong passwords each for node p:
#     each gets one answer (RESULT 2, or 10 when too many checks run) and
#     is closed; meanwhile `cyphonic stats` answers within a second and a
#     node with a certificate logs in and registers
#   - x guesses on, one connection at a time: within AS_LIMIT_FREE (5)
#     more failures it gets RESULT 10, and so does a guess for p from y
#     (another source): the name backs off
#
#          inet: bridge br0 (the "Internet")
#   +-----------+-----------+-----------+
#   |           |           |           |
# ns cloud    ns a        ns x        ns y
# 192.0.2.1   192.0.2.10  192.0.2.66  192.0.2.67
# cloud       node a      guesser     guesser
source "$(dirname "$0")/lib.sh"
require

internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
inet_host a 192.0.2.10/24 -
inet_host x 192.0.2.66/24 -
inet_host y 192.0.2.67/24 -
cloud_new
node_new a
node_new p --password 'correct horse battery staple'
start_cloud
W=$RUN_DIR/work
mkdir -p "$W"

pretty "6 connections x 40 pipelined wrong passwords for p"
pids=()
for i in 1 2 3 4 5 6; do
	n x "$CYPHONIC_BIN/cy_abuse" guess 192.0.2.1 7443 p 40 >"$W/g$i" &
	pids+=($!)
done
t0=$(now_ms)
stats >"$W/stats" || fail "cyphonic stats failed during the guessing"
dt=$(($(now_ms) - t0))
((dt < 1000)) || fail "cyphonic stats took $dt ms during the guessing"
ok "cyphonic stats answered in $dt ms during the guessing"
start_node a a
wait_registered a 10
ok "a (certificate) registered in $REG_MS ms during the guessing"
for p in "${pids[@]}"; do wait "$p" || fail "cy_abuse guess failed"; done
for i in 1 2 3 4 5 6; do
	read -r _ nresp _ results _ closed <"$W/g$i"
	say "connection $i: $nresp response(s), results $results, closed $closed"
	[[ $nresp == 1 && $closed == yes ]] ||
		fail "connection $i: $nresp responses to 40 guesses, closed $closed (want 1, yes)"
	[[ $results == 2 || $results == 10 ]] || fail "connection $i: result $results"
done
ok "each guessing connection got one answer and was closed"

pretty "x guesses on one at a time until it is told to wait"
for ((i = 1; i <= 6; i++)); do
	read -r _ nresp _ results _ closed < <(n x "$CYPHONIC_BIN/cy_abuse" guess 192.0.2.1 7443 p 1)
	[[ $results == 10 ]] && break
	[[ $results == 2 ]] || fail "guess $i: result $results"
done
[[ $results == 10 ]] || fail "x was never told to back off"
ok "x was told to back off after $i more guesses"

pretty "p backs off: a guess from another source gets RESULT 10, unhashed"
read -r _ nresp _ results _ closed < <(n y "$CYPHONIC_BIN/cy_abuse" guess 192.0.2.1 7443 p 1)
[[ $results == 10 ]] || fail "a guess for p after the failures got result $results, not 10"
thr=$(stat_get .as.throttled)
((thr >= 1)) || fail "as.throttled is $thr"
ok "refused with RESULT 10 (as.throttled $thr)"
stop_all
