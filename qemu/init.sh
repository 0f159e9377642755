#!/bin/sh
# qmempool-kit guest init: PID 1 in the QEMU initramfs, and in UML with the
# host's root filesystem (read-only hostfs). It speaks the guest protocol on
# the console and nothing else is parsed by the host:
#   QK-BEGIN {json}   init started (userspace reached)
#   QK-INFO  {json}   facts about the guest
#   QK-BENCH {json}   printed by the bench modules through printk, and by
#                     the packet scenarios (net/net.sh)
#   QK-END   {json}   final sentinel with the guest's exit status
# Parameters come from the kernel command line (qk_*=...); qk_attempt=N
# numbers the boots of one kernel and command line (a crash is re-booted).
BB=/bin/busybox
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

$BB mount -t proc proc /proc 2>/dev/null
$BB mount -t sysfs sysfs /sys 2>/dev/null
$BB mount -t devtmpfs devtmpfs /dev 2>/dev/null
$BB mount -t tmpfs tmpfs /tmp 2>/dev/null
$BB mount -t tmpfs tmpfs /run 2>/dev/null
exec </dev/console >/dev/console 2>&1

# Read one qk_NAME=value parameter from the command line.
param() {
	for w in $($BB cat /proc/cmdline); do
		case "$w" in
		"qk_$1="*) echo "${w#*=}"; return 0 ;;
		esac
	done
	return 1
}

finish() {
	echo "QK-END {\"status\":$1}"
	$BB sync
	# ACPI power-off on QEMU (-no-reboot turns a reboot into an exit too),
	# halt-and-exit on UML.
	$BB poweroff -f
	$BB reboot -f
	$BB sleep 5
	echo "qk-init: could not power off"
	exit "$1"
}

status=0
moddir=$(param moddir || echo /qk/modules)
# UML: our image directory on the host, mounted where tmpfs cannot hide it.
hostdir=$(param hostdir) && {
	$BB mkdir -p /run/qk
	$BB mount -t hostfs -o "$hostdir" hostfs /run/qk ||
		echo "qk-init: cannot mount $hostdir with hostfs"
}
echo "QK-BEGIN {\"proto\":1,\"run\":\"$(param run)\",\"variant\":\"$(param variant)\",\"side\":\"$(param side || param variant)\",\"backend\":\"$(param backend)\",\"attempt\":\"$(param attempt)\"}"
# NUMA nodes with memory or CPUs; a kernel without CONFIG_NUMA has no node
# directories and one node.
nodes=$($BB ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | $BB wc -l)
[ "$nodes" -gt 0 ] || nodes=1
echo "QK-INFO {\"kernel\":\"$($BB uname -r)\",\"machine\":\"$($BB uname -m)\",\"cpus\":$($BB grep -c ^processor /proc/cpuinfo),\"nodes\":$nodes}"
# --numa N: a guest that finds another count (no CONFIG_NUMA, no SRAT support)
# would measure a one-node machine under a two-node label.
want=$(param numa) && [ "$want" != "$nodes" ] && {
	echo "qk-init: error: the guest has $nodes NUMA node(s), and the run asked for $want (qk_numa): is CONFIG_NUMA (and ACPI NUMA) in this kernel?"
	finish 3
}

if [ "$(param probe)" = 1 ]; then
	finish 0
fi

# Deliberate failures, to check that the host classifies them.
case "$(param provoke)" in
hang)
	echo "qk-init: hanging on purpose (qk_provoke=hang)"
	while :; do $BB sleep 3600; done
	;;
warn|oops)
	$BB insmod "$moddir/qk_provoke.ko" what="$(param provoke)" || status=1
	;;
oops-once)
	# Crash only the first boot: the host must confirm a crash on an
	# emulated backend by booting again, and call this one flaky.
	if [ "$(param attempt)" = 1 ]; then
		$BB insmod "$moddir/qk_provoke.ko" what=oops || status=1
	else
		echo "qk-init: attempt $(param attempt): not provoking (qk_provoke=oops-once)"
	fi
	;;
esac

# Parameters for module $1 from the command line, as modprobe would pass
# them: "qk_bench.loops=10" becomes "loops=10". The bench modules (qk_bench*)
# also get set=$qk_benchset, so one word chooses the cases of all of them.
modargs() {
	for w in $($BB cat /proc/cmdline); do
		case "$w" in
		"$1."*) echo "${w#"$1".}" ;;
		esac
	done
	case "$1" in
	qk_bench*) bs=$(param benchset) && echo "set=$bs" ;;
	esac
}

# Load and unload each module of a comma-separated list, in order; one
# that fails to load fails the run.
load_modules() {
	for m in $(echo "$1" | $BB tr , ' '); do
		# shellcheck disable=SC2046 # one word per parameter
		if ! $BB insmod "$moddir/$m.ko" $(modargs "$m"); then
			echo "qk-init: error: insmod $m failed"
			status=1
			continue
		fi
		$BB rmmod "$m" || status=1
	done
}

# debugfs: failslab's knobs (below) and kmemleak's scan (at the end).
debugfs=0
[ -d /sys/kernel/debug ] && $BB mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null && debugfs=1

# On a kernel with CONFIG_FAILSLAB, arm slab fault injection for tasks that
# opt in (task->make_it_fail, set by the series' KUnit fallback tests around
# the calls that must fail), quietly; every other task is unaffected.
# Allocations that may sleep are still never failed (ignore-gfp-wait).
fs=/sys/kernel/debug/failslab
if [ "$debugfs" = 1 ] && [ -d "$fs" ] && [ -n "$(param kunit)" ]; then
	echo Y >"$fs/task-filter" && echo 100 >"$fs/probability" &&
		echo 1 >"$fs/interval" && echo -1 >"$fs/times" &&
		echo 0 >"$fs/verbose" && echo "qk-init: failslab armed for make-it-fail tasks" ||
		echo "qk-init: could not arm failslab"
fi

# On a kernel with memory cgroups, the KUnit suites are loaded from a child
# cgroup with the memory controller on: the qmempool suite charges objects
# to the cgroup of the task that loaded it (its __GFP_ACCOUNT cases), and
# the root cgroup is charged for nothing.  Only boots that load KUnit
# suites do this; they run no benchmarks.
cg=/sys/fs/cgroup
kunit_cg=0
# (/proc/cgroups lists only cgroup v1 controllers: ask cgroup2 itself.)
if [ -n "$(param kunit)" ] && [ -d $cg ] &&
	$BB mount -t cgroup2 cgroup2 $cg 2>/dev/null &&
	$BB grep -qw memory $cg/cgroup.controllers &&
	echo +memory >$cg/cgroup.subtree_control && $BB mkdir -p $cg/qk-kunit &&
	echo $$ >$cg/qk-kunit/cgroup.procs; then
	kunit_cg=1
	echo "qk-init: KUnit suites load in memory cgroup qk-kunit"
fi

# In-tree KUnit suites built as modules first (KTAP is printed as each
# loads), then the bench modules.
load_modules "$(param kunit)"
[ "$kunit_cg" = 1 ] && echo $$ >$cg/cgroup.procs
load_modules "$(param modules)"

# Packet scenarios (qk_net=drop,forward,...): qemu/net/net.sh, beside the
# modules' directory in the image.
if net=$(param net); then
	if [ -r "${moddir%/modules}/net.sh" ]; then
		. "${moddir%/modules}/net.sh"
		net_run "$net"
	else
		echo "qk-init: error: ${moddir%/modules}/net.sh is missing from the image"
		status=1
	fi
fi

# On a kmemleak kernel, scan now: leaks are reported on the console
# ("kmemleak: N new suspected memory leaks"). Objects younger than 5 s are
# not reported yet, hence the wait.
if [ "$debugfs" = 1 ] && [ -e /sys/kernel/debug/kmemleak ]; then
	$BB sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	echo "qk-init: kmemleak scan done"
fi

finish $status
