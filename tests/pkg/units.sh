#!/bin/bash
# units.sh SRC BIN: the systemd units pass `systemd-analyze verify` (with
# ExecStart pointed at this build's programs, as an installation fills in
# its own sbin) and `systemd-analyze security` rates each sandbox; an
# exposure above 4.0 ("OK" is below 5) fails.
set -euo pipefail
SRC=${1:?usage: units.sh SRC BIN} BIN=$(cd "${2:?usage: units.sh SRC BIN}" && pwd)
MAX=4.0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
command -v systemd-analyze >/dev/null || { echo "units: no systemd-analyze (scripts/deps.sh)" >&2; exit 1; }
fails=0
for u in "$SRC"/dist/systemd/*.service.in; do
	name=$(basename "$u" .in)
	# an instance of the template, as `systemctl enable cyphonicd@alpha` makes
	[[ $name != *@.service ]] || name=${name/@./@alpha.}
	sed "s|@SBINDIR@|$BIN|g" "$u" >"$tmp/$name"
	if ! out=$(cd "$tmp" && systemd-analyze verify --man=no "./$name" 2>&1) || [[ -n $out ]]; then
		echo "units: $name: systemd-analyze verify: $out" >&2
		fails=$((fails + 1))
	fi
	rating=$(cd "$tmp" && systemd-analyze security --offline=true "./$name" 2>&1 |
		sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) \(.*\)/\1 \2/p')
	[[ -n $rating ]] || { echo "units: $name: no rating from systemd-analyze security" >&2; fails=$((fails + 1)); continue; }
	echo "$name: verify clean, exposure $rating"
	awk -v r="${rating%% *}" -v m="$MAX" 'BEGIN { exit !(r <= m) }' ||
		{ echo "units: $name: exposure ${rating%% *} above $MAX" >&2; fails=$((fails + 1)); }
done
((fails == 0)) || exit 1
echo "units: ok"
