#!/bin/sh
# scripts/mkman.sh README OUTDIR VERSION: the man pages cyphonic(8) and
# cyphonic.conf(5), made from README.md's tables ("### Commands",
# "### Ports", "### cloud.conf", "### node.conf"), so that the README and
# the pages never say two different things; cyphonicd(8) and
# cyphonic-cloud(8) are docs/man/*.8.in with the version filled in.
# Run by the build (CMake) into BUILD/man.
set -eu
readme=$1 out=$2 version=$3
src=$(dirname "$0")/../docs/man
mkdir -p "$out"
US=$(printf '\037')
date=$(date -u -r "$readme" +%Y-%m-%d 2>/dev/null || date -u +%Y-%m-%d)

# table HEADING: the rows of the table under "### HEADING", one per line,
# cells separated by the unit separator (\037: not white space, so an
# empty cell stays a cell for `read`), leading and trailing pipes gone (a
# \| is a pipe in a cell).
table()
{
	awk -v h="### $1" '
		$0 == h { on = 1; next }
		on && /^#/ { exit }
		on && /^\|/ && !/^\|---/ {
			if (!hdr++) next
			gsub(/\\\|/, "\001")              # an escaped pipe is text
			sub(/^\| */, ""); sub(/ *\|$/, ""); gsub(/ *\| */, "\037")
			gsub(/\001/, "|"); print
		}' "$readme"
}

# roff: Markdown of a cell to roff: backslashes escaped, hyphens as
# minus signs (an option copied from the page must work), `code` in
# bold, dashes and signs as roff's glyphs, a leading dot or quote
# protected.
roff()
{
	sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e 's/`\([^`]*\)`/\\fB\1\\fR/g' -e 's/–/\\(en/g' -e 's/—/\\(em/g' \
		-e 's/≥/\\(>=/g' -e 's/≤/\\(<=/g' -e 's/×/\\(mu/g' -e 's/→/\\(->/g' \
		-e "s/^\\([.']\\)/\\\\\\&\\1/"
}

{
	cat <<EOF
.TH CYPHONIC 8 "$date" "cyphonic $version" "CYPHONIC"
.SH NAME
cyphonic \- enrol and manage the nodes of a CYPHONIC cloud, and ask running daemons
.SH SYNOPSIS
.B cyphonic
.I COMMAND
.RI [ ARGS ]
.SH DESCRIPTION
CYPHONIC is a zero-trust overlay network: every device gets a stable name
(an FQDN) and stable virtual IPv4 and IPv6 addresses, authenticates to a
cloud (AS, NMS, TRS, run by
.BR cyphonic-cloud (8)),
and talks to its peers end to end, encrypted, across NAPT and IPv4/IPv6
.RB ( cyphonicd (8)).
.B cyphonic
creates a cloud, enrols nodes, adapters and general nodes, revokes them,
and asks the running daemons for their status and counters.
.SH COMMANDS
EOF
	table Commands | while IFS="$US" read -r cmd what; do
		printf '.TP\n%s\n%s\n' "$(printf '%s' "$cmd" | roff)" "$(printf '%s' "$what" | roff)"
	done
	cat <<EOF
.SH PORTS
EOF
	table Ports | while IFS="$US" read -r what port; do
		printf '.TP\n%s\n%s\n' "$(printf '%s' "$port" | roff)" "$(printf '%s' "$what" | roff)"
	done
	cat <<EOF
.SH EXIT STATUS
0 done, 1 failed, 2 usage error.
.SH SEE ALSO
.BR cyphonicd (8),
.BR cyphonic-cloud (8),
.BR cyphonic.conf (5)
EOF
} >"$out/cyphonic.8"

{
	cat <<EOF
.TH CYPHONIC.CONF 5 "$date" "cyphonic $version" "CYPHONIC"
.SH NAME
cyphonic.conf \- the configuration files of cyphonic-cloud (cloud.conf) and cyphonicd (NAME.conf)
.SH DESCRIPTION
INI files: \fB[section]\fR headers, \fBkey = value\fR lines, \fB#\fR or
\fB;\fR comments; a value continues on the next lines when they are
indented (PEM certificates and keys sit in a node's file so).  An unknown
section or key, a duplicate, a value out of range or a missing required
key is refused with \fIFILE\fB:\fILINE\fB: \fRwhat is wrong, and the
daemon does not start.  Files that hold a secret must be readable by
their owner only.
.B cyphonic init
writes cloud.conf,
.B cyphonic node add
and
.B cyphonic adapter add
a node's file.
EOF
	for f in cloud.conf node.conf; do
		printf '.SH %s\n' "$(echo "$f" | tr a-z A-Z)"
		[ "$f" = cloud.conf ] && d=cyphonic-cloud || d=cyphonicd
		printf 'Read by \\fB%s -c\\fR \\fIFILE\\fR.\n' "$d"
		sec=
		table "$f" | while IFS="$US" read -r s key def what; do
			if [ "$s" != "$sec" ]; then
				printf '.SS [%s]\n' "$s"
				sec=$s
			fi
			printf '.TP\n\\fB%s\\fR' "$(printf '%s' "$key" | roff)"
			case $def in
			'') ;;
			'('*) printf ' %s' "$(printf '%s' "$def" | roff)" ;;
			*) printf ' (default: %s)' "$(printf '%s' "$def" | roff)" ;;
			esac
			# (an empty meaning: an empty body, not a blank line)
			w=$(printf '%s' "$what" | roff)
			printf '\n%s\n' "${w:-\\&}"
		done
	done
	cat <<EOF
.SH SEE ALSO
.BR cyphonic (8),
.BR cyphonicd (8),
.BR cyphonic-cloud (8)
EOF
} >"$out/cyphonic.conf.5"

for p in cyphonicd.8 cyphonic-cloud.8; do
	sed -e "s/@VERSION@/$version/g" -e "s/@DATE@/$date/g" "$src/$p.in" >"$out/$p"
done
