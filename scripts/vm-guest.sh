#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside a test VM (see scripts/vm-run), chrooted into the host's root
# shared read-only over 9p: sets up two emulated pmem devices in fsdax mode,
# mounts XFS at /mnt/xfs and ext4 at /mnt/ext4 with -o dax=always, loads the
# module and runs the command that $LL_OUT/cmd holds, its output going to
# the second serial port, which vm-run prints.
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LC_ALL=C.UTF-8
out=$(sed -n 's/.*ll\.out=\([^ ]*\).*/\1/p' /proc/cmdline)
# shellcheck disable=SC1091
. "$out/env"	# LL_KO LL_TESTMODS LL_CWD LL_KERNEL, written by vm-run

con=/dev/ttyS1
stty -F $con raw -echo 2>/dev/null
exec >$con 2>&1

die() { echo "vm-guest: $*"; exit 125; }
# Where a slow VM's time goes: the guest's uptime at each stage.
stage() { echo "# vm-guest: $* at $(cut -d' ' -f1 /proc/uptime) s"; }
stage "started"

# Two CPUs, or races cannot happen (the debug kernels, without ACPI, see
# only the CPUs of the BIOS's MP table: one per socket, hence sockets=2).
[ "$(nproc)" -ge 2 ] || die "the guest has $(nproc) CPU (want 2: vm-run -smp 2,sockets=2)"

kmemleak=/sys/kernel/debug/kmemleak
[ -n "$LL_BARE" ] && kmemleak=/nonexistent	# vm-run -b: no scans either
if [ -w $kmemleak ]; then
	# Forget what the boot left, so that only what follows is counted.
	echo scan > $kmemleak && echo clear > $kmemleak
	stage "kmemleak boot scan done"
fi

# Not in a bare run (vm-run -b).
pmem() {
	# Three e820 pmem regions (memmap=512M!1G memmap=512M!2G memmap=512M!2624M), one
	# per filesystem and a scratch device: fsdax does not work on partitions.
	# crc32c_generic feeds libcrc32c on older kernels; newer ones lack it.
	modprobe -q crc32c_generic 2>/dev/null
	for m in nd_e820 nd_pmem xfs ext4; do
		modprobe $m >/dev/null 2>&1 || echo "vm-guest: modprobe $m failed"
	done
	mkdir -p /mnt/xfs /mnt/ext4
	i=0
	for fs in xfs ext4; do
		dev=$(ndctl create-namespace -f -e namespace$i.0 --mode=fsdax 2>/tmp/ndctl.log |
			sed -n 's/.*"blockdev":"\([^"]*\)".*/\1/p')
		[ -b "/dev/$dev" ] || { cat /tmp/ndctl.log; die "no fsdax namespace$i.0"; }
		case $fs in
		xfs) mkfs.xfs -q -f -m reflink=0 "/dev/$dev" ;;
		ext4) mkfs.ext4 -q -F -b 4096 "/dev/$dev" ;;
		esac || die "mkfs.$fs failed"
		mount -t $fs -o dax=always "/dev/$dev" /mnt/$fs || die "mount $fs failed"
		chmod 1777 /mnt/$fs
		i=$((i + 1))
	done
	export LL_XFS=/mnt/xfs LL_EXT4=/mnt/ext4
	# The third region: a device for tests that make a filesystem of their own.
	dev=$(ndctl create-namespace -f -e namespace2.0 --mode=fsdax 2>/tmp/ndctl.log |
		sed -n 's/.*"blockdev":"\([^"]*\)".*/\1/p')
	[ -b "/dev/$dev" ] || { cat /tmp/ndctl.log; die "no fsdax namespace2.0"; }
	export LL_SCRATCH=/dev/$dev
	stage "pmem namespaces and mounts ready"
}
if [ -z "$LL_BARE" ]; then
	pmem
fi
if [ -n "$LL_KO" ]; then
	insmod "$LL_KO" || die "insmod $LL_KO failed"
fi
export LL_KO LL_TESTMODS
# vm-run -N: the NIC on the wire to another VM, and loopback.
ip link set lo up 2>/dev/null
if [ -n "${LL_NET:-}" ]; then
	modprobe virtio_net 2>/dev/null
	for n in /sys/class/net/*; do
		[ "$(cat "$n/device/vendor" 2>/dev/null)" = 0x1af4 ] && LL_NET_DEV=${n##*/}
	done
	[ -n "${LL_NET_DEV:-}" ] || die "no virtio NIC for $LL_NET"
	ip addr add "$LL_NET" dev "$LL_NET_DEV" && ip link set "$LL_NET_DEV" up ||
		die "cannot set up $LL_NET_DEV"
	export LL_NET LL_NET_DEV
	stage "network $LL_NET on $LL_NET_DEV"
fi

# A run that times out says nothing of where it hung unless asked before
# the end: 90 s before vm-run's limit, write every user process and every
# task in D state with its kernel stack, the leases and the end of dmesg to
# $out/timeout-tasks, which vm-run prints when the limit is hit.
snapshot() {
	local p st
	{
		echo "# timeout snapshot at $(cut -d' ' -f1 /proc/uptime) s"
		for p in /proc/[0-9]*; do
			st=$(sed -n 's/^State:[[:space:]]*//p' "$p/status" 2>/dev/null)
			[ -s "$p/cmdline" ] || case $st in D*) ;; *) continue ;; esac
			echo "## ${p#/proc/} $st: $(tr '\0' ' ' < "$p/cmdline" 2>/dev/null)" \
				"wchan=$(cat "$p/wchan" 2>/dev/null)"
			cat "$p/stack" 2>/dev/null
		done
		echo "## /proc/layoutleases"
		cat /proc/layoutleases 2>/dev/null
		echo "## dmesg"
		dmesg | tail -n 200
	} > "$out/timeout-tasks.tmp" 2>&1
	mv "$out/timeout-tasks.tmp" "$out/timeout-tasks"
}
snap=
if [ "${LL_LIMIT:-0}" -gt 180 ]; then
	up=$(cut -d. -f1 /proc/uptime)
	if [ "$up" -lt $((LL_LIMIT - 120)) ]; then
		(sleep $((LL_LIMIT - 90 - up)) && snapshot) &
		snap=$!
	fi
fi

cd "$LL_CWD" || die "no $LL_CWD"
stage "module loaded, command starts"
bash "$out/cmd"
rc=$?
[ -n "$snap" ] && kill "$snap" 2>/dev/null
stage "command done (exit $rc)"

# Leave nothing behind: a test that left the module busy fails the run.
if [ -n "$LL_KO" ] && [ -e /sys/module/layoutlease ]; then
	rmmod layoutlease || { echo "vm-guest: rmmod layoutlease failed"; rc=1; }
fi
if [ -z "$LL_BARE" ]; then
	umount /mnt/xfs /mnt/ext4 || { echo "vm-guest: umount failed"; rc=1; }
fi
if [ -w $kmemleak ]; then
	echo scan > $kmemleak; sleep 5; echo scan > $kmemleak
	cat $kmemleak > "$out/kmemleak"
	stage "kmemleak scans done"
fi
if [ -r /proc/lockdep_stats ]; then
	grep -q 'debug_locks: *1' /proc/lockdep_stats ||
		{ echo "vm-guest: lockdep switched itself off"; rc=1; }
fi
exit $rc
