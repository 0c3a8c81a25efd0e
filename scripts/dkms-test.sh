#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The DKMS package tested in two halves, so that the module's compile runs
# at native speed (under TCG it was most of a 28-minute VM):
#
#   scripts/dkms-test.sh build KDIR RELEASE DIR
#       On the host: the sources `make dkms-install` copies (make dkms-src),
#       added to and built by DKMS for RELEASE against KDIR in private trees
#       under DIR, as `dkms install` would build them on that kernel (the
#       guest runs this same gcc and these headers from the host's root),
#       then packed with `dkms mktarball`: DIR/layoutlease-dkms.tar.gz.
#
#   scripts/dkms-test.sh guest TARBALL KDIR
#       Inside a test VM of RELEASE (scripts/vm-run -n, the module not
#       loaded): `dkms ldtarball` loads the package, sources and the built
#       module, into the system's DKMS tree; `dkms install` installs it
#       without a compile; the module DKMS installed is loaded by name,
#       answers, and `make dkms-remove` removes it.
set -euxo pipefail
cd "$(dirname "$0")/.."
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
case ${1:-} in
build)
	kdir=$2 rel=$3 dir=$4
	rm -rf "$dir" && mkdir -p "$dir/src" "$dir/tree"
	dir=$(cd "$dir" && pwd)
	make -s dkms-src DKMS_SRC="$dir/src/layoutlease-$ver"
	t=(--dkmstree "$dir/tree" --sourcetree "$dir/src" -m layoutlease -v "$ver")
	dkms add "${t[@]}"
	dkms build "${t[@]}" -k "$rel" --kernelsourcedir "$kdir"
	dkms mktarball "${t[@]}" -k "$rel" --archive "$dir/layoutlease-dkms.tar.gz"
	list=$(tar -tzf "$dir/layoutlease-dkms.tar.gz")
	grep "/module/layoutlease.ko" <<<"$list"
	;;
guest)
	tarball=$2 kdir=$3
	rel=$(uname -r)
	ln -sfn "$kdir" "/lib/modules/$rel/build"
	# depmod, which DKMS runs at install and at remove, reads every module
	# of the tree: over Debian's 4230, decompressed under TCG, it took
	# about four minutes.  They are hidden under an empty tmpfs for the
	# run (the guest's modules are loaded by now; its writes stay in the
	# guest): depmod then indexes the module DKMS installed.
	mount -t tmpfs none "/lib/modules/$rel/kernel"
	dkms ldtarball "$tarball"
	st=$(dkms status -m layoutlease -v "$ver" -k "$rel")
	grep ": built" <<<"$st"
	dkms install -m layoutlease -v "$ver" -k "$rel"
	st=$(dkms status -m layoutlease -v "$ver" -k "$rel")
	grep ": installed" <<<"$st"
	modinfo -n layoutlease | grep "/lib/modules/$rel/updates/dkms/"
	modprobe layoutlease
	test -c /dev/layoutlease
	build/tools/layoutlease info
	rmmod layoutlease
	make dkms-remove
	if modinfo -n layoutlease 2>/dev/null; then
		echo "dkms-test: the module is still installed"
		exit 1
	fi
	;;
*)
	echo "usage: $0 build KDIR RELEASE DIR | guest TARBALL KDIR" >&2
	exit 2
	;;
esac
