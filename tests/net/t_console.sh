#!/bin/bash
# The web console's API with curl, as an operator scripts it: log in, list,
# enrol a node and run it from the config the console gave, see it
# registered behind its NAPT, revoke it and see its next login refused,
# edit the access policy, enrol a general node.  And every refusal: no
# session, a forged or ended session, no CSRF token, wrong passwords until
# throttled, bad fields, an invalid policy, a body too large: each refused
# with its status, counted, and nothing changed.
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+
#        |                      |                       |
#   ns cloud                ns a (global)          ns r (NAPT router)
#   192.0.2.1/24            192.0.2.10/24          eth0 192.0.2.20/24
#   cyphonic-cloud          cyphonicd "a"          lan 198.51.100.1/24
#   console :7447           curl (operator)             |
#                                                  ns b (behind NAPT)
#                                                  198.51.100.10/24
#                                                  cyphonicd "c" (from the console)
source "$(dirname "$0")/lib.sh"
require

PW='correct horse 9'
topo_basic
cloud_new
console_on root "$PW"
node_new a
start_cloud
start_node a a
wait_registered a
ok "cloud with its console on $CONSOLE_URL; a registered"

pretty "the page: served with its security headers"
con a "" /
con_expect 200 "GET /"
grep -q '<title>CYPHONIC console</title>' "$RUN_DIR/con.body" || fail "not the console page"
for h in "content-security-policy: default-src 'none'; script-src 'self'" \
	"x-frame-options: deny" "x-content-type-options: nosniff" "cache-control: no-store"; do
	tr -d '\r' <"$RUN_DIR/con.hdr" | grep -qi "^$h" || fail "header missing: $h"
done
con a "" /console.js
con_expect 200 "GET /console.js"
grep -qi '^content-type: text/javascript' "$RUN_DIR/con.hdr" || fail "console.js content type"
grep -q 'innerHTML' "$RUN_DIR/con.body" && fail "console.js sets innerHTML"
con a "" /nothing
con_expect 404 "GET /nothing"
ok "page, script and headers; unknown paths 404"

pretty "the console's certificate is its own CA's: the cloud CA nodes trust does not take it"
n a curl -sS --max-time 10 --cacert "$CLOUD_DIR/ca.pem" -o /dev/null "$CONSOLE_URL/" 2>/dev/null &&
	fail "the console's certificate verified against the nodes' CA"
ok "refused against ca.pem; verified against console-ca.pem"

pretty "no session: every API refused"
for p in /api/nodes /api/overview /api/stats /api/policy /api/session; do
	con a "" "$p"
	con_expect 401 "GET $p without a session"
done
con a "" /api/revoke -d name=a -d reason=x
con_expect 401 "revoke without a session"
printf '%s\tFALSE\t/\tTRUE\t0\t__Host-cy_session\t%064d\n' 192.0.2.1 7 >"$RUN_DIR/forged.jar"
con a forged /api/nodes
con_expect 401 "a forged session cookie"
[[ $(list_get a .revoked) == false ]] || fail "a revoked"
ok "401 without a session or with a forged one; nothing changed"

pretty "log in"
con_login a op root "$PW"
cookie=$(tr -d '\r' <"$RUN_DIR/con.hdr" | grep -i '^set-cookie: __Host-cy_session=')
for attr in Secure HttpOnly SameSite=Strict; do
	[[ $cookie == *"; $attr"* ]] || fail "session cookie without $attr: $cookie"
done
con a op /api/session
con_expect 200 "session"
[[ $(cbody .name) == root && $(cbody .domain) == "$CY_DOMAIN" ]] || fail "session: $(cat "$RUN_DIR/con.body")"
ok "logged in; cookie Secure, HttpOnly, SameSite=Strict"

pretty "a login from a page of another origin, a GET of the login, a large login body: refused"
con a "" /api/login -H "Origin: https://evil.example" -d name=root --data-urlencode "password=$PW"
con_expect 403 "a login from another origin"
con a "" /api/login
con_expect 405 "GET /api/login"
head -c 5000 /dev/zero | tr '\0' a >"$RUN_DIR/biglogin"
con a "" /api/login -d name=root --data-urlencode "password@$RUN_DIR/biglogin"
con_expect 400 "a login body over 4 KiB"
ok "403, 405, 400"

pretty "the table and the overview"
con a op /api/nodes
con_expect 200 "nodes"
[[ $(cbody '.[] | select(.name == "a") | .vip4') == "$(vip a 4)" ]] || fail "a's VIPv4"
[[ $(cbody '.[] | select(.name == "a") | .registered') == true ]] || fail "a not registered"
[[ $(cbody '.[] | select(.name == "a") | .observed') == 192.0.2.10:* ]] || fail "a's endpoint"
con a op /api/overview
con_expect 200 "overview"
[[ $(cbody .nodes.enrolled) == 1 && $(cbody .nodes.registered) == 1 ]] ||
	fail "overview: $(cat "$RUN_DIR/con.body")"
[[ $(cbody '.relay_sessions') =~ ^[0-9]+$ ]] || fail "overview: no relay sessions figure"
[[ $(cbody '.hosts | length') == 1 && $(cbody '.hosts[0].name') == "$(list_get a .host)" &&
	$(cbody '.hosts[0].registered') == 1 ]] || fail "overview hosts: $(jq -c .hosts "$RUN_DIR/con.body")"
con a op /api/view
con_expect 200 "view"
[[ $(cbody '.overview.nodes.enrolled') == 1 && $(cbody '.nodes[0].name') == a ]] ||
	fail "view: $(head -c 300 "$RUN_DIR/con.body")"
con a op /api/stats
con_expect 200 "stats"
(($(cbody .cloud.nms.registrations) >= 1)) || fail "stats: no registration counted"
ok "a: $(vip a 4), registered from 192.0.2.10; overview and stats"

pretty "a change without the CSRF token: refused, nothing enrolled"
csrf0=$(cbody .console.csrf_refused)
con a op /api/enrol -d kind=node -d name=c
con_expect 403 "enrol without CSRF"
con a op /api/enrol -H "X-CSRF-Token: $(printf '%064d' 1)" -d kind=node -d name=c
con_expect 403 "enrol with a wrong CSRF token"
list_get c .name >/dev/null 2>&1 && fail "c enrolled without a CSRF token"
con a op /api/stats
(($(cbody .console.csrf_refused) == csrf0 + 2)) || fail "csrf_refused not counted"
ok "403 twice, counted; c not enrolled"

pretty "bad fields: refused with what is wrong"
con_post a op /api/enrol -d kind=node -d 'name=Bad_Name'
con_expect 400 "a bad name"
con_post a op /api/enrol -d kind=router -d name=c
con_expect 400 "a bad kind"
con_post a op /api/enrol -d kind=adapter -d name=c
con_expect 400 "an adapter without its LAN"
con_post a op /api/enrol -d kind=node -d name=a
con_expect 409 "a name taken"
con_post a op /api/gn -d name=g1 -d adapter=a -d mac=02:00:00:00:00:01
con_expect 400 "a general node behind a node"
con_post a op /api/gn -d name=g1 -d adapter=nope -d mac=nonsense
con_expect 400 "a bad MAC"
con_post a op /api/enrol --data-binary "kind=node&name=%zz"
con_expect 400 "a malformed form"
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' a >"$RUN_DIR/big"
con_post a op /api/policy --data-binary "@$RUN_DIR/big"
[[ $CON_CODE == 413 ]] || fail "2 MiB body: HTTP $CON_CODE"
list_get c .name >/dev/null 2>&1 && fail "c enrolled"
ok "400, 409, 413; nothing enrolled"

pretty "enrol c and run it behind the NAPT from the config the console gave"
con_post a op /api/enrol -d kind=node -d name=c --data-urlencode "tags=cam"
con_expect 200 "enrol c"
[[ $(cbody .fqdn) == "c.$CY_DOMAIN" ]] || fail "enrol: $(head -c 200 "$RUN_DIR/con.body")"
umask 077
cbody .config >"$(node_conf c)"
umask 022
[[ $(cbody .vip4) == "$(vip c 4)" ]] || fail "the VIP the console gave ($(cbody .vip4)) is not the store's ($(vip c 4))"
conf_set "$(node_conf c)" node keepalive 1
conf_set "$(node_conf c)" node control "$RUN_DIR/c.sock"
conf_set "$(node_conf c)" credentials renewed "$STATE_DIR/c.credentials"
start_node c b
wait_registered c
con a op /api/nodes
[[ $(cbody '.[] | select(.name == "c") | .registered') == true ]] || fail "c not registered"
[[ $(cbody '.[] | select(.name == "c") | .nat') == true ]] || fail "c not behind NAPT"
[[ $(cbody '.[] | select(.name == "c") | .tags') == cam ]] || fail "c's tags"
vping a "$(vip c 4)" || fail "a cannot ping c"
has_tunnel a c || fail "a has no tunnel to c"
ok "c registered behind NAPT ($(cbody '.[] | select(.name == "c") | .observed')); a reaches it"

pretty "the access policy: an invalid one refused by line, a valid one applied"
con a op /api/policy
con_expect 200 "policy"
[[ $(jq -r .text "$RUN_DIR/con.body") == null ]] || fail "a policy file before any was written"
printf 'allow a c\nallow a nosuchthing tcp/99999\n' >"$RUN_DIR/bad.policy"
con_post a op /api/policy --data-urlencode "text@$RUN_DIR/bad.policy"
con_expect 400 "an invalid policy"
[[ $(cbody .line) == 2 ]] || fail "invalid policy: line $(cbody .line), not 2"
[[ ! -e $CLOUD_DIR/policy ]] || fail "an invalid policy was written"
printf '# from the console\nallow tag:cam a\n' >"$RUN_DIR/good.policy"
con_post a op /api/policy --data-urlencode "text@$RUN_DIR/good.policy"
con_expect 200 "a valid policy"
cmp -s "$RUN_DIR/good.policy" "$CLOUD_DIR/policy" || fail "the policy file is not what was sent"
wait_for 10 eval '(( $(stat_get .nms.policy_loads) >= 1 ))'
con a op /api/policy
[[ $(cbody .text) == "$(cat "$RUN_DIR/good.policy")" ]] || fail "policy read back"
ok "line 2 refused, file untouched; the valid one written and loaded"

pretty "revoke c with a reason holding HTML: c's tunnels end, its login is refused"
reason='<img src=x onerror=alert(1)> "lost" & gone'
expect_exit c
con_post a op /api/revoke -d name=c --data-urlencode "reason=$reason"
con_expect 200 "revoke c"
[[ $(list_get c .reason) == "$reason" ]] || fail "reason stored as $(list_get c .reason)"
con a op /api/nodes
[[ $(cbody '.[] | select(.name == "c") | .reason') == "$reason" ]] || fail "reason shown changed"
wait_for 10 eval '! has_tunnel a c'
wait_for 20 log_grep c revoked
ok "c revoked; a's tunnel to it gone; c's log: $(log_first c revoked)"

pretty "a general node behind an adapter"
cy adapter add ad1 --dir "$CLOUD_DIR" --lan eth9 >/dev/null
con_post a op /api/gn -d name=g1 -d adapter=ad1 -d mac=02:00:5e:10:00:01
con_expect 200 "gn g1"
[[ $(list_get g1 .mac) == 02:00:5e:10:00:01 && $(list_get g1 .adapter) == ad1 ]] || fail "g1"
con_post a op /api/gn -d name=g2 -d adapter=ad1 -d mac=02:00:5e:10:00:01
con_expect 409 "a MAC taken"
ok "g1 enrolled behind ad1; the same MAC again 409"

pretty "logout ends the session"
cp "$RUN_DIR/op.jar" "$RUN_DIR/old.jar"
con_post a op /api/logout -d ""
con_expect 200 "logout"
con a old /api/nodes
con_expect 401 "the logged-out session"
ok "the old cookie is refused"

pretty "a removed account's session ends"
con_login a op2 root "$PW"
cy admin remove root --dir "$CLOUD_DIR" >/dev/null
con a op2 /api/nodes
con_expect 401 "a session of a removed account"
con a "" /api/login -d name=root --data-urlencode "password=$PW"
con_expect 401 "a removed account's login"
printf '%s\n' "$PW" | cy admin add root --dir "$CLOUD_DIR" >/dev/null
ok "refused at its next request and login"

pretty "a new password ends the account's sessions, not the ones it logs in afterwards"
con_login a op3 root "$PW"
cp "$RUN_DIR/op3.jar" "$RUN_DIR/stale.jar"
printf '%s\n' "$PW-new" | cy admin add root --dir "$CLOUD_DIR" >/dev/null
con_login a op5 root "$PW-new"
con a op3 /api/nodes
con_expect 401 "a session from before the password changed"
con a stale /api/nodes
con_expect 401 "the old session again"
con a op5 /api/nodes
con_expect 200 "the session of the new password, after the old one was refused"
printf '%s\n' "$PW" | cy admin add root --dir "$CLOUD_DIR" >/dev/null
ok "the old session refused; the new password's session unharmed"

pretty "100 idle connections: the console takes 32 at once, the cloud's descriptors stay bounded"
fd0=$(ls /proc/"${DPID[cloud]}"/fd | wc -l)
touch "$RUN_DIR/hold"
n a bash -c 'for i in $(seq 100); do exec {fd}<>/dev/tcp/192.0.2.1/7447 || exit 1; done
	while [[ -e '"$RUN_DIR"'/hold ]]; do sleep 0.1; done' &
holder=$!
wait_for 10 eval '(( $(ls /proc/'"${DPID[cloud]}"'/fd | wc -l) >= fd0 + 32 ))'
fds=$(ls /proc/"${DPID[cloud]}"/fd | wc -l)
((fds <= fd0 + 34)) || fail "the cloud holds $fds descriptors, $fd0 before: more than 32 connections"
stat_get .nms.keepalives >/dev/null || fail "the cloud's control socket stopped answering"
is_registered a || fail "a lost its registration"
rm -f "$RUN_DIR/hold"
wait "$holder" || fail "the 100 connections were not made"
wait_for 30 eval 'con cloud "" /; [[ $CON_CODE == 200 ]]'
ok "$((fds - fd0)) descriptors for 100 connections; the AS, NMS and control socket unaffected; the console answers again"

pretty "wrong passwords from b's site: refused, counted, then throttled; a still logs in"
con_login cloud st root "$PW"   # another source, to read the counters
f0=$(con cloud st /api/stats && cbody .console.login_failed)
# b's site (its NAPT, 192.0.2.20) never logged root in: five failures are
# free, the sixth starts a wait
for i in 1 2 3 4 5 6; do
	con b "" /api/login -d name=root -d password=wrong
	con_expect 401 "wrong password $i"
done
con b "" /api/login -d name=root -d password=wrong
con_expect 429 "a wrong password at once after the sixth"
tr -d '\r' <"$RUN_DIR/con.hdr" | grep -qi '^retry-after: [0-9]' || fail "429 without Retry-After"
# each further failure (once its wait is over) doubles the wait: 1, 2, 4 s
wrong_401() { con b "" /api/login -d name=root -d password=wrong; [[ $CON_CODE == 401 ]]; }
wait_for 10 wrong_401
wait_for 10 wrong_401
con b "" /api/login -d name=root --data-urlencode "password=$PW"
con_expect 429 "the right password from b's site while throttled"
# a logged root in before: the guesser cannot lock it out
con_login a op4 root "$PW"
con cloud st /api/stats
(($(cbody .console.login_failed) == f0 + 8)) ||
	fail "login_failed $(cbody .console.login_failed), not $((f0 + 8))"
(($(cbody .console.login_throttled) >= 2)) || fail "login_throttled"
grep -q "failed login as 'root' from 192.0.2.20" "$(log_of cloud)" || fail "no log line"
ok "401 six times, then 429 with Retry-After even for the right password; a logs in meanwhile; counted and logged"

stop_all
ok "all daemons stopped cleanly"
