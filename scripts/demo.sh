#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: boot a VM on one of Debian's kernels (K=6.12 by default) with
# emulated pmem, XFS and ext4 mounted with -o dax=always, the module
# loaded, and show what the module offers there.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/deps.sh >/dev/null
make -s -C tools
exec scripts/vm-run -k "${K:-6.12}" -- bash scripts/demo-guest.sh
