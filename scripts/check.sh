#!/bin/bash
# scripts/check.sh BUILD ASAN [FUZZ]: every test, summed up.
#
#   1. the unit tests of the release build BUILD (in parallel)
#   2. every test of the ASan/UBSan build ASAN: unit tests in parallel, then
#      the network tests (label "net", RUN_SERIAL: one at a time, as root)
#   3. with FUZZ (a -DCYPHONIC_FUZZ=ON build): each libFuzzer target for
#      FUZZ_SMOKE_SECONDS (3) from its seeds, one test each
#
# Ends with the line "N passed, N failed"; exit status 1 when anything
# failed or a stage ran no test at all.  Under CI (CI=true) or as root, a
# skipped test is a failure too, and so is a stage that ran fewer tests
# than CTest lists for it: there, a run in which some test could not run
# must not look green (the network tests skip when not root).
set -u
BUILD=${1:-build}
ASAN=${2:-build-asan}
FUZZ=${3:-}
JOBS=${JOBS:-2}

passed=0
failed=0
skipped=0
strict=0
[[ ${CI:-} == true || $(id -u) == 0 ]] && strict=1
why=()
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# skipped_names LOG: the names of the tests CTest reported as skipped.
skipped_names()
{
	awk '/Test +#[0-9]+: / && /\*\*\*Skipped|Not Run \(Disabled\)/ {
		for (i = 1; i <= NF; i++) if ($i ~ /^#[0-9]+:$/) { printf "%s%s", sep, $(i + 1); sep = " " } }' "$1"
}

# stage NAME CTEST_ARGS...: run ctest, count its results from its per-test lines.
stage()
{
	local name=$1 log=$logs/$1.log rc p f s listed
	shift
	listed=$(ctest -N "$@" 2>/dev/null | awk '/^Total Tests:/ { print $3 }')
	echo "==== $name: ctest $*"
	ctest "$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	read -r p f s < <(awk '
		/Test +#[0-9]+: / {
			if ($0 ~ /\*\*\*Skipped|Not Run \(Disabled\)/) s++
			else if ($0 ~ / Passed +[0-9.]+ sec/) p++
			else f++
		}
		END { print p + 0, f + 0, s + 0 }' "$log")
	if ((p + f + s == 0)); then
		echo "==== $name: ran no test (ctest status $rc)"
		f=1
	elif ((rc != 0 && f == 0)); then
		echo "==== $name: ctest failed (status $rc) though no test did"
		f=1
	fi
	if ((strict)); then
		if ((s > 0)); then
			why+=("$name: $s skipped ($(skipped_names "$log"))")
			f=$((f + s))
		fi
		if ((p + f < ${listed:-0})); then
			why+=("$name: ran $((p + f)) of the ${listed} tests CTest lists")
			f=$((f + listed - p - f))
		fi
	fi
	echo "==== $name: $p passed, $f failed, $s skipped"
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
}

stage unit-release --test-dir "$BUILD" -L unit --output-on-failure -j"$JOBS"
stage all-asan --test-dir "$ASAN" --output-on-failure -j"$JOBS"

# The fuzz smoke: scripts/fuzz.sh prints "NAME ok ..." or "NAME FAILED ..."
# per target.
if [[ -n $FUZZ ]]; then
	log=$logs/fuzz.log
	echo "==== fuzz-smoke: scripts/fuzz.sh $FUZZ ${FUZZ_SMOKE_SECONDS:-3}"
	"$(dirname "$0")/fuzz.sh" "$FUZZ" "${FUZZ_SMOKE_SECONDS:-3}" 2>&1 | tee "$log"
	p=$(awk '$2 == "ok" { n++ } END { print n + 0 }' "$log")
	f=$(awk '$2 == "FAILED" { n++ } END { print n + 0 }' "$log")
	if ((p + f == 0)); then
		echo "==== fuzz-smoke: ran no target"
		f=1
	fi
	echo "==== fuzz-smoke: $p passed, $f failed"
	passed=$((passed + p))
	failed=$((failed + f))
fi

((skipped == 0)) || echo "($skipped skipped)"
for w in "${why[@]}"; do
	echo "not a pass under CI or as root: $w"
done
if [[ $(id -u) != 0 && " ${why[*]}" == *net_* ]]; then
	echo "the network tests did not run: they need root"
fi
echo "$passed passed, $failed failed"
((failed == 0))
