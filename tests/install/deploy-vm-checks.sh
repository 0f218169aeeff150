#!/usr/bin/env bash
# Run by tests/suites/84-deploy-vm inside tests/install/overlay-root.sh's
# throw-away root, with the packages at /mnt and the guest's kernel, initrd
# and console at /srv: follows docs/deploy.md from the packages to a
# running VM and back.  The blocks marked "deploy-test" run verbatim
# (tests/install/deploy-lib.sh): install (2.1), xpvd --check/xpvctl status
# (2.3), the domain's XML (3, adjusted as below), virsh define/start,
# xpvctl status/placement/homing status, virsh destroy/undefine, removal
# (5).  Between them this script does what systemd would: xpvd started as
# its unit starts it, Debian's virtlogd and libvirtd started (privileged,
# in this root's namespaces) after the hook is installed.
#
# xpvd's configuration is the installed example edited as 2.3 says for a
# host without a hardware PMU: Kyoto off, the example's batch cgroup
# removed.  What governs the VM then is memory homing: the domain's
# <xpvh:homing> metadata (policy threshold, 500M) over the home node its
# <numatune> gives each cell (no Kyoto permit is enforced: no counters).
#
# The doc's domain is adjusted only where this machine differs: type qemu
# (no /dev/kvm; TCG) without host-passthrough (TCG has no host CPU), one
# guest cell per host node as 3 asks (this host has one), 2 vCPUs and 512
# MiB per cell, and in place of "disks, network..." a direct kernel boot
# of the harness's guest (/srv) with its console in a file.
# Prints "PASS what" / "FAIL what" / "SKIP what" lines (and "# " comments);
# the suite numbers them as TAP.
set -u
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH LC_ALL=C LIBVIRT_DEFAULT_URI=qemu:///system
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/install/deploy-lib.sh" # check, poll, deploy_block, deploy_text
qemu=/usr/lib/xpv/qemu/bin/qemu-system-x86_64
wd=/tmp/deploy-vm
mkdir -p "$wd"
xpvd='' virtlogd='' libvirtd=''
stop_all() { # what is still running when a step failed
	[ -n "$libvirtd" ] && virsh -q destroy vm1 >/dev/null 2>&1
	[ -n "$libvirtd" ] && virsh -q undefine vm1 >/dev/null 2>&1
	local p
	for p in $xpvd $libvirtd $virtlogd; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	xpvd='' virtlogd='' libvirtd=''
}
trap stop_all EXIT
die() { # die WHAT [LOG]: a step the rest depends on failed
	fail "$1"
	[ -z "${2:-}" ] || tail -20 "$2" | sed 's/^/#   /'
	exit 1
}
json() { # json FILE PYTHON-EXPR: exit 0 when EXPR (over r, the parsed file) holds
	python3 -c "import json, sys; r = json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1" 2>/dev/null
}

# ---- 2.1, 2.2: packages, AppArmor -------------------------------------------
check "docs/deploy.md 2.1: apt-get install xpv-host xpv-qemu libvirt-daemon-system" logged deploy_block host-install
for p in xpv-host xpv-qemu; do
	[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || die "$p is installed"
done
if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]; then
	skip "2.2: AppArmor with the xpv-qemu emulator path: AppArmor is on, but this suite does not load profiles"
else
	skip "2.2: AppArmor with the xpv-qemu emulator path: this host kernel has no AppArmor (/sys/module/apparmor absent)"
fi

echo "# ${SECONDS} s in the root"
# ---- 2.3: xpvd, configured as the doc says for a host without a PMU ---------
python3 - <<'PY' || die "edit /etc/xpvd.json (Kyoto off, no batch cgroup)"
import json
c = json.load(open("/etc/xpvd.json"))
c["kyoto"]["enabled"] = False
c["discovery"].pop("cgroups")
json.dump(c, open("/etc/xpvd.json", "w"), indent=2)
PY
# the directories systemd creates for the unit
mkdir -p /run/xpvd /var/lib/xpvd /var/log/xpvd && chmod 0700 /run/xpvd /var/lib/xpvd /var/log/xpvd
/usr/sbin/xpvd --config=/etc/xpvd.json >"$wd/xpvd.log" 2>&1 &
xpvd=$!
poll 60 sh -c 'xpvctl status >/dev/null 2>&1' || die "the installed xpvd answers xpvctl" "$wd/xpvd.log"
check "docs/deploy.md 2.3: xpvd --check and xpvctl status (Kyoto off, homing on)" logged deploy_block host-start

echo "# ${SECONDS} s in the root"
# ---- 2.4: the hook; libvirt started after it is installed ------------------
check "2.4: the hook is /etc/libvirt/hooks/qemu.d/xpv, naming /usr/bin/xpvctl" sh -c \
	'test -x /etc/libvirt/hooks/qemu.d/xpv && grep -qx "xpvctl=/usr/bin/xpvctl" /etc/xpv/libvirt-hook.conf'
virtlogd >"$wd/virtlogd.log" 2>&1 &
virtlogd=$!
poll 60 test -S /run/libvirt/virtlogd-sock || die "Debian's virtlogd listens" "$wd/virtlogd.log"
libvirtd >"$wd/libvirtd.log" 2>&1 &
libvirtd=$!
poll 60 sh -c 'virsh -q version >/dev/null 2>&1' || die "Debian's libvirtd answers on qemu:///system" "$wd/libvirtd.log"
pass "Debian's libvirtd $(libvirtd --version | awk '{print $NF}') and virtlogd run privileged in the throw-away root"

echo "# ${SECONDS} s in the root"
# ---- 3: the domain ----------------------------------------------------------
deploy_text domain >"$wd/doc.xml"
nodes=$(cd /sys/devices/system/node && ls -d node[0-9]* | sed 's/node//' | sort -n | tr '\n' ' ')
python3 - "$wd/doc.xml" "$wd/vm1.xml" "$nodes" <<'PY' || die "adjust the doc's domain XML"
import os, sys
from xml.dom import minidom
doc = minidom.parse(sys.argv[1])
d = doc.documentElement
nodes = [int(n) for n in sys.argv[3].split()]
def one(parent, tag):
    (e,) = parent.getElementsByTagName(tag)
    return e
def add(parent, tag, text=None, **attrs):
    e = doc.createElement(tag)
    for k, v in attrs.items():
        e.setAttribute(k, v)
    if text is not None:
        e.appendChild(doc.createTextNode(text))
    parent.appendChild(e)
    return e
def clear(e):
    while e.firstChild:
        e.removeChild(e.firstChild)
if not os.path.exists("/dev/kvm"):
    d.setAttribute("type", "qemu")          # TCG
    one(d, "cpu").removeAttribute("mode")   # no host CPU to pass through
cells, tune = one(d, "numa"), one(d, "numatune")
clear(cells); clear(tune)
for i, n in enumerate(nodes):               # one guest cell per host node
    add(cells, "cell", id=str(i), cpus="%d-%d" % (2 * i, 2 * i + 1), memory="512", unit="MiB")
    add(tune, "memnode", cellid=str(i), mode="strict", nodeset=str(n))
mem = one(d, "memory")
mem.setAttribute("unit", "MiB"); clear(mem); mem.appendChild(doc.createTextNode(str(512 * len(nodes))))
vcpu = one(d, "vcpu")
clear(vcpu); vcpu.appendChild(doc.createTextNode(str(2 * len(nodes))))
os_ = one(d, "os")
add(os_, "kernel", "/srv/kernel"); add(os_, "initrd", "/srv/initrd")
add(os_, "cmdline", "console=ttyS0 quiet panic=-1 no_timer_check")
dev = one(d, "devices")
for c in [c for c in dev.childNodes if c.nodeType == c.COMMENT_NODE]:
    dev.removeChild(c)                      # "disks, network...": the test's boot
serial = add(dev, "serial", type="file")
add(serial, "source", path="/srv/console.log")
add(d, "on_poweroff", "destroy")
open(sys.argv[2], "w").write(d.toxml() + "\n")
PY
sed 's/^/# vm1.xml: /' "$wd/vm1.xml"
check "docs/deploy.md 3: virsh define vm1.xml && virsh start vm1 (the hook lets it through)" logged deploy_block domain-start "$wd"
virsh -q domstate vm1 2>/dev/null | grep -q running || die "vm1 runs" "/var/log/libvirt/qemu/vm1.log"
uuid=$(virsh domuuid vm1 | head -1)
pid=$(cat /run/libvirt/qemu/vm1.pid)
packaged_qemu() {
	local exe
	exe=$(readlink "/proc/$pid/exe")
	# the same file (its path is the namespace's: libvirt gives QEMU its own /dev)
	[ "/proc/$pid/exe" -ef "$qemu" ] && tr '\0' '\n' <"/proc/$pid/cmdline" | grep -q '^virtio-numa-pci,' && return 0
	echo "#   pid $pid runs $exe: $(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-300)"
	return 1
}
check "vm1 runs on the packaged QEMU ($qemu) with -device virtio-numa-pci" packaged_qemu
id=$(virsh domid vm1 | head -1)
check "libvirt put vm1's vCPUs in the root's own cpu hierarchy (machine/qemu-$id-vm1.libvirt-qemu/vcpuN, what xpvd scans)" \
	test -d "/sys/fs/cgroup/cpu/machine/qemu-$id-vm1.libvirt-qemu/vcpu1"
echo "# ${SECONDS} s in the root"
# the live map (QEMU's monitor through libvirt; tests only: it taints)
map_full() {
	virsh -q qemu-monitor-command vm1 '{"execute":"__org.xpv_query-virtio-numa"}' >"$wd/map.json" 2>&1 &&
		json "$wd/map.json" "len(r['return'][0]['vcpus']) == $((2 * $(wc -w <<<"$nodes"))) and all(v['host-node'] >= 0 for v in r['return'][0]['vcpus'])"
}
check "virsh qemu-monitor-command __org.xpv_query-virtio-numa: every vCPU placed on a host node" poll 60 map_full
check "... with the host's nodes ($nodes) and one guest node per cell" json "$wd/map.json" \
	"sorted(h['id'] for h in r['return'][0]['host-nodes']) == [int(n) for n in '$nodes'.split()] and len(r['return'][0]['guest-nodes']) == len('$nodes'.split())"

# the hook's started notice reached xpvd
check "the hook's started notice reached xpvd (its log names vm1 $uuid)" poll 60 \
	grep -q "libvirt hook: domain vm1 $uuid started" "$wd/xpvd.log"

# the doc's check block: verbatim, until xpvd knows vm1 (an unknown VM is an error)
quiet() { "$@" >"$wd/quiet.log" 2>&1; }
if poll 60 quiet deploy_block domain-check "$wd"; then
	pass "docs/deploy.md 3: xpvctl status, xpvctl placement vm1, xpvctl homing status vm1"
	sed 's/^/#   /' "$wd/quiet.log"
else
	fail "docs/deploy.md 3: xpvctl status, xpvctl placement vm1, xpvctl homing status vm1"
	sed 's/^/#   /' "$wd/quiet.log" | tail -20
fi
xpvctl -j placement vm1 >"$wd/placement.json" 2>&1
check "xpvctl placement vm1: its 2 vCPU threads, each on a host CPU of the node its cell is bound to" json "$wd/placement.json" \
	"r['result']['domain'] == 'vm1' and sorted(v['vcpu'] for v in r['result']['vcpus']) == [0, 1] and all(v['cpu'] is not None and v['node'] == int('$nodes'.split()[0]) for v in r['result']['vcpus'])"
tids=$(virsh -q qemu-monitor-command vm1 '{"execute":"query-cpus-fast"}' |
	python3 -c 'import json, sys; print(sorted(c["thread-id"] for c in json.load(sys.stdin)["return"]))')
check "... the threads are QEMU's vCPU threads ($tids)" json "$wd/placement.json" \
	"str(sorted(v['tid'] for v in r['result']['vcpus'])) == '$tids'"
# governed: homing runs vm1 with the metadata's policy over <numatune>'s homes
homing_on() {
	xpvctl -j homing status vm1 >"$wd/homing.json" 2>&1 && json "$wd/homing.json" \
		"r['result']['vms'][0]['state'] == 'monitoring' and r['result']['vms'][0]['resident_bytes'] > 0"
}
check "governed: xpvd's homing monitors vm1's QEMU (pid $pid)" poll 60 homing_on
check "... with the domain metadata's policy (threshold, 500M) and <numatune>'s home node" json "$wd/homing.json" \
	"(lambda v: v['pid'] == $pid and v['policy'] == 'threshold' and v['policy_source'] == 'libvirt' and v['threshold_bytes'] == 500 << 20 and v['home_source'] == 'numatune')(r['result']['vms'][0])"

echo "# ${SECONDS} s in the root"
# the guest: driver bound, the map it sees is QEMU's
console=/srv/console.log
# the guest's last word: the map, or why not (then it powers off)
poll 240 grep -qE "XPV-DEPLOY (map printed|insmod failed|driver did not bind|no complete map)|XPV-GUEST-EXIT" "$console"
check "the guest's virtio_numa bound and read a complete map (console)" grep -q "XPV-DEPLOY map printed" "$console"
grep '^XPV-DEPLOY' "$console" | tr -d '\r' | sed 's/^/# guest: /'
guest_vcpus=$(tr -d '\r' <"$console" | awk '$1 == "XPV-DEPLOY" && $2 == "vcpu" { printf "%s:%s ", $3, $4 }')
qmp_vcpus=$(python3 -c 'import json, sys
for v in sorted(json.load(open(sys.argv[1]))["return"][0]["vcpus"], key=lambda v: v["cpu-index"]):
    print("%d:%d" % (v["cpu-index"], v["host-node"]), end=" ")' "$wd/map.json")
check "the guest's vCPU -> host node map ($guest_vcpus) is QEMU's live map ($qmp_vcpus)" \
	test -n "$guest_vcpus" -a "$guest_vcpus" = "$qmp_vcpus"
check "the guest's map is mirrored (one guest node per host node)" \
	grep -q "XPV-DEPLOY version=[1-9][0-9]* mirrored=1 " "$console"

echo "# ${SECONDS} s in the root"
# ---- down again -------------------------------------------------------------
check "docs/deploy.md 3: virsh destroy vm1 && virsh undefine vm1" logged deploy_block domain-stop "$wd"
check "the hook's stopped notice reached xpvd" poll 60 grep -q "libvirt hook: domain vm1 $uuid stopped" "$wd/xpvd.log"
gone() { ! xpvctl homing status vm1 >/dev/null 2>&1; }
check "xpvd dropped vm1" poll 60 gone
kill -TERM "$xpvd"
wait "$xpvd"
rc=$?
xpvd=''
check "xpvd stops cleanly on SIGTERM (rc $rc; as systemctl stop xpvd)" test "$rc" = 0
grep -iE 'error|warn' "$wd/xpvd.log" | head -10 | sed 's/^/# xpvd: /'
kill -TERM "$libvirtd" && wait "$libvirtd"
kill -TERM "$virtlogd" && wait "$virtlogd"
libvirtd='' virtlogd=''
check "docs/deploy.md 5: apt-get remove/purge xpv-host, purge xpv-qemu" logged deploy_block remove
check "xpv-host and xpv-qemu are purged" sh -c \
	'! dpkg-query -W -f="\${db:Status-Abbrev}\n" xpv-host xpv-qemu 2>/dev/null | grep -q "^[a-z]i"'
check "the hook is gone" test ! -e /etc/libvirt/hooks/qemu.d/xpv
echo "# ${SECONDS} s in the root"
