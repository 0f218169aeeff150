# shellcheck shell=bash
# Helpers for the scripts that build third-party sources (apt-get source plus
# an xpv patch series: qemu/build.sh, libvirt-hooks/build.sh,
# srl/numactl/build.sh) into the cache outside the clone, $XPV_CACHE (default
# /var/cache/xpv): one lock per package, a source tree unpacked atomically
# (complete or absent, marked by .complete), builds keyed by a hash of what
# they depend on, progress printed while a long step runs.
# Source it; the caller sets `prog` (its name, for messages).

cache=${XPV_CACHE:-/var/cache/xpv}

cache_die() {
	echo "$prog: $*" >&2
	exit 1
}

# cache_lock NAME: take $cache/NAME-build.lock for the rest of the script
# (fd 9), so that two builds of the same package never interleave.
cache_lock() {
	mkdir -p "$cache"
	exec 9>"$cache/$1-build.lock"
	flock 9
}

# cache_source PKG DIR: `apt-get source PKG` into DIR once.  It is fetched
# into a temporary directory and moved into place only when complete, so an
# interrupted fetch never leaves a half-unpacked tree that a later build
# would trust.
cache_source() {
	local pkg=$1 dir=$2 tmp
	[ -f "$dir/.complete" ] && return 0
	echo "$prog: fetching Debian's $pkg source (apt-get source $pkg)"
	rm -rf "$dir".tmp.*
	tmp=$(mktemp -d "$dir.tmp.XXXXXX")
	if ! (cd "$tmp" && apt-get source -q "$pkg" >/dev/null 2>&1); then
		rm -rf "$tmp"
		cache_die "apt-get source $pkg failed: run 'make deps' (it adds a deb-src entry)"
	fi
	touch "$tmp/.complete"
	rm -rf "$dir"
	mv "$tmp" "$dir"
}

# cache_run_logged LOG WHAT CMD...: run CMD with its output in LOG, saying
# "WHAT (N s)" at least once a minute while it runs, with the build tool's
# last [N/M] step when there is one, so that make check and CI do not look
# hung during a cold build; on failure its error lines (or the log's tail)
# go to stderr and the script stops.
cache_run_logged() {
	local log=$1 what=$2 pid start step
	shift 2
	start=$(date +%s)
	"$@" >"$log" 2>&1 &
	pid=$!
	while ! timeout 60 tail --pid="$pid" -f /dev/null; do
		step=$(tail -c 4096 "$log" | grep -oE '\[[0-9]+/[0-9]+\]' | tail -1)
		echo "$prog: $what ${step:+$step }($(($(date +%s) - start)) s)"
	done
	if ! wait "$pid"; then
		{ grep -E 'error|FAILED' "$log" | head -30 || true; tail -10 "$log"; } >&2
		cache_die "$what failed (log: $log)"
	fi
}
