# shellcheck shell=bash
# xpv VM test harness: boot TCG guests from a test script and talk to them.
# Source it from bash:  . "$top/tests/vm/lib.sh"   (docs/testing.md has examples)
#
#   vm_start [OPTIONS] [-- QEMU-ARGS...]   boot a guest in the background
#   vm_wait_for ERE [TIMEOUT]              wait for a console line, print it
#   vm_mark                                later vm_wait_for look only past here
#   vm_qmp CMD-OR-JSON...                  QMP round trip, prints the replies
#   vm_wait_exit [TIMEOUT]                 wait for the guest script, return its rc
#   vm_stop / vm_stop_all                  kill QEMU, remove the VM's temp dir
#   vm_run [--timeout S] [OPTIONS]         start + wait_exit + print console + stop
#   vm_qemu                                print the QEMU binary that will be used
#
# Several VMs can run at once: every function works on the VM named by $VM
# (default "vm"); `VM=b vm_qmp query-status` talks to VM b.  vm_start --name N
# is the same as VM=N vm_start.  Call vm_start in the current shell, not in
# $(...) or a pipeline: QEMU must stay a child of the test script.
#
# Environment: XPV_QEMU (QEMU binary), XPV_VM_KERNEL (guest kernel image),
# KVER (guest kernel version), XPV_VM_KEEP=1 (keep temp dirs and say where),
# XPV_VM_LOGDIR (vm_stop saves each console log there),
# XPV_VM_TIMEOUT (vm_run / vm_wait_exit default, 300 s).

_vm_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_vm_top=$(cd "$_vm_lib/../.." && pwd)
_vm_root=
_vm_py=$(command -v /usr/bin/python3 || command -v python3 || echo python3)

_vm_err() {
	echo "# ${FUNCNAME[1]}: $*" >&2
}

_vm_now_ms() {
	local t
	t=$(date +%s%N)
	echo $((t / 1000000))
}

# the VM's state directory (pid, console.log, qmp.sock, qemu.out, cmdline)
_vm_dir() {
	echo "$_vm_root/${VM:-vm}"
}

_vm_pid() {
	cat "$(_vm_dir)/pid" 2>/dev/null
}

_vm_alive() {
	local pid
	pid=$(_vm_pid) || return 1
	[ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
	# a zombie has exited too
	[ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" != Z ]
}

# last lines of the console and QEMU's own output, as TAP comments
_vm_tail() {
	local d
	d=$(_vm_dir)
	echo "# --- last console lines of VM ${VM:-vm} ---" >&2
	tail -n "${1:-25}" "$d/console.log" 2>/dev/null | tr -d '\r' | sed 's/^/#   /' >&2
	if [ -s "$d/qemu.out" ]; then
		echo "# --- QEMU stderr ---" >&2
		tail -n 10 "$d/qemu.out" | sed 's/^/#   /' >&2
	fi
}

# sizes like 512M, 2G, 1024 (MiB) -> MiB
_vm_mib() {
	case $1 in
	*[gG]) echo $((${1%[gG]} * 1024)) ;;
	*[mM]) echo $((${1%[mM]})) ;;
	*[!0-9]* | '') return 1 ;;
	*) echo "$1" ;;
	esac
}

vm_qemu() {
	local p
	if [ -n "${XPV_QEMU:-}" ]; then
		echo "$XPV_QEMU"
	elif [ -f "$_vm_top/build/qemu-path" ]; then
		p=$(cat "$_vm_top/build/qemu-path")/qemu-system-x86_64
		[ -x "$p" ] || { _vm_err "build/qemu-path names $p, which is missing"; return 1; }
		echo "$p"
	elif [ -x /usr/bin/qemu-system-x86_64 ]; then
		echo /usr/bin/qemu-system-x86_64
	else
		_vm_err "no QEMU: run make all, or install qemu-system-x86, or set XPV_QEMU"
		return 1
	fi
}

# vm_kernel: the guest kernel to boot.  $XPV_VM_KERNEL if set, else the ELF
# vmlinux extracted (once, cached in build/vm-cache) from /boot/vmlinuz-$KVER
# and booted through PVH, which saves the seconds an xz bzImage spends
# decompressing itself under TCG; the bzImage if extraction fails.
vm_kernel() {
	local kver=${KVER:-} bz sum out
	if [ -n "${XPV_VM_KERNEL:-}" ]; then
		echo "$XPV_VM_KERNEL"
		return
	fi
	[ -n "$kver" ] || kver=$(ls /lib/modules 2>/dev/null | grep -E '^6\.1\.[0-9]+-[0-9]+-amd64$' | sort -V | tail -1)
	bz=/boot/vmlinuz-$kver
	if [ ! -r "$bz" ]; then
		_vm_err "no guest kernel $bz (install linux-image-amd64)"
		return 1
	fi
	sum=$(sha256sum "$bz" | cut -c1-16)
	out=${BUILD:-$_vm_top/build}/vm-cache/vmlinux-$kver-$sum
	if [ ! -s "$out" ]; then
		mkdir -p "$(dirname "$out")"
		if ! "$_vm_py" "$_vm_lib/extract-vmlinux.py" "$bz" "$out" >&2; then
			echo "$bz"
			return
		fi
	fi
	echo "$out"
}

# vm_start [OPTIONS] [-- EXTRA-QEMU-ARGS...]
#   --name NAME         VM name (default $VM or "vm")
#   --qemu PATH         QEMU binary (default: see vm_qemu)
#   --kernel PATH       guest kernel (default: see vm_kernel)
#   --initrd PATH       initramfs; or let vm_start build one with:
#   --script FILE       guest script, plus any of --bin/--file/--module/--modname
#                       (passed to tests/vm/mkinitramfs.sh)
#   --smp N             vCPUs (default: 1, or one per NUMA node)
#   --mem SIZE          guest RAM, e.g. 1G, 512M (default 1G, or the sum of --node)
#   --numa N            N guest NUMA nodes splitting --mem and the vCPUs evenly
#   --node SIZE[:CPUS[:HOSTNODES]]  one guest node (repeat): its memory backend
#                       size, its vCPUs ("0-1", "0,2", empty = memory-only), and
#                       optionally host nodes its backend is bound to (policy=bind)
#   --append STR        extra kernel command line
#   --machine TYPE      machine type (default pc)
#   --start-timeout S   how long QEMU may take to open its QMP socket (30)
#   --no-share          no host<->guest directory (see VM_SHARE)
# Sets VM_DIR, VM_LOG (console log), VM_QMP_SOCK, VM_PID and VM_SHARE: a host
# directory the guest /init mounts at /xpv/host (9p, uncached), e.g. for
# files the host drops to let a waiting guest script go on.
vm_start() {
	local name=${VM:-vm} qemu='' kernel='' initrd='' script='' smp='' mem='' numa=0
	local append='' machine=pc start_timeout=30 mk=() nodes=() extra=() a host_share=1
	while [ $# -gt 0 ]; do
		case $1 in
		--name) name=$2; shift 2 ;;
		--qemu) qemu=$2; shift 2 ;;
		--kernel) kernel=$2; shift 2 ;;
		--initrd) initrd=$2; shift 2 ;;
		--script) script=$2; shift 2 ;;
		--bin | --file | --module | --modname) mk+=("$1" "$2"); shift 2 ;;
		--smp) smp=$2; shift 2 ;;
		--mem) mem=$2; shift 2 ;;
		--numa) numa=$2; shift 2 ;;
		--node) nodes+=("$2"); shift 2 ;;
		--append) append=$2; shift 2 ;;
		--machine) machine=$2; shift 2 ;;
		--start-timeout) start_timeout=$2; shift 2 ;;
		--no-share) host_share=0; shift ;;
		--) shift; extra=("$@"); break ;;
		*) _vm_err "unknown option \`$1'"; return 2 ;;
		esac
	done
	local VM=$name
	if [ -n "$(_vm_pid 2>/dev/null)" ] && _vm_alive; then
		_vm_err "VM $name is already running"
		return 1
	fi
	[ -n "$qemu" ] || qemu=$(vm_qemu) || return 1
	[ -x "$qemu" ] || { _vm_err "QEMU \`$qemu' is not executable"; return 1; }
	[ -n "$kernel" ] || kernel=$(vm_kernel) || return 1
	if [ -z "$initrd" ]; then
		[ -n "$script" ] || { _vm_err "need --initrd or --script"; return 2; }
		initrd=$("$_vm_lib/mkinitramfs.sh" --script "$script" "${mk[@]+"${mk[@]}"}") || return 1
	elif [ -n "$script" ] || [ ${#mk[@]} -gt 0 ]; then
		_vm_err "--script/--bin/--file/--module/--modname build an initramfs; not with --initrd"
		return 2
	fi

	# NUMA layout: --numa N is shorthand for N equal --node entries
	local mem_mib=0 i n s cpus hostnodes per first last
	if [ "$numa" -gt 0 ] && [ ${#nodes[@]} -gt 0 ]; then
		_vm_err "use either --numa or --node"
		return 2
	fi
	if [ "$numa" -gt 0 ]; then
		mem_mib=$(_vm_mib "${mem:-1G}") || { _vm_err "bad --mem \`$mem'"; return 2; }
		[ -n "$smp" ] || smp=$numa
		if [ $((mem_mib % numa)) != 0 ] || [ $((smp % numa)) != 0 ]; then
			_vm_err "--mem ${mem_mib}M and --smp $smp must divide evenly over $numa nodes (or use --node)"
			return 2
		fi
		per=$((smp / numa))
		for ((i = 0; i < numa; i++)); do
			first=$((i * per)) last=$((i * per + per - 1))
			nodes+=("$((mem_mib / numa))M:$first-$last")
		done
	fi
	local numa_args=()
	if [ ${#nodes[@]} -gt 0 ]; then
		local sum=0 maxcpu=-1
		for ((i = 0; i < ${#nodes[@]}; i++)); do
			IFS=: read -r s cpus hostnodes <<<"${nodes[$i]}"
			n=$(_vm_mib "$s") || { _vm_err "bad node size \`$s' in \`${nodes[$i]}'"; return 2; }
			sum=$((sum + n))
			a="memory-backend-ram,id=xpv-m$i,size=${n}M"
			[ -z "$hostnodes" ] || a+=",policy=bind,host-nodes=$hostnodes"
			numa_args+=(-object "$a")
			a="node,nodeid=$i,memdev=xpv-m$i"
			local c
			for c in ${cpus//,/ }; do
				a+=",cpus=$c"
				c=${c##*-}
				[ "$c" -gt "$maxcpu" ] && maxcpu=$c
			done
			numa_args+=(-numa "$a")
		done
		if [ -n "$mem" ] && [ "$(_vm_mib "$mem")" != "$sum" ]; then
			_vm_err "--mem $mem differs from the sum of the node sizes (${sum}M)"
			return 2
		fi
		mem_mib=$sum
		[ -n "$smp" ] || smp=$((maxcpu + 1))
		[ "$smp" -gt 0 ] || smp=1
	else
		mem_mib=$(_vm_mib "${mem:-1G}") || { _vm_err "bad --mem \`$mem'"; return 2; }
	fi
	[ -n "$smp" ] || smp=1

	if [ -z "$_vm_root" ]; then
		_vm_root=$(mktemp -d "${TMPDIR:-/tmp}/xpv-vm.XXXXXX") || return 1
	fi
	local d=$_vm_root/$name
	rm -rf "$d"
	mkdir -p "$d"
	: >"$d/console.log"
	local share=()
	if [ "$host_share" = 1 ]; then
		mkdir -p "$d/share"
		share=(-virtfs "local,path=$d/share,mount_tag=xpvhost,security_model=none")
	fi
	local fw=()
	for a in /usr/share/qemu /usr/share/seabios /usr/lib/ipxe/qemu; do
		[ -d "$a" ] && fw+=(-L "$a")
	done
	# no_timer_check: on a loaded host, TCG delivers too few 8254 ticks
	# during the kernel's IO-APIC timer check, which then panics at boot
	# ("IO-APIC + timer doesn't work!", seen here at load 20); cloud images
	# boot with it for the same reason.
	local cmd=("$qemu" -nodefaults -no-user-config -name "xpv-$name"
		-machine "$machine" -accel tcg,thread=multi -cpu max
		-smp "$smp" -m "${mem_mib}M" "${numa_args[@]+"${numa_args[@]}"}"
		-kernel "$kernel" -initrd "$initrd"
		-append "console=ttyS0 quiet panic=-1 no_timer_check $append"
		-display none -chardev "file,id=xpv-con,path=$d/console.log" -serial chardev:xpv-con
		-qmp "unix:$d/qmp.sock,server=on,wait=off" -no-reboot
		"${share[@]+"${share[@]}"}" "${fw[@]+"${fw[@]}"}" "${extra[@]+"${extra[@]}"}")
	printf '%q ' "${cmd[@]}" >"$d/cmdline"
	echo >>"$d/cmdline"
	# QEMU dies with this shell even when the shell is SIGKILLed.
	setpriv --pdeathsig KILL -- "${cmd[@]}" </dev/null >"$d/qemu.out" 2>&1 &
	echo $! >"$d/pid"
	# shellcheck disable=SC2034 # for the caller
	VM_DIR=$d VM_LOG=$d/console.log VM_QMP_SOCK=$d/qmp.sock VM_PID=$!
	VM_SHARE=''
	# shellcheck disable=SC2034
	[ "$host_share" = 1 ] && VM_SHARE=$d/share

	local deadline=$(($(_vm_now_ms) + start_timeout * 1000))
	until [ -S "$d/qmp.sock" ]; do
		if ! _vm_alive; then
			_vm_err "QEMU exited at start-up: $(cat "$d/cmdline")"
			_vm_tail
			return 1
		fi
		if [ "$(_vm_now_ms)" -ge "$deadline" ]; then
			_vm_err "QEMU did not open its QMP socket within ${start_timeout}s"
			_vm_tail
			return 1
		fi
		sleep 0.05
	done
}

# vm_mark: later vm_wait_for calls only look at console output after this point
vm_mark() {
	local d
	d=$(_vm_dir)
	stat -c %s "$d/console.log" >"$d/mark"
}

# vm_wait_for ERE [TIMEOUT=60]: poll the console (after vm_mark) until a line
# matches the extended regexp; print the first such line.  Fails, printing the
# last console lines, on timeout or when QEMU has exited without a match.
vm_wait_for() {
	local pat=$1 timeout=${2:-60} d mark line dead=0
	d=$(_vm_dir)
	[ -f "$d/console.log" ] || { _vm_err "VM ${VM:-vm} was not started"; return 1; }
	mark=$(cat "$d/mark" 2>/dev/null || echo 0)
	local deadline=$(($(_vm_now_ms) + timeout * 1000))
	while :; do
		# decide about QEMU's death before reading, so output written just
		# before it exited is still seen
		_vm_alive || dead=1
		# (no pipeline into grep -m1: under pipefail the writer's SIGPIPE
		# would turn a match into a failure)
		if line=$(grep -a -m1 -E -- "$pat" < <(tail -c +$((mark + 1)) "$d/console.log" | tr -d '\r')); then
			printf '%s\n' "$line"
			return 0
		fi
		if [ $dead = 1 ]; then
			_vm_err "QEMU of VM ${VM:-vm} exited before /$pat/ appeared"
			_vm_tail
			return 1
		fi
		if [ "$(_vm_now_ms)" -ge "$deadline" ]; then
			_vm_err "timed out after ${timeout}s waiting for /$pat/ on VM ${VM:-vm}"
			_vm_tail
			return 1
		fi
		sleep 0.1
	done
}

# vm_qmp CMD-OR-JSON...: e.g. vm_qmp query-status
#   vm_qmp '{"execute":"query-cpus-fast"}'; prints one JSON reply per command;
#   non-zero if a reply is an error (1) or QMP failed (2).
vm_qmp() {
	local d
	d=$(_vm_dir)
	[ -S "$d/qmp.sock" ] || { _vm_err "VM ${VM:-vm} has no QMP socket"; return 2; }
	"$_vm_py" "$_vm_lib/qmp.py" --timeout "${XPV_QMP_TIMEOUT:-30}" "$d/qmp.sock" "$@"
}

# vm_wait_exit [TIMEOUT=$XPV_VM_TIMEOUT or 300]: wait until the guest script
# has finished and QEMU has exited; return the script's exit code (from the
# console marker XPV-GUEST-EXIT=<rc>).  With no marker: 124 on timeout, 125
# if QEMU died first (message and console tail on stderr).  Use it as
#   rc=0; vm_wait_exit 120 || rc=$?
vm_wait_exit() {
	local timeout=${1:-${XPV_VM_TIMEOUT:-300}} line rc pid
	line=$(vm_wait_for 'XPV-GUEST-EXIT=[0-9]+' "$timeout") || {
		_vm_alive && return 124
		return 125
	}
	# the last marker wins, in case the guest's own output imitated one
	rc=$(tr -d '\r' <"$(_vm_dir)/console.log" | grep -a -oE 'XPV-GUEST-EXIT=[0-9]+' | tail -1)
	rc=${rc#XPV-GUEST-EXIT=}
	# poweroff -f follows the marker at once; give QEMU a while to go
	local deadline=$(($(_vm_now_ms) + 30000))
	while _vm_alive && [ "$(_vm_now_ms)" -lt "$deadline" ]; do
		sleep 0.05
	done
	if _vm_alive; then
		_vm_err "guest printed its exit code but QEMU did not exit"
	else
		pid=$(_vm_pid)
		wait "$pid" 2>/dev/null
	fi
	return "$rc"
}

# vm_stop: kill the VM's QEMU (politely, then SIGKILL) and delete its
# directory; safe to call twice, for a VM never started, or from a trap.
vm_stop() {
	local d pid deadline
	[ -n "$_vm_root" ] || return 0
	d=$(_vm_dir)
	[ -d "$d" ] || return 0
	pid=$(_vm_pid)
	if [ -n "$pid" ] && _vm_alive; then
		kill -TERM "$pid" 2>/dev/null
		deadline=$(($(_vm_now_ms) + 5000))
		while _vm_alive && [ "$(_vm_now_ms)" -lt "$deadline" ]; do
			sleep 0.05
		done
		_vm_alive && kill -KILL "$pid" 2>/dev/null
	fi
	[ -n "$pid" ] && wait "$pid" 2>/dev/null
	if [ -n "${XPV_VM_LOGDIR:-}" ] && mkdir -p "$XPV_VM_LOGDIR"; then
		tr -d '\r' <"$d/console.log" >"$XPV_VM_LOGDIR/${VM:-vm}-$(date +%H%M%S)-$$.console.log"
	fi
	if [ "${XPV_VM_KEEP:-0}" = 1 ]; then
		echo "# VM ${VM:-vm} kept in $d" >&2
	else
		rm -rf "$d"
		# the last VM gone: drop the root too (vm_run in $(...) has no
		# EXIT trap of its own to do it)
		rmdir "$_vm_root" 2>/dev/null && _vm_root=
	fi
	return 0
}

vm_stop_all() {
	local d
	[ -n "$_vm_root" ] && [ -d "$_vm_root" ] || return 0
	for d in "$_vm_root"/*/; do
		[ -d "$d" ] || continue
		VM=$(basename "$d") vm_stop
	done
	[ "${XPV_VM_KEEP:-0}" = 1 ] || rm -rf "$_vm_root"
	_vm_root=
	return 0
}

# vm_run [--timeout S] [vm_start options]: one-shot guest.  Prints the
# console (without the exit marker) and returns the guest script's exit code
# (124/125 as in vm_wait_exit).
vm_run() {
	local timeout=${XPV_VM_TIMEOUT:-300} rc=0
	if [ "${1:-}" = --timeout ]; then
		timeout=$2
		shift 2
	fi
	# the name may come with --name; vm_stop below must use it
	local VM=${VM:-vm} a
	for ((a = 1; a < $#; a++)); do
		[ "${!a}" = -- ] && break
		[ "${!a}" = --name ] && { a=$((a + 1)); VM=${!a}; break; }
	done
	vm_start "$@" || { vm_stop; return 125; }
	vm_wait_exit "$timeout" || rc=$?
	tr -d '\r' <"$(_vm_dir)/console.log" | grep -av '^XPV-GUEST-EXIT=[0-9]*$'
	vm_stop
	return $rc
}

# Clean up on any exit.  A script that sets its own EXIT trap afterwards must
# call vm_stop_all in it.
_vm_exit_trap() {
	local rc=$?
	vm_stop_all
	return $rc
}
if [ -z "$(trap -p EXIT)" ]; then
	trap _vm_exit_trap EXIT
fi
[ -n "$(trap -p INT)" ] || trap 'exit 130' INT
[ -n "$(trap -p TERM)" ] || trap 'exit 143' TERM
[ -n "$(trap -p HUP)" ] || trap 'exit 129' HUP
