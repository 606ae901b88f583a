#!/bin/bash
# scripts/check.sh BUILD ASAN: every test, summed up.
#
#   1. the unit tests of the release build BUILD (in parallel)
#   2. every test of the ASan/UBSan build ASAN: unit tests in parallel, then
#      the network tests (label "net", RUN_SERIAL: one at a time, as root)
#
# Ends with the line "N passed, N failed"; exit status 1 when anything
# failed or a stage ran no test at all.
set -u
BUILD=${1:-build}
ASAN=${2:-build-asan}
JOBS=${JOBS:-2}

passed=0
failed=0
skipped=0
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# stage NAME CTEST_ARGS...: run ctest, count its results from its per-test lines.
stage()
{
	local name=$1 log=$logs/$1.log rc p f s
	shift
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
	echo "==== $name: $p passed, $f failed, $s skipped"
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
}

stage unit-release --test-dir "$BUILD" -L unit --output-on-failure -j"$JOBS"
stage all-asan --test-dir "$ASAN" --output-on-failure -j"$JOBS"

((skipped == 0)) || echo "($skipped skipped)"
echo "$passed passed, $failed failed"
((failed == 0))
