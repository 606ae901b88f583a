#!/bin/bash
# Certificates that age well (docs/security.md, "Certificates"):
#  - a node whose certificate is inside the renewal window gets a new one
#    (and a new key) at login, keeps it across restarts; the one it had
#    stays accepted until the node has used the new one, and is refused
#    from then on;
#  - the CA is rolled with two CAs trusted side by side: roll, switch,
#    finish, while the nodes keep logging in and talking; the AS
#    certificate follows the signing CA; a node that slept through the
#    whole roll is refused with a reason.
#
#   ns cloud 192.0.2.1     ns a 192.0.2.10     ns c 192.0.2.30 (sleeps)
#                          ns r (NAPT) -- ns b 198.51.100.10
source "$(dirname "$0")/lib.sh"
require

topo_basic
inet_host c 192.0.2.30/24 2001:db8::30/64
cloud_new
node_new a --cert-days 10   # inside the 30-day window: renewed at its first login
node_new b
node_new c

# The certificate of a renewed-credentials file (its "cert =" block).
file_cert()
{
	awk '/^cert = /{sub(/^cert = /, ""); on = 1}
	     on {sub(/^\t/, ""); print}
	     on && /END CERTIFICATE/ {exit}' "$1"
}
days_left() { echo $((($(date -d "$(file_cert "$1" | openssl x509 -noout -enddate |
	cut -d= -f2)" +%s) - $(date +%s)) / 86400)); }
issuer_of() { file_cert "$1" | openssl x509 -noout -issuer; }
cas_in() { awk '/^cert = /{exit} /BEGIN CERTIFICATE/{n++} END{print n+0}' "$1"; }
restart() { stop_daemon "$1"; start_node "$1" "$2"; wait_registered "$1"; }
talk() { vping a "$(vip b 4)" 3 && vping b "$(vip a 4)" 3; }

start_cloud
start_node a a
start_node b b
wait_registered a
wait_registered b
ok "a (10-day certificate) and b registered"

pretty "a's certificate is renewed at its first login, b's is not"
wait_for 10 test -s "$STATE_DIR/a.credentials"
[[ $(stat -c %a "$STATE_DIR/a.credentials") == 600 ]] || fail "a.credentials is not mode 600"
left=$(days_left "$STATE_DIR/a.credentials")
((left >= 89 && left <= 90)) || fail "a's renewed certificate has $left days left, not 90"
(($(stat_get .as.renewed) == 1)) || fail "as.renewed is $(stat_get .as.renewed), not 1"
[[ ! -e $STATE_DIR/b.credentials ]] || fail "b's 90-day certificate was renewed"
log_grep a "certificate of a\..* renewed" || fail "a's log does not say it renewed"
ok "a.credentials (mode 600): a certificate for $left days; as.renewed 1; b untouched"
! grep -q "$(awk '/^key = /{getline; print; exit}' "$(node_conf a)")" "$STATE_DIR/a.credentials" ||
	fail "the renewed key is the enrolment key"
ok "the renewed certificate came with a new key"
talk || fail "a and b cannot ping each other"

pretty "a renewal that never reached the node: the old certificate still works"
stop_daemon a
rm "$STATE_DIR/a.credentials"
start_node a a
wait_registered a
wait_for 10 test -s "$STATE_DIR/a.credentials"
(($(stat_get .as.renewed) == 2)) || fail "a's 10-day certificate was not renewed again"
ok "a logged in with its enrolment certificate and was renewed again"

pretty "a restarts: it logs in with the renewed certificate"
restart a a
log_grep a "renewed ones from" || fail "a did not read $STATE_DIR/a.credentials"
(($(stat_get .as.renewed) == 2)) || fail "a was renewed again"
ok "a logged in with its renewed certificate, nothing renewed"

pretty "once the renewed certificate is used, the one it replaced is refused"
mv "$STATE_DIR/a.credentials" "$STATE_DIR/a.credentials.saved"
r0=$(stat_get .as.login_refused)
stop_daemon a
start_node a a
expect_exit a
wait_for 20 eval '(( $(stat_get .as.login_refused) > r0 ))'
log_grep a "authentication failed" || fail "a's log does not say why it was refused"
ok "a's enrolment certificate (a stolen copy of it, say) is refused: $(log_first a 'authentication failed')"
stop_daemon a 0 1
mv "$STATE_DIR/a.credentials.saved" "$STATE_DIR/a.credentials"
start_node a a
wait_registered a
ok "a logs in with its renewed certificate again"

pretty "cyphonic ca roll: a second CA is trusted beside the first"
cy ca roll --dir "$CLOUD_DIR" | tee "$RUN_DIR/roll.out"
grep -q "loaded them" "$RUN_DIR/roll.out" || fail "the running cloud did not reload the CAs"
(($(grep -c "BEGIN CERTIFICATE" "$CLOUD_DIR/ca.pem") == 2)) || fail "ca.pem holds no 2 CAs"
restart a a
restart b b
wait_for 10 eval '(( $(cas_in "$STATE_DIR/b.credentials") == 2 ))'
(($(cas_in "$STATE_DIR/a.credentials") == 2)) || fail "a did not learn the new CA"
talk || fail "a and b cannot ping each other after the roll"
ok "a and b trust both CAs and still talk"

pretty "cyphonic ca switch: the new CA signs, the AS certificate and the nodes' follow"
cy ca switch --dir "$CLOUD_DIR"
[[ ! -e $CLOUD_DIR/ca.key.next ]] || fail "ca.key.next is still there"
cy ca status --dir "$CLOUD_DIR" | tee "$RUN_DIR/status.out"
grep -q "AS certificate: .*from the signing CA" "$RUN_DIR/status.out" ||
	fail "the AS certificate was not issued anew"
r0=$(stat_get .as.renewed)
restart a a
restart b b
wait_for 10 eval '(( $(stat_get .as.renewed) == r0 + 2 ))'
new=$(openssl x509 -in <(awk '/BEGIN/{n++} n==2' "$CLOUD_DIR/ca.pem") -noout -subject |
	sed 's/^subject=//')
for x in a b; do
	wait_for 10 eval "issuer_of \"$STATE_DIR/$x.credentials\" | grep -qF \"$new\""
done
talk || fail "a and b cannot ping each other after the switch"
ok "a and b hold certificates from the new CA ($new) and still talk"

pretty "cyphonic ca finish: only the new CA is trusted"
cy ca finish --dir "$CLOUD_DIR"
(($(grep -c "BEGIN CERTIFICATE" "$CLOUD_DIR/ca.pem") == 1)) || fail "ca.pem still holds 2 CAs"
restart a a
restart b b
wait_for 10 eval '(( $(cas_in "$STATE_DIR/a.credentials") == 1 ))'
talk || fail "a and b cannot ping each other after the roll finished"
ok "a and b trust the new CA alone and still talk"

pretty "c slept through the roll: it trusts only the old CA and is refused"
start_node c c
expect_exit c
wait_for 20 log_grep c "certificate verification failed"
is_unregistered c || fail "c registered"
ok "c: $(log_first c 'certificate verification failed')"

stop_all
ok "all daemons stopped cleanly"
