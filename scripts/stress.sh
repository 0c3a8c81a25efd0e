#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make stress: the stateful fuzzer (selftests/fuzz.c) at length in a VM of
# one kernel, the debug kernel by default (KASAN, lockdep, kmemleak), for
# STRESS_SECONDS (default 1200).  It prints the seed; a failure prints the
# call and a replay line ("fuzz -s SEED -n CALLS"), to run with
#   scripts/vm-run -k KERNEL -- build/selftests/fuzz -s SEED -n CALLS -v
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/deps.sh >/dev/null
make -s -C selftests
k=${K:-debug}
secs=${STRESS_SECONDS:-1200}
echo "stress: fuzz on $k for $secs s"
exec scripts/vm-run -k "$k" -t $((secs + 600)) -- \
	build/selftests/fuzz -n 2000000000 -t "$secs" ${SEED:+-s "$SEED"}
