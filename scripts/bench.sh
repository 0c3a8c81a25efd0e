#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bench: the benchmark in a VM (K=6.12 by default), XFS then ext4.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/deps.sh >/dev/null
make -s -C tools
make -s -C selftests
# shellcheck disable=SC2016
exec scripts/vm-run -k "${K:-6.12}" -- bash -c \
	'build/tools/layoutlease-bench "$LL_XFS" && build/tools/layoutlease-bench "$LL_EXT4" &&
	 build/selftests/dmabuf_bench "$LL_XFS" && build/selftests/dmabuf_bench "$LL_EXT4"'
