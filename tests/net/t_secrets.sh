#!/bin/bash
# No secret reaches a log (docs/security.md): with every daemon at debug
# level, a run that logs in by certificate (renewed on the way) and by
# password, registers, selects a relayed route, punches a direct path,
# rekeys and pings leaves no key in any log:
#  - the ones the test can read: a node's password, the node's, the AS's
#    and the CA's private keys, the NMS-TRS key;
#  - every key the daemons made or derived during the run, which a build
#    with -DCYPHONIC_KEYLOG=ON (make check's) writes to $CYPHONIC_KEYLOG
#    (src/common/keylog.h): common keys, Tunnel and Temp Keys, Relay and
#    Punch Keys, End Keys, the renewed node key.  Each is looked for in
#    lowercase and uppercase hex and in base64.
#
#   ns cloud 192.0.2.1    ns r1 (NAPT) -- ns a 198.51.100.10 (certificate, 10 days)
#                         ns r2 (NAPT) -- ns b 203.0.113.10  (password)
source "$(dirname "$0")/lib.sh"
require

PW='Pw-4-the-grep-test_only'

export CYPHONIC_KEYLOG=$RUN_DIR/keylog
keylog_built=0
grep -qa CYPHONIC_KEYLOG "$CYPHONIC_BIN/cyphonicd" && keylog_built=1

pretty "topology: the cloud, a and b behind NAPTs; debug logs"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
NAPT_KIND=eim napt r1 192.0.2.20/24 198.51.100.1/24
NAPT_KIND=eim napt r2 192.0.2.21/24 203.0.113.1/24
lan_host a r1 198.51.100.10/24
lan_host b r2 203.0.113.10/24
cloud_new
node_new a --cert-days 10
node_new b --password "$PW"
start_cloud
for x in a b; do start_node "$x" "$x"; done
for x in a b; do wait_registered "$x"; done
wait_for 10 test -s "$STATE_DIR/a.credentials"
[[ $(resolve a b A) == "$(vip b 4)" ]] || fail "a: $(fqdn b) does not resolve"
vping a "$(vip b 4)" || fail "a: ping b gets no replies"
wait_for 15 eval '[[ $(tunnel_get a b .path) == direct ]]'
vping b "$(vip a 4)" || fail "b: ping a gets no replies"
ok "a renewed, both registered, relayed then punched, pings both ways"
stop_all

pretty "no secret in any log"
# base64 KEYFILE...: the body lines of the PEM private keys in the files.
pem_lines() { awk '/BEGIN .*PRIVATE KEY/ { on = 1; next } /END .*PRIVATE KEY/ { on = 0 }
	on { gsub(/^[ \t]+|[ \t]+$/, ""); if (length($0) >= 16) print }' "$@"; }
# every_form HEX: the key in lowercase and uppercase hex and in base64.
every_form() { echo "$1"; echo "${1^^}"; perl -e 'print pack("H*", $ARGV[0])' "$1" | base64 -w0; echo; }
mapfile -t secrets < <(
	printf '%s\n' "$PW"
	pem_lines "$(node_conf a)" "$CLOUD_DIR/ca.key" "$CLOUD_DIR/as.key" \
		"$STATE_DIR/a.credentials"
	tr -d ' \n' <"$CLOUD_DIR/trs.key"; echo
	if [[ -f $CYPHONIC_KEYLOG ]]; then
		awk '{ print $NF }' "$CYPHONIC_KEYLOG" | while read -r hex; do every_form "$hex"; done
	fi
)
((${#secrets[@]} >= 6)) || fail "found only ${#secrets[@]} secrets to look for"
lines=$(cat "$LOG_DIR"/*.log | wc -l)
for x in cloud a b; do
	grep -q ' debug: ' "$(log_of $x)" || fail "$x: no debug line in its log: debug logging is not on"
done
printf '%s\n' "${secrets[@]}" | grep -v '^$' >"$RUN_DIR/secrets"
if grep -rqFf "$RUN_DIR/secrets" "$LOG_DIR"; then
	fail "a secret is in the logs: $(grep -rlFf "$RUN_DIR/secrets" "$LOG_DIR" | head -n 3)"
fi
ok "none of ${#secrets[@]} secrets (password, private keys' lines, NMS-TRS key, the keys of the run) in $lines log lines"

pretty "every kind of key of the run was looked for"
# kinds: "N label, ..." of the keylog.
kinds() { awk '{ $NF = ""; sub(/ +$/, ""); n[$0]++ } END { for (k in n) printf "%s%d %s", (s++ ? ", " : ""), n[k], k }' \
	"$CYPHONIC_KEYLOG"; }
if ((!keylog_built)); then
	echo "t_secrets: $CYPHONIC_BIN was built without -DCYPHONIC_KEYLOG=ON: the keys the" \
		"daemons made were not looked for (make check's ASan build has it)" >&2
	exit 77
fi
for kind in common tunnel temp end relay punch node-key; do
	n=$(grep -c -- "$kind" "$CYPHONIC_KEYLOG" || true)
	((n >= 1)) || fail "no $kind key in $CYPHONIC_KEYLOG: $(kinds)"
done
ok "keys looked for: $(kinds)"
