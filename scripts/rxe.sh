#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The test-only rxe with dma-buf memory regions (Documentation/rdma.rst,
# "A soft device with dma-buf regions"): rdma_rxe's source taken from the
# exact source of kernel KERNEL, with the patch of its series
# (selftests/rxe/<series>/rxe-dmabuf.patch); its own Makefile becomes the
# Kbuild of a module named rdma_rxe_ll, so that it is never taken for the
# stock rdma_rxe.  Prepared once per source and patch in $LL_CACHE/rxe/.
#
#   scripts/rxe.sh KERNEL    prints the directory to build with M=, or
#                            nothing if KERNEL's series has no patch
#
# KERNEL is a name of scripts/kernels.sh or of scripts/debug-kernel.sh.
# The matrix kernels' source is linux-source-<series> of the same Debian
# version as the kernel (scripts/kernels.sh source), the debug kernels' the
# tree they were built from.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
name=$1
LL_CACHE=${LL_CACHE:-/var/cache/layoutlease}
RXE=drivers/infiniband/sw/rxe
say() { echo "rxe($name): $*" >&2; }

tree='' tarball=''
case $name in
debug|debug-sid|kcsan)
	d=$("$top/scripts/debug-kernel.sh" "$name" | tail -n 1)
	rel=$(cat "$d/kernelrelease")
	tree=$(readlink -f "$d/build/source")
	;;
*)
	kd=$("$top/scripts/kernels.sh" fetch "$name" | tail -n 1)
	rel=$(cat "$kd/release")
	;;
esac
pdir=$top/selftests/rxe/$(echo "$rel" | cut -d. -f1,2)
[ -f "$pdir/rxe-dmabuf.patch" ] || exit 0
if [ -z "$tree" ]; then
	tarball=$("$top/scripts/kernels.sh" source "$name" | tail -n 1)
	id=$(stat -c '%n %s %Y' "$tarball")
else
	id=$tree
fi
key=$( { echo "$id"; cat "$pdir/rxe-dmabuf.patch" "$0"; } |
	sha256sum | cut -c1-16)
out=$LL_CACHE/rxe/$key
if [ ! -e "$out/.done" ]; then
	mkdir -p "$LL_CACHE/rxe"
	exec 9>"$LL_CACHE/rxe/.lock"
	flock 9
fi
if [ ! -e "$out/.done" ]; then
	say "preparing $RXE from ${tarball:-$tree} with $pdir/rxe-dmabuf.patch"
	rm -rf "$out" && mkdir -p "$out"
	if [ -n "$tarball" ]; then
		tar -C "$out" -xf "$tarball" --wildcards "*/$RXE/*" --strip-components=5
	else
		cp -p "$tree/$RXE"/* "$out/"
	fi
	patch -s -p5 -d "$out" <"$pdir/rxe-dmabuf.patch"
	sed -e 's/^obj-\$(CONFIG_RDMA_RXE)/obj-m/' -e 's/rdma_rxe/rdma_rxe_ll/g' \
		"$out/Makefile" >"$out/Kbuild"
	rm -f "$out/Makefile" "$out/Kconfig"
	grep -q '^obj-m += rdma_rxe_ll.o' "$out/Kbuild" ||
		{ say "unexpected $RXE/Makefile"; exit 1; }
	touch "$out/.done"
fi
echo "$out"
