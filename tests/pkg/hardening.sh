#!/bin/bash
# hardening.sh BIN [fortify]: each program we install is built as Debian
# hardens its packages: a position-independent executable, its GOT bound
# at start and read-only (RELRO, BIND_NOW), a stack that is not
# executable, stack canaries; with "fortify", libc's checked calls
# (_FORTIFY_SOURCE; not in a Debug or sanitizer build).
set -euo pipefail
BIN=${1:?usage: hardening.sh BIN [fortify]} FORTIFY=${2:-}
fails=0
bad() { echo "hardening: $*" >&2; fails=$((fails + 1)); }
for p in cyphonic cyphonicd cyphonic-cloud; do
	f=$BIN/$p before=$fails
	[[ -x $f ]] || { bad "$f: no such program"; continue; }
	hdr=$(readelf -hW "$f") dyn=$(readelf -dW "$f") seg=$(readelf -lW "$f")
	syms=$(nm -D --undefined-only "$f" | awk '{ print $2 }')
	grep -Eq 'Type:[[:space:]]+DYN' <<<"$hdr" && grep -Eq 'FLAGS_1.*PIE' <<<"$dyn" ||
		bad "$p is not a PIE"
	grep -Eq 'GNU_RELRO' <<<"$seg" || bad "$p has no RELRO segment"
	grep -Eq '\(FLAGS\).*BIND_NOW|FLAGS_1.*NOW' <<<"$dyn" || bad "$p binds lazily (no BIND_NOW)"
	grep -E 'GNU_STACK' <<<"$seg" | grep -Eq 'RWE' && bad "$p has an executable stack"
	grep -Eq '^__stack_chk_fail' <<<"$syms" || bad "$p has no stack canaries"
	if [[ $FORTIFY == fortify ]]; then
		n=$(grep -Ec '^__[a-z_]+_chk(@|$)' <<<"$syms" || true)
		((n > 0)) || bad "$p calls none of libc's checked functions (_FORTIFY_SOURCE)"
	fi
	((fails == before)) || continue
	echo "$p: PIE, RELRO, BIND_NOW, NX stack, canaries${FORTIFY:+, $(grep -Ec '^__[a-z_]+_chk(@|$)' <<<"$syms") fortified calls}"
done
((fails == 0))
