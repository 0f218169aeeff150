#!/usr/bin/env bash
# The test runner behind `make check`: runs every executable in tests/suites/
# (sorted by name), each with a time limit, and counts results.
#
# A suite reports either TAP lines ("ok N ...", "not ok N ...", "ok N # SKIP")
# which are counted one by one, or, printing no TAP, one result by exit code:
# 0 pass, 77 skip, anything else fail.  A suite that prints TAP and exits
# non-zero (other than 77) also counts one failure, so a crash after its last
# "ok" is not lost.  Output of each suite goes to build/test-logs/NAME.log.
#
# Usage: tests/run.sh [SUITE-GLOB]     (env XPV_TEST_TIMEOUT, default 900 s)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
logdir=$top/build/test-logs
mkdir -p "$logdir"
pattern=${1:-*}
limit=${XPV_TEST_TIMEOUT:-900}
passed=0 failed=0 skipped=0
failures=()

for suite in "$top"/tests/suites/$pattern; do
	[ -x "$suite" ] && [ -f "$suite" ] || continue
	name=$(basename "$suite")
	log=$logdir/$name.log
	start=$(date +%s)
	timeout --kill-after=30 "$limit" "$suite" >"$log" 2>&1 </dev/null
	rc=$?
	secs=$(($(date +%s) - start))
	tap_ok=$(grep -cE '^ok [0-9]+' "$log" | head -1)
	tap_skip=$(grep -cE '^ok [0-9]+.*# *(SKIP|skip)' "$log")
	tap_fail=$(grep -cE '^not ok [0-9]+' "$log")
	if [ $((tap_ok + tap_fail)) -gt 0 ]; then
		passed=$((passed + tap_ok - tap_skip))
		skipped=$((skipped + tap_skip))
		failed=$((failed + tap_fail))
		if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
			failed=$((failed + 1))
			tap_fail=$((tap_fail + 1))
			echo "   $name: exited $rc after its TAP output" >>"$log"
		fi
		status="$((tap_ok - tap_skip)) passed, $tap_fail failed, $tap_skip skipped"
		[ "$tap_fail" -gt 0 ] && failures+=("$name")
	elif [ "$rc" = 0 ]; then
		passed=$((passed + 1)); status=PASS
	elif [ "$rc" = 77 ]; then
		skipped=$((skipped + 1)); status=SKIP
	else
		failed=$((failed + 1)); status="FAIL (exit $rc)"; failures+=("$name")
	fi
	printf '%-40s %s (%ss)\n' "$name" "$status" "$secs"
	grep -E '^(not ok|ok .*# *SKIP|# )' "$log" | head -20 | sed 's/^/    /'
done

for f in "${failures[@]+"${failures[@]}"}"; do
	echo "---- last lines of $f ----"
	tail -25 "$logdir/$f.log"
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
