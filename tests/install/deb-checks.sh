#!/usr/bin/env bash
# Run by tests/suites/81-deb-packages inside tests/install/overlay-root.sh's
# throw-away root, with the packages at /mnt: installs them, checks the
# installed host agent (started from its installed path with the installed
# example configuration, Kyoto turned off as this machine has no hardware
# PMU; metrics on the namespace's own loopback), the unit, the library, the
# runtimes and QEMU, then purges them.  The command blocks of docs/deploy.md
# marked "deploy-test" (install, start, removal) run verbatim.  Prints "PASS what" / "FAIL what"
# lines (and "# " comments); the suite numbers them as TAP.
set -u
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH LC_ALL=C
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/install/checks.sh"
pkgs=(xpv-host libxpv1 libxpv-dev xpv-runtimes xpv-qemu xpv-guest-dkms)

check "docs/deploy.md 2.1: apt-get install xpv-host xpv-qemu" logged deploy_block host-install
check "dpkg -i libxpv1 libxpv-dev xpv-runtimes xpv-guest-dkms" logged dpkg -i \
	/mnt/libxpv1_*.deb /mnt/libxpv-dev_*.deb /mnt/xpv-runtimes_*.deb /mnt/xpv-guest-dkms_*.deb
for p in "${pkgs[@]}"; do
	[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || fail "$p is installed and configured"
done
check "dkms knows xpv-guest/1.0 (added by the postinst)" sh -c 'dkms status xpv-guest 2>/dev/null | grep -q "^xpv-guest/1.0"'
check "dpkg --verify: installed files unchanged" logged dpkg --verify "${pkgs[@]}"

# the unit, as systemd would load it (no systemd runs here)
check "systemd-analyze verify xpvd.service (installed paths exist, no warning)" sh -c \
	'systemd-analyze verify --man=no /lib/systemd/system/xpvd.service >/tmp/verify 2>&1 && ! grep -q . /tmp/verify ||
		{ sed "s/^/#   /" /tmp/verify; false; }'
check "the unit runs /usr/sbin/xpvd with /etc/xpvd.json" \
	grep -qx 'ExecStart=/usr/sbin/xpvd --config=/etc/xpvd.json' /lib/systemd/system/xpvd.service
check "installed /etc/xpvd.json is the example" cmp -s /etc/xpvd.json /usr/share/doc/xpv-host/examples/xpvd.json
check "the hook's settings name /usr/bin/xpvctl" grep -qx 'xpvctl=/usr/bin/xpvctl' /etc/xpv/libvirt-hook.conf
check "xpvd is neither enabled nor started by the package" sh -c \
	'! ls /etc/systemd/system/*.wants/xpvd.service >/dev/null 2>&1'

# xpvd as the unit starts it: systemd would create these directories
python3 - <<'PY'
import json
c = json.load(open("/etc/xpvd.json"))
c["kyoto"]["enabled"] = False
json.dump(c, open("/etc/xpvd.json", "w"), indent=2)
PY
mkdir -p /run/xpvd /var/lib/xpvd /var/log/xpvd && chmod 0700 /run/xpvd /var/lib/xpvd /var/log/xpvd
check "xpvd --check --config=/etc/xpvd.json (ExecStartPre)" logged /usr/sbin/xpvd --check --config=/etc/xpvd.json
/usr/sbin/xpvd --config=/etc/xpvd.json >/tmp/xpvd.log 2>&1 &
xpvd=$!
if poll 60 sh -c 'xpvctl status >/dev/null 2>&1'; then
	pass "installed xpvd answers the installed xpvctl on /run/xpvd/ctl.sock"
	check "installed xpvctl status" logged xpvctl status
	check "installed xpvctl --json status answers with period_ms 100" sh -c \
		'xpvctl --json status | grep -q "\"period_ms\":100"'
	check "xpvd's metrics on 127.0.0.1:9477 (the config's listen address)" poll 30 sh -c \
		'curl -sf http://127.0.0.1:9477/metrics | grep -q "^xpv"'
	check "docs/deploy.md 2.3: xpvd --check and xpvctl status beside the running xpvd" logged deploy_block host-start
else
	fail "installed xpvd answers the installed xpvctl on /run/xpvd/ctl.sock"
	sed 's/^/#   /' /tmp/xpvd.log
fi
kill -TERM "$xpvd"
wait "$xpvd"
check "xpvd stops cleanly on SIGTERM" test $? = 0

# libxpv-dev + libxpv1: a program built with pkg-config runs
cat >/tmp/user.c <<'C'
#include <stdio.h>
#include <xpv/xpv.h>
int main(void)
{
	LIBXPV_OPTS(xpv_open_opts, o, .dev_path = "/nonexistent/xpv_numa");
	struct xpv *x = xpv_open(&o);

	if (!x)
		return perror("xpv_open"), 1;
	printf("live %d\n", xpv_is_live(x));
	xpv_close(x);
	return 0;
}
C
check "a program built with pkg-config xpv runs against libxpv.so.1" logged sh -c \
	'cc -Wall -Werror -o /tmp/user /tmp/user.c $(pkg-config --cflags --libs xpv) && /tmp/user >/tmp/user.out 2>&1 &&
		grep -qx "live 0" /tmp/user.out && ldd /tmp/user >/tmp/user.ldd &&
		grep -qE "libxpv.so.1 => (/usr)?/lib/x86_64-linux-gnu/libxpv.so.1 " /tmp/user.ldd ||
		{ cat /tmp/user.out /tmp/user.ldd; false; }'
check "xpv-top --once runs (sysfs fallback)" logged xpv-top --once
check "xpv-numa-run loads the packaged libnuma" sh -c \
	'xpv-numa-run sh -c "ldd /usr/bin/numactl" | grep -q "libnuma.so.1 => /usr/lib/xpv/numa/libnuma.so.1"'
check "packaged QEMU creates a pc machine (firmware found) and quits" logged sh -c \
	'echo quit | timeout 120 /usr/lib/xpv/qemu/bin/qemu-system-x86_64 -M pc -accel tcg -nodefaults \
		-display none -device virtio-net-pci -monitor stdio'

check "docs/deploy.md 5: apt-get remove/purge xpv-host, purge xpv-guest-dkms" logged deploy_block remove
check "xpv-host and xpv-guest-dkms are purged" sh -c \
	'! dpkg-query -W -f="\${db:Status-Abbrev}\n" xpv-host xpv-guest-dkms 2>/dev/null | grep -q "^[a-z]i"'
check "dpkg --purge libxpv1 libxpv-dev xpv-runtimes xpv-qemu" logged dpkg --purge libxpv1 libxpv-dev xpv-runtimes xpv-qemu
check "dkms forgot xpv-guest" sh -c '! dkms status xpv-guest 2>/dev/null | grep -q .'
check "/usr/src/xpv-guest-1.0 is gone" test ! -e /usr/src/xpv-guest-1.0
