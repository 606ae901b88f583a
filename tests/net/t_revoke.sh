#!/bin/bash
# Revoke a node: its next login is refused, its log says it was revoked, it
# is not registered; the other node is unaffected.
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+
#        |                      |                       |
#   ns cloud                ns a (global)          ns r (NAPT router)
#   192.0.2.1/24            192.0.2.10/24          eth0 192.0.2.20/24
#   2001:db8::1/64          2001:db8::10/64        nft masquerade on eth0
#   cyphonic-cloud          cyphonicd "a"          lan 198.51.100.1/24
#                           (stays)                     |
#                                                  ns b (behind NAPT)
#                                                  198.51.100.10/24
#                                                  cyphonicd "b" (revoked)
source "$(dirname "$0")/lib.sh"
require

topo_basic
cloud_new
node_new a
node_new b
start_cloud
start_node a a
start_node b b
wait_registered a
wait_registered b
ok "a and b registered"

pretty "cyphonic revoke b"
r0=$(stat_get .as.revoked)
cy revoke b --dir "$CLOUD_DIR" --reason "lost laptop"
[[ $(list_get b .revoked) == true ]] || fail "list: b not revoked"
[[ $(list_get a .revoked) == false ]] || fail "list: a revoked too"
ok "list shows b revoked"

pretty "b's daemon restarts: its login is refused"
stop_daemon b
start_node b b
expect_exit b   # giving up after a refusal is allowed; so is retrying
wait_for 20 log_grep b revoked
ok "b's log: $(log_first b revoked)"
wait_for 10 is_unregistered b
wait_for 10 eval '[[ $(list_get b .registered) == false ]]'
(( $(stat_get .as.revoked) > r0 )) || fail "as.revoked did not go up"
ok "b not registered; as.revoked counted"

pretty "a is unaffected"
k0=$(stat_get .nms.keepalives)
wait_for 15 eval '(( $(stat_get .nms.keepalives) >= k0 + 3 ))'
is_registered a || fail "a lost its registration"
[[ $(list_get a .registered) == true ]] || fail "list: a not registered"
ok "a still registered, keepalives acked"

pretty "a new login of a keeps working after the revocation"
stop_daemon a
start_node a a
wait_registered a
ok "a logged in and registered again"

stop_all
ok "all daemons stopped cleanly"
