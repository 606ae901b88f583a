#!/bin/bash
# deps_complete.sh SRC BUILD: proves that scripts/deps.sh installs everything
# the project uses, so a fresh machine needs nothing installed by hand.
#
# What the project uses, found from the build and the scripts themselves:
#   - every header outside the tree named by the compiler's dependency
#     files (BUILD/**/*.o.d)
#   - every library the link lines name (BUILD/**/link.txt) and every
#     shared object the built programs load (ldd BUILD/bin/*)
#   - every external command the network tests, scripts/ and bench/ call,
#     and every Perl module their Perl code uses
# Each is mapped to the Debian package that ships it (dpkg -S).  A package
# is accounted for when it is listed in scripts/deps.sh, is part of a
# minimal Debian 12 root (Essential or Priority required, plus apt, git and
# make: what `make fresh` starts from), or is pulled in by one of those
# through Depends/Pre-Depends.  Anything else fails the test, named with
# the file that needs it.
set -euo pipefail

SRC=$(cd "${1:?usage: deps_complete.sh SRC BUILD}" && pwd)
BUILD=$(cd "${2:?usage: deps_complete.sh SRC BUILD}" && pwd)
tmp=$(mktemp -d)
trap '[[ -n ${DEPS_KEEP:-} ]] || rm -rf "$tmp"' EXIT

command -v dpkg-query >/dev/null || { echo "deps_complete: not a Debian system" >&2; exit 1; }

# ---- what is accounted for
mapfile -t listed < <("$SRC/scripts/deps.sh" --list)
((${#listed[@]} > 0)) || { echo "deps_complete: scripts/deps.sh --list printed nothing" >&2; exit 1; }

# Installed packages: name, essential, priority, provides, depends (one line each).
dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Essential}\t${Priority}\t${Provides}\t${Pre-Depends}, ${Depends}\n' \
	>"$tmp/db"

# The closure, in awk: roots are the listed packages and the minimal root;
# an edge a -> b for each dependency, the first installed alternative taken
# (apt's choice when it resolves the same line), virtual names through
# Provides.
awk -F'\t' -v listed="${listed[*]}" '
	function strip(d) { sub(/^ +/, "", d); sub(/[ (:].*$/, "", d); return d }
	$1 ~ /^ii/ {
		inst[$2] = 1; deps[$2] = $6
		if ($3 == "yes" || $4 == "required") root[$2] = 1
		n = split($5, pv, ",")
		for (i = 1; i <= n; i++) { v = strip(pv[i]); if (v != "") prov[v] = prov[v] " " $2 }
	}
	END {
		n = split(listed " apt git make", l, " ")
		for (i = 1; i <= n; i++) root[l[i]] = 1
		for (p in root) if (p in inst) { queue[++qn] = p; seen[p] = 1 }
		for (qi = 1; qi <= qn; qi++) {
			m = split(deps[queue[qi]], d, ",")
			for (j = 1; j <= m; j++) {
				k = split(d[j], alt, "|")
				for (a = 1; a <= k; a++) {
					c = strip(alt[a]); got = ""
					if (c in inst) got = c
					else if (c in prov) { split(prov[c], pp, " "); got = pp[1] }
					if (got != "") {
						if (!(got in seen)) { seen[got] = 1; queue[++qn] = got }
						break
					}
				}
			}
		}
		for (p in seen) print p
	}' "$tmp/db" | sort >"$tmp/allowed"

# Every listed package must exist and be installed (a typo would pass otherwise).
bad=0
for p in "${listed[@]}"; do
	if ! grep -qx "$p" "$tmp/allowed"; then
		echo "deps_complete: scripts/deps.sh lists $p, which is not installed here" >&2
		bad=1
	fi
done

# ---- what is used: "PATH<TAB>WHO" lines
: >"$tmp/used"

# Headers: the dependency files, paths outside the source and build trees.
find "$BUILD" -name '*.o.d' -print0 | xargs -0 -r cat |
	tr ' \\' '\n\n' | grep '^/' | grep -v -e "^$SRC/" -e "^$BUILD/" | sort -u |
	sed 's/$/\theader (compiler dependency files)/' >>"$tmp/used"

# Libraries on the link lines.
find "$BUILD" -name link.txt -print0 | xargs -0 -r cat | tr ' ' '\n' |
	grep -E '^/.*\.(so|a)(\.[0-9]+)*$' | sort -u |
	sed 's/$/\tlibrary (link line)/' >>"$tmp/used"

# Shared objects the built programs load.
for b in "$BUILD"/bin/*; do
	[[ -x $b && -f $b ]] || continue
	ldd "$b" 2>/dev/null | awk -v who="${b##*/}" '$3 ~ /^\// { print $3 "\tloaded by " who }
		$1 ~ /^\// { print $1 "\tloaded by " who }'
done | sort -u >>"$tmp/used"

# Commands: every word in a command position of the shell scripts.  A
# word counts when it is the first of a line or follows ; | & ( { $( or a
# keyword, or follows a wrapper that runs its argument as a command (the
# tests' `n NS`, `wait_for T`, `start_daemon NAME NS KIND`, timeout N, ip netns exec NS, env,
# setsid, nohup, stdbuf, nice, exec, command, time); it is an external
# command when it is not a shell function or builtin of these scripts and
# `type -P` finds it.
mapfile -t scripts < <(cd "$SRC" && ls tests/net/*.sh tests/deps/*.sh scripts/*.sh bench/*.sh .ci/run 2>/dev/null)
for f in "${scripts[@]}"; do
	# Join continued lines, drop case labels ("node)", "a|b)"), comments,
	# and quoted text (keeping what $( ) runs inside double quotes).
	sed -e ':a' -e '/\\$/{N;s/\\\n/ /;ba}' "$SRC/$f" |
		sed -E -e 's/^[ \t]*[A-Za-z0-9_*|.-]+\)//' -e 's/^[ \t]*#.*$//' -e 's/[ \t]#.*$//' |
		awk '{
			out = ""; q = ""; depth = 0
			for (i = 1; i <= length($0); i++) {
				c = substr($0, i, 1)
				if (q == "\047") { if (c == "\047") q = ""; continue }
				if (q == "\"" && depth == 0) {
					if (c == "\\") { i++; continue }
					if (c == "\"") { q = ""; continue }
					if (substr($0, i, 2) == "$(") { depth = 1; out = out " $("; i++ }
					continue
				}
				if (c == "\\") { i++; continue }
				if (q == "\"" && c == "(") depth++
				if (q == "\"" && c == ")") { depth--; if (depth == 0) { out = out ") "; continue } }
				if (c == "\047" && q == "") { q = c; out = out " Q "; continue }
				if (c == "\"" && q == "") { q = c; out = out " Q "; continue }
				out = out c
			}
			print out
		}' |
		awk -v who="$f" '
		BEGIN {
			split("if then else elif do while until ! time exec command env setsid nohup nice builtin", k, " ")
			for (i in k) kw[k[i]] = 1
		}
		{
			line = $0
			gsub(/\$\(|`|\|\||&&|[;|&({]/, "\n", line)
			n = split(line, seg, "\n")
			for (s = 1; s <= n; s++) {
				m = split(seg[s], w, /[ \t]+/)
				i = 1
				while (i <= m) {
					x = w[i]
					if (x == "") { i++; continue }
					if (x ~ /^[A-Za-z_][A-Za-z0-9_]*=/) { i++; continue }
					if (x in kw) { i++; continue }
					if (x == "n") { i += 2; continue }
					if (x == "wait_for") { i += 2; continue }
					if (x == "start_daemon") { i += 4; continue }
					if (x == "timeout") { i += 2; continue }
					if (x == "stdbuf") { i++; while (i <= m && w[i] ~ /^-/) i++; continue }
					if (x == "ip" && w[i + 1] == "netns" && w[i + 2] == "exec") { i += 4; continue }
					if (x ~ /^[a-z][a-z0-9._+-]*$/) print x "\t" who
					break
				}
			}
		}'
done | sort -u >"$tmp/words"
# Functions the scripts define are not commands.
cat "${scripts[@]/#/$SRC/}" | grep -oE '^[ \t]*[A-Za-z_][A-Za-z0-9_]*[ \t]*\(\)' |
	tr -d ' \t()' | sort -u >"$tmp/functions"
while IFS=$'\t' read -r w who; do
	grep -qx "$w" "$tmp/functions" && continue
	p=$(type -P "$w" 2>/dev/null) || continue
	printf '%s\tcommand %s (%s)\n' "$p" "$w" "$who"
done <"$tmp/words" | sort -u >>"$tmp/used"

# Perl modules the scripts' Perl code uses (files and inline -e programs).
grep -rhoE '\buse +[A-Z][A-Za-z0-9]*(::[A-Za-z0-9]+)*' "${scripts[@]/#/$SRC/}" "$SRC"/bench/*.pl 2>/dev/null |
	awk '{ print $2 }' | sort -u | while read -r mod; do
	p=$(perl -M"$mod" -e '($f = shift) =~ s{::}{/}g; print $INC{"$f.pm"}' "$mod" 2>/dev/null) || {
		echo "/nonexistent/perl/$mod	perl module $mod (not installed)"
		continue
	}
	printf '%s\tperl module %s\n' "$p" "$mod"
done >>"$tmp/used"

# ---- map each path to its package (dpkg's file lists, read once); with
# usrmerge a file may be listed under /lib or /usr/lib: try both, and the
# path the symlinks lead to.
for f in /var/lib/dpkg/info/*.list; do
	pkg=${f##*/}
	pkg=${pkg%.list}
	sed "s|\$|\t${pkg%%:*}|" "$f"
done >"$tmp/files"
while IFS=$'\t' read -r path who; do
	real=$(readlink -f "$path" 2>/dev/null || echo "$path")
	printf '%s\t%s\t%s\n' "$path" "$real" "$who"
done <"$tmp/used" >"$tmp/used2"
awk -F'\t' -v allowed="$tmp/allowed" '
	FILENAME == allowed { ok[$1] = 1; next }
	FILENAME ~ /files$/ { own[$1] = $2; next }
	{
		count++; pkg = ""
		for (k = 1; k <= 2 && pkg == ""; k++) {
			p = $k; q = p; sub(/^\/usr/, "", q)
			if (p in own) pkg = own[p]
			else if (q in own) pkg = own[q]
			else if (("/usr" p) in own) pkg = own["/usr" p]
		}
		if (pkg == "") { print "none\t" $1 " (" $3 ")"; next }
		if (!(pkg in ok)) print pkg "\t" $1 " (" $3 ")"
	}
	END { print "count\t" count + 0 }' "$tmp/allowed" "$tmp/files" "$tmp/used2" >"$tmp/verdict"

count=$(awk -F'\t' '$1 == "count" { print $2 }' "$tmp/verdict")
declare -A need=()
while IFS=$'\t' read -r pkg what; do
	case $pkg in
	count) ;;
	none)
		echo "deps_complete: $what belongs to no Debian package" >&2
		bad=1
		;;
	*) need[$pkg]="${need[$pkg]:-}${need[$pkg]:+; }$what" ;;
	esac
done <"$tmp/verdict"

for pkg in "${!need[@]}"; do
	echo "deps_complete: package $pkg is used but not installed by scripts/deps.sh: ${need[$pkg]}" >&2
	bad=1
done
((${count:-0} > 0)) || { echo "deps_complete: found nothing the project uses (no build in $BUILD?)" >&2; exit 1; }
echo "deps_complete: $count headers, libraries, commands and modules; $(wc -l <"$tmp/allowed") packages accounted for"
exit "$bad"
