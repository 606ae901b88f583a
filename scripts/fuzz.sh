#!/bin/sh
# Run every libFuzzer target in BUILD_DIR/fuzz/ for SECONDS each.
#
#   scripts/fuzz.sh BUILD_DIR SECONDS
#
# Prints each target's executions, their rate and its coverage (the
# edges and features libFuzzer counted at the end).
#
# Each target starts from its seeds in fuzz/corpus/NAME/, copied into a
# scratch corpus under BUILD_DIR (so the repository is never written to;
# the scratch corpus keeps growing from run to run).  Prints one line per
# target; on a crash, leak, timeout or OOM prints the input that caused it
# and how to replay it, and exits non-zero once all targets have run.
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILD_DIR SECONDS" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
secs=$2
src=$(cd "$(dirname "$0")/.." && pwd)
case $secs in
''|*[!0-9]*|0) echo "fuzz: SECONDS must be a positive number, not '$secs'" >&2; exit 2 ;;
esac
if [ ! -d "$build/fuzz" ]; then
	echo "fuzz: no $build/fuzz: configure with -DCYPHONIC_FUZZ=ON and build first" >&2
	exit 2
fi

# Recoverable UBSan reports would otherwise scroll by without failing.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"

failed=0
ran=0
for exe in "$build"/fuzz/*; do
	[ -f "$exe" ] && [ -x "$exe" ] || continue
	name=$(basename "$exe")
	corpus="$build/fuzz-corpus/$name"
	art="$build/fuzz-artifacts/$name"
	log="$build/fuzz-logs/$name.log"
	mkdir -p "$corpus" "$art" "$(dirname "$log")"
	if [ -d "$src/fuzz/corpus/$name" ]; then
		cp -R "$src/fuzz/corpus/$name/." "$corpus/"
	fi
	ran=$((ran + 1))
	rc=0
	"$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art/" "$corpus" >"$log" 2>&1 || rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	units=$(find "$corpus" -type f | wc -l)
	# Coverage: the edges (cov) and features (ft) of the final DONE line.
	cov=$(sed -n 's/.*DONE .*cov: \([0-9]*\) ft: \([0-9]*\) .*/\1 edges, \2 features/p' "$log" |
		tail -n 1)
	crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ] && [ -z "$crash" ]; then
		printf '%-16s ok     %s runs in %ss, %s exec/s, coverage %s, corpus %s\n' \
			"$name" "${runs:-?}" "$secs" "${eps:-?}" "${cov:-?}" "$units"
	else
		failed=$((failed + 1))
		printf '%-16s FAILED (exit %s) after %s runs; log %s\n' \
			"$name" "$rc" "${runs:-?}" "$log"
		if [ -n "$crash" ]; then
			printf '%-16s crash input: %s\n' "" "$crash"
			printf '%-16s replay with: %s %s\n' "" "$exe" "$crash"
		fi
		grep -m 1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error' \
			"$log" | sed "s/^/$(printf '%-16s' '') /" || true
	fi
done

if [ "$ran" -eq 0 ]; then
	echo "fuzz: no fuzz targets in $build/fuzz" >&2
	exit 2
fi
echo "fuzz: $((ran - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
