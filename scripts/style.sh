#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch --strict on every kernel-side source, and sparse on the module
# built against one kernel of the matrix.  Prints one line per check.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
ksft=$(scripts/deps.sh)
rc=0
files=$(git ls-files 'kernel/*.[ch]' 'uapi/*.h' 'selftests/kmod/*.[ch]' 2>/dev/null ||
	ls kernel/*.[ch] kernel/probes/*.c uapi/linux/*.h selftests/kmod/*.c)
# shellcheck disable=SC2086
if perl "$ksft/scripts/checkpatch.pl" --strict --no-tree --quiet --terse \
	--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG -f $files >build-style.log 2>&1; then
	echo "ok checkpatch --strict ($(echo $files | wc -w) files)"
else
	cat build-style.log
	echo "FAIL checkpatch --strict"
	rc=1
fi
rm -f build-style.log

# sparse on every file of the module (C=2), by scripts/build.sh under its
# lock, in its build directory; the log comes back as build/6.12/sparse.log.
bdir=$(LL_SPARSE=1 scripts/build.sh 6.12) || { echo "FAIL sparse (build)"; exit 1; }
if [ -s "$bdir/sparse.log" ] && ! grep -q 'build: sparse: make failed' "$bdir/sparse.log" &&
	! grep -E 'warning:|error:' "$bdir/sparse.log"; then
	echo "ok sparse (6.12)"
else
	grep -E 'warning:|error:' "$bdir/sparse.log" || tail -n 20 "$bdir/sparse.log"
	echo "FAIL sparse (6.12)"
	rc=1
fi
exit $rc
