#!/bin/bash
# A node on an IPv6-only network logs in and registers over IPv6 (its
# config lists the cloud's IPv4 address first, which it cannot reach).
#
#              inet: bridge br0 (the "Internet")
#        +----------------------+
#        |                      |
#   ns cloud                ns c (IPv6 only)
#   192.0.2.1/24            2001:db8::30/64
#   2001:db8::1/64          cyphonicd "c"
#   cyphonic-cloud
source "$(dirname "$0")/lib.sh"
require

internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
inet_host c - 2001:db8::30/64
cloud_new
node_new c
start_cloud
start_node c c
wait_registered c
ok "c registered after ${REG_MS} ms"
obs=$(status_get c .observed)
[[ $(ep_host "$obs") == 2001:db8::30 ]] || fail "c: observed $obs is not 2001:db8::30"
[[ $(status_get c .nat) == false ]] || fail "c: nat is not false"
[[ $(list_get c .nat) == false ]] || fail "c: list nat is not false"
vip4=$(list_get c .vip4)
vip6=$(list_get c .vip6)
wait_for 5 tun_has c cy0 "$vip4" || fail "c: $vip4 not on cy0"
wait_for 5 tun_has c cy0 "$vip6" || fail "c: $vip6 not on cy0"
ok "c: observed $obs, nat=false, $vip4 and $vip6 on cy0"
k0=$(stat_get .nms.keepalives)
wait_for 10 eval '(( $(stat_get .nms.keepalives) >= k0 + 2 ))'
is_registered c || fail "c lost its registration"
ok "keepalives over IPv6 acked"

stop_all
ok "all daemons stopped cleanly"
