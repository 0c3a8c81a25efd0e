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
#
# The Debian packages of `make deb` (scripts/deb.sh) the same way:
#
#   scripts/dkms-test.sh deb-build KDIR RELEASE DEBDIR DIR
#       On the host: the module sources layoutlease-dkms_*.deb of DEBDIR
#       carries, built by DKMS for RELEASE as above and packed binaries
#       only: DIR/layoutlease-bin.tar.gz.
#
#   scripts/dkms-test.sh deb-guest DEBDIR TARBALL
#       Inside a test VM of RELEASE with its DAX mounts (the module not
#       loaded): `apt-get install` of the four packages; their postinst
#       adds the module to DKMS (the guest has no kernel headers, so it
#       skips the compile); `dkms ldtarball` gives DKMS the host's build of
#       those same sources and `dkms install` installs it; modprobe loads
#       it, udev's rule is the package's, /usr/bin/layoutlease lists a lease
#       `layoutlease hold` holds, a program built against the installed
#       library through pkg-config talks to the module; then `apt-get purge`
#       removes it all: no package, no DKMS entry, no module, no file left.
set -euxo pipefail
cd "$(dirname "$0")/.."
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
case ${1:-} in
build|deb-build)
	kdir=$2 rel=$3
	if [ "$1" = build ]; then
		dir=$4
	else
		debdir=$4 dir=$5
	fi
	rm -rf "$dir" && mkdir -p "$dir/src" "$dir/tree"
	dir=$(cd "$dir" && pwd)
	t=(--dkmstree "$dir/tree" --sourcetree "$dir/src" -m layoutlease -v "$ver")
	if [ "$1" = build ]; then
		make -s dkms-src DKMS_SRC="$dir/src/layoutlease-$ver"
		tarball=$dir/layoutlease-dkms.tar.gz mk=()
	else
		dpkg-deb -x "$debdir"/layoutlease-dkms_*_all.deb "$dir/deb"
		mv "$dir/deb/usr/src/layoutlease-$ver" "$dir/src/"
		tarball=$dir/layoutlease-bin.tar.gz mk=(--binaries-only)
	fi
	dkms add "${t[@]}"
	dkms build "${t[@]}" -k "$rel" --kernelsourcedir "$kdir"
	dkms mktarball "${t[@]}" -k "$rel" "${mk[@]}" --archive "$tarball"
	list=$(tar -tzf "$tarball")
	grep "/module/layoutlease.ko" <<<"$list"
	;;
deb-guest)
	debdir=$(cd "$2" && pwd) tarball=$3
	rel=$(uname -r)
	mountpoint -q "/lib/modules/$rel/kernel" || mount -t tmpfs none "/lib/modules/$rel/kernel"
	# No headers for the postinst's compile (under TCG it would take most
	# of half an hour): the host built these sources.
	rm -f "/lib/modules/$rel/build" "/lib/modules/$rel/source"
	debs=()
	for p in layoutlease-dkms liblayoutlease0 liblayoutlease-dev layoutlease-tools; do
		debs+=("$(ls "$debdir/${p}_"*.deb)")
	done
	# Nothing to fetch: the guest has the host's packages, dkms among them.
	# man-db's trigger (three minutes under TCG) is off for the run.
	rm -f /var/lib/man-db/auto-update
	DEBIAN_FRONTEND=noninteractive apt-get install -q -y -o Dpkg::Use-Pty=0 "${debs[@]}"
	st=$(dkms status -m layoutlease -v "$ver")
	grep ": added" <<<"$st"
	# --force: the module is added already (the postinst did it); the
	# tarball only brings its build for this kernel.  DKMS 3.0.10 copies
	# that build, then tries to add the module again and exits 3 ("DKMS
	# tree already contains"): the status below is what counts.
	dkms ldtarball --force "$tarball" || [ $? = 3 ]
	st=$(dkms status -m layoutlease -v "$ver" -k "$rel")
	grep ": built" <<<"$st"
	dkms install -m layoutlease -v "$ver" -k "$rel"
	st=$(dkms status -m layoutlease -v "$ver" -k "$rel")
	grep ": installed" <<<"$st"
	modinfo -n layoutlease | grep "/lib/modules/$rel/updates/dkms/"
	modprobe layoutlease
	test -c /dev/layoutlease
	# The package's udev rule applies to the device (no udevd here:
	# udevadm test reads the rules and prints what it would do).
	udevadm test --action=add /devices/virtual/misc/layoutlease 2>&1 |
		grep -E "60-layoutlease.rules|MODE 0666" | head -n 5
	test -e /lib/udev/rules.d/60-layoutlease.rules
	f=$LL_XFS/deb-test
	dd if=/dev/zero of="$f" bs=1M count=1 status=none
	layoutlease hold "$f" >/tmp/hold.out &
	holder=$!
	trap 'kill $holder 2>/dev/null || true' EXIT
	for _ in $(seq 100); do grep -q "holder" /tmp/hold.out && break; sleep 0.1; done
	layoutlease list
	layoutlease list --json | grep "\"path\": \"$f\""
	layoutlease info --json | grep '"api_version"'
	# A program built against the installed library and headers.
	cat >/tmp/deb-test.c <<-'PROG'
	#include <stdio.h>
	#include <layoutlease.h>
	int main(void)
	{
		struct layoutlease_get_info info;
		int fd = ll_open();

		if (fd < 0 || ll_get_info(fd, &info))
			return 1;
		printf("api version %u\n", info.out_api_version);
		return info.out_api_version != LAYOUTLEASE_API_VERSION;
	}
	PROG
	# shellcheck disable=SC2046
	gcc -o /tmp/deb-test /tmp/deb-test.c $(pkg-config --cflags --libs liblayoutlease)
	ldd /tmp/deb-test | grep -E "liblayoutlease.so.0 => (/usr)?/lib/"
	/tmp/deb-test
	kill "$holder"
	wait "$holder" || true
	rmmod layoutlease
	DEBIAN_FRONTEND=noninteractive apt-get purge -q -y -o Dpkg::Use-Pty=0 layoutlease-dkms layoutlease-tools \
		liblayoutlease0 liblayoutlease-dev
	left=$(dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' 'layoutlease*' 'liblayoutlease*' 2>/dev/null |
		grep -v '^un ' || true)
	if [ -n "$left" ] || modinfo -n layoutlease 2>/dev/null || [ -n "$(dkms status -m layoutlease)" ] ||
		[ -e "/usr/src/layoutlease-$ver" ] || [ -e /usr/bin/layoutlease ] ||
		[ -e /lib/udev/rules.d/60-layoutlease.rules ] || [ -e /usr/include/layoutlease.h ] ||
		ls /usr/lib/*/liblayoutlease* 2>/dev/null; then
		echo "dkms-test: the purge left something behind: $left"
		exit 1
	fi
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
	echo "usage: $0 build KDIR RELEASE DIR | guest TARBALL KDIR |" >&2
	echo "       deb-build KDIR RELEASE DEBDIR DIR | deb-guest DEBDIR TARBALL" >&2
	exit 2
	;;
esac
