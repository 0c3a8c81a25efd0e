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
mkdir -p "$out"
# One build of a kernel at a time: VM runs of the same kernel side by side
# (make check's pool, two vm-runs) each build first, in the same tree.  A
# build with nothing new changes no file (what kbuild made is kept from
# the rsync's --delete), so a VM that loads the modules meanwhile is safe.
exec 8>"$top/build/.$name.lock"
flock 8
# A copy per kernel: objects of different kernels must not mix.
for d in Kbuild Makefile kernel uapi scripts selftests; do
	rsync -a --delete --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' \
		--filter='P *.mod' --filter='P *.mod.c' --filter='P Module.symvers' \
		--filter='P modules.order' \
		"$top/$d" "$out/" 2>/dev/null || cp -a "$top/$d" "$out/"
done

run() {
	if [ -n "$chroot" ]; then
		LL_BIND=$bind "$top/scripts/kernels.sh" chroot "$chroot" \
			sh -c 'cd "$1" && shift && "$@"' sh "$out" "$@"
	else
		(cd "$out" && "$@")
	fi
}

log=$out/build.log
{
	run make -s KDIR="$kdir" compat_config.h
	run make -C "$kdir" M="$out" W=1 modules
	if [ -d "$out/selftests/kmod" ]; then
		run make -C "$kdir" M="$out/selftests/kmod" W=1 modules
	fi
	# The test-only rxe with dma-buf regions, where its series has a patch
	# (scripts/rxe.sh); not on the KCSAN kernel, whose suite is the
	# module's races, not rxe's.
	if [ "$name" != kcsan ]; then
		rxe=$("$top/scripts/rxe.sh" "$name" | tail -n 1)
		if [ -n "$rxe" ]; then
			mkdir -p "$out/rxe"
			cp -p "$rxe"/* "$out/rxe/"
			run make -C "$kdir" M="$out/rxe" W=1 modules
		fi
	fi
} >"$log" 2>&1 || { cat "$log" >&2; echo "build: $name failed" >&2; exit 1; }
if grep -E 'warning:|error:' "$log" >&2; then
	echo "build: $name: warnings at W=1" >&2
	exit 1
fi
echo "$out"
