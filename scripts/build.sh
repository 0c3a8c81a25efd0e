#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the module (and the test-only modules) for one kernel of the matrix
# in build/<kernel>/, with W=1, and fail on any compiler warning.
#
#   scripts/build.sh KERNEL     prints the build directory
#
# KERNEL is a name of scripts/kernels.sh (6.1, 6.12, sid) or of a debug
# kernel of scripts/debug-kernel.sh (debug, debug-sid, kcsan).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
name=$1
LL_CACHE=${LL_CACHE:-/var/cache/layoutlease}
# The kernel tree, and the chroot to build in (sid's compiler), if any.
chroot= bind=$top
case $name in
debug|debug-sid|kcsan)
	kdir=$("$top/scripts/debug-kernel.sh" "$name" | tail -n 1)/build
	if [ "$name" = debug-sid ]; then
		chroot=$(cat "$("$top/scripts/kernels.sh" fetch sid)/chroot")
		bind="$top $LL_CACHE/debug"
	fi
	;;
*)
	kd=$("$top/scripts/kernels.sh" fetch "$name")
	kdir=$(cat "$kd/kdir")
	[ -e "$kd/chroot" ] && chroot=$(cat "$kd/chroot")
	;;
esac
out=$top/build/$name
# Kbuild builds in one directory per kernel outside the clone, $obj, so
# that a fresh clone (CI's) rebuilds only what differs from the last build
# of any clone: the sources are copied there by content (rsync -c, without
# their times), an unchanged file keeps the time of the copy that built its
# object.  The results (modules, logs) are then copied into $out.  One
# build of a kernel at a time, across clones: make check's pool and two
# vm-runs side by side each build first.  A build with nothing new changes
# no file of $out, so a VM that loads the modules meanwhile is safe.
obj=$LL_CACHE/obj/$name
mkdir -p "$obj" "$out"
exec 8>"$LL_CACHE/obj/.$name.lock"
flock 8
# A copy per kernel: objects of different kernels must not mix.
for d in Kbuild Makefile dkms.conf kernel uapi scripts selftests; do
	rsync -rlpc --delete --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' \
		--filter='P *.mod' --filter='P *.mod.c' --filter='P Module.symvers' \
		--filter='P modules.order' --filter='P *.log' \
		"$top/$d" "$obj/"
done
bind="$bind $LL_CACHE/obj"

run() {
	if [ -n "$chroot" ]; then
		LL_BIND=$bind "$top/scripts/kernels.sh" chroot "$chroot" \
			sh -c 'cd "$1" && shift && "$@"' sh "$obj" "$@"
	else
		(cd "$obj" && "$@")
	fi
}

log=$obj/build.log
{
	run make -s KDIR="$kdir" compat_config.h
	run make -C "$kdir" M="$obj" W=1 modules
	if [ -d "$obj/selftests/kmod" ]; then
		run make -C "$kdir" M="$obj/selftests/kmod" W=1 modules
	fi
	# The test-only rxe with dma-buf regions, where its series has a patch
	# (scripts/rxe.sh); not on the KCSAN kernel, whose suite is the
	# module's races, not rxe's.
	if [ "$name" != kcsan ]; then
		rxe=$("$top/scripts/rxe.sh" "$name" | tail -n 1)
		if [ -n "$rxe" ]; then
			mkdir -p "$obj/rxe"
			rsync -rlc "$rxe"/ "$obj/rxe/"
			run make -C "$kdir" M="$obj/rxe" W=1 modules
		fi
	fi
} >"$log" 2>&1 || { cat "$log" >&2; echo "build: $name failed" >&2; exit 1; }
# A warning fails the build until it is gone: the objects are removed, so
# that the next build compiles (and warns) again instead of finding them.
if grep -E 'warning:|error:' "$log" >&2; then
	find "$obj" \( -name '*.o' -o -name '*.ko' \) -delete
	echo "build: $name: warnings at W=1" >&2
	exit 1
fi
# scripts/style.sh: sparse over every file (C=2), here under the lock.
if [ -n "${LL_SPARSE:-}" ]; then
	run make -C "$kdir" M="$obj" C=2 CHECK="sparse -Wsparse-error" W=1 modules \
		>"$obj/sparse.log" 2>&1 || echo "build: sparse: make failed" >>"$obj/sparse.log"
fi
# What the VMs load and the logs, into the clone; nothing else stays there
# (--delete-excluded: also what a build of the clone's own left, before
# the builds moved to $obj).
rsync -rlt --delete --delete-excluded --include '*/' --include '*.ko' --include '*.log' \
	--include compat_config.h --exclude '*' --prune-empty-dirs "$obj/" "$out/"
echo "$out"
