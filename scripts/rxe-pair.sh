#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The RDMA test across two VMs (Documentation/rdma.rst): a holder VM runs
# selftests/rxe_remote_holder, a peer VM runs selftests/rxe_remote_peer, and
# their virtio NICs share a wire, QEMU dgram netdevs that send each other
# UDP datagrams on the host's 127.0.0.1 (vm-run -N).  Both use the
# test-only rxe, so KERNEL must be one that has it (scripts/rxe.sh).
#
#   scripts/rxe-pair.sh [KERNEL]    default 6.12; the holder's TAP, then
#                                   the peer's log; the holder's exit code,
#                                   or 1 if the peer VM failed; a skip if
#                                   KERNEL has no test-only rxe
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
kernel=${1:-6.12}
if [ -z "$(scripts/rxe.sh "$kernel" | tail -n 1)" ]; then
	echo "# selftest: rxe_remote_holder on $kernel"
	echo "ok 1 rxe_remote_holder # SKIP no test-only rxe for $kernel (selftests/rxe/)"
	exit 0
fi
# Two ports per run, apart from other runs' (the pid picks them).
pa=$((20000 + ($$ % 5000) * 2)) pb=$((20001 + ($$ % 5000) * 2))
out=$(mktemp -d "$top/build/pair.XXXXXX")
scripts/vm-run -k "$kernel" -t 900 -N "$pb:$pa:10.78.0.2/24" -o "$out/peer" -- \
	build/selftests/rxe_remote_peer -t 840 >"$out/peer.log" 2>&1 &
peer=$!
rc=0
echo "# selftest: rxe_remote_holder on $kernel, its peer in a second VM"
scripts/vm-run -k "$kernel" -t 900 -N "$pa:$pb:10.78.0.1/24" -o "$out/holder" -- \
	env LL_RXE_PEER=10.78.0.2 build/selftests/rxe_remote_holder || rc=$?
prc=0
wait "$peer" || prc=$?
echo "# rxe-pair: the peer VM ($kernel, exit $prc):"
sed 's/^/# peer: /' "$out/peer.log"
if [ "$prc" != 0 ] && [ "$rc" = 0 ]; then
	rc=1
fi
[ "$rc" != 0 ] || rm -rf "$out"
exit "$rc"
