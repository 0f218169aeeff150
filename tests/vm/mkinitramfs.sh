#!/usr/bin/env bash
# Build a small initramfs for TCG test guests and print its path.
#
# The image holds busybox-static, the guest kernel modules needed for virtio
# PCI + 9p + overlayfs (with their dependencies, in load order), any extra
# modules/binaries/files asked for, and an /init that mounts proc/sys/dev,
# loads the modules, runs the guest script, prints "XPV-GUEST-EXIT=<rc>" on
# the console and powers off (or, when the script succeeded and left
# /xpv/switch-root, execs switch_root with its contents instead).  Images are cached under
# $BUILD/vm-cache/initramfs-<sha256 of content>.cpio, so a second call with the
# same inputs costs only the hashing.
#
# Usage: tests/vm/mkinitramfs.sh [options]
#   --kver VER          guest kernel version (default $KVER, else the newest
#                       6.1.*-amd64 in /lib/modules)
#   --modname NAME      also load module NAME (+ deps) from the kernel tree
#   --module FILE.ko    also load this .ko (its deps come from the tree)
#   --bin SRC[:DST]     copy a program and every library ldd lists (+ loader)
#   --file SRC:DST      copy a file (or a directory, recursively)
#   --script FILE       the guest script (/xpv/script); run with its #!
#                       interpreter when that is in the image, else busybox sh
#   --cache DIR         cache directory (default $BUILD/vm-cache)
#   --no-default-modules  do not add virtio_pci 9pnet_virtio 9p overlay
# All of --modname/--module/--bin/--file may be repeated.
set -euo pipefail

self=$(readlink -f "$0")
top=$(cd "$(dirname "$self")/../.." && pwd)
BUILD=${BUILD:-$top/build}

die() {
	echo "mkinitramfs: $*" >&2
	exit 1
}

kver=${KVER:-}
cache=$BUILD/vm-cache
script=
default_mods=(virtio_pci 9pnet_virtio 9p overlay)
modnames=()
modfiles=()
bins=()
files=()

while [ $# -gt 0 ]; do
	case $1 in
	--kver) kver=${2:?}; shift 2 ;;
	--modname) modnames+=("${2:?}"); shift 2 ;;
	--module) modfiles+=("${2:?}"); shift 2 ;;
	--bin) bins+=("${2:?}"); shift 2 ;;
	--file) files+=("${2:?}"); shift 2 ;;
	--script) script=${2:?}; shift 2 ;;
	--cache) cache=${2:?}; shift 2 ;;
	--no-default-modules) default_mods=(); shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$self" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option \`$1' (see --help)" ;;
	esac
done

if [ -z "$kver" ]; then
	kver=$(ls /lib/modules 2>/dev/null | grep -E '^6\.1\.[0-9]+-[0-9]+-amd64$' | sort -V | tail -1)
fi
[ -n "$kver" ] && [ -d "/lib/modules/$kver" ] || die "no modules for guest kernel \`$kver' in /lib/modules"
[ -z "$script" ] || [ -f "$script" ] || die "--script \`$script': no such file"
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox not found (install busybox-static)"
ldd "$busybox" >/dev/null 2>&1 && die "$busybox is dynamically linked; install busybox-static"

stage=$(mktemp -d "${TMPDIR:-/tmp}/xpv-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,root,mnt,xpv,lib64,lib/modules/"$kver"}

# put SRC at DST inside the image (following symlinks), keeping the mode
put() {
	local src=$1 dst=$2
	[ -e "$src" ] || die "\`$src': no such file"
	mkdir -p "$stage/$(dirname "$dst")"
	cp -L -r --preserve=mode "$src" "$stage/$dst"
}

# busybox; /init makes the other applet links (one process instead of a
# few hundred ln here)
put "$busybox" /bin/busybox
ln -s busybox "$stage/bin/sh"

# Modules, in load order, each once.  modprobe --show-depends prints the
# insmod lines of a module's dependency closure, dependencies first.
declare -A seen=()
modlist=()
add_tree_module() {
	local line path deps
	deps=$(modprobe -S "$kver" --show-depends "$1" 2>&1) || die "module \`$1' not found for $kver: $deps"
	while read -r line; do
		case $line in
		insmod\ *) path=${line#insmod }; path=${path%% *} ;;
		builtin\ *) continue ;;
		*) continue ;;
		esac
		[ -n "${seen[$path]:-}" ] && continue
		seen[$path]=1
		put "$path" "$path"
		modlist+=("$path")
	done <<<"$deps"
}
for m in "${default_mods[@]}" "${modnames[@]+"${modnames[@]}"}"; do
	add_tree_module "$m"
done
for f in "${modfiles[@]+"${modfiles[@]}"}"; do
	[ -f "$f" ] || die "--module \`$f': no such file"
	deps=$(modinfo -F depends "$f" 2>/dev/null || true)
	for d in ${deps//,/ }; do
		add_tree_module "$d"
	done
	dst=/lib/modules/$kver/extra/$(basename "$f")
	put "$f" "$dst"
	modlist+=("$dst")
done
printf '%s\n' "${modlist[@]+"${modlist[@]}"}" >"$stage/etc/xpv-modules"

# binaries and their shared libraries (the loader appears as an absolute path)
for b in "${bins[@]+"${bins[@]}"}"; do
	src=${b%%:*}
	dst=${b#*:}
	[ "$dst" = "$b" ] && dst=$src
	if [ "${src#/}" = "$src" ]; then
		p=$(command -v "$src") || die "--bin \`$src': not found"
		[ "$dst" = "$src" ] && dst=$p
		src=$p
	fi
	put "$src" "$dst"
	if out=$(ldd "$src" 2>/dev/null); then
		while read -r lib; do
			[ -n "$lib" ] && put "$lib" "$lib"
		done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out")
	fi
done
for f in "${files[@]+"${files[@]}"}"; do
	[ "${f#*:}" != "$f" ] || die "--file \`$f': expected SRC:DST"
	put "${f%%:*}" "${f#*:}"
done
if [ -n "$script" ]; then
	put "$script" /xpv/script
	chmod 755 "$stage/xpv/script"
fi

cat >"$stage/init" <<'EOF'
#!/bin/sh
# xpv test-guest init (generated by tests/vm/mkinitramfs.sh)
/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb XPV_GUEST=1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
[ -d /sys/kernel/debug ] && mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
while read -r m; do
	[ -n "$m" ] || continue
	# an already-present (built-in or loaded) module is not an error
	insmod "$m" 2>/tmp/insmod.err || grep -q 'File exists' /tmp/insmod.err ||
		echo "xpv-init: insmod $m: $(cat /tmp/insmod.err)"
done </etc/xpv-modules
# the host's per-VM directory (VM_SHARE in tests/vm/lib.sh), when offered
mkdir -p /xpv/host
if cat /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag 2>/dev/null | tr '\0' '\n' | grep -qx xpvhost; then
	mount -t 9p -o trans=virtio,version=9p2000.L,cache=none,msize=262144 xpvhost /xpv/host ||
		echo "xpv-init: cannot mount the xpvhost share"
fi
rc=0
if [ -f /xpv/script ]; then
	interp=$(sed -n '1s/^#![[:space:]]*\([^[:space:]]*\).*/\1/p' /xpv/script)
	if [ -n "$interp" ] && [ -x "$interp" ]; then
		/xpv/script </dev/null
	else
		sh /xpv/script </dev/null
	fi
	rc=$?
else
	echo "xpv-init: no guest script"
fi
# A guest script that prepared a root may hand the machine over to that
# root's own init: /xpv/switch-root holds "NEWROOT INIT [ARGS]"
# (tests/testhost/run.sh --systemd).  The exit marker is then that init's job.
if [ "$rc" = 0 ] && [ -s /xpv/switch-root ]; then
	exec switch_root $(cat /xpv/switch-root)
fi
echo "XPV-GUEST-EXIT=$rc"
sync
poweroff -f
EOF
chmod 755 "$stage/init"

# The key covers every byte and mode in the image plus this script.
key=$(
	cd "$stage"
	{
		sha256sum "$self"
		find . -mindepth 1 -printf '%p %y %m %l\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
	} | sha256sum | cut -c1-24
)
out=$cache/initramfs-$key.cpio
if [ ! -s "$out" ]; then
	mkdir -p "$cache"
	tmp=$(mktemp "$cache/.initramfs.XXXXXX")
	# Uncompressed: QEMU hands it over by fw_cfg DMA, and gunzip under TCG
	# costs more than the copy.
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --reproducible --quiet) >"$tmp"
	chmod 644 "$tmp"
	mv -f "$tmp" "$out"
fi
touch "$out"
# forget images unused for two days (each script edit makes a new one)
find "$cache" -maxdepth 1 -name 'initramfs-*.cpio' -mtime +2 -delete 2>/dev/null || true
echo "$out"
