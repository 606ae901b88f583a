#!/bin/bash
# The access policy (docs/policy.md): with DIR/policy only what it allows
# is routed.  `allow n1 n2`: n1 reaches n2 by name; n1 gets NXDOMAIN for
# n3 and no route to n3's VIP; n3 gets NXDOMAIN for n1.  Tags work the
# same way and are changed live (`cyphonic tag`); the file is read again
# when it changes, and an invalid edit is refused with its line while the
# policy in force stays.  `cyphonic policy check` and `policy test` say
# the same as the NMS.
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+-----------------------+
#   ns cloud                ns n1                   ns n2                   ns n3
#   192.0.2.1/24            192.0.2.11/24           192.0.2.12/24           192.0.2.13/24
#   AS, NMS (policy)        cyphonicd               cyphonicd               cyphonicd
source "$(dirname "$0")/lib.sh"
require

rcode() { qdig "$@" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
# put_policy TEXT: the policy file replaced at once (written beside it,
# then renamed, as an operator should: docs/policy.md).
put_policy() { printf "$1" >"$POLICY.new" && mv "$POLICY.new" "$POLICY"; }
# denied X Y: X's resolver answers NXDOMAIN for Y's name.
denied() { [[ $(rcode "$1" "$(fqdn "$2")" A) == NXDOMAIN ]]; }
allowed() { [[ $(resolve "$1" "$2" A) == "$(vip "$2" 4)" ]]; }

pretty "topology: the cloud and three nodes on the Internet"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
for i in 1 2 3; do inet_host n$i 192.0.2.1$i/24 -; done
nodes_up n1 n2 n3
POLICY=$CLOUD_DIR/policy
grep -q "^policy = $POLICY\$" "$CLOUD_DIR/cloud.conf" || fail "cyphonic init wrote no [nms] policy"
[[ ! -e $POLICY ]] || fail "$POLICY exists before anyone wrote it"
out=$(cy policy test n3 n1 --dir "$CLOUD_DIR") || fail "policy test n3 n1 without a policy: $out"
[[ $out == "allow ($POLICY does not exist: everything is allowed)" ]] || fail "policy test: '$out'"
ok "no policy file: everything allowed ($out)"

pretty "allow n1 n2: n1 reaches n2, nothing else"
# loaded_more N: the NMS took a policy file after the N-th.
loaded_more() { (($(stat_get .nms.policy_loads) > $1)); }
loads=$(stat_get .nms.policy_loads)
put_policy '# a test policy\nallow n1 n2   # the only way\n'
wait_for 5 loaded_more "$loads"
log_grep cloud "access policy $POLICY: 1 rules" || fail "cloud: no log of the policy taken"
allowed n1 n2 || fail "n1: $(fqdn n2) does not resolve to $(vip n2 4)"
vping n1 "$(vip n2 4)" || fail "n1: ping n2's VIP gets no replies"
ok "n1: $(fqdn n2) A $(vip n2 4), ping answered"
denied n1 n3 || fail "n1: $(fqdn n3) is not NXDOMAIN"
! n n1 ping -n -q -c 2 -i 0.2 -W 1 "$(vip n3 4)" >/dev/null || fail "n1: ping n3's VIP got replies"
has_tunnel n1 n3 && fail "n1 holds a tunnel to n3"
denied n3 n1 || fail "n3: $(fqdn n1) is not NXDOMAIN"
denied n2 n3 || fail "n2: $(fqdn n3) is not NXDOMAIN"
[[ $(stat_get .nms.policy_denied) -ge 3 ]] || fail "nms.policy_denied = $(stat_get .nms.policy_denied)"
ok "n1 -> n3, n3 -> n1, n2 -> n3: NXDOMAIN, no route, no tunnel ($(stat_get .nms.policy_denied) denied)"

pretty "cyphonic policy check and test say the same"
out=$(cy policy check "$POLICY") || fail "policy check refused a valid file: $out"
[[ $out == "$POLICY: 1 rules, valid" ]] || fail "policy check: '$out'"
out=$(cy policy test n1 n2 --dir "$CLOUD_DIR") || fail "policy test n1 n2: $out"
[[ $out == "allow ($POLICY:2)" ]] || fail "policy test n1 n2: '$out'"
out=$(cy policy test n1 n3 --dir "$CLOUD_DIR") && fail "policy test n1 n3 allowed: $out"
[[ $out == "deny (no rule of $POLICY allows it)" ]] || fail "policy test n1 n3: '$out'"
ok "check: '$(cy policy check "$POLICY")'; test n1 n2: allow (line 2); n1 n3: deny"

pretty "tags: allow tag:cam tag:nvr, tags given live"
loads=$(stat_get .nms.policy_loads)
put_policy 'allow n1 n2\nallow tag:cam tag:nvr\n'
wait_for 5 loaded_more "$loads"
denied n3 n2 || fail "n3: $(fqdn n2) resolves before any tag"
cy tag n3 cam outdoor --dir "$CLOUD_DIR" >/dev/null || fail "cyphonic tag n3 failed"
cy tag n2 nvr --dir "$CLOUD_DIR" >/dev/null || fail "cyphonic tag n2 failed"
[[ $(list_get n3 .tags) == cam,outdoor ]] || fail "list: n3 tags '$(list_get n3 .tags)'"
# n3's NXDOMAIN for n2 a moment ago is remembered for up to 2 s.
wait_for 5 allowed n3 n2
vping n3 "$(vip n2 4)" || fail "n3: ping n2's VIP gets no replies"
out=$(cy policy test n2 n3 --dir "$CLOUD_DIR") && fail "policy test n2 n3 allowed: $out"
out=$(cy policy test n3 n2 tcp/554 --dir "$CLOUD_DIR") || fail "policy test n3 n2 tcp/554: $out"
[[ $out == "allow ($POLICY:2)" ]] || fail "policy test n3 n2 tcp/554: '$out'"
ok "n3 (cam,outdoor) reaches n2 (nvr) by line 2 (within 2 s of the tags); the rule is one way"

pretty "an invalid edit is refused with its line; the policy in force stays"
errs=$(stat_get .nms.policy_errors)
put_policy 'allow n1 n2\nallow tag:cam tag:nvr\nallow n3 n1 tcp/0\n'
errors_more() { (($(stat_get .nms.policy_errors) > $1)); }
wait_for 5 errors_more "$errs"
log_grep cloud "access policy refused: $POLICY:3: 'tcp/0': bad port or range '0'.*the policy in force stays" ||
	fail "cloud: the refusal does not name line 3 and what is wrong"
denied n3 n1 || fail "n3: $(fqdn n1) resolves after an invalid edit"
allowed n3 n2 || fail "n3: $(fqdn n2) no longer resolves after an invalid edit"
out=$(cy policy check "$POLICY" 2>&1) && fail "policy check took an invalid file: $out"
[[ $out == *"$POLICY:3: 'tcp/0': bad port or range '0'"* ]] || fail "policy check: '$out'"
ok "refused: $(log_first cloud 'access policy refused' | cut -d' ' -f4- | cut -c1-90)..."

pretty "ports: allow tag:cam tag:nvr tcp/554 lets only RTSP through"
put_policy 'allow n1 n2\nallow tag:cam tag:nvr tcp/554\n'
# The running n3 -> n2 tunnel allowed everything: it ends, so that the
# next one carries the new flows.
wait_for 5 log_grep n3 "to n2\.$CY_DOMAIN torn down by the NMS: the access policy changed"
wait_for 5 allowed n3 n2
VN2=$(vip n2 4)
listening() { n "$1" ss -Hltn "sport = :$2" | grep -q .; }
n n2 timeout 20 nc -n -l "$VN2" 554 >"$RUN_DIR/rtsp.out" &
lp=$!
wait_for 5 listening n2 554
echo "OPTIONS rtsp://n2/ RTSP/1.0" | n n3 timeout 5 nc -n -N "$VN2" 554 ||
	fail "n3 (cam): TCP to n2 (nvr) port 554 failed"
wait "$lp" || true
grep -q "OPTIONS rtsp://n2/" "$RUN_DIR/rtsp.out" || fail "n2: the RTSP request did not arrive"
n n2 timeout 20 nc -n -l "$VN2" 80 >/dev/null &
lp=$!
wait_for 5 listening n2 80
d0=$(status_get n3 .drops.policy)
n n3 timeout 5 nc -n -z -w 2 "$VN2" 80 && fail "n3: TCP to n2 port 80 connected"
n n3 ping -n -q -c 2 -i 0.2 -W 1 "$VN2" >/dev/null && fail "n3: ping n2 got replies"
d1=$(status_get n3 .drops.policy)
((d1 >= d0 + 3)) || fail "n3: drops.policy went from $d0 to $d1"
kill "$lp" 2>/dev/null || true
wait "$lp" 2>/dev/null || true
ok "n3 -> n2: TCP 554 carried the request; TCP 80 and ping dropped at n3 (drops.policy $d0 -> $d1)"

pretty "the file removed: everything allowed again"
loads=$(stat_get .nms.policy_loads)
rm -f "$POLICY"
wait_for 5 loaded_more "$loads"
wait_for 5 allowed n3 n1   # its NXDOMAIN of a moment ago lasts up to 2 s
ok "n3 resolves n1 again"

stop_all
ok "all daemons stopped cleanly, no sanitizer report"
