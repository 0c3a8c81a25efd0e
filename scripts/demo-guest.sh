#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The guest side of make demo (scripts/demo.sh).
set -e
ll=build/tools/layoutlease
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { echo "\$ $*"; "$@"; }
ms() { date +%s%N | cut -c1-13; }

step "A Debian kernel booted under QEMU"
run uname -r
step "Two emulated pmem devices in fsdax mode, XFS and ext4 mounted with -o dax=always"
run grep dax /proc/mounts
f=$LL_XFS/demo
dd if=/dev/zero of="$f" bs=1M count=16 status=none
echo "\$ xfs_io -c 'statx -r' $f | grep attributes   (0x200000 = STATX_ATTR_DAX)"
xfs_io -c 'statx -r' "$f" | grep -E 'stat.attributes '
step "The layoutlease module, loaded from this clone"
echo "\$ lsmod | grep layoutlease"; lsmod | grep -E "^(Module|layoutlease)"
run "$ll" info

truncate_with_holder() {	# holder options
	dd if=/dev/zero of="$f" bs=1M count=16 status=none
	"$ll" hold "$@" "$f" > /tmp/holder.log &
	holder=$!
	while ! grep -q pinned /tmp/holder.log; do sleep 0.1; done
	cat /tmp/holder.log
	echo "\$ layoutlease list"
	"$ll" list
	t0=$(ms)
	echo "\$ truncate -s 0 $f      (another process)"
	truncate -s 0 "$f"
	t1=$(ms)
	wait $holder
	tail -n +2 /tmp/holder.log
	echo "truncate returned after $((t1 - t0)) ms"
	echo "\$ layoutlease list      (after)"
	"$ll" list
}

step "A holder that unpins when told: the truncate goes on at once"
truncate_with_holder -t 2000
step "A holder that ignores the break: its pin is revoked at the 2000 ms deadline"
truncate_with_holder -t 2000 -i
