#!/bin/sh
# TEST ONLY, runs inside the guest of tests/suites/84-deploy-vm (the domain
# of docs/deploy.md on the packaged QEMU): loads the driver, says whether
# it bound, waits (deadline) until the map places every vCPU on a host
# node, prints the map on the console (the domain's serial file) and
# idles until the host destroys the domain.
S=/sys/class/misc/xpv_numa
insmod /xpv/mods/virtio_numa.ko || { echo "XPV-DEPLOY insmod failed"; exit 1; }
[ -c /dev/xpv_numa ] || { echo "XPV-DEPLOY driver did not bind: no /dev/xpv_numa"; exit 1; }
echo "XPV-DEPLOY bound"
# vcpus rows: "cpu host_node_id host_cpu guest_node"
end=$(($(date +%s) + 300))
while awk '$2 < 0 { bad = 1 } END { exit !(NR == 0 || bad) }' $S/vcpus; do
	[ "$(date +%s)" -lt "$end" ] || { echo "XPV-DEPLOY no complete map"; exit 1; }
	sleep 0.2 # polling interval of a deadline loop
done
echo "XPV-DEPLOY version=$(cat $S/version) mirrored=$(cat $S/mirrored) host_nodes=$(cat $S/host_nodes)"
sed 's/^/XPV-DEPLOY vcpu /' $S/vcpus
sed 's/^/XPV-DEPLOY gnode /' $S/gnodes
echo "XPV-DEPLOY map printed"
while :; do sleep 3600; done # idle until destroyed
