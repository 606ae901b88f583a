#!/bin/bash
# Shared helper of the network tests and of `make demo` (sourced, not run).
#
# Builds topologies of network namespaces joined by veth pairs, runs the
# real daemons in them, one log per daemon, and tears everything down on
# any exit.  Modelled on WireGuard's tests/netns.sh:
#
#   - per-run names: every namespace is "cy<PID>-<name>", so runs never clash
#   - n NAME cmd...: run cmd inside namespace NAME
#   - one cleanup trap on EXIT/INT/TERM: stops the daemons this run started
#     (by PID), deletes its namespaces, dumps the daemons' logs on failure
#   - wait_for TIMEOUT CMD...: poll a condition, never sleep blindly
#
# The "Internet" is a bridge (br0) inside the namespace "inet"; hosts plug
# into it with a veth.  Addresses are documentation prefixes only:
#   Internet 192.0.2.0/24 + 2001:db8::/64, LANs behind NAPT 198.51.100.0/24,
#   203.0.113.0/24, 2001:db8:1::/64 ...
#
# Binaries come from $CYPHONIC_BIN (CTest sets it to BUILD/bin).  Daemons run
# with ASan/LSan/UBSan options that turn any report into a failure: their
# exit status and their log are checked when they are stopped.

set -eEu -o pipefail

if [[ -z ${CYPHONIC_BIN:-} ]]; then
	CYPHONIC_BIN=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/bin
fi
CYPHONIC_BIN=$(cd "$CYPHONIC_BIN" 2>/dev/null && pwd) || {
	echo "lib.sh: CYPHONIC_BIN=$CYPHONIC_BIN: no such directory" >&2
	exit 1
}

# Sanitizers: a leak or any error ends the process with a non-zero status
# (66) and a report; a UBSan finding aborts (-fno-sanitize-recover=all).
export ASAN_OPTIONS=${CY_ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:exitcode=66:abort_on_error=0:print_summary=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${CY_UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${CY_LSAN_OPTIONS:-exitcode=66}
SANITIZER_RE='ERROR: AddressSanitizer|ERROR: LeakSanitizer|AddressSanitizer:DEADLYSIGNAL|runtime error:|LeakSanitizer has encountered a fatal error|SUMMARY: UndefinedBehaviorSanitizer'

CY_DOMAIN=${CY_DOMAIN:-example.test}
PFX="cy$$-"
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cyphonic-net.XXXXXX")
LOG_DIR=$RUN_DIR/log
CLOUD_DIR=$RUN_DIR/cloud
mkdir -p "$LOG_DIR"
# CY_USER=NAME runs every daemon as that user ([cloud] user, [node] user):
# the cloud's directory becomes its own, and the files the nodes write
# (renewed credentials, leases) go to STATE_DIR, which it owns.
CY_USER=${CY_USER:-}
STATE_DIR=$RUN_DIR
if [[ -n $CY_USER ]]; then
	id "$CY_USER" >/dev/null || { echo "lib.sh: no user '$CY_USER'" >&2; exit 1; }
	chmod 711 "$RUN_DIR"
	STATE_DIR=$RUN_DIR/state
	mkdir -p "$STATE_DIR"
	chown "$CY_USER:" "$STATE_DIR"
fi

declare -a NAMESPACES=()
declare -A DPID=()      # daemon name -> pid (while running)
declare -A DKIND=()     # daemon name -> cloud | node
declare -A DLOGOFF=()   # daemon name -> size of its log when last started
declare -A DSTART=()    # daemon name -> start time, ms since the epoch
declare -A DMAYEXIT=()  # daemon name -> 1 when exiting by itself is expected
declare -a ALL_LOGS=()
CY_FAILED=0
CY_QUIET=${CY_QUIET:-0}

# ---------------------------------------------------------------- output

# Colours only on a terminal (CTest and CI logs get plain text).
if [[ -t 1 ]]; then C_OK=$'\e[1;32m' C_RST=$'\e[0m'; else C_OK='' C_RST=''; fi
if [[ -t 2 ]]; then C_ERR=$'\e[1;31m' C_ERST=$'\e[0m'; else C_ERR='' C_ERST=''; fi

pretty() { [[ $CY_QUIET == 1 ]] || printf '%s[+]%s %s\n' "$C_OK" "$C_RST" "$*"; }
say() { [[ $CY_QUIET == 1 ]] || printf '    %s\n' "$*"; }

fail()
{
	printf '%sFAIL:%s %s\n' "$C_ERR" "$C_ERST" "$*" >&2
	CY_FAILED=1
	exit 1
}

ok() { [[ $CY_QUIET == 1 ]] || printf '%sok%s   %s\n' "$C_OK" "$C_RST" "$*"; }

now_ms() { date +%s%3N; }

# ---------------------------------------------------------------- cleanup

# A failing command under `set -e` names itself before the EXIT trap runs.
on_err()
{
	local rc=$1 line=$2 cmd=$3

	# Background jobs and command substitutions inherit the trap; only the
	# test's own shell reports.
	[[ $BASHPID == "$$" ]] || return 0
	CY_FAILED=1
	printf '%sFAIL:%s line %s: exit %s: %s\n' "$C_ERR" "$C_ERST" "$line" "$rc" "$cmd" >&2
}

dump_logs()
{
	local f
	((${#ALL_LOGS[@]})) || return 0
	for f in "${ALL_LOGS[@]}"; do
		[[ -f $f ]] || continue
		echo "======== $(basename "$f") ========"
		tail -n 200 "$f"
	done
	echo "======== end of logs ========"
}

# dump_status: what each running node reports (tunnels, endpoints, counters)
# at the moment a test failed, beside the logs.
dump_status()
{
	local name
	for name in "${!DPID[@]}"; do
		[[ -f ${CLOUD_DIR:-/nonexistent}/nodes/$name.conf ]] || continue
		echo "======== status of $name ========"
		timeout 5 "$CYPHONIC_BIN/cyphonic" status -c "$(node_conf "$name")" --json 2>&1 |
			jq -c . 2>/dev/null || echo "(no answer)"
	done
}

# Kill one daemon: SIGTERM, up to 10 s to go, then SIGKILL.  Sets REAP_RC
# to its exit status (no command substitution: `wait` needs this shell).
REAP_RC=0
reap()
{
	local pid=$1 i rc=0

	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		is_running_pid "$pid" || break
		sleep 0.1
	done
	if is_running_pid "$pid"; then
		echo "lib.sh: pid $pid did not stop in 10 s, killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || rc=$?
	REAP_RC=$rc
}

cleanup()
{
	local rc=$1 name ns

	trap - EXIT INT TERM ERR
	set +eE
	[[ $rc == 0 && $CY_FAILED != 1 ]] || dump_status >&2
	for name in "${!DPID[@]}"; do
		reap "${DPID[$name]}"
	done
	DPID=()
	[[ -z ${PG_FROZEN:-} ]] || kill -CONT $PG_FROZEN 2>/dev/null
	[[ -z ${PG_DIR:-} ]] || "$(dirname "${BASH_SOURCE[0]}")/../pg.sh" stop "$PG_DIR"
	for ((i = ${#NAMESPACES[@]} - 1; i >= 0; i--)); do
		ns=${NAMESPACES[i]}
		# Any process still in it (a stray nc, openssl) goes with it.
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	if [[ $rc != 0 || $CY_FAILED == 1 ]]; then
		dump_logs >&2
		[[ $rc != 0 ]] || rc=1
	fi
	if [[ ${CY_KEEP:-0} == 1 ]]; then
		echo "lib.sh: kept $RUN_DIR" >&2
	else
		rm -rf "$RUN_DIR"
	fi
	exit "$rc"
}

trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR
trap 'cleanup $?' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- waiting

WAIT_STEP=${WAIT_STEP:-0.1}

# wait_for TIMEOUT CMD...: run CMD every 100 ms until it succeeds; fail after
# TIMEOUT seconds.  Also fails at once when a daemon we expect to be running
# has died, rather than waiting out the timeout.
wait_for()
{
	local timeout=$1 deadline
	shift
	deadline=$(($(now_ms) + timeout * 1000))
	while :; do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		check_alive
		if (($(now_ms) >= deadline)); then
			CY_FAILED=1
			printf '%sFAIL:%s timed out after %ss waiting for: %s\n' \
				"$C_ERR" "$C_ERST" "$timeout" "$*" >&2
			return 1
		fi
		sleep "$WAIT_STEP"
	done
}

# ---------------------------------------------------------------- topology

# n NAME cmd...: run cmd in namespace NAME.
n()
{
	local ns=$1
	shift
	ip netns exec "$PFX$ns" "$@"
}

# ns_new NAME: a fresh namespace with lo up; IPv6 DAD off so addresses are
# usable at once; forwarding off.
ns_new()
{
	local ns=$PFX$1

	ip netns add "$ns"
	NAMESPACES+=("$ns")
	n "$1" ip link set lo up
	n "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	n "$1" sysctl -qw net.ipv6.conf.all.forwarding=0 net.ipv4.ip_forward=0
}

# veth NS1 IF1 NS2 IF2: a veth pair between two namespaces, both ends up.
veth()
{
	ip link add "$2" netns "$PFX$1" type veth peer name "$4" netns "$PFX$3"
	n "$1" ip link set "$2" up
	n "$3" ip link set "$4" up
}

# addr NS IF CIDR...: add addresses ("-" is skipped).
addr()
{
	local ns=$1 dev=$2 a
	shift 2
	for a in "$@"; do
		[[ $a == - || -z $a ]] && continue
		if [[ $a == *:* ]]; then
			n "$ns" ip -6 addr add "$a" dev "$dev" nodad
		else
			n "$ns" ip addr add "$a" dev "$dev"
		fi
	done
}

# internet: namespace "inet" holding the bridge br0 that every Internet host
# plugs into.
internet()
{
	ns_new inet
	n inet ip link add br0 type bridge
	n inet ip link set br0 up
}

# inet_host NAME ADDR4/LEN|- ADDR6/LEN|-: a host on the Internet segment,
# interface eth0.  IPv4-only, IPv6-only or dual-stack by which addresses
# are given.
inet_host()
{
	local name=$1 a4=${2:--} a6=${3:--}

	ns_new "$name"
	veth "$name" eth0 inet "p-$name"
	n inet ip link set "p-$name" master br0
	addr "$name" eth0 "$a4" "$a6"
	[[ $a6 != - ]] || n "$name" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
}

# napt_rules NAME: NAME masquerades what leaves its eth0 (NAPT_KIND, below)
# and drops unsolicited UDP to itself from there.
napt_rules()
{
	local masq=masquerade

	[[ ${NAPT_KIND:-eim} != random ]] || masq="masquerade fully-random"
	n "$1" nft -f - <<-EOF
	table ip nat {
		chain postrouting {
			type nat hook postrouting priority srcnat; policy accept;
			oifname "eth0" $masq
		}
	}
	table inet filter {
		chain input {
			type filter hook input priority filter; policy accept;
			iifname "eth0" meta l4proto udp ct state new drop
		}
	}
	EOF
}

# napt NAME WAN4/LEN LAN4/LEN [WAN6/LEN LAN6/LEN]: a NAPT router on the
# Internet (WAN eth0) with a LAN bridge "lan" holding LAN4 (the LAN's
# gateway address); nftables masquerades everything leaving eth0.  IPv6,
# when given, is routed without translation (no NAT66).  Like a home
# router, it drops unsolicited UDP to itself from the WAN (so a probe that
# arrives before the LAN host's own leaves no conntrack entry behind:
# docs/nat.md).  NAPT_KIND=random: each new flow gets a random port
# (masquerade fully-random, a "symmetric" NAT, which punching cannot pass);
# else the port is kept where it can be (endpoint-independent mapping).
napt()
{
	local name=$1 wan4=$2 lan4=$3 wan6=${4:--} lan6=${5:--}

	inet_host "$name" "$wan4" "$wan6"
	n "$name" ip link add lan type bridge
	n "$name" ip link set lan up
	addr "$name" lan "$lan4" "$lan6"
	n "$name" sysctl -qw net.ipv4.ip_forward=1
	[[ $lan6 == - ]] || n "$name" sysctl -qw net.ipv6.conf.all.forwarding=1
	napt_rules "$name"
}

# napt_behind NAME ROUTER WAN4/LEN LAN4/LEN: a NAPT router (as napt, the
# same NAPT_KIND) whose WAN is a host on ROUTER's LAN: two NAPTs in a row,
# a home router behind a carrier-grade NAT.
napt_behind()
{
	local name=$1 router=$2 wan4=$3 lan4=$4

	lan_host "$name" "$router" "$wan4"
	n "$name" ip link add lan type bridge
	n "$name" ip link set lan up
	addr "$name" lan "$lan4"
	n "$name" sysctl -qw net.ipv4.ip_forward=1
	napt_rules "$name"
}

# fw6 NAME WAN6/LEN LAN6/LEN: an IPv6 router on the Internet (WAN eth0) with
# a LAN bridge "lan", no translation, and a stateful firewall like an IPv6
# home router's: UDP from the WAN passes only as a reply to what the LAN
# sent (its drops are counted: fw6_drops NAME).  The other Internet hosts
# need a route to LAN6 (route6).
fw6()
{
	local name=$1 wan6=$2 lan6=$3

	inet_host "$name" - "$wan6"
	n "$name" ip link add lan type bridge
	n "$name" ip link set lan up
	addr "$name" lan "$lan6"
	n "$name" sysctl -qw net.ipv6.conf.all.forwarding=1
	n "$name" nft -f - <<-EOF
	table ip6 filter {
		chain forward {
			type filter hook forward priority filter; policy accept;
			iifname "eth0" meta l4proto udp ct state new counter drop
		}
	}
	EOF
}

fw6_drops()
{
	n "$1" nft -j list chain ip6 filter forward |
		jq '[.nftables[].rule? // empty | .expr[] | .counter? // empty | .packets] | add'
}

# route6 NS PREFIX VIA...: a route to PREFIX via VIA in each of the
# namespaces NS (a space-separated list).
route6()
{
	local x
	for x in $1; do n "$x" ip -6 route add "$2" via "$3"; done
}

# lan_host NAME ROUTER ADDR4/LEN|- [ADDR6/LEN|-]: a host on ROUTER's LAN, default
# route via the router's LAN address.
lan_host()
{
	local name=$1 router=$2 a4=${3:--} a6=${4:--} gw

	ns_new "$name"
	veth "$name" eth0 "$router" "l-$name"
	n "$router" ip link set "l-$name" master lan
	addr "$name" eth0 "$a4" "$a6"
	if [[ $a4 != - ]]; then
		gw=$(n "$router" ip -j -4 addr show dev lan | jq -r '.[0].addr_info[0].local')
		n "$name" ip route add default via "$gw"
	fi
	if [[ $a6 != - ]]; then
		gw=$(n "$router" ip -j -6 addr show dev lan scope global |
			jq -r '.[0].addr_info[0].local')
		n "$name" ip -6 route add default via "$gw"
	else
		n "$name" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
	fi
}

# ---------------------------------------------------------------- daemons

is_running_pid()
{
	local st=
	[[ -r /proc/$1/stat ]] || return 1
	read -r _ _ st _ <"/proc/$1/stat" 2>/dev/null || return 1
	[[ $st != Z ]]
}

is_running() { [[ -n ${DPID[$1]:-} ]] && is_running_pid "${DPID[$1]}"; }

# Fail at once if a daemon that should be running has gone.
check_alive()
{
	local name
	for name in "${!DPID[@]}"; do
		[[ ${DMAYEXIT[$name]:-0} == 1 ]] && continue
		if ! is_running_pid "${DPID[$name]}"; then
			local rc=0
			wait "${DPID[$name]}" 2>/dev/null || rc=$?
			unset "DPID[$name]"
			fail "daemon '$name' exited unexpectedly with status $rc (log: $LOG_DIR/$name.log)"
		fi
	done
}

log_of() { echo "$LOG_DIR/$1.log"; }

# log_grep NAME ERE: search NAME's log since it was last started.
log_grep()
{
	# grep -q would exit early and SIGPIPE tail, failing under pipefail.
	tail -c +"$((${DLOGOFF[$1]:-0} + 1))" "$(log_of "$1")" | grep -Ei -- "$2" >/dev/null
}

# log_first NAME ERE: the first line of NAME's log (since its start) matching ERE.
log_first()
{
	tail -c +"$((${DLOGOFF[$1]:-0} + 1))" "$(log_of "$1")" | grep -Ei -- "$2" | head -n1 || true
}

sanitizer_clean()
{
	if grep -Eq "$SANITIZER_RE" "$1"; then
		grep -E -A30 "$SANITIZER_RE" "$1" | head -n 60 >&2
		return 1
	fi
}

# start_daemon NAME NS KIND CMD...: run CMD in NS in the background,
# stdout+stderr appended to the daemon's log.  `ip netns exec` and `env`
# exec, so $! is the daemon itself.
start_daemon()
{
	local name=$1 ns=$2 kind=$3 log
	shift 3
	log=$(log_of "$name")
	[[ -z ${DPID[$name]:-} ]] || fail "daemon '$name' is already running"
	touch "$log"
	DLOGOFF[$name]=$(stat -c %s "$log")
	printf '=== %s: started in %s: %s\n' "$(date +%T.%3N)" "$ns" "$*" >>"$log"
	DLOGOFF[$name]=$(stat -c %s "$log")
	[[ " ${ALL_LOGS[*]} " == *" $log "* ]] || ALL_LOGS+=("$log")
	DSTART[$name]=$(now_ms)
	ip netns exec "$PFX$ns" env ASAN_OPTIONS="$ASAN_OPTIONS" UBSAN_OPTIONS="$UBSAN_OPTIONS" \
		LSAN_OPTIONS="$LSAN_OPTIONS" "$@" </dev/null >>"$log" 2>&1 &
	DPID[$name]=$!
	DKIND[$name]=$kind
	DMAYEXIT[$name]=0
}

# expect_exit NAME: NAME may exit by itself (e.g. a revoked node).
expect_exit() { DMAYEXIT[$1]=1; }

# stop_daemon NAME [OK_STATUS...]: SIGTERM, wait, then assert it exited with
# one of OK_STATUS (default 0) and that its log has no sanitizer report.
stop_daemon()
{
	local name=$1 rc okrc
	shift
	local oks=("${@:-0}")

	[[ -n ${DPID[$name]:-} ]] || fail "stop_daemon: '$name' is not running"
	reap "${DPID[$name]}"
	rc=$REAP_RC
	unset "DPID[$name]"
	printf '=== %s: stopped, status %s\n' "$(date +%T.%3N)" "$rc" >>"$(log_of "$name")"
	sanitizer_clean "$(log_of "$name")" || fail "'$name': sanitizer report in its log"
	for okrc in "${oks[@]}"; do
		[[ $rc == "$okrc" ]] && return 0
	done
	fail "'$name' exited with status $rc (expected ${oks[*]})"
}

# stop_all: stop every running daemon and assert each exited cleanly; nodes
# first (so they can deregister), the cloud last.
stop_all()
{
	local name
	for name in $(for k in "${!DPID[@]}"; do echo "${DKIND[$k]} $k"; done | sort -r |
		cut -d' ' -f2); do
		if [[ ${DMAYEXIT[$name]:-0} == 1 ]] && ! is_running "$name"; then
			local rc=0
			wait "${DPID[$name]}" 2>/dev/null || rc=$?
			unset "DPID[$name]"
			sanitizer_clean "$(log_of "$name")" || fail "'$name': sanitizer report"
			continue
		fi
		stop_daemon "$name"
	done
}

# ---------------------------------------------------------------- CYPHONIC

cy() { "$CYPHONIC_BIN/cyphonic" "$@"; }

node_conf() { echo "$CLOUD_DIR/nodes/$1.conf"; }

# conf_set FILE SECTION KEY VALUE: set KEY in [SECTION], adding it (and the
# section) when absent.
conf_set()
{
	local f=$1 sec=$2 key=$3 val=$4 um
	um=$(umask)
	umask 077   # the copy may hold a private key too
	awk -v sec="[$sec]" -v key="$key" -v val="$val" '
		function flush() { if (insec && !done) { print key " = " val; done = 1 } }
		/^\[/ { flush(); insec = ($0 == sec); if (insec) seen = 1 }
		insec && !done && $0 ~ "^[ \t]*" key "[ \t]*=" { print key " = " val; done = 1; next }
		{ print }
		END { flush(); if (!seen) { print ""; print sec; print key " = " val } }
	' "$f" >"$f.tmp"
	cat "$f.tmp" >"$f"   # into the same file: it keeps its mode (0600: secrets)
	rm -f "$f.tmp"
	umask "$um"
}

# conf_del FILE SECTION KEY: remove KEY (and its indented continuation
# lines, e.g. a PEM value) from [SECTION].
conf_del()
{
	local f=$1 sec=$2 key=$3 um
	um=$(umask)
	umask 077   # the copy may hold a private key too
	awk -v sec="[$sec]" -v key="$key" '
		/^\[/ { insec = ($0 == sec) }
		skip && /^[ \t]/ { next }
		{ skip = 0 }
		insec && $0 ~ "^" key "[ \t]*=" { skip = 1; next }
		{ print }
	' "$f" >"$f.tmp"
	cat "$f.tmp" >"$f"   # into the same file: it keeps its mode (0600: secrets)
	rm -f "$f.tmp"
	umask "$um"
}

# cloud_new [ADDRS]: `cyphonic init` in $CLOUD_DIR for the cloud at ADDRS
# (default 192.0.2.1,2001:db8::1).
# pg_start: a private PostgreSQL server for this test (tests/pg.sh, stopped
# by cleanup); PG_URL is its URL.  cloud_new with CY_STORE=URL puts the
# cloud's store there.
pg_start()
{
	PG_DIR=$(mktemp -d /tmp/cy-pg-net.XXXXXX)
	"$(dirname "${BASH_SOURCE[0]}")/../pg.sh" start "$PG_DIR"
	PG_URL="postgresql:///postgres?host=$PG_DIR"
}

# pg_freeze / pg_thaw: the server of pg_start stops answering, every one
# of its processes stopped (SIGSTOP) as a hung or cut-off server would
# be, and goes on again (cleanup thaws it too).
pg_freeze()
{
	local pm
	pm=$(head -n1 "$PG_DIR/data/postmaster.pid")
	PG_FROZEN="$pm $(pgrep -P "$pm" | tr '\n' ' ')"
	kill -STOP $PG_FROZEN
}
pg_thaw()
{
	kill -CONT $PG_FROZEN
	PG_FROZEN=
}

cloud_new()
{
	local addrs=${1:-192.0.2.1,2001:db8::1}
	cy init --dir "$CLOUD_DIR" --domain "$CY_DOMAIN" --cloud "$addrs" \
		${CY_STORE:+--store "$CY_STORE"}
	[[ -f $CLOUD_DIR/cloud.conf ]] || fail "cyphonic init wrote no $CLOUD_DIR/cloud.conf"
	conf_set "$CLOUD_DIR/cloud.conf" cloud log_level "${CY_LOG_LEVEL:-debug}"
	[[ -z $CY_USER ]] || conf_set "$CLOUD_DIR/cloud.conf" cloud user "$CY_USER"
}

# node_new NAME [node add options...]: enrol NAME; its config gets a per-run
# control socket, renewed-credentials file and a 1 s keepalive so tests run
# fast.
node_new()
{
	local name=$1 f
	shift
	cy node add "$name" --dir "$CLOUD_DIR" "$@"
	f=$(node_conf "$name")
	[[ -f $f ]] || fail "cyphonic node add wrote no $f"
	conf_set "$f" node keepalive 1
	conf_set "$f" node control "$RUN_DIR/$name.sock"
	conf_set "$f" node log_level "${CY_LOG_LEVEL:-debug}"
	conf_set "$f" credentials renewed "$STATE_DIR/$name.credentials"
	[[ -z $CY_USER ]] || conf_set "$f" node user "$CY_USER"
}

stats() { cy stats --dir "$CLOUD_DIR" --json; }

# prom_scrape NS URL NAME: GET URL (a daemon's Prometheus metrics) from NS
# into $RUN_DIR/NAME.prom; the content type must be the text format's, and
# promtool (Debian's prometheus) must accept it.
prom_scrape()
{
	n "$1" curl -sS --fail -o "$RUN_DIR/$3.prom" -D "$RUN_DIR/$3.hdr" "$2" ||
		fail "$3: GET $2 failed"
	grep -qi '^content-type: text/plain; version=0.0.4' "$RUN_DIR/$3.hdr" ||
		fail "$3: content type $(grep -i content-type "$RUN_DIR/$3.hdr")"
	promtool check metrics <"$RUN_DIR/$3.prom" >"$RUN_DIR/$3.lint" 2>&1 ||
		fail "$3: promtool: $(head -n 5 "$RUN_DIR/$3.lint")"
}
# prom_value NAME METRIC[{LABELS}]: that sample's value in NAME's scrape.
prom_value() { awk -v m="$2" '$1 == m { print $2; f = 1 } END { exit !f }' "$RUN_DIR/$1.prom"; }

# stat_get PATH: one counter, e.g. stat_get .nms.malformed
stat_get() { stats | jq -er "$1"; }

# start_cloud [NS]: run cyphonic-cloud (default in namespace "cloud") and
# wait until its control socket answers and its roles (and console) listen.
start_cloud()
{
	local ns=${1:-cloud}
	# Its directory is its own (what the CLI made there as root included).
	[[ -z $CY_USER ]] || chown -R "$CY_USER:" "$CLOUD_DIR"
	start_daemon cloud "$ns" cloud "$CYPHONIC_BIN/cyphonic-cloud" -c "$CLOUD_DIR/cloud.conf"
	wait_for 20 stats
	wait_for 10 n "$ns" sh -c 'ss -Hltn sport = :7443 | grep -q . && ss -Hlun sport = :7444 | grep -q .'
	! grep -q '^\[trs\]' "$CLOUD_DIR/cloud.conf" ||
		wait_for 10 n "$ns" sh -c 'ss -Hlun sport = :7445 | grep -q .'
	! grep -q '^\[console\]' "$CLOUD_DIR/cloud.conf" ||
		wait_for 10 n "$ns" sh -c 'ss -Hltn sport = :7447 | grep -q .'
}

# start_node NAME NS: run cyphonicd with nodes/NAME.conf in NS.
start_node()
{
	start_daemon "$1" "$2" node "$CYPHONIC_BIN/cyphonicd" -c "$(node_conf "$1")"
}

# status NAME: `cyphonic status --json` of NAME's daemon.
status() { cy status -c "$(node_conf "$1")" --json; }
status_get() { status "$1" | jq -er "$2"; }
is_registered() { [[ $(status "$1" | jq -r .registered) == true ]]; }
is_unregistered() { [[ $(status "$1" 2>/dev/null | jq -r .registered) != true ]]; }

# list_get NAME JQ: a field of NAME in `cyphonic list --json`.
list_get()
{
	cy list --dir "$CLOUD_DIR" --json | jq -er --arg n "$1" ".[] | select(.name == \$n) | $2"
}

# wait_registered NAME [TIMEOUT]: sets REG_MS to the ms from the daemon's
# start to registered (granularity: the 100 ms poll, see demo.sh for finer).
REG_MS=0
wait_registered()
{
	wait_for "${2:-20}" is_registered "$1"
	REG_MS=$(($(now_ms) - ${DSTART[$1]}))
}

# ep_host ENDPOINT: address part of "1.2.3.4:5" or "[2001:db8::1]:5".
ep_host()
{
	local e=$1
	e=${e%:*}
	e=${e#[}
	echo "${e%]}"
}

# tun_has NS DEV ADDR: ADDR is on DEV in NS.
tun_has()
{
	n "$1" ip -j addr show dev "$2" |
		jq -e --arg a "$3" '[.[].addr_info[].local] | index($a) != null' >/dev/null
}

# Namespaces of earlier runs that were killed outright (SIGKILL, e.g. a CTest
# timeout, leaves no chance to clean up): "cy<PID>-*" whose PID is gone.
reap_stale()
{
	local ns pid
	for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
		[[ $ns =~ ^cy([0-9]+)- ]] || continue
		pid=${BASH_REMATCH[1]}
		[[ $pid == "$$" ]] && continue
		kill -0 "$pid" 2>/dev/null && continue
		echo "lib.sh: removing stale namespace $ns" >&2
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
}

# Refuse to run without what the tests need.
require()
{
	local t
	[[ $(id -u) == 0 ]] || { echo "SKIP: needs root" >&2; exit 77; }
	reap_stale
	for t in ip nft jq openssl nc ss awk; do
		command -v "$t" >/dev/null || fail "missing tool: $t (run scripts/deps.sh)"
	done
	for t in cyphonic cyphonic-cloud cyphonicd; do
		[[ -x $CYPHONIC_BIN/$t ]] || fail "missing $CYPHONIC_BIN/$t (build first)"
	done
}

# ---------------------------------------------------------------- topologies

# topo_basic: the testbed most tests and the demo share.
#
#                          inet: bridge br0 (the "Internet")
#        +----------------------+-----------------------+
#        |                      |                       |
#   ns cloud                ns A (global)          ns R (NAPT router)
#   192.0.2.1/24            192.0.2.10/24          eth0 192.0.2.20/24
#   2001:db8::1/64          2001:db8::10/64        nft masquerade on eth0
#   cyphonic-cloud          cyphonicd              lan 198.51.100.1/24
#   AS :7443 NMS :7444                                  |
#                                                  ns B (behind NAPT)
#                                                  198.51.100.10/24, IPv4 only
#                                                  cyphonicd
#
# NAME_A / NAME_B name the two namespaces and nodes (default a, b).
# topo_relay_napt [KIND_A [KIND_B]]: the cloud (AS, NMS, TRS) on the
# Internet, node a behind NAPT r1 (198.51.100.0/24), node b behind NAPT r2
# (203.0.113.0/24), each of its KIND (napt: default NAPT_KIND, else
# random; eim for ones plain punching passes); the cloud and both nodes
# started and registered.
# nodes_up NAME...: a cloud and the nodes NAME..., each enrolled, started in
# its own namespace NAME and registered.  In two steps, to change their
# configs in between: nodes_new NAME... (the cloud and the nodes enrolled),
# then nodes_start NAME... (all started, each in its namespace NAME).
nodes_new()
{
	local x
	cloud_new
	for x in "$@"; do node_new "$x"; done
}
nodes_start()
{
	local x
	start_cloud
	for x in "$@"; do start_node "$x" "$x"; done
	for x in "$@"; do wait_registered "$x"; done
}
nodes_up()
{
	nodes_new "$@"
	nodes_start "$@"
}

topo_relay_napt()
{
	internet
	inet_host cloud 192.0.2.1/24 2001:db8::1/64
	NAPT_KIND=${1:-${NAPT_KIND:-random}} napt r1 192.0.2.20/24 198.51.100.1/24
	NAPT_KIND=${2:-${NAPT_KIND:-random}} napt r2 192.0.2.21/24 203.0.113.1/24
	lan_host a r1 198.51.100.10/24
	lan_host b r2 203.0.113.10/24
	cloud_new
	grep -q '^\[trs\]' "$CLOUD_DIR/cloud.conf" || fail "cyphonic init wrote no [trs] section"
	for x in a b; do node_new "$x"; done
	start_cloud
	[[ $(stat_get .trs.sessions) == 0 ]] || fail "trs: sessions before any route"
	for x in a b; do start_node "$x" "$x"; done
	for x in a b; do wait_registered "$x"; done
}

topo_basic()
{
	local a=${1:-a} b=${2:-b}

	internet
	inet_host cloud 192.0.2.1/24 2001:db8::1/64
	inet_host "$a" 192.0.2.10/24 2001:db8::10/64
	napt r 192.0.2.20/24 198.51.100.1/24
	lan_host "$b" r 198.51.100.10/24
}

# ---------------------------------------------------------------- the console

CONSOLE_URL=https://192.0.2.1:7447
declare -A CSRF=()

# console_on NAME PASSWORD: the cloud's console on 192.0.2.1:7447 (so the
# test hosts reach it), with the account NAME.  Before start_cloud.
console_on()
{
	conf_set "$CLOUD_DIR/cloud.conf" console listen 192.0.2.1:7447
	printf '%s\n' "$2" | cy admin add "$1" --dir "$CLOUD_DIR" >/dev/null
}

# con NS JAR PATH [curl args...]: an HTTPS request to the console from NS,
# keeping cookies in JAR ("" none), verified against the console's own CA.  The
# status goes to CON_CODE, the body to $RUN_DIR/con.body, the headers to
# $RUN_DIR/con.hdr.
CON_CODE=
con()
{
	local ns=$1 jar=$2 path=$3
	shift 3
	local j=()
	[[ -z $jar ]] || j=(-b "$RUN_DIR/$jar.jar" -c "$RUN_DIR/$jar.jar")
	CON_CODE=$(n "$ns" curl -sS --max-time 10 --cacert "$CLOUD_DIR/console-ca.pem" "${j[@]}" \
		-o "$RUN_DIR/con.body" -D "$RUN_DIR/con.hdr" -w '%{http_code}' "$@" \
		"$CONSOLE_URL$path") || CON_CODE=000
}
# con_post NS JAR PATH [curl args...]: con with the JAR session's CSRF token.
con_post() { local ns=$1 jar=$2 path=$3; shift 3; con "$ns" "$jar" "$path" -H "X-CSRF-Token: ${CSRF[$jar]:-}" "$@"; }
# cbody JQ: a field of the last reply's body.
cbody() { jq -er "$1" "$RUN_DIR/con.body"; }
# con_expect CODE WHAT: the last reply had status CODE.
con_expect() { [[ $CON_CODE == "$1" ]] || fail "$2: HTTP $CON_CODE, not $1: $(head -c 300 "$RUN_DIR/con.body")"; }
# con_login NS JAR NAME PASSWORD: log in; CSRF[JAR] gets the session's token.
con_login()
{
	con "$1" "$2" /api/login -d "name=$3" --data-urlencode "password=$4"
	con_expect 200 "login as $3"
	CSRF[$2]=$(cbody .csrf)
}

# ---------------------------------------------------------------- raw clients

# udp_file NS DST PORT FILE: send FILE as exactly one datagram from NS
# (bash's /dev/udp; dd makes one write of the whole file).
udp_file()
{
	n "$1" bash -c 'exec 3>"/dev/udp/$1/$2" && dd if="$3" bs=65507 count=1 status=none >&3' \
		_ "$2" "$3" "$4"
}

# tls_send NS DST:PORT IN OUT [s_client options...]: open a TLS 1.3
# connection from NS, send the bytes of IN, keep what comes back in OUT
# (up to 3 s, or until the server closes).
tls_send()
{
	local ns=$1 dst=$2 in=$3 out=$4
	shift 4
	timeout 3 ip netns exec "$PFX$ns" openssl s_client -connect "$dst" -tls1_3 -quiet \
		"$@" <"$in" >"$out" 2>"$out.err" || true
}

hex() { od -An -v -tx1 "$1" | tr -d ' \n'; }

# ---------------------------------------------------------------- overlay

# The Internet's own DNS server (ns "dns"): dnsmasq with one static record,
# so "an ordinary name" resolves through a node's resolver, which forwards
# every non-CYPHONIC name to it.
UPSTREAM4=192.0.2.53
UPSTREAM6=2001:db8::53
WWW_NAME=www.example.org
WWW_A=192.0.2.80
WWW_AAAA=2001:db8::80

# upstream_dns: the DNS server on the Internet at $UPSTREAM4 and $UPSTREAM6.
upstream_dns()
{
	inet_host dns "$UPSTREAM4/24" "$UPSTREAM6/64"
	start_daemon dns dns aux dnsmasq --keep-in-foreground --conf-file=/dev/null \
		--no-resolv --no-hosts --no-poll --pid-file= --log-queries --log-facility=- \
		--bind-interfaces --listen-address="$UPSTREAM4" --listen-address="$UPSTREAM6" \
		--host-record="$WWW_NAME,$WWW_A,$WWW_AAAA"
	wait_for 10 n dns dig @"$UPSTREAM4" +time=1 +tries=1 +short "$WWW_NAME" A
}

# node_upstream NAME ADDR: NAME's resolver forwards other names to ADDR.
node_upstream() { conf_set "$(node_conf "$1")" resolver upstream "$2"; }

# vip NAME 4|6: NAME's virtual address, from the cloud's list.
vip() { list_get "$1" ".vip$2"; }

fqdn() { echo "$1.$CY_DOMAIN"; }

# qdig NAME dig-args...: ask NAME's own resolver (the address in its
# `status .dns`), from NAME's namespace (namespace and node share the name).
qdig()
{
	local x=$1 d
	shift
	d=$(status_get "$x" .dns) || { echo "$x: status has no .dns" >&2; return 1; }
	n "$x" dig @"$(ep_host "$d")" -p "${d##*:}" +time=5 +tries=1 "$@"
}

# resolve NAME PEER A|AAAA: the answer NAME's resolver gives for PEER's FQDN.
resolve() { qdig "$1" +short "$(fqdn "$2")" "$3"; }

# The daemon's view of its tunnels.  The peer may be named by FQDN or name.
TUN_SEL='.tunnels[]? | select(.peer == $f or .peer == $n or .peer == ($f + "."))'
# tunnel_count NAME PEER: how many tunnels NAME lists to PEER.
tunnel_count() { status "$1" | jq -r --arg f "$(fqdn "$2")" --arg n "$2" "[$TUN_SEL] | length"; }
has_tunnel() { (($(tunnel_count "$1" "$2") >= 1)); }
# tunnel_get NAME PEER JQ: a field of NAME's tunnel to PEER.
tunnel_get()
{
	status "$1" | jq -er --arg f "$(fqdn "$2")" --arg n "$2" "first($TUN_SEL) | $3"
}
# drop_get NAME REASON: NAME's counter of dropped data packets (replay, auth,
# unknown, malformed).
drop_get() { status_get "$1" ".drops.$2"; }
# no_drops "NAME..." "REASON...": each NAME's drops.REASON is 0.
no_drops()
{
	local x d
	for x in $1; do
		for d in $2; do
			[[ $(drop_get "$x" "$d") == 0 ]] || fail "$x: drops.$d = $(drop_get "$x" "$d")"
		done
	done
}

# vping FROM ADDR [COUNT]: ping ADDR from FROM until COUNT (3) replies came
# back, at most 10 s; the first echo may be spent on route selection.
vping()
{
	n "$1" ping -n -q -c "${3:-3}" -i 0.2 -W 2 -w 10 "$2" >/dev/null
}

# check_tunnel NAME PEER ENDPOINT_HOST_ERE [PATH]: NAME lists exactly one
# tunnel to PEER with path PATH (direct), at an endpoint whose address
# matches the ERE, with the peer's VIP4 and bytes counted both ways.
check_tunnel()
{
	local x=$1 p=$2 re=$3 want=${4:-direct} c ep path v4 rx tx
	c=$(tunnel_count "$x" "$p")
	[[ $c == 1 ]] || fail "$x: $c tunnels to $p in status (expected 1): $(status "$x" | jq -c .tunnels)"
	path=$(tunnel_get "$x" "$p" .path)
	ep=$(tunnel_get "$x" "$p" .endpoint)
	v4=$(tunnel_get "$x" "$p" .vip4)
	rx=$(tunnel_get "$x" "$p" .rx_bytes)
	tx=$(tunnel_get "$x" "$p" .tx_bytes)
	[[ $path == "$want" ]] || fail "$x: tunnel to $p has path '$path', not $want"
	[[ $(ep_host "$ep") =~ ^($re)$ ]] || fail "$x: tunnel to $p has endpoint '$ep' (expected $re)"
	[[ ${ep##*:} =~ ^[0-9]+$ ]] && ((${ep##*:} > 0)) || fail "$x: endpoint '$ep' has no port"
	[[ $v4 == "$(vip "$p" 4)" ]] || fail "$x: tunnel to $p has vip4 '$v4', not $(vip "$p" 4)"
	((rx > 0 && tx > 0)) || fail "$x: tunnel to $p counts rx $rx tx $tx bytes"
	ok "$x -> $p: path $path, endpoint $ep, rx $rx tx $tx bytes"
}

# transfer FROM TO DSTADDR MB: MB megabytes of random data over TCP (nc)
# from FROM to TO's DSTADDR port 5001; asserts the SHA-256 on arrival and
# sets XFER_MBPS (Mbit/s, from the sender's start to the receiver's end).
XFER_MBPS=0
transfer()
{
	local from=$1 to=$2 dst=$3 mb=$4 src=$RUN_DIR/xfer.in out=$RUN_DIR/xfer.out lpid t0 t1
	head -c "${mb}M" /dev/urandom >"$src"
	rm -f "$out" "$out.events"
	n "$to" timeout 60 nc -d -n -l "$dst" 5001 >"$out" &
	lpid=$!
	wait_for 5 n "$to" sh -c 'ss -Hltn "sport = :5001" | grep -q .'
	t0=$(date +%s%N)
	n "$from" timeout 60 nc -N -n "$dst" 5001 <"$src" ||
		fail "transfer $from -> $to ($dst): the sender failed"
	wait "$lpid" || fail "transfer $from -> $to ($dst): the receiver failed"
	t1=$(date +%s%N)
	[[ $(sha256sum <"$src") == "$(sha256sum <"$out")" ]] ||
		fail "transfer $from -> $to ($dst): $(stat -c %s "$out") of $((mb << 20)) bytes, SHA-256 differs"
	XFER_MBPS=$(awk -v b=$((mb << 20)) -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", b * 8000 / ns }')
	rm -f "$src" "$out"
}

# A TCP session that stays open across events (moves): stream_start FROM TO
# DSTADDR MB opens it (nc, port 5002) with MB megabytes of random data to
# send; stream_chunk K sends the K-th megabyte (0-based) and waits until the
# receiver has it; stream_finish closes it and asserts both ends exited
# cleanly and the SHA-256 on arrival.
stream_start()
{
	local from=$1 to=$2 dst=$3
	STREAM_MB=$4
	head -c "${STREAM_MB}M" /dev/urandom >"$RUN_DIR/stream.in"
	rm -f "$RUN_DIR/stream.fifo"
	mkfifo "$RUN_DIR/stream.fifo"
	: >"$RUN_DIR/stream.out"
	n "$to" timeout 300 nc -d -n -l "$dst" 5002 >"$RUN_DIR/stream.out" &
	STREAM_RX=$!
	wait_for 5 n "$to" sh -c 'ss -Hltn "sport = :5002" | grep -q .'
	n "$from" timeout 300 nc -N -n "$dst" 5002 <"$RUN_DIR/stream.fifo" &
	STREAM_TX=$!
	exec {STREAM_FD}>"$RUN_DIR/stream.fifo"
}
stream_received() { (($(stat -c %s "$RUN_DIR/stream.out") >= $1)); }
stream_chunk()
{
	dd if="$RUN_DIR/stream.in" bs=1M skip="$1" count=1 status=none >&"$STREAM_FD"
	wait_for "${2:-20}" stream_received $((($1 + 1) << 20))
}
# stream_until_path X Y PATH FROM MAX: send the stream's megabytes FROM, FROM+1,
# ... until both X and Y see their tunnel to each other on PATH (checked
# before each), failing at MAX; sets STREAM_K (the next megabyte) and
# STREAM_MS (the time it took).
both_on() { [[ $(tunnel_get "$1" "$2" .path) == "$3" && $(tunnel_get "$2" "$1" .path) == "$3" ]]; }
stream_until_path()
{
	local x=$1 y=$2 path=$3 t0
	STREAM_K=$4
	t0=$(now_ms)
	until both_on "$x" "$y" "$path"; do
		((STREAM_K < $5)) ||
			fail "not both on $path after $STREAM_K MB ($(($(now_ms) - t0)) ms): $x $(tunnel_get "$x" "$y" .path), $y $(tunnel_get "$y" "$x" .path)"
		stream_chunk "$STREAM_K"
		STREAM_K=$((STREAM_K + 1))
	done
	STREAM_MS=$(($(now_ms) - t0))
}

stream_finish()
{
	exec {STREAM_FD}>&-
	wait "$STREAM_TX" || fail "stream: the sender's TCP session broke"
	wait "$STREAM_RX" || fail "stream: the receiver's TCP session broke"
	[[ $(sha256sum <"$RUN_DIR/stream.in") == "$(sha256sum <"$RUN_DIR/stream.out")" ]] ||
		fail "stream: $(stat -c %s "$RUN_DIR/stream.out") of $STREAM_MB MB arrived, SHA-256 differs"
}

# cy_has CMD: the CLI knows the subcommand CMD (per `cyphonic help`).
cy_has() { cy help 2>&1 | grep -Eq "^[[:space:]]*$1([[:space:]]|$)"; }

# hex_write HEX FILE: the bytes HEX (no spaces) into FILE.
hex_write() { perl -e 'print pack("H*", $ARGV[0])' "$1" >"$2"; }

# pcap_udp_payload PCAP: hex of the UDP payload of the first packet in PCAP
# (IPv4 or IPv6 without extension headers).
pcap_udp_payload()
{
	local h v off
	h=$(tcpdump -r "$1" -nn -x 2>/dev/null | awk '/^[ \t]+0x[0-9a-f]+:/ {
		for (i = 2; i <= NF; i++) printf "%s", $i }')
	[[ -n $h ]] || return 1
	v=${h:0:1}
	if [[ $v == 4 ]]; then
		off=$(((16#${h:1:1} * 4 + 8) * 2))
	else
		off=$(((40 + 8) * 2))
	fi
	echo "${h:off}"
}

# dns_probe NAME FQDN [VIP]: in NAME's namespace, one DNS query (A FQDN) to
# NAME's resolver over UDP, sent and timed by bash itself (no process start
# inside the timing; microseconds); then, with VIP, ping VIP until the first
# reply.  Prints "us-to-answer us-to-first-reply".
DNS_PROBE='
	addr=$1 port=$2 name=$3 vip=${4:-} l= tries=0
	q="\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
	for l in ${name//./ }; do q+=$(printf "\\\\x%02x" ${#l})$l; done
	q+="\x00\x00\x01\x00\x01"
	exec 3<>"/dev/udp/$addr/$port" || exit 1
	t0=$EPOCHREALTIME
	printf "$q" >&3
	read -r -t 5 -N 1 -u 3 || { echo "no DNS answer in 5 s" >&2; exit 1; }
	t1=$EPOCHREALTIME t2=$EPOCHREALTIME
	if [[ -n $vip ]]; then
		until ping -n -c 1 -W 1 "$vip" >/dev/null; do
			((++tries < 10)) || { echo "no ping reply from $vip" >&2; exit 1; }
		done
		t2=$EPOCHREALTIME
	fi
	echo $((${t1/./} - ${t0/./})) $((${t2/./} - ${t0/./}))
'
dns_probe()
{
	local x=$1 d
	shift
	d=$(status_get "$x" .dns) || { echo "$x: status has no .dns" >&2; return 1; }
	n "$x" env LC_ALL=C bash -c "$DNS_PROBE" _ "$(ep_host "$d")" "${d##*:}" "$@"
}

# pair_check MN CN MN_EP_ERE CN_EP_ERE [MB]: what a user checks between two
# nodes with no tunnel yet.  MN resolves CN's name (A and AAAA: the VIPs, which
# selects the route and sets the tunnel up), CN resolves MN's; ping works
# both ways over both VIPs; MB (50) megabytes over TCP MN -> CN on the VIP4
# and a fifth of that CN -> MN on the VIP6 arrive intact; each side lists
# one tunnel with path PAIR_PATH (direct) to the other at the endpoint
# expected (MN sees CN at CN_EP_ERE, CN sees MN at MN_EP_ERE), and
# `cyphonic ping` says that path.  Sets DNS_COLD_MS.
DNS_COLD_MS=0
pair_check()
{
	local mn=$1 cn=$2 mn_ep=$3 cn_ep=$4 mb=${5:-50} path=${PAIR_PATH:-direct} t0 got x y out t f

	((${#mn_ep} && ${#cn_ep})) || fail "pair_check: endpoint patterns missing"
	has_tunnel "$mn" "$cn" && fail "$mn already has a tunnel to $cn"
	t0=$(date +%s%N)
	got=$(resolve "$mn" "$cn" A 2>&1) || fail "$mn: dig $(fqdn "$cn") A failed: $got"
	DNS_COLD_MS=$(awk -v ns=$(($(date +%s%N) - t0)) 'BEGIN { printf "%.1f", ns / 1e6 }')
	[[ $got == "$(vip "$cn" 4)" ]] ||
		fail "$mn: dig $(fqdn "$cn") A gave '$got', not $(vip "$cn" 4)"
	ok "$mn: $(fqdn "$cn") A $got (cold: route selection + tunnel; dig took $DNS_COLD_MS ms)"
	got=$(resolve "$mn" "$cn" AAAA 2>&1) || fail "$mn: dig $(fqdn "$cn") AAAA failed: $got"
	[[ $got == "$(vip "$cn" 6)" ]] ||
		fail "$mn: dig $(fqdn "$cn") AAAA gave '$got', not $(vip "$cn" 6)"
	ok "$mn: $(fqdn "$cn") AAAA $got"
	for f in 4 6; do
		[[ $f == 4 ]] && t=A || t=AAAA
		got=$(resolve "$cn" "$mn" $t 2>&1) || fail "$cn: dig $(fqdn "$mn") $t failed: $got"
		[[ $got == "$(vip "$mn" $f)" ]] ||
			fail "$cn: dig $(fqdn "$mn") $t gave '$got', not $(vip "$mn" $f)"
	done
	ok "$cn: $(fqdn "$mn") A $(vip "$mn" 4) AAAA $(vip "$mn" 6)"

	for x in "$mn" "$cn"; do
		[[ $x == "$mn" ]] && y=$cn || y=$mn
		for f in 4 6; do
			vping "$x" "$(vip "$y" $f)" ||
				fail "$x: ping $(vip "$y" $f) ($y's VIP$f) gets no replies"
		done
		ok "$x: ping $y's VIP4 $(vip "$y" 4) and VIP6 $(vip "$y" 6)"
	done

	transfer "$mn" "$cn" "$(vip "$cn" 4)" "$mb"
	ok "$mn -> $cn: $mb MB over TCP on the VIP4, same SHA-256 ($XFER_MBPS Mbit/s)"
	transfer "$cn" "$mn" "$(vip "$mn" 6)" $(((mb + 4) / 5))
	ok "$cn -> $mn: $(((mb + 4) / 5)) MB over TCP on the VIP6, same SHA-256 ($XFER_MBPS Mbit/s)"

	check_tunnel "$mn" "$cn" "$cn_ep" "$path"
	check_tunnel "$cn" "$mn" "$mn_ep" "$path"
	if cy_has ping; then
		out=$(cy ping "$(fqdn "$cn")" -c "$(node_conf "$mn")" 2>&1) ||
			fail "$mn: cyphonic ping $(fqdn "$cn") failed: $out"
		grep -qi "$path" <<<"$out" || fail "$mn: cyphonic ping does not say $path: $out"
		ok "$mn: cyphonic ping $(fqdn "$cn"): $(tail -n1 <<<"$out")"
	fi
}

# ---------------------------------------------------------------- adapters

# An adapter is a cyphonicd with an [adapter] section: a node on its uplink
# (on the Internet, or behind a NAPT router) that serves general nodes (GN)
# on its LAN, the bridge "lan0" in the adapter's namespace.  Every GN is a
# namespace whose eth0 is a veth port of that bridge, so several GNs share
# one LAN.  lan0 has a fixed MAC (a bridge's own MAC would otherwise follow
# its ports) and no address: the adapter puts its VIPv4 on it.  GNs run only
# stock tools (udhcpc, dhclient, dig, arping, ping, nc, curl).
#
#   ns AD (adapter)                       ns GN1            ns GN2
#   eth0: uplink                          eth0 MAC1         eth0 MAC2
#   lan0 (bridge, MAC = adapter_mac AD)   |                 |
#     +-- g-GN1 --------------------------+                 |
#     +-- g-GN2 --------------------------------------------+
ADAPTER_LAN=lan0
ADAPTER_SEQ=0

# adapter_lan NAME: give namespace NAME the LAN bridge lan0, up, no address,
# IPv4 only.
adapter_lan()
{
	local name=$1
	ADAPTER_SEQ=$((ADAPTER_SEQ + 1))
	n "$name" ip link add "$ADAPTER_LAN" type bridge
	n "$name" ip link set "$ADAPTER_LAN" address "$(printf '02:cc:00:00:%02x:01' "$ADAPTER_SEQ")"
	# IPv6 on, as on any Linux LAN interface (the adapter adds its VIPv6
	# there); the namespace takes no Router Advertisement from it.
	n "$name" sysctl -qw "net.ipv6.conf.$ADAPTER_LAN.accept_ra=0"
	# The bridge only stands in for a LAN segment (a switch): with
	# br_netfilter loaded on the host, frames between its ports would also
	# pass the namespace's IP hooks (and the adapter's nftables rules), and
	# malformed IPv4 would be dropped before the adapter's packet socket.
	if n "$name" test -e /proc/sys/net/bridge/bridge-nf-call-iptables; then
		n "$name" sysctl -qw net.bridge.bridge-nf-call-iptables=0 \
			net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0
	fi
	n "$name" ip link set "$ADAPTER_LAN" up
}

# adapter_global NAME ADDR4/LEN [ADDR6/LEN]: an adapter host on the Internet.
adapter_global()
{
	inet_host "$1" "$2" "${3:--}"
	adapter_lan "$1"
}

# adapter_behind NAME ROUTER ADDR4/LEN: an adapter host on a NAPT router's LAN.
adapter_behind()
{
	lan_host "$1" "$2" "$3"
	adapter_lan "$1"
}

# adapter_mac NAME: the MAC of the adapter's LAN interface.
adapter_mac() { n "$1" ip -j link show dev "$ADAPTER_LAN" | jq -r '.[0].address'; }

# gn_host NAME ADAPTER MAC: a general node on ADAPTER's LAN: eth0 with MAC,
# no address (DHCP gives it one), IPv4 only.
gn_host()
{
	gn_plug "$1" "$2"
	n "$1" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
	gn_eth_up "$1" "$3"
}

# gn_host6 NAME ADAPTER MAC [v6only]: a general node with IPv6 on eth0 (it
# takes the adapter's Router Advertisements, as Linux does by default);
# v6only: no IPv4 at all (nftables in NAME drops every IPv4 and ARP packet
# it would send).
gn_host6()
{
	local name=$1

	gn_plug "$name" "$2"
	n "$name" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=0 net.ipv6.conf.eth0.accept_ra=1 \
		net.ipv6.conf.eth0.accept_dad=1
	if [[ ${4:-} == v6only ]]; then
		n "$name" nft -f - <<-'EON'
		table ip no_ipv4 { chain out { type filter hook output priority 0; policy drop; }; }
		table arp no_arp { chain out { type filter hook output priority 0; policy drop; }; }
		EON
	fi
	gn_eth_up "$name" "$3"
	wait_for 10 ll_ready "$name"
}

# gn_plug NAME ADAPTER: namespace NAME with eth0 plugged into ADAPTER's LAN
# bridge (the bridge port without IPv6 of its own); gn_eth_up NAME MAC:
# eth0 up with MAC.
gn_plug()
{
	ns_new "$1"
	veth "$1" eth0 "$2" "g-$1"
	n "$2" sysctl -qw "net.ipv6.conf.g-$1.disable_ipv6=1"
	n "$2" ip link set "g-$1" master "$ADAPTER_LAN"
}
gn_eth_up()
{
	n "$1" ip link set eth0 down
	n "$1" ip link set eth0 address "$2"
	n "$1" ip link set eth0 up
}

# ll_ready NAME: eth0 in NAME has a link-local address past duplicate
# address detection (DHCPv6 clients bind to it).
ll_ready()
{
	[[ $(n "$1" ip -j -6 addr show dev eth0 scope link |
		jq -r '[.[0].addr_info[]? | select((.tentative // false) | not)] | length') -ge 1 ]]
}

# adapter_new NAME [adapter add options...]: enrol adapter NAME serving
# lan0; its config gets node_new's test settings, a lease file in the run
# directory, a short general-node list refresh (5 s), and upstream DNS when given
# by $ADAPTER_UPSTREAM (default $UPSTREAM4).
adapter_new()
{
	local name=$1 f
	shift
	cy adapter add "$name" --dir "$CLOUD_DIR" --lan "$ADAPTER_LAN" "$@"
	f=$(node_conf "$name")
	[[ -f $f ]] || fail "cyphonic adapter add wrote no $f"
	grep -q '^\[adapter\]' "$f" || fail "cyphonic adapter add: $f has no [adapter] section"
	conf_set "$f" node keepalive 1
	conf_set "$f" node control "$RUN_DIR/$name.sock"
	conf_set "$f" node log_level "${CY_LOG_LEVEL:-debug}"
	conf_set "$f" adapter leases "$STATE_DIR/$name.leases"
	conf_set "$f" credentials renewed "$STATE_DIR/$name.credentials"
	[[ -z $CY_USER ]] || conf_set "$f" node user "$CY_USER"
	conf_set "$f" adapter refresh 5
	conf_set "$f" resolver upstream "${ADAPTER_UPSTREAM:-$UPSTREAM4}"
}

# gn_new NAME ADAPTER MAC: enrol general node NAME behind ADAPTER.
gn_new()
{
	cy gn add "$1" --dir "$CLOUD_DIR" --adapter "$2" --mac "$3"
	[[ $(list_get "$1" .kind) == gn ]] || fail "cyphonic list: $1 is not of kind gn"
}

# start_adapter NAME [NS]: run the adapter (a cyphonicd) in NS (default
# NAME) and wait until it is registered.
start_adapter()
{
	start_node "$1" "${2:-$1}"
	wait_registered "$1"
}

# gn_status AD MAC JQ: a field of the general node with MAC in the adapter's
# `status .general_nodes`.
gn_status()
{
	status "$1" | jq -er --arg m "${2,,}" \
		"first(.general_nodes[]? | select((.mac | ascii_downcase) == \$m)) | $3"
}

# -------- DHCP clients in a GN namespace

# The udhcpc script: applies the lease (address/mask, MTU, default route;
# never /etc/resolv.conf, which the namespaces share with the host), writes
# the last lease as KEY=VALUE lines to $CY_DHCP_OUT and appends one line per
# event to $CY_DHCP_OUT.events.
UDHCPC_SCRIPT='#!/bin/sh
case $1 in
deconfig)
	ip link set "$interface" up
	ip -4 addr flush dev "$interface"
	;;
bound | renew)
	len=${mask:-$subnet}
	if ! ip -4 addr show dev "$interface" | grep -q " $ip/"; then
		ip -4 addr flush dev "$interface"
		ip addr add "$ip/$len" dev "$interface"
	fi
	[ -z "${mtu:-}" ] || ip link set dev "$interface" mtu "$mtu"
	[ -z "${router:-}" ] || ip route replace default via "${router%% *}" dev "$interface"
	printf "ip=%s\nsubnet=%s\nmask=%s\nrouter=%s\ndns=%s\ndomain=%s\nmtu=%s\nlease=%s\nserverid=%s\n" \
		"$ip" "${subnet:-}" "${mask:-}" "${router:-}" "${dns:-}" "${domain:-}" \
		"${mtu:-}" "${lease:-}" "${serverid:-}" >"$CY_DHCP_OUT.tmp"
	mv "$CY_DHCP_OUT.tmp" "$CY_DHCP_OUT"
	;;
esac
echo "$1 ${ip:-}" >>"$CY_DHCP_OUT.events"
exit 0
'

# The dhclient script: the same for isc-dhcp-client (dhclient -sf).
DHCLIENT_SCRIPT='#!/bin/sh
case $reason in
PREINIT)
	ip link set "$interface" up
	;;
BOUND | RENEW | REBIND | REBOOT)
	len=0
	for o in $(echo "$new_subnet_mask" | tr . " "); do
		case $o in
		255) len=$((len + 8)) ;; 254) len=$((len + 7)) ;; 252) len=$((len + 6)) ;;
		248) len=$((len + 5)) ;; 240) len=$((len + 4)) ;; 224) len=$((len + 3)) ;;
		192) len=$((len + 2)) ;; 128) len=$((len + 1)) ;;
		esac
	done
	if ! ip -4 addr show dev "$interface" | grep -q " $new_ip_address/"; then
		ip -4 addr flush dev "$interface"
		ip addr add "$new_ip_address/$len" dev "$interface"
	fi
	[ -z "${new_interface_mtu:-}" ] || ip link set dev "$interface" mtu "$new_interface_mtu"
	[ -z "${new_routers:-}" ] || ip route replace default via "${new_routers%% *}" dev "$interface"
	printf "ip=%s\nsubnet=%s\nmask=%s\nrouter=%s\ndns=%s\ndomain=%s\nmtu=%s\nlease=%s\nserverid=%s\n" \
		"$new_ip_address" "$new_subnet_mask" "$len" "${new_routers:-}" \
		"${new_domain_name_servers:-}" "${new_domain_name:-}" "${new_interface_mtu:-}" \
		"${new_dhcp_lease_time:-}" "${new_dhcp_server_identifier:-}" >"$CY_DHCP_OUT.tmp"
	mv "$CY_DHCP_OUT.tmp" "$CY_DHCP_OUT"
	;;
EXPIRE | FAIL | RELEASE | STOP)
	ip -4 addr flush dev "$interface"
	;;
esac
echo "$reason ${new_ip_address:-}" >>"$CY_DHCP_OUT.events"
exit 0
'

dhcp_scripts()
{
	[[ -f $RUN_DIR/udhcpc.script ]] || {
		printf '%s' "$UDHCPC_SCRIPT" >"$RUN_DIR/udhcpc.script"
		chmod +x "$RUN_DIR/udhcpc.script"
	}
	[[ -f $RUN_DIR/dhclient.conf ]] || {
		cat >"$RUN_DIR/dhclient.conf" <<-'EOC'
		timeout 20;
		retry 1;
		initial-interval 1;
		backoff-cutoff 2;
		request subnet-mask, broadcast-address, routers, domain-name-servers,
			domain-name, interface-mtu;
		EOC
	}
}

# aux_log NAME: sets AUX_LOG to the log file NAME in the log directory,
# which is dumped on failure.
AUX_LOG=
aux_log()
{
	AUX_LOG=$LOG_DIR/$1.log
	[[ " ${ALL_LOGS[*]} " == *" $AUX_LOG "* ]] || ALL_LOGS+=("$AUX_LOG")
}

# dhcp_out GN: the file holding GN's last lease (KEY=VALUE lines).
dhcp_out() { echo "$RUN_DIR/$1.dhcp"; }

# dhcp_get GN KEY: one value of GN's last lease (ip, mask, router, dns,
# domain, mtu, lease, serverid).
dhcp_get()
{
	[[ -f $(dhcp_out "$1") ]] || return 1
	sed -n "s/^$2=//p" "$(dhcp_out "$1")"
}

# dhcp6_out GN, dhcp6_get GN KEY: the same for GN's last DHCPv6 lease (ip6,
# dns6, domain6; plen from dhclient -6).
dhcp6_out() { echo "$RUN_DIR/$1.dhcp6"; }
dhcp6_get()
{
	[[ -f $(dhcp6_out "$1") ]] || return 1
	sed -n "s/^$2=//p" "$(dhcp6_out "$1")"
}

# has_lease GN: GN's DHCP client has been given an address.
has_lease() { [[ -n $(dhcp_get "$1" ip 2>/dev/null) ]]; }

# udhcpc_once GN [TRIES]: one run of busybox udhcpc in GN: up to TRIES (15)
# DISCOVERs a second apart, exits after the lease (status 0) or without one
# (status 1).
udhcpc_once()
{
	local gn=$1 tries=${2:-15} out log
	dhcp_scripts
	aux_log "udhcpc-$gn"
	log=$AUX_LOG
	out=$(dhcp_out "$gn")
	rm -f "$out" "$out.events"
	n "$gn" env CY_DHCP_OUT="$out" timeout $((tries * 2 + 10)) \
		udhcpc -i eth0 -f -q -n -t "$tries" -T 1 -A 1 -O mtu -s "$RUN_DIR/udhcpc.script" \
		>>"$log" 2>&1
}

# udhcpc_start GN: busybox udhcpc as a daemon "udhcpc-GN" in GN (it stays
# to renew: `kill -USR1` renews); waits for the lease.
udhcpc_start()
{
	local gn=$1 out
	dhcp_scripts
	out=$(dhcp_out "$gn")
	rm -f "$out" "$out.events"
	start_daemon "udhcpc-$gn" "$gn" aux env CY_DHCP_OUT="$out" \
		udhcpc -i eth0 -f -t 30 -T 1 -A 1 -O mtu -s "$RUN_DIR/udhcpc.script"
	wait_for 30 has_lease "$gn"
}

# dhclient_once GN: isc-dhcp-client in GN, one try (-1, up to 20 s); it
# returns when bound (status 0) and stays in the background to renew (its
# pid in $RUN_DIR/GN.dhclient.pid), or fails (status 2).  dhclient gives its
# script a fresh environment: each GN gets a copy with its paths set.
dhclient_once()
{
	local gn=$1 out sf=$RUN_DIR/$1.dhclient.script log
	dhcp_scripts
	aux_log "dhclient-$gn"
	log=$AUX_LOG
	out=$(dhcp_out "$gn")
	rm -f "$out" "$out.events"
	{
		echo '#!/bin/sh'
		echo "PATH=$PATH"
		echo "CY_DHCP_OUT=$out"
		printf '%s' "${DHCLIENT_SCRIPT#*$'\n'}"
	} >"$sf"
	chmod +x "$sf"
	n "$gn" timeout 40 dhclient -1 -v -cf "$RUN_DIR/dhclient.conf" \
		-sf "$sf" -pf "$RUN_DIR/$gn.dhclient.pid" \
		-lf "$RUN_DIR/$gn.dhclient.leases" eth0 >>"$log" 2>&1
}

# The dhclient -6 script: the address as dhclient-script adds it, and the
# lease as KEY=VALUE lines (ip6, plen, dns6, domain6) in $CY_DHCP_OUT.
DHCLIENT6_SCRIPT='#!/bin/sh
case $reason in
BOUND6 | RENEW6 | REBIND6 | REBOOT6)
	ip -6 addr replace "$new_ip6_address/$new_ip6_prefixlen" dev "$interface" \
		valid_lft "${new_max_life:-forever}" preferred_lft "${new_preferred_life:-forever}"
	printf "ip6=%s\nplen=%s\ndns6=%s\ndomain6=%s\n" "$new_ip6_address" "$new_ip6_prefixlen" \
		"${new_dhcp6_name_servers:-}" "${new_dhcp6_domain_search:-}" >"$CY_DHCP_OUT.tmp"
	mv "$CY_DHCP_OUT.tmp" "$CY_DHCP_OUT"
	;;
EXPIRE6 | RELEASE6 | STOP6)
	[ -z "${old_ip6_address:-}" ] || ip -6 addr del "$old_ip6_address/$old_ip6_prefixlen" dev "$interface"
	;;
esac
echo "$reason ${new_ip6_address:-}" >>"$CY_DHCP_OUT.events"
exit 0
'

# dhclient6_once GN: isc-dhcp-client -6 in GN, one try (up to 20 s); it
# returns bound (status 0) and stays in the background to renew (its pid
# in $RUN_DIR/GN.dhclient6.pid), or fails (status 2).
dhclient6_once()
{
	local gn=$1 out sf=$RUN_DIR/$1.dhclient6.script log
	aux_log "dhclient6-$gn"
	log=$AUX_LOG
	out=$(dhcp6_out "$gn")
	rm -f "$out" "$out.events"
	[[ -f $RUN_DIR/dhclient6.conf ]] || cat >"$RUN_DIR/dhclient6.conf" <<-'EOC'
	timeout 20;
	retry 1;
	initial-interval 1;
	backoff-cutoff 2;
	request dhcp6.name-servers, dhcp6.domain-search;
	EOC
	{
		echo '#!/bin/sh'
		echo "PATH=$PATH"
		echo "CY_DHCP_OUT=$out"
		printf '%s' "${DHCLIENT6_SCRIPT#*$'\n'}"
	} >"$sf"
	chmod +x "$sf"
	n "$gn" timeout 40 dhclient -6 -1 -v -cf "$RUN_DIR/dhclient6.conf" \
		-sf "$sf" -pf "$RUN_DIR/$gn.dhclient6.pid" \
		-lf "$RUN_DIR/$gn.dhclient6.leases" eth0 >>"$log" 2>&1
}

# The dhcpcd script (dhcpcd -c): dhcpcd adds the address itself; this writes
# the lease as KEY=VALUE lines (ip6, dns6, domain6) in $CY_DHCP_OUT and never
# touches /etc/resolv.conf (shared with the host).
DHCPCD_SCRIPT='#!/bin/sh
case $reason in
BOUND6 | REBOOT6 | RENEW6 | REBIND6)
	printf "ip6=%s\ndns6=%s\ndomain6=%s\n" "${new_dhcp6_ia_na1_ia_addr1:-}" \
		"${new_dhcp6_name_servers:-}" "${new_dhcp6_domain_search:-}" >"$CY_DHCP_OUT.tmp"
	mv "$CY_DHCP_OUT.tmp" "$CY_DHCP_OUT"
	;;
esac
echo "$reason ${new_dhcp6_ia_na1_ia_addr1:-}" >>"$CY_DHCP_OUT.events"
exit 0
'

# dhcpcd6_start GN: dhcpcd (IPv6 only: RS, then DHCPv6 as the RA's Managed
# flag asks) as the daemon "dhcpcd-GN" in GN; waits up to 30 s for a lease
# (status 1 without one).
has_lease6() { [[ -n $(dhcp6_get "$1" ip6 2>/dev/null) ]]; }
dhcpcd6_start()
{
	local gn=$1 out sf=$RUN_DIR/$1.dhcpcd.script conf=$RUN_DIR/dhcpcd.conf
	out=$(dhcp6_out "$gn")
	rm -f "$out" "$out.events"
	cat >"$conf" <<-'EOC'
	ipv6only
	noarp
	option dhcp6_name_servers, dhcp6_domain_search
	EOC
	{
		echo '#!/bin/sh'
		echo "PATH=$PATH"
		echo "CY_DHCP_OUT=$out"
		printf '%s' "${DHCPCD_SCRIPT#*$'\n'}"
	} >"$sf"
	chmod +x "$sf"
	# Its lease and pid files in a tmpfs of this namespace's own mount
	# namespace (ip netns exec makes one): never the host's, nor another
	# run's.
	mkdir -p /run/dhcpcd /var/lib/dhcpcd
	start_daemon "dhcpcd-$gn" "$gn" aux sh -c 'mount -t tmpfs tmpfs /run/dhcpcd &&
		mount -t tmpfs tmpfs /var/lib/dhcpcd && exec dhcpcd "$@"' dhcpcd \
		-B -d -6 -f "$conf" -c "$sf" eth0
	wait_for 30 has_lease6 "$gn"
}

# gn_addr6 GN: GN's global IPv6 address on eth0 (empty when none), and
# gn_addr6_flags GN: the flags the kernel shows on it (tentative,
# dadfailed, ...), space-separated.
gn_addr6()
{
	n "$1" ip -j -6 addr show dev eth0 scope global |
		jq -r '.[0].addr_info[0].local // empty'
}
# dad_done GN: GN's global IPv6 address is past duplicate-address
# detection (until then the kernel does not use it as a source).
dad_done() { [[ -n $(gn_addr6 "$1") && ! $(gn_addr6_flags "$1") =~ tentative ]]; }
gn_addr6_flags()
{
	n "$1" ip -j -6 addr show dev eth0 scope global |
		jq -r '.[0].addr_info[0] | [to_entries[] | select(.value == true) | .key] | join(" ")'
}

# gn_addr GN: GN's IPv4 address on eth0 (empty when none).
gn_addr()
{
	n "$1" ip -j -4 addr show dev eth0 | jq -r '.[0].addr_info[0].local // empty'
}

# ip4_int ADDR: a dotted IPv4 address as a number.
ip4_int()
{
	local IFS=. o
	read -r -a o <<<"$1"
	echo $(((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]))
}

# in_prefix ADDR NET LEN: ADDR lies in NET/LEN.
in_prefix()
{
	local x y
	x=$(ip4_int "$1")
	y=$(ip4_int "$2")
	(((x >> (32 - $3)) == (y >> (32 - $3))))
}

# gdig GN dig-args...: dig from GN at the DNS server its lease names.
gdig()
{
	local gn=$1 d
	shift
	d=$(dhcp_get "$gn" dns) || { echo "$gn: no lease" >&2; return 1; }
	n "$gn" dig @"${d%% *}" +time=5 +tries=1 "$@"
}

# arp_macs GN ADDR [COUNT]: the MACs answering ARP requests for ADDR from
# GN's eth0 (arping, COUNT (2) requests, at most 3 s), one per line, sorted,
# unique; empty output and status 1 when nobody answers.
arp_macs()
{
	local out
	out=$(n "$1" timeout 10 arping -i eth0 -r -c "${3:-2}" -w 3 "$2" 2>/dev/null) || true
	[[ -n $out ]] || return 1
	tr 'A-F' 'a-f' <<<"$out" | sort -u
}

# raw_send NS IFACE HEX...: write each HEX string as one Ethernet frame
# (header included) on IFACE in NS, through an AF_PACKET socket (perl).
RAW_SEND='
	my ($ifx, @frames) = @ARGV;
	socket(my $s, 17, 3, 0) or die "socket: $!\n";
	my $sll = pack("S n i S C C a8", 17, 0, $ifx, 0, 0, 6, "\0" x 8);
	for (@frames) {
		defined send($s, pack("H*", $_), 0, $sll) or die "send " . (length($_) / 2) . " bytes: $!\n";
	}
'
raw_send()
{
	local ns=$1 dev=$2 ifx
	shift 2
	ifx=$(n "$ns" ip -j link show dev "$dev" | jq -r '.[0].ifindex')
	n "$ns" perl -e "$RAW_SEND" "$ifx" "$@"
}

# frame6 SRCMAC DSTMAC SRC6 DST6 HLIM NH PAYLOAD_HEX CSUM_OFF: the hex of
# an Ethernet + IPv6 frame carrying the payload, its checksum (at byte
# CSUM_OFF of the payload, ICMPv6 or UDP) computed; CSUM_OFF -1: left as
# given.  ns_flood NS DEV SRCMAC SRC6 PREFIX COUNT: COUNT Neighbour
# Solicitations from DEV in NS, each for a random address in PREFIX (the
# first 48 bits, "fd00:1:2"), to its solicited-node address; SRCMAC
# "random": each from a random unicast MAC.
FRAME6_PL='
use Socket qw(inet_pton AF_INET6);
sub mac { my $m = shift; $m =~ s/://g; return pack("H*", $m); }
sub frame6 {
	my ($sm, $dm, $s, $d, $hl, $nh, $p, $co) = @_;
	my ($S, $D) = (inet_pton(AF_INET6, $s), inet_pton(AF_INET6, $d));
	if ($co >= 0) {
		substr($p, $co, 2) = "\0\0";
		my $b = $S . $D . pack("N", length $p) . pack("x3C", $nh) . $p;
		$b .= "\0" if length($b) % 2;
		my $sum = 0;
		$sum += $_ for unpack("n*", $b);
		$sum = ($sum & 0xffff) + ($sum >> 16) while $sum >> 16;
		my $c = ~$sum & 0xffff;
		$c = 0xffff if $c == 0 && $nh == 17;
		substr($p, $co, 2) = pack("n", $c);
	}
	return mac($dm) . mac($sm) . pack("n", 0x86dd) .
	       pack("NnCC", 0x60000000, length $p, $nh, $hl) . $S . $D . $p;
}
'
frame6()
{
	perl -e "$FRAME6_PL"'
		my @a = @ARGV; $a[6] = pack("H*", $a[6]);
		print unpack("H*", frame6(@a));' "$@"
}
ns_flood()
{
	local ns=$1 dev=$2 ifx
	ifx=$(n "$ns" ip -j link show dev "$dev" | jq -r '.[0].ifindex')
	n "$ns" perl -e "$FRAME6_PL"'
		my ($ifx, $sm, $src, $pfx, $count) = @ARGV;
		socket(my $s, 17, 3, 0) or die "socket: $!\n";
		my $sll = pack("S n i S C C a8", 17, 0, $ifx, 0, 0, 6, "\0" x 8);
		for (1 .. $count) {
			my @w = map { sprintf("%x", int(rand(65536))) } 1 .. 5;
			my $t = "$pfx:" . join(":", @w);
			my $tb = inet_pton(AF_INET6, $t);
			my $snm = "ff02::1:ff" . unpack("H2", substr($tb, 13, 1)) . ":" .
				  unpack("H4", substr($tb, 14, 2));
			my $dm = "33:33:ff:" . join(":", unpack("(H2)3", substr($tb, 13, 3)));
			my $m = $sm ne "random" ? $sm :
				join(":", "02", map { sprintf("%02x", int(rand(256))) } 1 .. 5);
			my $icmp = pack("CCnN", 135, 0, 0, 0) . $tb . pack("CC", 1, 1) . mac($m);
			defined send($s, frame6($m, $dm, $src, $snm, 255, 58, $icmp, 2), 0, $sll)
				or die "send: $!\n";
		}' "$ifx" "$3" "$4" "$5" "$6"
}

# web_server NAME ADDR4/LEN TEXT: a plain web server (busybox httpd, port
# 80) on the Internet serving TEXT as /index.html (also on $WEB6, an
# ADDR6/LEN, when set).  Stop it with
# `stop_daemon NAME 0 143` (httpd has no SIGTERM handler).
web_server()
{
	local name=$1 a4=$2 text=$3
	inet_host "$name" "$a4" "${WEB6:--}"
	mkdir -p "$RUN_DIR/www-$name"
	printf '%s\n' "$text" >"$RUN_DIR/www-$name/index.html"
	start_daemon "$name" "$name" aux busybox httpd -f -vv -p 80 -h "$RUN_DIR/www-$name"
	wait_for 10 n "$name" sh -c 'ss -Hltn "sport = :80" | grep -q .'
}

# require_adapter: the extra tools the adapter tests need.
require_adapter()
{
	local t
	for t in udhcpc dhclient arping dig curl perl busybox tcpdump; do
		command -v "$t" >/dev/null || fail "missing tool: $t (run scripts/deps.sh)"
	done
}

# require_adapter6: the extra tools the adapter's IPv6 tests need.
require_adapter6()
{
	local t
	for t in dhclient dhcpcd rdisc6 ndisc6; do
		command -v "$t" >/dev/null || fail "missing tool: $t (run scripts/deps.sh)"
	done
}

# ---------------------------------------------------------------- relay

# check_relay_tunnel NAME PEER TRS_HOST_ERE: check_tunnel for a tunnel
# through the TRS (path "relay", the TRS's address).
check_relay_tunnel() { check_tunnel "$1" "$2" "$3" relay; }

# check_found X Y HOW: both X's tunnel to Y and Y's to X say their path was
# found by HOW (address, punch or relay: docs/nat.md).
check_found()
{
	local x=$1 y=$2 how=$3 f
	for f in "$x $y" "$y $x"; do
		set -- $f
		[[ $(tunnel_get "$1" "$2" .found) == "$how" ]] ||
			fail "$1: the path to $2 was found by '$(tunnel_get "$1" "$2" .found)', not $how"
	done
}

# relay_pair_check MN CN MN_TRS_ERE CN_TRS_ERE [MB]: pair_check for two
# nodes that only a TRS connects: each side's one tunnel has path relay at
# the TRS address it can reach (MN at MN_TRS_ERE, CN at CN_TRS_ERE).
relay_pair_check() { PAIR_PATH=relay pair_check "$1" "$2" "$4" "$3" "${5:-10}"; }
