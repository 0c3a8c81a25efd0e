#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the module (and the test-only modules) for one kernel of the matrix
# in build/<kernel>/, with W=1, and fail on any compiler warning.
#
#   scripts/build.sh KERNEL     prints the build directory
#
# KERNEL is a name of scripts/kernels.sh (6.1, 6.12, sid) or "debug".
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
name=$1
kdir_of() {
	if [ "$name" = debug ]; then
		local d
		d=$("$top/scripts/debug-kernel.sh" | tail -n 1)
		echo "$d/build"
	else
		cat "$("$top/scripts/kernels.sh" fetch "$name")/kdir"
	fi
}
kdir=$(kdir_of)
kd=
[ "$name" = debug ] || kd=$("$top/scripts/kernels.sh" fetch "$name")
out=$top/build/$name
mkdir -p "$out"
# A copy per kernel: objects of different kernels must not mix.
for d in Kbuild Makefile kernel uapi scripts selftests; do
	rsync -a --delete --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' \
		"$top/$d" "$out/" 2>/dev/null || cp -a "$top/$d" "$out/"
done

run() {
	if [ -n "$kd" ] && [ -e "$kd/chroot" ]; then
		LL_BIND=$top "$top/scripts/kernels.sh" chroot "$(cat "$kd/chroot")" \
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
} >"$log" 2>&1 || { cat "$log" >&2; echo "build: $name failed" >&2; exit 1; }
if grep -E 'warning:|error:' "$log" >&2; then
	echo "build: $name: warnings at W=1" >&2
	exit 1
fi
echo "$out"
