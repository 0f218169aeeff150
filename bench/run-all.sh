#!/usr/bin/env bash
# Runs every bench/*/run.sh, in order, each in its own subshell; reports
# the ones that failed and exits non-zero if any did.
here=$(cd "$(dirname "$0")" && pwd)
failed=()
for b in "$here"/*/run.sh; do
	[ -f "$b" ] || continue
	name=$(basename "$(dirname "$b")")
	echo "=== bench/$name ==="
	(bash "$b") || failed+=("$name")
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "failed: ${failed[*]}" >&2
	exit 1
fi
