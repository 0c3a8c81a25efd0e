#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what building and testing need, from Debian's archive, if missing;
# extract the kselftest harness from Debian's linux-source package into the
# cache.  Prints the harness directory.
set -euo pipefail

LL_CACHE=${LL_CACHE:-/var/cache/layoutlease}
pkgs="build-essential bc bison flex libelf-dev libssl-dev dwarves kmod cpio
	xz-utils zstd gzip rsync ccache sparse perl python3 debootstrap
	qemu-system-x86 busybox-static ndctl xfsprogs xfslibs-dev e2fsprogs linux-source-6.12
	libibverbs-dev ibverbs-providers rdma-core perftest iproute2 dkms pkg-config python3-jsonschema python3-docutils mandoc bpftrace
	debhelper dh-dkms dpkg-dev lintian udev"
missing=
for p in $pkgs; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "deps: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get -q update >/dev/null
	# shellcheck disable=SC2086
	apt-get -q -y install --no-install-recommends $missing >/dev/null
fi

# The kselftest harness, checkpatch and kernel-doc, from the
# linux-source-6.12 tarball.
ver=$(dpkg-query -W -f '${Version}' linux-source-6.12)
ksft=$LL_CACHE/ksft-$ver
if [ ! -e "$ksft/.done-2" ]; then
	mkdir -p "$ksft"
	tar -C "$ksft" --strip-components=1 -xJf /usr/src/linux-source-6.12.tar.xz \
		--wildcards '*/tools/testing/selftests/kselftest_harness.h' \
		'*/tools/testing/selftests/kselftest.h' '*/scripts/checkpatch.pl' \
		'*/scripts/spelling.txt' '*/scripts/const_structs.checkpatch' \
		'*/scripts/kernel-doc'
	touch "$ksft/.done-2"
fi
echo "$ksft"
