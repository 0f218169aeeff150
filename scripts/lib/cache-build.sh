# Helpers for the scripts that build third-party trees (Debian sources plus an
# xpv patch series) into $XPV_CACHE, outside the clone, once per cache key.
# Sourced by libvirt-hooks/build.sh; qemu/build.sh follows the same steps.
#
# The caller sets `cache_tool` (the name used in messages) and `cache`
# (the cache directory), and defines `die`.

# cache_lock NAME: serialize builds of NAME (two `make check` at once, or a
# suite running the build script while `make all` does) on fd 9.
cache_lock() {
	mkdir -p "$cache"
	exec 9>"$cache/$1-build.lock"
	flock 9
}

# cache_fetch_source PKG DIR: `apt-get source PKG` unpacked into DIR, with
# Debian's patches applied.  It is fetched into a temporary directory and
# moved into place only when complete, so an interrupted fetch never leaves a
# half-unpacked tree that later builds would trust.
cache_fetch_source() {
	local pkg=$1 dir=$2 tmp
	[ -f "$dir/.complete" ] && return 0
	echo "$cache_tool: fetching Debian's $pkg source (apt-get source $pkg)"
	rm -rf "$dir".tmp.*
	tmp=$(mktemp -d "$dir.tmp.XXXXXX")
	(cd "$tmp" && apt-get source -q "$pkg" >/dev/null) || {
		rm -rf "$tmp"
		die "apt-get source $pkg failed: run 'make deps' (it adds a deb-src entry)"
	}
	touch "$tmp/.complete"
	rm -rf "$dir"
	mv "$tmp" "$dir"
}

# cache_run_with_progress LOG CMD...: run CMD with its output in LOG, saying
# how far it is (ninja's [N/M]) at least once a minute, so that make check and
# CI do not look hung during a cold build.  Returns CMD's exit status.
cache_run_with_progress() {
	local log=$1 pid step
	shift
	"$@" >"$log" 2>&1 &
	pid=$!
	while ! timeout 60 tail --pid="$pid" -f /dev/null; do
		step=$(tail -c 4096 "$log" | grep -oE '\[[0-9]+/[0-9]+\]' | tail -1)
		echo "$cache_tool: building ${step:-(configuring)}"
	done
	wait "$pid"
}
