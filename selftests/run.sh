#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside a test VM (scripts/vm-run): every selftest program in turn,
# each printing TAP.  Exits non-zero if any failed.
#
#   selftests/run.sh [PROGRAM...]     default: all of build/selftests
top=$(cd "$(dirname "$0")/.." && pwd)
rc=0
progs=("$@")
# By default every test program, then a short run of the stateful fuzzer
# (3000 calls, a new seed each time; it prints the seed and how to replay).
[ ${#progs[@]} -gt 0 ] || progs=("$top"/build/selftests/*_test "$top"/build/selftests/fuzz)
for p in "${progs[@]}"; do
	echo "# selftest: $(basename "$p") on $(uname -r)"
	"$p" || rc=1
done
exit $rc
