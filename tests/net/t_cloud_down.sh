#!/bin/bash
# A tunnel does not need the cloud once it is up: stop cyphonic-cloud and
# a and c keep talking (ping both ways, a transfer), for longer than their
# keepalive interval, while they notice the cloud is gone.
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+
#        |                      |                       |
#   ns cloud                ns a (global)          ns c (global)
#   192.0.2.1/24            192.0.2.10/24          192.0.2.30/24
#   2001:db8::1/64          2001:db8::10/64        2001:db8::30/64
#   cyphonic-cloud  (x)     cyphonicd "a"  <=====>  cyphonicd "c"
source "$(dirname "$0")/lib.sh"
require

pretty "topology: cloud, a and c global"
internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
inet_host a 192.0.2.10/24 2001:db8::10/64
inet_host c 192.0.2.30/24 2001:db8::30/64
cloud_new
for x in a c; do node_new "$x"; done
start_cloud
start_node a a
start_node c c
wait_registered a
wait_registered c

pretty "a resolves c: the tunnel is up"
got=$(resolve a c A)
[[ $got == "$(vip c 4)" ]] || fail "a: dig c.$CY_DOMAIN A gave '$got'"
vping a "$(vip c 4)" || fail "a: ping c before the cloud stops"
ok "a -> c: $got, ping works"

pretty "stop the cloud"
stop_daemon cloud
n cloud ip link set eth0 down
ok "cyphonic-cloud stopped, its host is off the Internet"

pretty "the tunnel keeps working"
# 25 echoes over 5 s: five keepalive intervals without the cloud.
out=$(n a ping -n -q -c 25 -i 0.2 -W 1 "$(vip c 4)") || fail "a: ping c without the cloud: $out"
loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' <<<"$out")
[[ $loss == 0 ]] || fail "a: $loss% loss to c without the cloud"
ok "a -> c: 25/25 echoes answered over 5 s without the cloud"
vping c "$(vip a 6)" || fail "c: ping a's VIP6 without the cloud"
ok "c -> a (VIP6): ping works"
transfer a c "$(vip c 4)" 10
ok "a -> c: 10 MB over TCP, same SHA-256 ($XFER_MBPS Mbit/s)"
transfer c a "$(vip a 6)" 5
ok "c -> a: 5 MB over TCP on the VIP6, same SHA-256 ($XFER_MBPS Mbit/s)"
[[ $(tunnel_count a c) == 1 && $(tunnel_count c a) == 1 ]] || fail "a tunnel went away"
ok "both still list the tunnel; registered: a $(status_get a .registered), c $(status_get c .registered)"

stop_all
ok "nodes stopped cleanly without a cloud, no sanitizer report"
