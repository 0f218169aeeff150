# shellcheck shell=bash
# Private libvirt daemons from the patched build tree (libvirt-hooks/build.sh)
# for the tests/suites/5x-libvirt-* suites.  Sourced after tests/vm/lib.sh and
# tests/e2e/common.sh; needs $top and $out.
#
# An *instance* is a directory D holding one virtqemud + virtlogd pair's whole
# world ($D/{home,run,config,cache}): the daemons run in session mode as user
# nobody, with every socket, config, log and state file under D, so the
# distro's libvirtd and /run/libvirt are never touched.  Several instances
# may run at once (a migration source and destination).
#
# Usage:
#   lvd_build || exit           # sets lvd_bdir
#   lvd_init "$tmp/src"; lvd_start "$tmp/src" || exit
#   lvd_virsh "$tmp/src" define ...
#   trap 'lvd_stop_all; rm -rf "$tmp"' EXIT
lvd_user=nobody
lvd_uid=$(id -u "$lvd_user")
lvd_gid=$(id -g "$lvd_user")
lvd_pids=()
lvd_dirs=()
lvd_bdir=

# lvd_build: the patched libvirt build tree (cached; a cold build takes minutes)
lvd_build() {
	if ! "$top/libvirt-hooks/build.sh" >"$out/libvirt-build.log" 2>&1; then
		tail -20 "$out/libvirt-build.log" | sed 's/^/# /'
		return 1
	fi
	lvd_bdir=$(cat "$top/build/libvirt-path")
}

# lvd_as D CMD...: CMD as $lvd_user in instance D's world.  setpriv and env
# exec CMD, so `lvd_as D CMD... &` would give the pid of the subshell that
# runs the function; lvd_as_exec replaces that subshell, so its `$!` is CMD's.
lvd_as() { (lvd_as_exec "$@"); }
lvd_as_exec() {
	local d=$1
	shift
	exec setpriv --reuid="$lvd_uid" --regid="$lvd_gid" --clear-groups -- env -i \
		HOME="$d/home" XDG_RUNTIME_DIR="$d/run" XDG_CONFIG_HOME="$d/config" \
		XDG_CACHE_HOME="$d/cache" PATH=/usr/bin:/bin LC_ALL=C "$@"
}

lvd_uri() { echo "qemu:///session?socket=$1/run/libvirt/virtqemud-sock"; }

# lvd_virsh D ARGS...: the build tree's virsh on instance D
lvd_virsh() {
	local d=$1
	shift
	# a privileged instance (lvd_priv_init, below): root on its own socket
	if [ -e "$d/privileged" ]; then
		"$lvd_bdir/tools/virsh" -q -c "$(lvd_priv_uri "$d")" "$@"
		return
	fi
	lvd_as "$d" "$lvd_bdir/tools/virsh" -q -c "$(lvd_uri "$d")" "$@"
}

# lvd_init D [VIRTQEMUD-CONF-LINE...]: create instance D (mode 755 up to D so
# that nobody reaches it), with the given lines as its virtqemud.conf
lvd_init() {
	local d=$1
	shift
	mkdir -p "$d/home" "$d/run" "$d/config/libvirt" "$d/cache" || return 1
	chmod 755 "$d" "$(dirname "$d")"
	if [ $# -gt 0 ]; then
		printf '%s\n' "$@" >"$d/config/libvirt/virtqemud.conf"
	fi
	chown -R "$lvd_uid:$lvd_gid" "$d"
	lvd_dirs+=("$d")
}

# lvd_wait_up PID LOG END CMD...: poll until CMD succeeds; 1 (with LOG's
# tail) when daemon PID died or the clock passed END first
lvd_wait_up() {
	local pid=$1 log=$2 end=$3
	shift 3
	until "$@"; do
		if [ "$(now)" -ge "$end" ] || ! kill -0 "$pid" 2>/dev/null; then
			sed 's/^/# /' "$log" | tail -20
			return 1
		fi
		sleep 0.2 # polling interval of a deadline loop
	done
}

# lvd_answers D: instance D's virtqemud answers on its socket
lvd_answers() { lvd_virsh "$1" version >/dev/null 2>&1; }

# lvd_start D: start virtlogd and virtqemud of instance D and wait (60 s) for
# virtqemud to answer on its private socket
lvd_start() {
	local d=$1 end lpid qpid
	lvd_as_exec "$d" "$lvd_bdir/src/virtlogd" >"$d/virtlogd.log" 2>&1 &
	lpid=$!
	lvd_pids+=("$lpid")
	# virtqemud spawns a virtlogd of its own (not ours to stop) when it
	# finds no socket: start it only once ours listens
	end=$(($(now) + 60))
	lvd_wait_up "$lpid" "$d/virtlogd.log" "$end" test -S "$d/run/libvirt/virtlogd-sock" || return 1
	lvd_as_exec "$d" "$lvd_bdir/src/virtqemud" >"$d/virtqemud.log" 2>&1 &
	qpid=$!
	lvd_pids+=("$qpid")
	lvd_wait_up "$qpid" "$d/virtqemud.log" "$end" lvd_answers "$d"
}

# lvd_stop_all: destroy and undefine every domain of every instance and stop
# the daemons
lvd_stop_all() {
	local d dom p
	if [ -n "$lvd_bdir" ]; then
		for d in "${lvd_dirs[@]+"${lvd_dirs[@]}"}"; do
			[ -S "$d/run/libvirt/virtqemud-sock" ] || continue
			for dom in $(lvd_virsh "$d" list --all --name 2>/dev/null); do
				lvd_virsh "$d" destroy "$dom" >/dev/null 2>&1
				lvd_virsh "$d" undefine --managed-save "$dom" >/dev/null 2>&1
			done
		done
	fi
	for p in "${lvd_pids[@]+"${lvd_pids[@]}"}"; do kill "$p" 2>/dev/null; done
	for p in "${lvd_pids[@]+"${lvd_pids[@]}"}"; do wait "$p" 2>/dev/null; done
	# a QEMU or daemon that is not ours any more (a failed destroy, a
	# virtlogd spawned by virtqemud): by the pid files under the instance
	for d in "${lvd_dirs[@]+"${lvd_dirs[@]}"}"; do
		find "$d/run" -name '*.pid' 2>/dev/null | while read -r p; do
			kill -9 "$(cat "$p")" 2>/dev/null
		done
	done
	lvd_pids=()
}

# lvd_guest DIR SCRIPT: the guest kernel and an initramfs running SCRIPT with
# virtio_numa.ko at /xpv/mods/virtio_numa.ko (DIR/kernel, DIR/initrd), and a
# fake two-node host for the device's test-only x-sysfs-root (DIR/nodes:
# node 0 = CPU 0, node 1 = CPU 1).  Builds the guest driver.
lvd_guest() {
	local g=$1 script=$2 kernel initrd i
	make -C "$top/guest-driver" >"$out/libvirt-driver-build.log" 2>&1 || return 1
	kernel=$(vm_kernel) || return 1
	initrd=$("$top/tests/vm/mkinitramfs.sh" --script "$script" \
		--file "$top/guest-driver/build/virtio_numa.ko:/xpv/mods/virtio_numa.ko") || return 1
	mkdir -p "$g" && cp "$kernel" "$g/kernel" && cp "$initrd" "$g/initrd" || return 1
	for i in 0 1; do
		mkdir -p "$g/nodes/node$i" && echo "$i" >"$g/nodes/node$i/cpulist" || return 1
	done
	chmod -R a+rX "$g"
}

# lvd_domain_xml NAME GUEST-DIR CONSOLE EMULATOR: a TCG domain with two vCPUs
# and two guest NUMA cells bound with <numatune><memnode> (to node 0: this
# machine has one host node) and <numainfo model='virtio'> scanning every
# 100 ms.  The fake two-node host of lvd_guest is given to the device with
# <qemu:override> of its test-only properties (cell I's memory backend
# ram-nodeI counts as fake host node I); an operator's domain has no qemu:
# namespace (libvirt-hooks/README.md).
lvd_domain_xml() {
	cat <<XML
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$1</name>
  <memory unit='MiB'>512</memory>
  <vcpu placement='static'>2</vcpu>
  <numatune>
    <memnode cellid='0' mode='strict' nodeset='0'/>
    <memnode cellid='1' mode='strict' nodeset='0'/>
  </numatune>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$2/kernel</kernel>
    <initrd>$2/initrd</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 no_timer_check</cmdline>
  </os>
  <cpu>
    <topology sockets='2' dies='1' cores='1' threads='1'/>
    <numa>
      <cell id='0' cpus='0' memory='256' unit='MiB'/>
      <cell id='1' cpus='1' memory='256' unit='MiB'/>
    </numa>
  </cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <devices>
    <emulator>$4</emulator>
    <controller type='usb' model='none'/>
    <serial type='file'>
      <source path='$3' append='on'/>
    </serial>
    <memballoon model='none'/>
    <numainfo model='virtio'>
      <scan period='100' debounce='0'/>
    </numainfo>
  </devices>
  <qemu:override>
    <qemu:device alias='numainfo0'>
      <qemu:frontend>
        <qemu:property name='x-sysfs-root' type='string' value='$2/nodes'/>
        <qemu:property name='x-memdev-node' type='string' value='ram-node0:0+ram-node1:1'/>
      </qemu:frontend>
    </qemu:device>
  </qemu:override>
</domain>
XML
}

# lvd_live_hnode D DOM VCPU: host node of VCPU in QEMU's live map, read with
# virsh qemu-monitor-command (tests only: monitor passthrough taints)
lvd_live_hnode() {
	lvd_virsh "$1" qemu-monitor-command "$2" \
		'{"execute":"__org.xpv_query-virtio-numa","arguments":{"id":"numainfo0"}}' |
		python3 -c '
import json, sys
r = json.loads(sys.stdin.read())["return"]
r = r[0] if isinstance(r, list) else r
for v in r["vcpus"]:
    if v["cpu-index"] == int(sys.argv[1]):
        print(v.get("host-node", -1))' "$3" 2>/dev/null
}

# lvd_wait_live D DOM VCPU HNODE TIMEOUT: the live map has VCPU on HNODE
lvd_wait_live() {
	local end=$(($(now) + $5))
	while [ "$(now)" -lt "$end" ]; do
		[ "$(lvd_live_hnode "$1" "$2" "$3")" = "$4" ] && return 0
		sleep 0.2 # polling interval of a deadline loop
	done
	return 1
}

# lvd_wait_console D DOM CONSOLE ERE TIMEOUT [COUNT=1]: COUNT lines of the
# console file match ERE while DOM runs on instance D
lvd_wait_console() {
	local end=$(($(now) + $5)) c
	while [ "$(now)" -lt "$end" ]; do
		c=$(grep -cE "$4" "$3" 2>/dev/null)
		[ "${c:-0}" -ge "${6:-1}" ] && return 0
		lvd_virsh "$1" domstate "$2" 2>/dev/null | grep -q running || return 1
		sleep 0.2 # polling interval of a deadline loop
	done
	return 1
}

# ---- privileged instances (qemu:///system) ---------------------------------
# A privileged instance runs the build tree's virtlogd and virtqemud as root,
# as libvirtd runs on a host: with cgroups (the machine/qemu-N-NAME groups
# xpvd discovers) and the hooks of SYSCONFDIR/libvirt/hooks.  The build
# tree's privileged paths are under its prefix (configmake.h: LOCALSTATEDIR
# /var/local, SYSCONFDIR /usr/local/etc), and the daemons run in a private
# mount namespace (unshare -m) in which
#   LOCALSTATEDIR        is D/var (a bind mount: state, logs, sockets, pid
#                        files; so D/var/run/libvirt/virtqemud-sock is the
#                        socket, reachable from outside the namespace),
#   SYSCONFDIR           is an overlay with D/etc as its upper (writable)
#                        layer: the daemons' qemu.conf, the hook scripts,
#                        and what the daemon writes (domain definitions);
#   /etc                 is a read-only overlay with D/etc on top (the
#                        hooks' own settings, e.g. D/etc/xpv/...).
# Nothing of it is visible outside the namespace, which goes away with its
# last process (the daemons and their QEMUs).  lvd_virsh, lvd_live_hnode,
# lvd_wait_live and lvd_wait_console work on it like on a session instance.
#
# Usage:
#   lvd_build || exit
#   lvd_priv_init "$tmp/sys"          # then add files under $tmp/sys/etc
#   lvd_priv_start "$tmp/sys" || exit
#   trap 'lvd_priv_stop_all; lvd_stop_all; rm -rf "$tmp"' EXIT

# lvd_configmake NAME: a path the build tree was configured with
lvd_configmake() {
	sed -n "s/^#define $1 \"\\(.*\\)\"$/\\1/p" "$lvd_bdir/configmake.h"
}

# lvd_priv_init D: create privileged instance D, its qemu.conf running QEMU
# as root with no security driver (the test's files stay as they are), and
# a virtqemud.conf logging every hook call to D/var/log/libvirt/virtqemud.log
lvd_priv_init() {
	local d=$1 lsd
	lsd=$(lvd_configmake LOCALSTATEDIR)
	mkdir -p "$d/etc/libvirt" "$d/.etc-work" "$d/var/log/libvirt" || return 1
	echo privileged >"$d/privileged"
	cat >"$d/etc/libvirt/qemu.conf" <<-'EOC'
		user = "root"
		group = "root"
		dynamic_ownership = 0
		remember_owner = 0
		security_driver = "none"
		namespaces = [ ]
	EOC
	cat >"$d/etc/libvirt/virtqemud.conf" <<-EOC
		log_filters = "1:util.hook"
		log_outputs = "1:file:$lsd/log/libvirt/virtqemud.log"
	EOC
	lvd_dirs+=("$d")
}

# lvd_priv_run D: D's run directory as seen from outside the namespace
lvd_priv_run() {
	local lsd rsd
	lsd=$(lvd_configmake LOCALSTATEDIR)
	rsd=$(lvd_configmake RUNSTATEDIR)
	echo "$1/var${rsd#"$lsd"}"
}

# lvd_priv_start D: the namespace, virtlogd in it, then virtqemud; wait (60
# s) for virtqemud to answer.  D/ns holds the namespace's id (for cleanup).
lvd_priv_start() {
	local d=$1 sc lsd rsd end lpid qpid run
	sc=$(lvd_configmake SYSCONFDIR)
	lsd=$(lvd_configmake LOCALSTATEDIR)
	rsd=$(lvd_configmake RUNSTATEDIR)
	case $rsd in "$lsd"/*) ;; *)
		echo "# RUNSTATEDIR $rsd is not under LOCALSTATEDIR $lsd"
		return 1 ;;
	esac
	[ -d "$sc" ] && [ -d "$lsd" ] || { echo "# no $sc or $lsd to mount over"; return 1; }
	run=$(lvd_priv_run "$d")
	# mount, then exec virtlogd: the namespace lives as long as its processes
	unshare -m --propagation private -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		LC_ALL=C HOME=/root sh -ec '
		[ "$2" = /etc ] || mount -t overlay xpv-lvd -o "lowerdir=$1/etc:/etc" /etc
		mount -t overlay xpv-lvd -o "lowerdir=$2,upperdir=$1/etc,workdir=$1/.etc-work" "$2"
		mount --bind "$1/var" "$3"
		exec "$4"' sh "$d" "$sc" "$lsd" "$lvd_bdir/src/virtlogd" >"$d/virtlogd.log" 2>&1 &
	lpid=$!
	lvd_pids+=("$lpid")
	end=$(($(now) + 60))
	lvd_wait_up "$lpid" "$d/virtlogd.log" "$end" test -S "$run/libvirt/virtlogd-sock" || return 1
	readlink "/proc/$lpid/ns/mnt" >"$d/ns"
	nsenter -t "$lpid" -m -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C HOME=/root \
		"$lvd_bdir/src/virtqemud" >"$d/virtqemud.log" 2>&1 &
	qpid=$!
	lvd_pids+=("$qpid")
	lvd_wait_up "$qpid" "$d/virtqemud.log" "$end" lvd_answers "$d"
}

# lvd_priv_uri D [ro]: the URI of privileged instance D (its read-only socket)
lvd_priv_uri() { echo "qemu:///system?socket=$(lvd_priv_run "$1")/libvirt/virtqemud-sock${2:+-ro}"; }

# lvd_virsh_ro D ARGS...: virsh -r on instance D's read-only socket
lvd_virsh_ro() {
	local d=$1
	shift
	if [ -e "$d/privileged" ]; then
		"$lvd_bdir/tools/virsh" -q -r -c "$(lvd_priv_uri "$d" ro)" "$@"
	else
		lvd_as "$d" "$lvd_bdir/tools/virsh" -q -r -c "$(lvd_uri "$d")" "$@"
	fi
}

# lvd_priv_procs D: the pids of the processes in D's namespace (one find:
# a fork per process is slow on a loaded machine)
lvd_priv_procs() {
	local ns
	ns=$(cat "$1/ns" 2>/dev/null) || return 0
	find /proc/[0-9]*/ns/mnt -maxdepth 0 -printf '%l %h\n' 2>/dev/null |
		awk -v ns="$ns" '$1 == ns { split($2, f, "/"); print f[3] }'
}

# lvd_priv_gone D: no process is left in D's namespace
lvd_priv_gone() { [ -z "$(lvd_priv_procs "$1")" ]; }

# lvd_priv_stop_all: destroy and undefine the domains of every privileged
# instance, stop its daemons, and kill what is left in its namespace (a
# QEMU whose destroy failed); wait (30 s) for the namespace to be gone.
# Run before lvd_stop_all (which reaps the daemons).
lvd_priv_stop_all() {
	local d dom p end
	for d in "${lvd_dirs[@]+"${lvd_dirs[@]}"}"; do
		[ -e "$d/privileged" ] || continue
		if [ -n "$lvd_bdir" ] && [ -S "$(lvd_priv_run "$d")/libvirt/virtqemud-sock" ]; then
			for dom in $(lvd_virsh "$d" list --all --name 2>/dev/null); do
				lvd_virsh "$d" destroy "$dom" >/dev/null 2>&1
				lvd_virsh "$d" undefine --managed-save "$dom" >/dev/null 2>&1
			done
		fi
		[ -e "$d/ns" ] || continue
		# only processes of this namespace: never a recycled pid
		for p in $(lvd_priv_procs "$d"); do
			case " ${lvd_pids[*]-} " in *" $p "*) kill "$p" 2>/dev/null ;; esac
		done
		end=$(($(now) + 30))
		until lvd_priv_gone "$d" || [ "$(now)" -ge "$end" ]; do
			sleep 0.2 # polling interval of a deadline loop
		done
		for p in $(lvd_priv_procs "$d"); do kill -9 "$p" 2>/dev/null; done
	done
}
