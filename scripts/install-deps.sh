#!/usr/bin/env bash
# Install everything xpv needs on Debian 12 (bookworm): build tools, the QEMU
# build dependencies, the guest kernel and headers, and the libraries the
# host agent and libxpv link against. Idempotent; safe to run as root again.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: must run as root (apt-get)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# apt-get source needs a deb-src entry for bookworm; add one next to the
# existing deb822 source if none is there yet.
if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	cat >/etc/apt/sources.list.d/xpv-deb-src.sources <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	stamp_update=1
fi

# Refresh the lists at most once a day unless a source was just added.
lists_age=$(($(date +%s) - $(stat -c %Y /var/lib/apt/lists 2>/dev/null || echo 0)))
if [ "${stamp_update:-0}" = 1 ] || [ "$lists_age" -gt 86400 ] ||
	! ls /var/lib/apt/lists/*Sources* >/dev/null 2>&1; then
	apt-get update -q
fi

PKGS=(
	# toolchain and QEMU build
	build-essential git pkg-config ninja-build meson python3-venv
	libglib2.0-dev libpixman-1-dev libslirp-dev libcap-ng-dev libattr1-dev
	libfdt-dev zlib1g-dev dpkg-dev quilt flex bison
	patch
	# firmware our QEMU build loads (configured with Debian's firmware path)
	qemu-system-data seabios ipxe-qemu
	# guest kernel, headers, initramfs content
	linux-image-amd64 linux-headers-amd64 busybox-static cpio kmod
	# guest-driver/rxpool/build.sh unpacks virtio_net.c from linux-source-6.1's tar.xz
	xz-utils
	# libraries for libxpv and xpvd
	libnuma-dev numactl libpfm4-dev libjansson-dev libcmocka-dev
	libsystemd-dev libvirt-dev libxml2-dev libhwloc-dev
	# allocators srl/alloc adapts or measures (Debian 12: jemalloc 5.3, mimalloc 2.0.9)
	libjemalloc-dev libmimalloc-dev
	# lstopo, to regenerate the test topologies (kvm/tests/topologies)
	hwloc
	# libvirt daemon for integration tests
	libvirt-daemon-system libvirt-clients
	# xmllint: the libvirt hook reads the domain XML with it (libvirt-hooks/qemu.d/xpv)
	libxml2-utils shellcheck
	# tests and plots
	valgrind gnuplot-nox python3 socat curl
	# a TCG guest for the xpvd libvirt suite (tests/suites/42-kvm-libvirt)
	qemu-system-x86
	# guest driver map-parser fuzzing (libFuzzer)
	clang
	# benchmarks (syscall counts per lookup)
	strace
	# srl/numactl/build.sh: numactl's autogen.sh
	autoconf automake libtool
	# the patched libvirt (libvirt-hooks/build.sh: meson, QEMU + test drivers)
	xsltproc libyajl-dev libgnutls28-dev libtirpc-dev
	# Debian packages of xpv (debian/, scripts/build-debs.sh, suites 81 and 82)
	# and Debian's QEMU/libvirt source packages with xpv's series
	# (scripts/deb-source-build.sh: dch); dh-python byte-compiles xpv-nova
	debhelper dh-dkms dkms lintian devscripts dh-python
)
# The newest later kernel Debian 12 ships (6.12), for the guest driver's
# compat build test (tests/suites/31-guest-driver-compat).  Its headers pull
# in that kernel image too; the VM tests keep booting 6.1 ($KVER).
later=$(apt-cache pkgnames linux-headers-6.12 2>/dev/null |
	grep -E '^linux-headers-6\.12\.[0-9]+\+deb12-amd64$' | sort -V | tail -1 || true)
[ -n "$later" ] && PKGS+=("$later")
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# OpenStack Nova (Debian 12: python3-nova 26, Zed) for the Nova plugin's
# suites (tests/suites/70-nova-specs, 71-nova-provider), plus what Nova's own
# test fixtures (nova.test) import.  About 200 packages; optional: when they
# cannot be installed the build goes on and those suites skip, naming why.
NOVA_PKGS=(python3-nova python3-oslotest python3-wsgi-intercept)
nova_missing=()
for p in "${NOVA_PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || nova_missing+=("$p")
done
if [ ${#nova_missing[@]} -gt 0 ] &&
	! apt-get install -y -q --no-install-recommends "${nova_missing[@]}"; then
	echo "install-deps: could not install ${nova_missing[*]}: the Nova suites will skip" >&2
fi
