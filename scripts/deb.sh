#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make deb: the Debian packages of debian/ (layoutlease-dkms,
# layoutlease-tools, liblayoutlease0, liblayoutlease-dev and the source
# package), built with dpkg-buildpackage from a copy of the tree's tracked
# files, then checked with lintian.  The packages go to build/deb/.
#
#   scripts/deb.sh [--no-lintian]
#
# Install them with `apt-get install ./build/deb/*.deb`.  Tags lintian
# reports that are justified are overridden in debian/*.lintian-overrides
# with the reason; any other tag fails the run.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
lint=1
[ "${1:-}" = --no-lintian ] && lint=
ver=$(dpkg-parsechangelog -l debian/changelog -S Version)
out=$top/build/deb
rm -rf "$out" && mkdir -p "$out/src"
src=$out/src/layoutlease-$ver
# The tracked files as they are in the work tree (a clone, or a tree with
# changes not yet committed); without git, everything but build/.
mkdir -p "$src"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$top" ls-files -z | rsync -a --from0 --files-from=- "$top/" "$src/"
else
	rsync -a --exclude=/build --exclude=.git "$top/" "$src/"
fi
( cd "$src" && dpkg-buildpackage -us -uc --build=full ) >"$out/build.log" 2>&1 || {
	tail -n 40 "$out/build.log" >&2
	echo "deb: dpkg-buildpackage failed; the log is $out/build.log" >&2
	exit 1
}
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/src/*.dsc \
	"$out"/src/*.tar.* "$out/"
ls "$out"/*.deb
if [ -n "$lint" ]; then
	# Every tag but the overridden ones, and the informational ones
	# too: a clean run prints nothing.
	lintian --info --display-info --fail-on error,warning,info \
		"$out"/layoutlease_"$ver"_*.changes | tee "$out/lintian.log"
fi
