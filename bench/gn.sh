#!/bin/bash
# bench/gn.sh: timing helpers for a general node (GN) behind an adapter, for
# bench/bench.sh and scripts/demo.sh (sourced after tests/net/lib.sh, whose
# adapter helpers build the LAN and run udhcpc: adapter_global, gn_host,
# adapter_new, gn_new, udhcpc_once, dhcp_get).  A GN runs only stock tools.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# gn_registered GN: the cloud lists GN as registered (the adapter logged it
# in and registered it on its behalf).
gn_registered() { [[ $(list_get "$1" .registered) == true ]]; }

# gn_probe GN FQDN [VIP]: from GN, one DNS query for FQDN to the DNS server
# of GN's lease (the adapter), timed in microseconds inside one process; with
# VIP, then ping until the first reply.  Prints "us-to-answer
# us-to-first-reply A"; fails unless the answer is NOERROR with an A record
# (VIP, when given).
gn_probe()
{
	local x=$1 d
	shift
	d=$(dhcp_get "$x" dns) || { echo "$x: no lease" >&2; return 1; }
	n "$x" perl "$BENCH_DIR/dnsprobe.pl" "${d%% *}" 53 "$@"
}

# arp_times GN IP COUNT: arping IP from GN's eth0 COUNT times, 20 ms apart;
# one line per reply: "MAC microseconds".
arp_times()
{
	n "$1" timeout 20 arping -i eth0 -c "$3" -W 0.02 "$2" 2>/dev/null | awk '
		/bytes from/ {
			mac = tolower($4); t = ""
			for (i = 1; i <= NF; i++) if ($i ~ /^time=/) { t = substr($i, 6); u = $(i + 1) }
			if (t == "") next
			if (u ~ /^msec/) t *= 1000; else if (u ~ /^sec/) t *= 1e6
			printf "%s %.1f\n", mac, t
		}' || true
}

# adapter_cli: this build's CLI enrols adapters (`cyphonic adapter add`).
adapter_cli() { cy help 2>&1 | grep -Eq '^[[:space:]]*(cyphonic[[:space:]]+)?adapter[[:space:]]'; }
