#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The guest side of make demo (scripts/demo.sh).
set -e
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { echo "\$ $*"; "$@"; }

step "A Debian kernel booted under QEMU"
run uname -r
step "Two emulated pmem devices in fsdax mode, XFS and ext4 mounted with -o dax=always"
run ndctl list -N
run grep dax /proc/mounts
for m in "$LL_XFS" "$LL_EXT4"; do
	f=$m/demo
	dd if=/dev/zero of="$f" bs=1M count=4 status=none
	echo "\$ xfs_io -c 'statx -r' $f | grep attributes   (0x200000 = STATX_ATTR_DAX)"
	xfs_io -c 'statx -r' "$f" | grep -E 'stat.attributes(_mask)? '
done
step "The layoutlease module, loaded from this clone"
echo "\$ lsmod | grep layoutlease"; lsmod | grep -E "^(Module|layoutlease)"
run ls -l /dev/layoutlease
echo "\$ dmesg | grep layoutlease"; dmesg | grep "layoutlease: api"
step "What it offers (LAYOUTLEASE_IOC_GET_INFO)"
run build/tools/layoutlease info
