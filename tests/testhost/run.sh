#!/usr/bin/env bash
# Run a command on the N-node NUMA test host: a TCG VM whose root filesystem
# is this machine's own (9p, read-only, with a throw-away tmpfs overlay on
# top), so everything installed or built here (/usr, /work, /var/cache/xpv,
# this kernel's modules) is there too.  The command's output is streamed and
# its exit code is run.sh's exit code.
#
# Usage: tests/testhost/run.sh [OPTIONS] -- CMD [ARGS...]
#   --nodes N          guest NUMA nodes (default 2)
#   --cpus N           vCPUs, spread over the nodes (default 2; nodes left
#                      without a vCPU are memory-only)
#   --mem SIZE         guest RAM split evenly over the nodes (default 4G)
#   --share HOST:GUEST mount host directory HOST read-write at GUEST (repeat)
#   --env NAME=VALUE   set a variable for CMD (repeat)
#   --cwd DIR          working directory of CMD (default: the current one)
#   --timeout SECS     kill the VM after SECS (default 600): exit 124
#   --qemu PATH        QEMU binary (default: build/qemu-path, else Debian's)
#   --append STR       extra guest kernel command line
#   --qemu-arg ARG     extra QEMU argument (repeat; e.g. --qemu-arg -device
#                      --qemu-arg virtio-rng-pci)
#   --root-cache MODE  9p cache mode of the root (default loose: fast, but
#                      host changes made after the guest read a file may
#                      not be seen; "none" for full coherence)
#   --console FILE     also save the whole console log to FILE
#   --systemd          boot the root's systemd as PID 1 and run CMD as a
#                      unit of a minimal target (see below)
#   --verbose          print boot messages and timings too
#
# Inside: / is the host's / (writes go to guest RAM and vanish), /tmp /run
# /dev/shm are tmpfs, proc/sys/dev are mounted, stdin is /dev/null, PATH is
# the standard one, XPV_TESTHOST=1 and XPV_TESTHOST_NODES=N are set.
# Automatic NUMA balancing is off (numa_balancing=disable) so pages stay
# where a test put them.  A CPU stuck in the kernel for 20 s panics the test
# host (softlockup_panic), after every CPU has printed its stack, so a
# wedged kernel ends the run at once with the evidence printed, instead of
# at --timeout with none.  Exit status: CMD's, or 124 on timeout, or 125 if
# the test host itself failed (the console is printed then).
#
# With --systemd, the root's /lib/systemd/systemd is PID 1 (no longer this
# machine's container view: /.dockerenv is removed) and boots
# xpv-testhost.target: sysinit.target (journald, tmpfiles, sysctl; udev,
# storage, time sync and the like masked in /run, no generators) and a
# oneshot unit that runs CMD with its output on the console, then powers
# off at once.  CMD can start units (systemctl start pulls their
# dependencies, e.g. libvirtd); XPV_TESTHOST_INIT=systemd is set.  About
# 15 s more than the plain test host under TCG.
set -u
top=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
. "$top/tests/vm/lib.sh"

die() {
	echo "testhost: $*" >&2
	exit 125
}

# What the kernel said when the test host died or hung: from its first
# report (a soft lockup, an oops, a panic, a hung task, an RCU stall) on,
# else the console's last lines.  On a hang the vCPUs' instruction pointers
# come from QEMU too (the guest kernel has no KASLR: booted from vmlinux,
# the addresses match its System.map / /proc/kallsyms).
kernel_report() {
	local first
	first=$(grep -anm1 -E 'BUG: soft lockup|Oops|Kernel panic|kernel BUG|blocked for more than|rcu_preempt detected stalls|general protection' \
		"$VM_LOG" | cut -d: -f1)
	if [ -n "$first" ]; then
		echo "---- test host console: the kernel's report (from line $first, at most 150 lines) ----"
		tail -n +"$first" "$VM_LOG" | head -n 150 | tr -d '\r'
	else
		echo "---- test host console (last 40 lines) ----"
		tail -n 40 "$VM_LOG" | tr -d '\r'
	fi
	if _vm_alive 2>/dev/null; then
		echo "---- vCPUs (QEMU's view) ----"
		vm_qmp '{"execute":"human-monitor-command","arguments":{"command-line":"info registers -a"}}' 2>&1 |
			grep -oE 'CPU#[0-9]+|RIP=[0-9a-f]+ RFL=[0-9a-f]+' | paste -d' ' - -
	fi
}

nnodes=2 cpus=2 mem=4G timeout=600 qemu='' append='' root_cache=loose
console='' verbose=0 cwd=$PWD init=''
shares=() envs=() qemu_args=()
while [ $# -gt 0 ]; do
	case $1 in
	--nodes) nnodes=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--share) shares+=("$2"); shift 2 ;;
	--env) envs+=("$2"); shift 2 ;;
	--cwd) cwd=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--qemu) qemu=$2; shift 2 ;;
	--append) append=$2; shift 2 ;;
	--qemu-arg) qemu_args+=("$2"); shift 2 ;;
	--root-cache) root_cache=$2; shift 2 ;;
	--console) console=$2; shift 2 ;;
	--systemd) init=systemd; shift ;;
	--verbose) verbose=1; shift ;;
	--) shift; break ;;
	-h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option \`$1' (usage: run.sh [OPTIONS] -- CMD [ARGS...])" ;;
	esac
done
[ $# -gt 0 ] || die "no command (usage: run.sh [OPTIONS] -- CMD [ARGS...])"
[[ $nnodes =~ ^[1-9][0-9]*$ ]] || die "bad --nodes \`$nnodes'"
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die "bad --cpus \`$cpus'"
[[ $timeout =~ ^[1-9][0-9]*$ ]] || die "bad --timeout \`$timeout'"
case $root_cache in none | loose | mmap) ;; *) die "bad --root-cache \`$root_cache'" ;; esac
mem_mib=$(_vm_mib "$mem") || die "bad --mem \`$mem'"
per=$((mem_mib / nnodes))
[ "$per" -ge 128 ] || die "--mem $mem leaves less than 128M per node"

# node i gets vCPUs [first, first+k) with the remainder going to low nodes
node_args=()
first=0
for ((i = 0; i < nnodes; i++)); do
	k=$((cpus / nnodes + (i < cpus % nnodes ? 1 : 0)))
	if [ "$k" -gt 0 ]; then
		node_args+=(--node "${per}M:$first-$((first + k - 1))")
	else
		node_args+=(--node "${per}M:")
	fi
	first=$((first + k))
done

[ -n "$qemu" ] || qemu=$(vm_qemu) || exit 125
initrd=$("$top/tests/vm/mkinitramfs.sh" --script "$top/tests/testhost/guest-init.sh") || exit 125

# The guest's /tmp, /run and /dev/shm are its own tmpfs: a repository that
# lives there (a CI clone in /tmp, say) would be invisible, so share it.
case $top/ in
/tmp/* | /run/* | /dev/shm/*) shares=("$top:$top" "${shares[@]+"${shares[@]}"}") ;;
esac

# A soft lockup (a CPU that has not scheduled for 2 x watchdog_thresh = 20
# s) is a kernel or TCG bug, never a slow test: TCG guest time follows the
# host clock, so only a host that stalls a vCPU thread for 20 s could fake
# one.  All CPUs' backtraces come by NMI, which a CPU spinning with
# interrupts off still takes; without them a hang in CI printed only the
# stuck CPU's name (xpvd on CPU 0, the other CPU silent) and took the whole
# --timeout.
lockup_args='softlockup_panic=1 softlockup_all_cpu_backtrace=1'

t0=$(_vm_now_ms)
share_args=()
shares_file=''
for ((i = 0; i < ${#shares[@]}; i++)); do
	s=${shares[$i]}
	h=${s%%:*} g=${s#*:}
	[ "$h" != "$s" ] && [ -d "$h" ] && [ "${g#/}" != "$g" ] ||
		die "--share \`$s': want an existing HOSTDIR:/ABSOLUTE/GUESTDIR"
	h=$(cd "$h" && pwd)
	share_args+=(-virtfs "local,path=$h,mount_tag=xpvshare$i,security_model=none")
	shares_file+="xpvshare$i $g"$'\n'
done

# The control directory (the guest's /xpv/host) is complete before QEMU starts.
ctl=$(mktemp -d "${TMPDIR:-/tmp}/xpv-testhost.XXXXXX") || exit 125
trap 'vm_stop_all; rm -rf "$ctl"' EXIT
echo "ROOT_CACHE=$root_cache" >"$ctl/config"
if [ "$init" = systemd ]; then
	# Units of this machine's root that have no business in a throw-away
	# test VM (storage, time, firstboot, TPM, host services pulled early):
	# masked, so the boot is sysinit only.
	mask='systemd-udev-trigger.service systemd-udevd.service systemd-udevd-control.socket
		systemd-udevd-kernel.socket systemd-firstboot.service systemd-random-seed.service
		systemd-repart.service systemd-pcrphase.service systemd-pcrphase-sysinit.service
		systemd-machine-id-commit.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount
		sys-kernel-config.mount sys-fs-fuse-connections.mount systemd-update-utmp.service
		systemd-sysusers.service systemd-modules-load.service systemd-pstore.service
		systemd-timesyncd.service lvm2-monitor.service lvm2-lvmpolld.socket blk-availability.service
		open-iscsi.service iscsid.socket dm-event.socket systemd-ask-password-console.path
		systemd-journal-flush.service cryptsetup.target integritysetup.target veritysetup.target'
	echo "INIT=systemd SYSTEMD_MASK='$(tr -s '[:space:]' ' ' <<<"$mask")'" >>"$ctl/config"
	append="systemd.unit=xpv-testhost.target systemd.show_status=0 fstab=0 systemd.gpt_auto=0 $append"
	envs=(XPV_TESTHOST_INIT=systemd "${envs[@]+"${envs[@]}"}")
fi
printf '%s' "$shares_file" >"$ctl/shares"
{
	echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	echo "export HOME=/root TERM=dumb LANG=C.UTF-8 XPV_TESTHOST=1 XPV_TESTHOST_NODES=$nnodes"
	for e in "${envs[@]+"${envs[@]}"}"; do
		[[ $e == [A-Za-z_]*=* ]] || die "bad --env \`$e'"
		printf 'export %q\n' "$e"
	done
	printf 'cd %q 2>/dev/null || { echo "testhost: no %q in the guest, running in /" >&2; cd /; }\n' "$cwd" "$cwd"
	printf 'exec'
	printf ' %q' "$@"
	echo
} >"$ctl/cmd"

vm_start --name testhost --qemu "$qemu" --initrd "$initrd" --smp "$cpus" "${node_args[@]}" \
	--no-share --append "numa_balancing=disable $lockup_args $append" -- \
	-virtfs "local,path=$ctl,mount_tag=xpvhost,security_model=none" \
	-virtfs "local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap" \
	"${share_args[@]+"${share_args[@]}"}" "${qemu_args[@]+"${qemu_args[@]}"}" || exit 125
VM=testhost

# Stream the console: between the markers only, unless --verbose.  tail
# stops once QEMU is gone; timeout ends everything on --timeout.
timeout "$timeout" tail -n +1 -s 0.2 -f --pid="$VM_PID" "$VM_LOG" |
	awk -v verbose=$verbose '
		{ sub(/\r$/, "") }
		/XPV-TESTHOST-BEGIN$/ { sub(/XPV-TESTHOST-BEGIN$/, ""); if ($0 != "") print; on = 1; fflush(); next }
		/XPV-TESTHOST-END$/ { sub(/XPV-TESTHOST-END$/, ""); if (on && $0 != "") print; on = 0; fflush(); next }
		/^XPV-GUEST-EXIT=[0-9]+$/ { next }
		on || verbose { print; fflush() }'
tail_rc=${PIPESTATUS[0]}

rc=''
if [ -f "$ctl/rc" ]; then
	rc=$(cat "$ctl/rc")
	# QEMU is powering off; do not let vm_stop cut the last console bytes
	vm_wait_exit 30 >/dev/null 2>&1
fi
[ "$verbose" = 1 ] && echo "testhost: ${nnodes} nodes, ${cpus} vCPUs, ${mem}: $(($(_vm_now_ms) - t0)) ms with $qemu" >&2
[ -n "$console" ] && tr -d '\r' <"$VM_LOG" >"$console"
if [ -z "$rc" ]; then
	if [ "$tail_rc" = 124 ]; then
		echo "testhost: timed out after ${timeout}s" >&2
		rc=124
	else
		echo "testhost: the test host failed before the command finished" >&2
		rc=125
	fi
	kernel_report >&2
fi
vm_stop
exit "$rc"
