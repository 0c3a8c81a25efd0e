#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The guest side of make demo (scripts/demo.sh).
set -e
ll=build/tools/layoutlease
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { echo "\$ $*"; "$@"; }

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
	echo "\$ layoutlease truncate -s 0 $file      (another process; the same clock)"
	"$ll" truncate -s 0 "$file" > /tmp/truncate.log
	wait $holder
	# hold's lines and the truncating process's share CLOCK_MONOTONIC:
	# in time order.  Other holders print their own way: after.
	if [ "$1" = "$ll" ]; then
		{ tail -n +$((n + 1)) /tmp/holder.log; cat /tmp/truncate.log; } |
			sort -n -s -k1,1
	else
		tail -n +$((n + 1)) /tmp/holder.log
		cat /tmp/truncate.log
	fi
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

step "An exclusive lease (hold -x, as root): while it is pinned, the truncate fails at once"
dd if=/dev/zero of="$f" bs=1M count=16 status=none
"$ll" hold -x "$f" > /tmp/holder.log &
holder=$!
while ! grep -q pinned /tmp/holder.log; do sleep 0.1; done
cat /tmp/holder.log
echo "\$ layoutlease list"
"$ll" list
echo "\$ layoutlease truncate -s 0 $f      (another process)"
"$ll" truncate -s 0 "$f" || true
echo "the file is $(stat -c %s "$f") bytes; the holder heard of nothing ($(($(wc -l < /tmp/holder.log) - 1)) events)"
echo "\$ kill $holder      (the holder ends: exit releases its pin)"
kill "$holder"
wait "$holder" || true
echo "\$ truncate -s 0 $f"
truncate -s 0 "$f" && echo "done: the file is $(stat -c %s "$f") bytes"

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

ko=$LL_TESTMODS/../../rxe/rdma_rxe_ll.ko
if [ -e "$ko" ]; then
step "Real RDMA into DAX file memory: an unmodified ib_write_bw under liblayoutlease-preload.so"
echo "(soft-RoCE here is the test-only rxe with dma-buf memory regions of"
echo " selftests/rxe/; on hardware the NIC's driver does this, e.g. mlx5)"
rdma link delete lldemorxe0 2>/dev/null; rmmod rdma_rxe 2>/dev/null || true
for m in $(modinfo -F depends rdma_rxe | tr , ' '); do modprobe -q "$m"; done
insmod "$ko" && ip link add lldemo1 type dummy && ip addr add 10.79.0.1/24 dev lldemo1 &&
	ip link set lldemo1 up && ip link set lo up &&
	rdma link add lldemorxed0 type rxe netdev lldemo1
sleep 1
dst=$LL_XFS/rdma-dst
dd if=/dev/zero of="$dst" bs=1M count=1 status=none
echo "\$ od -A d -t x1 $dst | head -2      (before: zeroes)"
od -A d -t x1 "$dst" | head -2
echo "\$ LD_PRELOAD=build/tools/liblayoutlease-preload.so LAYOUTLEASE_PRELOAD_BREAK=hold \\"
echo "    LAYOUTLEASE_PRELOAD_TIMEOUT_MS=1000 ib_write_bw -d lldemorxed0 -x 1 -D 30 --mmap=$dst &"
echo "\$ ib_write_bw -d lldemorxed0 -x 1 -D 30 127.0.0.1 &"
LD_PRELOAD=$PWD/build/tools/liblayoutlease-preload.so LAYOUTLEASE_PRELOAD_LOG=1 \
	LAYOUTLEASE_PRELOAD_BREAK=hold LAYOUTLEASE_PRELOAD_TIMEOUT_MS=1000 \
	ib_write_bw -d lldemorxed0 -x 1 -s 65536 -D 30 -p 18800 --mmap="$dst" >/tmp/server.log 2>&1 &
server=$!
sleep 1
ib_write_bw -d lldemorxed0 -x 1 -s 65536 -D 30 -p 18800 127.0.0.1 >/tmp/client.log 2>&1 &
client=$!
for _ in $(seq 300); do grep -q "registered: lkey" /tmp/server.log && break; sleep 0.1; done
sleep 2
grep layoutlease-preload /tmp/server.log
echo "\$ od -A d -t x1 $dst | head -2      (the client's RDMA WRITEs, in the file)"
od -A d -t x1 "$dst" | head -2
run cat /proc/layoutleases
echo "\$ layoutlease truncate -s 0 $dst      (another process; the program ignores breaks: hold)"
"$ll" truncate -s 0 "$dst"
echo "(the lease's deadline: 1000 ms)"
wait "$client" || true
wait "$server" || true
echo "the client's next WRITE after the revocation:"
grep -i -m 2 "error\|failed" /tmp/client.log || true
grep layoutlease-preload /tmp/server.log | tail -n +6
step "Nothing reaches the freed blocks: the peer writes again with the old key"
echo "\$ build/selftests/rxe_dmabuf_test -r rxe.xfs.deadline_revokes_region"
build/selftests/rxe_dmabuf_test -r rxe.xfs.deadline_revokes_region 2>&1 |
	sed -n 's/^# rxe_dmabuf_test.c:[0-9]*:deadline_revokes_region://p; /^ok /p'
echo "(a new file took the freed blocks (FIEMAP); the peer's WRITEs with the revoked"
echo " key each failed; the old blocks, read from the device, and the new file were"
echo " compared byte for byte before and after them: unchanged)"
fi
