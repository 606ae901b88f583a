#!/bin/bash
# A tunnel lives no longer than its authorisation (docs/policy.md, "Live
# changes"): revoking a node while a ping runs to it, or changing the
# access policy so that it denies a running pair, ends the tunnel within
# 2 s.  The NMS tells both ends (Tunnel Teardown), which drop the keys;
# asking again gets the NMS's new answer.
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+-----------------------+
#   ns cloud                ns a                    ns b                    ns c
#   192.0.2.1/24            192.0.2.11/24           192.0.2.12/24           192.0.2.13/24
#   AS, NMS, TRS            cyphonicd               cyphonicd (revoked)     cyphonicd
source "$(dirname "$0")/lib.sh"
require

rcode() { qdig "$@" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
# bgping X VIP SECONDS: X pings VIP every 0.1 s for SECONDS in the
# background, each reply stamped (ping -D); PING_OUT, PING_PID.
bgping()
{
	PING_OUT=$RUN_DIR/ping.$1.out
	n "$1" ping -D -n -i 0.1 -w "$3" "$2" >"$PING_OUT" 2>&1 &
	PING_PID=$!
}
replies() { grep -c 'bytes from' "$PING_OUT"; }
some_replies() { (($(replies) >= 5)); }
# last_reply_ms: the epoch ms of the last reply.
last_reply_ms() { awk '/bytes from/ { gsub(/[][]/, "", $1); t = $1 } END { printf "%.0f", t * 1000 }' "$PING_OUT"; }
# stops_within X Y T0 MS: the ping X -> Y's last reply came at most MS
# after T0 (epoch ms), and none after that.
stops_within()
{
	local gap
	wait "$PING_PID" || true
	gap=$(($(last_reply_ms) - $3))
	((gap <= $4)) || fail "$1 -> $2: replies went on for $gap ms after the change"
	STOP_MS=$gap
}

pretty "topology: the cloud and three nodes on the Internet"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
for x in a b c; do
	case $x in a) i=1 ;; b) i=2 ;; c) i=3 ;; esac
	inet_host $x 192.0.2.1$i/24 -
done
nodes_up a b c
ok "a, b and c registered"

pretty "cyphonic revoke b while a pings it"
[[ $(resolve a b A) == "$(vip b 4)" ]] || fail "a: $(fqdn b) does not resolve"
bgping a "$(vip b 4)" 8
wait_for 5 some_replies
t0=$(now_ms)
cy revoke b --dir "$CLOUD_DIR" --reason "stolen" >/dev/null
stops_within a b "$t0" 2000
n0=$(replies)
log_grep a "to b\.$CY_DOMAIN torn down by the NMS: b\.$CY_DOMAIN revoked" ||
	fail "a: no log of the tunnel to b torn down"
[[ $(stat_get .nms.teardowns) -ge 1 ]] || fail "nms.teardowns = $(stat_get .nms.teardowns)"
has_tunnel a b && fail "a still holds a tunnel to b"
ok "the last reply came $STOP_MS ms after cyphonic revoke began ($n0 replies before); a dropped the tunnel"
! vping a "$(vip b 4)" 2 || fail "a: ping b's VIP got replies after the revocation"
[[ $(rcode a "$(fqdn b)" A) != NOERROR ]] || fail "a: $(fqdn b) still resolves"
ok "a: ping b's VIP gets nothing, $(fqdn b) is refused ($(rcode a "$(fqdn b)" A))"

pretty "the policy changes under a running ping a -> c"
[[ $(resolve a c A) == "$(vip c 4)" ]] || fail "a: $(fqdn c) does not resolve"
bgping a "$(vip c 4)" 8
wait_for 5 some_replies
t0=$(now_ms)
printf 'allow a b\n' >"$CLOUD_DIR/policy.new"
mv "$CLOUD_DIR/policy.new" "$CLOUD_DIR/policy"
stops_within a c "$t0" 2000
log_grep cloud "torn down: a\.$CY_DOMAIN -> c\.$CY_DOMAIN no longer allowed by the access policy" ||
	fail "cloud: no log of a -> c torn down by the policy"
log_grep c "to a\.$CY_DOMAIN torn down by the NMS" || fail "c: did not drop its end"
nx_at_a() { [[ $(rcode a "$(fqdn "$1")" A) == NXDOMAIN ]]; }
wait_for 5 nx_at_a c   # a's refusal of the torn-down peer lasts up to 2 s
ok "the last reply came $STOP_MS ms after the policy was written; both ends dropped the tunnel; a gets NXDOMAIN for c"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
