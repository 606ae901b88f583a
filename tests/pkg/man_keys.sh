#!/bin/bash
# man_keys.sh BIN MAN: the man pages document everything the programs
# take.  Every key the config loaders accept (`cyphonicd -K`,
# `cyphonic-cloud -K`: "section key") is an entry of its section in
# cyphonic.conf(5) (under CLOUD.CONF or NODE.CONF); every command
# `cyphonic help` lists is in cyphonic(8); every option of the daemons'
# usage is in their page; and groff renders each page without a warning.
set -euo pipefail
BIN=${1:?usage: man_keys.sh BIN MAN} MAN=${2:?usage: man_keys.sh BIN MAN}
fails=0
bad() { echo "man_keys: $*" >&2; fails=$((fails + 1)); }

# entries FILE PART: "section key" for each entry of the part (.SH PART)
# of cyphonic.conf.5 (an entry naming two keys, "name, domain", gives two).
entries()
{
	awk -v part="$2" '
		/^\.SH / { on = ($2 == part); next }
		on && /^\.SS / { sec = $2; gsub(/[][]/, "", sec); next }
		on && /^\.TP/ { getline; if ($0 !~ /^\\fB/) next
			sub(/^\\fB/, ""); sub(/\\fR.*/, ""); n = split($0, k, /, */)
			for (i = 1; i <= n; i++) print sec, k[i] }' "$1"
}

check_keys()
{
	local prog=$1 part=$2 doc keys
	doc=$(entries "$MAN/cyphonic.conf.5" "$part")
	keys=$("$BIN/$prog" -K) || { bad "$prog -K failed"; return; }
	[[ -n $keys ]] || bad "$prog -K listed no key"
	while read -r sec key; do
		grep -qx "$sec $key" <<<"$doc" || bad "[$sec] $key ($prog) is not in cyphonic.conf(5) $part"
	done <<<"$keys"
	# and nothing documented that the loader does not take
	while read -r sec key; do
		grep -qx "$sec $key" <<<"$keys" || bad "cyphonic.conf(5) $part documents [$sec] $key, which $prog does not take"
	done <<<"$doc"
	echo "$prog: $(wc -l <<<"$keys") keys, each in cyphonic.conf(5) $part"
}
check_keys cyphonic-cloud CLOUD.CONF
check_keys cyphonicd NODE.CONF

# The commands: "  cyphonic WORD [WORD]" lines of the help, without the
# arguments in capitals or options.
n=0
while read -r cmd; do
	n=$((n + 1))
	grep -q "^\\\\fB$cmd\\b" "$MAN/cyphonic.8" || bad "'$cmd' is not in cyphonic(8)"
done < <("$BIN/cyphonic" help | sed -n 's/^  \(cyphonic\( [a-z][a-z|]*\)*\).*/\1/p' | sed 's/|.*//')
((n > 5)) || bad "cyphonic help listed $n commands"
echo "cyphonic: $n commands, each in cyphonic(8)"

# Each option of a daemon's usage is an entry of its page's OPTIONS.
for p in cyphonicd cyphonic-cloud; do
	opts=$(awk '/^\.SH / { on = ($2 == "OPTIONS"); next } on && /^\.TP/ { getline; print }' \
		"$MAN/$p.8")
	for o in $("$BIN/$p" -h 2>&1 | sed -n 's/^  \(-[a-zA-Z]\).*/\1/p'); do
		grep -q "^\.BI\? \\\\$o\b" <<<"$opts" || bad "option $o of $p is not in the OPTIONS of $p(8)"
	done
done

for f in "$MAN"/*.[58]; do
	w=$(groff -man -k -ww -z "$f" 2>&1) || true
	[[ -z $w ]] || bad "$(basename "$f"): $w"
done

((fails == 0)) || { echo "man_keys: $fails problem(s)" >&2; exit 1; }
echo "man_keys: ok"
