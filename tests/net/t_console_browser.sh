#!/bin/bash
# The web console in a real browser (Debian's headless Chromium through
# selenium, tests/net/tools/console_browser.py), as an operator uses it:
# a wrong password refused, log in, find node a in the table, enrol node
# "web" and download its config, start it behind the NAPT from that file,
# see it registered, revoke it with a reason holding HTML (shown as text),
# and see the daemon refused.  A request without the CSRF token and a
# session without its cookie are refused.  Screenshots of both phases are
# kept in $CY_ARTEFACT_DIR (console-enrol.png, console-revoke.png).
#
#   ns cloud 192.0.2.1 (cyphonic-cloud, console :7447)
#   ns a 192.0.2.10 (cyphonicd "a", Chromium)
#   ns r NAPT -- ns b 198.51.100.10 (cyphonicd "web", from the browser's download)
source "$(dirname "$0")/lib.sh"
require
command -v chromium >/dev/null && [[ -x /usr/bin/chromedriver ]] &&
	/usr/bin/python3 -c 'import selenium' 2>/dev/null ||
	fail "chromium, chromium-driver and python3-selenium are needed (scripts/deps.sh)"

PW='correct horse 9'
ART=${CY_ARTEFACT_DIR:-$RUN_DIR}
mkdir -p "$ART"
topo_basic
cloud_new
console_on root "$PW"
node_new a
start_cloud
start_node a a
wait_registered a
ok "cloud and its console up; a registered"

pretty "in Chromium: a wrong password refused, log in, find a, enrol web, download its config"
n a env HOME="$RUN_DIR" /usr/bin/python3 "$(dirname "$0")/tools/console_browser.py" enrol \
	"$CONSOLE_URL" root "$PW" a "$(vip a 4)" web "$(node_conf web)" \
	"$ART/console-enrol.png" || fail "the browser's enrol phase failed"
[[ $(list_get web .tags) == web ]] || fail "web not enrolled with its tag"
ok "web enrolled from the page; screenshot $ART/console-enrol.png"

pretty "web runs behind the NAPT from the downloaded config"
conf_set "$(node_conf web)" node keepalive 1
conf_set "$(node_conf web)" node control "$RUN_DIR/web.sock"
conf_set "$(node_conf web)" credentials renewed "$STATE_DIR/web.credentials"
start_node web b
wait_registered web
vping a "$(vip web 4)" || fail "a cannot ping web"
ok "web registered; a pings it"

pretty "in Chromium: web shown registered behind NAPT, revoked through the dialog"
reason='<img src=x onerror="window.__pwned=true"> stolen & "gone"'
expect_exit web
n a env HOME="$RUN_DIR" /usr/bin/python3 "$(dirname "$0")/tools/console_browser.py" revoke \
	"$CONSOLE_URL" root "$PW" web "$reason" "$ART/console-revoke.png" ||
	fail "the browser's revoke phase failed"
[[ $(list_get web .reason) == "$reason" ]] || fail "the reason stored: $(list_get web .reason)"
wait_for 20 log_grep web revoked
con_login cloud st root "$PW"
con cloud st /api/stats
(($(cbody .console.csrf_refused) >= 1)) || fail "the CSRF refusal not counted"
(($(cbody .console.login_failed) >= 1)) || fail "the wrong password not counted"
ok "web's log: $(log_first web revoked)"

stop_all
ok "all daemons stopped cleanly"
