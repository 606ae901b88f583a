#!/bin/bash
# A bad config file is rejected with file, line and reason, and nothing is
# started: both daemons, each given an unknown key, a bad value and a syntax
# error, exit with status 1, name FILE:LINE and the reason on stderr, and
# leave no listening socket, TUN device or control socket behind.
#
#   ns t (alone, lo only; a fresh one per case)
#   cyphonicd -c bad.conf      cyphonic-cloud -c bad.conf
source "$(dirname "$0")/lib.sh"
require

cloud_new
node_new a
W=$RUN_DIR/bad
mkdir -p "$W"
NODE_SOCK=$RUN_DIR/a.sock
CLOUD_SOCK=$(awk -F' *= *' '$1 == "control" { print $2 }' "$CLOUD_DIR/cloud.conf")

# line_of FILE ERE: number of the first line matching ERE.
line_of() { grep -nE -m1 -- "$2" "$1" | cut -d: -f1; }

# insert_after FILE LINE TEXT
insert_after() { sed -i "$2a\\$3" "$1"; }

ncase=0
nbad=0
# bad MSG: record a failed case and go on with the next one.
bad()
{
	printf '%sFAIL:%s %s\n' "$C_ERR" "$C_ERST" "$*" >&2
	nbad=$((nbad + 1))
}

# run_bad KIND FILE LINE REASON_ERE: the daemon must refuse FILE.
run_bad()
{
	local kind=$1 f=$2 line=$3 why=$4 bin rc=0 err=$2.stderr ns=t$ncase c
	c="$kind $(basename "$f")"
	ncase=$((ncase + 1))
	case $kind in
	node) bin=$CYPHONIC_BIN/cyphonicd ;;
	cloud) bin=$CYPHONIC_BIN/cyphonic-cloud ;;
	esac
	ns_new "$ns"
	n "$ns" timeout 10 "$bin" -c "$f" </dev/null >/dev/null 2>"$err" || rc=$?
	sed 's/^/    stderr: /' "$err"
	sanitizer_clean "$err" || { bad "$c: sanitizer report"; return; }
	[[ $rc == 1 ]] || { bad "$c: exit status $rc, not 1"; return; }
	grep -qF -- "$f:$line: " "$err" || { bad "$c: stderr does not name $f:$line"; return; }
	grep -Eqi -- "$why" "$err" || { bad "$c: stderr does not say /$why/"; return; }
	[[ -z $(n "$ns" ss -Hantu) ]] || { bad "$c: left sockets: $(n "$ns" ss -Hantu)"; return; }
	[[ $(n "$ns" ip -o link show | wc -l) == 1 ]] ||
		{ bad "$c: created a link: $(n "$ns" ip -o link show)"; return; }
	[[ ! -e $NODE_SOCK && ! -e $CLOUD_SOCK ]] || { bad "$c: control socket created"; return; }
	ok "$c: exit 1, names $(basename "$f"):$line"
}

pretty "cyphonicd"
f=$W/node-unknown.conf
cp "$(node_conf a)" "$f"
l=$(line_of "$f" '^\[node\]')
insert_after "$f" "$l" 'tunnel_mode = fast'
run_bad node "$f" $((l + 1)) 'unknown.*tunnel_mode|tunnel_mode.*unknown'

f=$W/node-value.conf
cp "$(node_conf a)" "$f"
conf_set "$f" node port 99999
run_bad node "$f" "$(line_of "$f" '^port *=')" 'port'

f=$W/node-value2.conf
cp "$(node_conf a)" "$f"
conf_set "$f" node cloud 'not-an-address'
run_bad node "$f" "$(line_of "$f" '^cloud *=')" 'cloud|address'

f=$W/node-syntax.conf
cp "$(node_conf a)" "$f"
l=$(line_of "$f" '^keepalive')
insert_after "$f" "$l" 'this line is not ini'
run_bad node "$f" $((l + 1)) 'syntax|expected'

pretty "cyphonic-cloud"
f=$W/cloud-unknown.conf
cp "$CLOUD_DIR/cloud.conf" "$f"
l=$(line_of "$f" '^\[cloud\]')
insert_after "$f" "$l" 'colour = blue'
run_bad cloud "$f" $((l + 1)) 'unknown.*colour|colour.*unknown'

f=$W/cloud-value.conf
cp "$CLOUD_DIR/cloud.conf" "$f"
conf_set "$f" as key_lifetime soon
run_bad cloud "$f" "$(line_of "$f" '^key_lifetime *=')" 'key_lifetime'

f=$W/cloud-value2.conf
cp "$CLOUD_DIR/cloud.conf" "$f"
conf_set "$f" nms listen '[::]:70000'
run_bad cloud "$f" "$(line_of "$f" '^listen *= *\[::\]:70000')" 'listen|port|address'

f=$W/cloud-syntax.conf
cp "$CLOUD_DIR/cloud.conf" "$f"
l=$(line_of "$f" '^\[as\]')
sed -i "${l}s/.*/[as/" "$f"
run_bad cloud "$f" "$l" 'syntax|expected|section'

pretty "a file that does not exist"
for kind in node cloud; do
	rc=0
	case $kind in node) bin=$CYPHONIC_BIN/cyphonicd ;; cloud) bin=$CYPHONIC_BIN/cyphonic-cloud ;; esac
	timeout 10 "$bin" -c "$W/missing.conf" 2>"$W/missing.err" </dev/null >/dev/null || rc=$?
	sed 's/^/    stderr: /' "$W/missing.err"
	if [[ $rc != 1 ]]; then
		bad "$kind: missing config: exit $rc, not 1"
	elif ! grep -qF "$W/missing.conf" "$W/missing.err"; then
		bad "$kind: missing config not named"
	elif ! sanitizer_clean "$W/missing.err"; then
		bad "$kind: sanitizer report"
	else
		ok "$kind: missing file: exit 1, named"
	fi
done

((nbad == 0)) || fail "$nbad of $((ncase + 2)) cases failed"
ok "all $((ncase + 2)) bad configs refused with file, line and reason"
