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

# Start a holder, wait until its log shows READY, list the leases, truncate
# FILE from this process, let the holder finish, show the rest of its log.
truncate_while_held() {	# file ready holder-command...
	local file=$1 ready=$2 holder n
	shift 2
	"$@" > /tmp/holder.log &
	holder=$!
	while ! grep -q "$ready" /tmp/holder.log; do sleep 0.1; done
	cat /tmp/holder.log
	n=$(wc -l < /tmp/holder.log)
	echo "\$ layoutlease list"
	"$ll" list
	t0=$(ms)
	echo "\$ truncate -s 0 $file      (another process)"
	truncate -s 0 "$file"
	t1=$(ms)
	wait $holder
	tail -n +$((n + 1)) /tmp/holder.log
	echo "truncate returned after $((t1 - t0)) ms"
	echo "\$ layoutlease list      (after)"
	"$ll" list
}

truncate_with_holder() {	# holder options
	dd if=/dev/zero of="$f" bs=1M count=16 status=none
	truncate_while_held "$f" pinned "$ll" hold "$@" "$f"
}

step "A holder that unpins when told: the truncate goes on at once"
truncate_with_holder -t 2000
step "A holder that ignores the break: its pin is revoked at the 2000 ms deadline"
truncate_with_holder -t 2000 -i

step "A holder whose pin is exported as a dma-buf and who ignores the break"
echo "(the dma-buf's importers get move_notify at the deadline; the pages are"
echo " unpinned only once they stopped, then the truncate goes on)"
truncate_with_holder -t 1000 -e -i

step "The rdma-core example on soft-RoCE (rdma_rxe on a dummy netdev)"
modprobe -q crc32_generic 2>/dev/null || true
modprobe rdma_rxe && modprobe dummy &&
	ip link add lldemo0 type dummy && ip link set lldemo0 up &&
	rdma link add lldemorxe0 type rxe netdev lldemo0
run rdma link show
g=$LL_XFS/rdma-demo
truncate_while_held "$g" "waiting for a break" \
	build/tools/rdma-dmabuf -d lldemorxe0 -t 2000 -w "$g"
echo
echo "ibv_reg_mr() on the fsdax mapping fails: the kernel refuses long-term pins of"
echo "DAX memory.  The lease, pin and dma-buf export work; rxe itself has no dma-buf"
echo "memory regions, so ibv_reg_dmabuf_mr() needs a NIC whose driver imports"
echo "dma-bufs revocably (mlx5; irdma on 7.x): see Documentation/rdma.rst."
