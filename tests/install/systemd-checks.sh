#!/usr/bin/env bash
# Run by tests/suites/85-systemd-testhost inside the test host booted with
# systemd as PID 1 (tests/testhost/run.sh --systemd), with the directory of
# the cached .debs as $1.  docs/deploy.md's install and start blocks run
# verbatim, systemctl included (nothing is downloaded: every dependency is
# installed on this machine); /etc/xpvd.json is edited only as section 2.3
# says (Kyoto off: no PMU).  Then xpvd.service under systemd: Type=notify,
# status, the installed socket, the sandbox in effect, reload (SIGHUP),
# restart, the journal; and, with test-only synthetic counters (a drop-in
# setting XPVD_TEST_MODE=1) against a systemd-managed cgroup with its own
# CPUQuota: throttling through the sandbox, a SIGKILL that systemd answers
# with Restart=on-failure (the new xpvd restores from its state file),
# reload, and a stop that leaves the cgroup and the CPU affinity as they
# were and no state file.  Prints PASS/FAIL lines (tests/install/deploy-lib.sh).
set -u
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH LC_ALL=C
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/install/deploy-lib.sh" # check, logged, poll, deploy_block
export DEPLOY_DIR=$1 DEPLOY_SYSTEMCTL=run
prop() { systemctl show -P "$1" "${2:-xpvd}"; }
active() { [ "$(prop ActiveState)/$(prop SubState)" = active/running ]; }
jfield() { # jfield KEY: a field of `xpvctl --json status`
	xpvctl --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"][sys.argv[1]])' "$1"
}
at() { echo "# $(cut -d' ' -f1 /proc/uptime) s after boot: $*"; }
journal_has() { # journal_has COUNT ERE: xpvd.service's journal has COUNT such lines
	[ "$(journalctl -q -u xpvd -o cat --no-pager | grep -cE "$2")" = "$1" ]
}

# man-db's index rebuild (a dpkg trigger) would take a minute under TCG
echo "man-db man-db/auto-update boolean false" | debconf-set-selections
at "installing"
if ! check "docs/deploy.md 2.1 verbatim: apt-get install xpv-host xpv-qemu libvirt-daemon-system" \
	logged deploy_block host-install; then
	exit 1
fi
# docs/deploy.md 2.3: Kyoto off (no PMU), the example's batch cgroup removed
python3 - <<'PY'
import json
c = json.load(open("/etc/xpvd.json"))
c["kyoto"]["enabled"] = False
c["discovery"]["cgroups"] = [g for g in c["discovery"]["cgroups"] if g["path"] != "batch.slice/job1"]
json.dump(c, open("/etc/xpvd.json", "w"), indent=2)
PY
at "starting"
# The block starts xpvd with `systemctl enable --now` and asks `xpvctl
# status` at once: with Type=notify, systemctl returns only after READY=1,
# which xpvd sends once its socket listens (a Type=simple unit would race).
if ! check "docs/deploy.md 2.3 verbatim: xpvd --check, systemctl enable --now xpvd, xpvctl status" \
	logged deploy_block host-start; then
	journalctl -u xpvd --no-pager | tail -20 | sed 's/^/#   /'
	exit 1
fi
pid0=$(prop MainPID)
check "xpvd.service is Type=notify, active (running), main PID $pid0 is /usr/sbin/xpvd" sh -c \
	"[ '$(prop Type)' = notify ] && [ '$(prop ActiveState)/$(prop SubState)' = active/running ] &&
		[ \"\$(readlink /proc/$pid0/exe)\" = /usr/sbin/xpvd ]"
check "xpvd.service is enabled (multi-user.target.wants)" test -L /etc/systemd/system/multi-user.target.wants/xpvd.service
systemctl status xpvd --no-pager >/tmp/status 2>&1
src=$?
check "systemctl status xpvd: exit 0, active (running), Main PID $pid0 (xpvd)" sh -c \
	"[ $src = 0 ] && grep -q 'Active: active (running)' /tmp/status && grep -q 'Main PID: $pid0 (xpvd)' /tmp/status ||
		{ sed 's/^/#   /' /tmp/status; false; }"
check "xpvctl --json status answers on the installed socket /run/xpvd/ctl.sock" sh -c \
	'test -S /run/xpvd/ctl.sock && xpvctl -s /run/xpvd/ctl.sock --json status | grep -q "\"period_ms\":100"'
# the unit's sandbox is in effect, and xpvd works inside it
mnt_opts() { findmnt --task "$pid0" -no OPTIONS --target "$1" | cut -d, -f1; }
check "sandbox: / and /etc read-only, /sys/fs/cgroup and /var/lib/xpvd writable, no new privileges" sh -c \
	"[ '$(mnt_opts /)/$(mnt_opts /etc)/$(mnt_opts /sys/fs/cgroup)/$(mnt_opts /var/lib/xpvd)' = ro/ro/rw/rw ] &&
		grep -q '^NoNewPrivs:[[:space:]]*1' /proc/$pid0/status"

# reload: SIGHUP, same process, the file read again
check "systemctl reload xpvd" logged systemctl reload xpvd
reloaded() { [ "$(prop MainPID)" = "$pid0" ] && [ "$(jfield reloads)" = 1 ] && active; }
check "... xpvd reloaded (reloads 1 in its status), same main PID, still active" poll 30 reloaded
# restart: a new process that answers at once
check "systemctl restart xpvd" logged systemctl restart xpvd
pid1=$(prop MainPID)
restarted() { [ "$pid1" != "$pid0" ] && active && xpvctl ping >/dev/null; }
check "... a new main PID ($pid0 -> $pid1), active, answering at once" restarted
journal_a() {
	journal_has 2 '^xpvd: running: cgroup v2 at /sys/fs/cgroup' && journal_has 1 '^xpvd: reloaded .*/etc/xpvd.json' &&
		journal_has 1 '^xpvd: signal 15, exiting' && journal_has 2 '^Started xpvd.service'
}
check "journalctl -u xpvd: two starts, one reload, one SIGTERM exit, the unit's own messages" poll 30 journal_a

at "test counters"
# ---- with test counters: a throttled cgroup, crash, restart, stop ------------
# the workload: a systemd service with the operator's CPUQuota (90%), whose
# cgroup.max xpvd must give back
systemd-run -q --unit=xpv85-vm -p CPUQuota=90% /bin/sh -c 'while :; do :; done'
cg=/sys/fs/cgroup/system.slice/xpv85-vm.service
wpid=$(prop MainPID xpv85-vm)
quota() { cut -d' ' -f1 "$cg/cpu.max"; }
orig=$(cat "$cg/cpu.max") aff=$(taskset -p "$wpid")
check "the workload xpv85-vm.service runs with cpu.max '$orig' (CPUQuota=90%)" test "$orig" = "90000 100000"
# (not in /run/xpvd: systemd empties the RuntimeDirectory at every stop)
mkdir -p /run/xpv85-synthetic /run/systemd/system/xpvd.service.d
echo 100000 >/run/xpv85-synthetic/vm
printf '[Service]\nEnvironment=XPVD_TEST_MODE=1\n' >/run/systemd/system/xpvd.service.d/85-test-counters.conf
systemctl daemon-reload
write_config() { # write_config PERMIT
	cat >/etc/xpvd.json <<EOC
{
  "period_ms": 100,
  "discovery": { "libvirt": false, "cgroups": [ { "name": "vm", "path": "system.slice/xpv85-vm.service" } ] },
  "kyoto": { "floor": 0.2, "default_permit": $1,
             "counters": { "source": "synthetic", "synthetic_dir": "/run/xpv85-synthetic" } },
  "homing": { "libvirt_metadata": false, "libvirt_numatune": false }
}
EOC
}
throttled() { [ "$(quota)" != max ] && [ "$(quota)" -lt 90000 ]; }
restored() { [ "$(cat "$cg/cpu.max")" = "$orig" ]; }
write_config 10
check "systemctl restart xpvd with a small permit (test counters)" logged systemctl restart xpvd
if ! check "... xpvd throttles the workload through its sandbox" poll 30 throttled; then
	echo "#   cpu.max: $(cat $cg/cpu.max)"
	journalctl -u xpvd -o cat --no-pager | tail -15 | sed 's/^/#   /'
	xpvctl status 2>&1 | sed 's/^/#   /'
fi
check "... its state file /var/lib/xpvd/state.json holds the original" poll 10 grep -q 90000 /var/lib/xpvd/state.json
# SIGKILL: the cgroup stays throttled; Restart=on-failure brings xpvd back
# and the new one (permit now large) restores from the state file
write_config 1000000000
pid2=$(prop MainPID)
systemctl kill -s KILL xpvd
respawned() { [ "$(prop NRestarts)" = 1 ] && active && [ "$(prop MainPID)" != "$pid2" ]; }
check "SIGKILL: systemd restarts xpvd (Restart=on-failure; NRestarts 1, new main PID)" poll 60 respawned
check "... the new xpvd restored the cgroup left throttled ('$orig')" poll 30 restored
check "... and says so in the journal" poll 30 journal_has 1 'restored 1 cgroup'
write_config 10
check "systemctl reload with the small permit again" logged systemctl reload xpvd
check "... throttled again" poll 30 throttled
check "systemctl stop xpvd" logged systemctl stop xpvd
check "... exit status 0, result success" sh -c \
	"[ '$(prop ExecMainStatus)/$(prop Result)/$(prop ActiveState)' = 0/success/inactive ]"
check "... cpu.max is the operator's '$orig' again ($(cat $cg/cpu.max))" restored
check "... no state file left" test ! -e /var/lib/xpvd/state.json
untouched() { [ "$(taskset -p "$wpid")" = "$aff" ] && grep -qx "$wpid" "$cg/cgroup.procs"; }
check "... the workload's CPU affinity is unchanged and it still runs in its cgroup" untouched
systemctl stop xpv85-vm
at "done"
