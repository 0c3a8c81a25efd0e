#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bench: the benchmark in a VM (K=6.12 by default), XFS then ext4;
# then, on sid (7.2, whose rxe has ODP), ODP against layoutlease dma-buf
# memory regions on the test-only rxe (selftests/rxe_bench.c).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/deps.sh >/dev/null
make -s -C tools
make -s -C selftests
# shellcheck disable=SC2016
scripts/vm-run -k "${K:-6.12}" -- bash -c \
	'build/tools/layoutlease-bench "$LL_XFS" && build/tools/layoutlease-bench "$LL_EXT4" &&
	 build/selftests/dmabuf_bench "$LL_XFS" && build/selftests/dmabuf_bench "$LL_EXT4"'
# shellcheck disable=SC2016
exec scripts/vm-run -k "${RXE_K:-sid}" -t 1800 -- bash -c \
	'build/selftests/rxe_bench "$LL_XFS" && build/selftests/rxe_bench "$LL_EXT4"'
