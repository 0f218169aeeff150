# shellcheck shell=bash
# Shared by tests/suites/61-e2e-vcpu-move, 62-e2e-migration and
# bench/xpv-latency/run.sh (sourced after tests/vm/lib.sh).  Sets $out, builds
# the guest driver and the static guest helper, provides TAP counters and
# polling helpers.  Needs $top.
out=$top/build/e2e
mkdir -p "$out"

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { # check DESCRIPTION CMD...: ok/not ok by CMD's status
	local d=$1
	shift
	if "$@"; then ok "$d"; else notok "$d"; fi
}
now() { date +%s; }

# e2e_require_qemu: prints the SKIP plan and exits 77 without a format-2
# virtio-numa-pci (map virtqueue; recognised by its x-sysfs-root property)
e2e_require_qemu() {
	local qemu
	qemu=$(vm_qemu) || { echo "1..0 # SKIP no QEMU"; exit 77; }
	if ! "$qemu" -device help 2>/dev/null | grep -q '"virtio-numa-pci"'; then
		echo "1..0 # SKIP $qemu has no virtio-numa-pci (make all builds the patched QEMU)"
		exit 77
	fi
	if ! "$qemu" -device virtio-numa-pci,help 2>/dev/null | grep -q 'x-sysfs-root'; then
		echo "1..0 # SKIP $qemu has the format-1 virtio-numa-pci (no map virtqueue, no x-sysfs-root); the driver speaks format 2"
		exit 77
	fi
	echo "# QEMU: $qemu"
}

# e2e_build: virtio_numa.ko and the static guest helper $out/xpv-e2e (libxpv.a linked in)
e2e_build() {
	if ! make -C "$top/guest-driver" >"$out/build.log" 2>&1 ||
		! make -C "$top/srl" >>"$out/build.log" 2>&1 ||
		! cc -static -O2 -Wall -Wextra -Werror -I"$top/include/uapi" -I"$top/srl/build/include" \
			-o "$out/xpv-e2e" "$top/tests/e2e/xpv-e2e.c" "$top/srl/build/libxpv.a" -lpthread \
			>>"$out/build.log" 2>&1; then
		sed 's/^/# /' "$out/build.log" | tail -30
		return 1
	fi
}

# e2e_topology DIR MEMDEV-NODES ID:CPUS...: a fake host for virtio-numa-pci's
# test-only x-sysfs-root, shaped like /sys/devices/system/node (nodeID/cpulist
# and nodeID/distance: 10 local, 21 remote; give the ids in ascending order),
# with guest node I's backend xpv-mI on the I-th node of MEMDEV-NODES
# ("0,1").  Prints the device properties that select it.
e2e_topology() {
	local dir=$1 mem=$2 spec id d j props="" i=0 m
	shift 2
	rm -rf "$dir" && mkdir -p "$dir" || return 1
	for spec; do
		id=${spec%%:*}
		mkdir "$dir/node$id" && echo "${spec#*:}" >"$dir/node$id/cpulist" || return 1
		d=
		for j; do
			if [ "${j%%:*}" = "$id" ]; then d="$d 10"; else d="$d 21"; fi
		done
		echo "${d# }" >"$dir/node$id/distance"
	done
	for m in ${mem//,/ }; do
		props="$props${props:++}xpv-m$i:$m"
		i=$((i + 1))
	done
	echo "x-sysfs-root=$dir,x-memdev-node=$props"
}

# vcpu_tid I: host thread id of vCPU I of $VM
vcpu_tid() {
	vm_qmp query-cpus-fast | python3 -c '
import json, sys
for c in json.loads(sys.stdin.readline())["return"]:
    if c["cpu-index"] == int(sys.argv[1]):
        print(c["thread-id"])' "$1"
}

# wait_file FILE SECONDS: poll for FILE (or $VM_SHARE/error) with a deadline
wait_file() {
	local end=$(($(now) + $2))
	while [ "$(now)" -lt "$end" ]; do
		[ -e "$1" ] && return 0
		if [ -n "${VM_SHARE:-}" ] && [ -e "$VM_SHARE/error" ]; then
			sed 's/^/# guest error: /' "$VM_SHARE/error"
			return 1
		fi
		kill -0 "${VM_PID:-$$}" 2>/dev/null || { echo "# QEMU exited"; return 1; }
		sleep 0.1 # polling interval of a deadline loop, not synchronisation
	done
	echo "# $1 did not appear within $2 s"
	return 1
}

# put FILE CONTENT: hand a file to the guest (renamed into place)
put() { printf '%s\n' "$2" >"$1.tmp" && mv "$1.tmp" "$1"; }

# field KEY FILE: value of the first KEY=value in FILE
field() { grep -o "\b$1=[^ ]*" "$2" 2>/dev/null | head -1 | cut -d= -f2; }

# qmp_view: a __org.xpv_query-virtio-numa reply on stdin as one line:
#   "version V homes H0,H1 vcpus C0,C1" (host node ids; - for unknown)
qmp_view() {
	python3 -c '
import json, sys
r = json.loads(sys.stdin.readline())["return"][0]
homes = ",".join(str(g["home"]) if "home" in g else "-" for g in r["guest-nodes"])
vc = ",".join(str(v["host-node"]) if "host-node" in v else "-" for v in r["vcpus"])
print("version %d homes %s vcpus %s" % (r["version"], homes, vc))'
}
