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
# By default every test program, then short runs of the stateful fuzzer
# (two workers of 1500 calls, a new seed each time; it prints the seed and
# how to replay) and of the race stress (20 s).
[ ${#progs[@]} -gt 0 ] ||
	progs=("$top"/build/selftests/*_test "$top"/build/selftests/fuzz "$top"/build/selftests/race_stress)
for p in "${progs[@]}"; do
	args=()
	case $(basename "$p") in
	fuzz) args=(-j 2 -n 1500) ;;
	race_stress) args=(-t 20) ;;
	esac
	echo "# selftest: $(basename "$p") on $(uname -r)"
	SECONDS=0
	"$p" "${args[@]}" || rc=1
	echo "# selftest-time: $(basename "$p") ${SECONDS}s"
done
exit $rc
