#!/bin/bash
# No secret reaches a log (docs/security.md): with every daemon at debug
# level, a run that logs in by certificate and by password, registers,
# selects routes, sets up tunnels and pings leaves none of the secrets the
# test can see in any log: a node's password, the node's and the AS's and
# the CA's private keys, the NMS-TRS key.
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+
#   ns cloud                ns a (certificate)      ns b (password)
#   192.0.2.1/24            192.0.2.11/24           192.0.2.12/24
source "$(dirname "$0")/lib.sh"
require

PW='Pw-4-the-grep-test_only'

pretty "topology: the cloud, a (certificate login), b (password login); debug logs"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
inet_host a 192.0.2.11/24 -
inet_host b 192.0.2.12/24 -
cloud_new
node_new a
node_new b --password "$PW"
start_cloud
for x in a b; do start_node "$x" "$x"; done
for x in a b; do wait_registered "$x"; done
[[ $(resolve a b A) == "$(vip b 4)" ]] || fail "a: $(fqdn b) does not resolve"
vping a "$(vip b 4)" || fail "a: ping b gets no replies"
vping b "$(vip a 6)" || fail "b: ping a's VIP6 gets no replies"
ok "both logged in, registered, a tunnel up both ways"
stop_all

pretty "no secret in any log"
# base64 KEYFILE...: the body lines of the PEM private keys in the files.
pem_lines() { awk '/BEGIN .*PRIVATE KEY/ { on = 1; next } /END .*PRIVATE KEY/ { on = 0 }
	on { gsub(/^[ \t]+|[ \t]+$/, ""); if (length($0) >= 16) print }' "$@"; }
mapfile -t secrets < <(
	printf '%s\n' "$PW"
	pem_lines "$(node_conf a)" "$CLOUD_DIR/ca.key" "$CLOUD_DIR/as.key"
	tr -d ' \n' <"$CLOUD_DIR/trs.key"; echo
)
((${#secrets[@]} >= 5)) || fail "found only ${#secrets[@]} secrets to look for"
lines=$(cat "$LOG_DIR"/*.log | wc -l)
for x in cloud a b; do
	grep -q ' debug: ' "$(log_of $x)" || fail "$x: no debug line in its log: debug logging is not on"
done
for s in "${secrets[@]}"; do
	[[ -n $s ]] || continue
	if grep -rqF -- "$s" "$LOG_DIR"; then
		fail "a secret is in the logs: $(grep -rlF -- "$s" "$LOG_DIR" | head -n 3)"
	fi
done
ok "none of ${#secrets[@]} secrets (password, 3 private keys' lines, NMS-TRS key) in $lines log lines"
