#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside a test VM (scripts/vm-run -n, the module not loaded): the
# README's DKMS install on the VM's kernel, as a user would run it, then the
# module that DKMS installed is loaded by name, answers, and is removed.
#
#   scripts/dkms-test.sh KDIR    KDIR: the kernel's header tree, which
#                                linux-headers-<release> would link as
#                                /lib/modules/<release>/build
set -euxo pipefail
cd "$(dirname "$0")/.."
rel=$(uname -r)
ln -sfn "$1" "/lib/modules/$rel/build"
# depmod, which DKMS runs at install and at remove, reads every module of
# the tree: over Debian's 4230, decompressed under TCG, it took about four
# minutes (the module's compile is the rest of this VM's time).  They are
# hidden under an empty tmpfs for the run (the guest's modules are loaded
# by now; its writes stay in the guest): depmod then indexes the module
# DKMS installed, which is what the test is about.
mount -t tmpfs none "/lib/modules/$rel/kernel"
make dkms-install
dkms status -m layoutlease
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
