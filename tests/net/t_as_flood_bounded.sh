#!/bin/bash
# A client that pipelines requests and never reads costs the AS one frame
# of input and one response of output, not a queue: 8 MiB of 4-byte
# malformed requests, never read, leave the cloud's memory where it was,
# and the cloud goes on serving (a node logs in and registers after it).
#
#          inet: bridge br0 (the "Internet")
#   +-----------+-----------+
#   |           |           |
# ns cloud    ns a        ns x
# 192.0.2.1   192.0.2.10  192.0.2.66
# cloud       node a      flooder (cy_abuse flood)
source "$(dirname "$0")/lib.sh"
require

internet
inet_host cloud 192.0.2.1/24 2001:db8::1/64
inet_host a 192.0.2.10/24 -
inet_host x 192.0.2.66/24 -
cloud_new
node_new a
start_cloud
pid=${DPID[cloud]}
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
rss0=$(rss)

pretty "AS: 8 MiB of pipelined malformed requests, never read"
out=$(n x "$CYPHONIC_BIN/cy_abuse" flood 192.0.2.1 7443 $((8 << 20)))
rss1=$(rss)
say "$out; cloud RSS ${rss0} kB before, ${rss1} kB after"
written=${out#written }
# The TLS record layer and the kernel's socket buffers take some of it;
# the AS itself reads one frame at a time.
((written < (8 << 20))) || fail "the AS took all 8 MiB without the client reading a byte"
((rss1 - rss0 < 32768)) || fail "cloud RSS grew by $((rss1 - rss0)) kB under the flood"
ok "the flood was stopped after $written bytes; RSS grew $((rss1 - rss0)) kB"

pretty "the cloud still serves"
start_node a a
wait_registered a
ok "a logged in and registered after the flood"
stop_all
