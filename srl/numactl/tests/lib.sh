# shellcheck shell=bash
# Fake topologies for the libnuma tests (tests/suites/21-srl-numactl and
# bench/srl): a fake /sys/devices/system/node tree and, optionally, a fake
# /dev/xpv_numa page, seen only by a probe process started in its own mount
# namespace (unshare -m, needs root), so the host's sysfs is never touched.
# Needs $tmp (a private temporary directory).

# cpulist_expand LIST: "0-1,3" -> "0 1 3"
cpulist_expand() {
	local r a b out=""
	for r in ${1//,/ }; do
		a=${r%-*} b=${r#*-}
		while [ "$a" -le "$b" ]; do out="$out $a"; a=$((a + 1)); done
	done
	echo "${out# }"
}

# numa_tree_set DIR LIST0 LIST1...: node I gets the CPUs of LIST I ("" for
# a CPU-less node), as nodeI/cpulist and the kernel's nodeI/cpumap (hex,
# one 32-bit group: CPUs below 32).  Files are renamed into place.
numa_tree_set() {
	local dir=$1 i=0 list c mask
	shift
	for list; do
		mkdir -p "$dir/node$i"
		mask=0
		for c in $(cpulist_expand "$list"); do mask=$((mask | (1 << c))); done
		echo "$list" >"$dir/node$i/cpulist.tmp"
		mv "$dir/node$i/cpulist.tmp" "$dir/node$i/cpulist"
		printf '%08x\n' "$mask" >"$dir/node$i/cpumap.tmp"
		mv "$dir/node$i/cpumap.tmp" "$dir/node$i/cpumap"
		i=$((i + 1))
	done
}

# numa_expected NCPUS LIST0 LIST1...: what numa-answers' "query NCPUS"
# must print for that topology
numa_expected() {
	local ncpus=$1 c i list node
	shift
	for ((c = 0; c < ncpus; c++)); do
		node=-1 i=0
		for list; do
			case " $(cpulist_expand "$list") " in *" $c "*) node=$i ;; esac
			i=$((i + 1))
		done
		echo "cpu $c node $node"
	done
	i=0
	for list; do
		echo "node $i cpus $(cpulist_compress "$(cpulist_expand "$list")")"
		i=$((i + 1))
	done
}

# cpulist_compress "0 1 3" -> "0-1,3" ("none" if empty), as numa-answers prints
cpulist_compress() {
	local out="" start="" prev="" c
	for c in $(printf '%s\n' $1 | sort -n) END; do
		if [ -n "$prev" ] && [ "$c" != END ] && [ "$c" -eq $((prev + 1)) ]; then
			prev=$c
			continue
		fi
		if [ -n "$start" ]; then
			if [ "$start" = "$prev" ]; then out="$out,$start"; else out="$out,$start-$prev"; fi
		fi
		start=$c prev=$c
	done
	out=${out#,}
	echo "${out:-none}"
}

# probe_start NAME PROBE LIBDIR TREE [DEVDIR]: run PROBE with libnuma from
# LIBDIR ("" = the system's) in a mount namespace where TREE is
# /sys/devices/system/node and, if given, DEVDIR is /dev (holding a fake
# xpv_numa page).  Its stdin/stdout are fds ${probe_in[NAME]} and
# ${probe_out[NAME]}, its stderr goes to $tmp/NAME.err.
declare -A probe_in probe_out probe_pid
probe_start() {
	local name=$1 probe=$2 lib=$3 tree=$4 dev=${5:-}
	mkfifo "$tmp/$name.in" "$tmp/$name.out"
	(
		# not the other probes' pipe ends: each must see EOF when closed
		for fd in "${probe_in[@]}" "${probe_out[@]}"; do eval "exec $fd>&-"; done
		# shellcheck disable=SC2016
		LD_LIBRARY_PATH=$lib exec unshare -m --propagation private sh -c '
			mount --bind "$1" /sys/devices/system/node || exit 1
			if [ -n "$2" ]; then mount --bind "$2" /dev || exit 1; fi
			exec "$3"' sh "$tree" "$dev" "$probe"
	) <"$tmp/$name.in" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	probe_pid[$name]=$!
	exec {probe_in[$name]}>"$tmp/$name.in"
	exec {probe_out[$name]}<"$tmp/$name.out"
}

# probe_ask NAME COMMAND: send COMMAND, set $reply to the answer (without
# the "end" line); fails if the probe dies or does not answer within 120 s
probe_ask() {
	local line
	reply=""
	echo "$2" >&"${probe_in[$1]}" || return 1
	while read -r -t 120 line <&"${probe_out[$1]}"; do
		if [ "$line" = end ]; then
			reply=${reply%$'\n'}
			return 0
		fi
		reply="$reply$line"$'\n'
	done
	echo "# probe $1: no answer to '$2'"
	return 1
}

# probe_stop NAME: close its stdin and wait for it
probe_stop() {
	exec {probe_in[$1]}>&-
	exec {probe_out[$1]}<&-
	wait "${probe_pid[$1]}"
}

# xpv_map_write MKPAGE PAGE VERSION NODE-OF-CPU0 NODE-OF-CPU1...: a fake
# /dev/xpv_numa page (two guest nodes homed on host nodes 0 and 1, vCPU I on
# the host node of its guest node), written by srl's xpv-mkpage: created,
# or rewritten in place under the seqcount so that a process that has it
# mapped sees the new version.
xpv_map_write() {
	local mkpage=$1 page=$2 version=$3 cpu=0 node
	shift 3
	{
		echo "version $version"
		echo "flags mirrored"
		echo "hnode 0 distances 10,21"
		echo "hnode 1 distances 21,10"
		echo "gnode 0 home 0 size 1G unplaced 0 on 0:1G"
		echo "gnode 1 home 1 size 1G unplaced 0 on 1:1G"
		for node; do
			echo "vcpu $cpu node $node hnode $node hcpu $cpu"
			cpu=$((cpu + 1))
		done
	} >"$page.spec"
	"$mkpage" "$page.spec" "$page"
}

# nodes_to_lists NODE-OF-CPU0...: "LIST0|LIST1" for numa_expected (2 nodes;
# either may be empty: IFS="|" read them into two variables)
nodes_to_lists() {
	local cpu=0 node l0="" l1=""
	for node; do
		if [ "$node" = 0 ]; then l0="$l0,$cpu"; else l1="$l1,$cpu"; fi
		cpu=$((cpu + 1))
	done
	echo "${l0#,}|${l1#,}"
}
