# SPDX-License-Identifier: GPL-2.0
#
# make              build layoutlease.ko against KDIR (the running kernel)
# make install      install-module and install-tools
# make install-module  the module into /lib/modules/<release>/extra, depmod
# make install-tools  the command, liblayoutlease (shared and static), the
#                    headers, liblayoutlease.pc, the man pages and the bash
#                    completion (PREFIX=/usr/local, DESTDIR)
# make deb          the Debian packages into build/deb (then apt-get install
#                    ./build/deb/*.deb)
# make dkms-install  the DKMS package: sources in /usr/src, built and
#                    installed for the running kernel, rebuilt for new ones
# make dkms-remove   remove it from DKMS, every kernel
# make check        style, the build matrix and the selftests in VMs
# make demo         boot a VM and show the module at work on a DAX mount
# make bench        the benchmark in a VM (numbers, never a pass/fail)
# make stress       fuzzer and race stress at length on the debug kernels (K=, STRESS_SECONDS=1200, STRESS_CALLS=N, SEED=)
# make style        checkpatch --strict and sparse
# make vm K=6.12 CMD='...'   run a command in a VM (see scripts/vm-run)
# make clean

KDIR ?= /lib/modules/$(shell uname -r)/build
K ?= 6.12
CMD ?= /bin/bash -c 'lsmod | grep layoutlease; cat /proc/mounts | grep dax'

all: module

compat_config.h: $(wildcard kernel/probes/*.c) scripts/probe.sh $(KDIR)/.config
	scripts/probe.sh $(KDIR) $@

module: compat_config.h
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

install: install-module install-tools

# Under DESTDIR (a package's tree) the module goes to
# DESTDIR/lib/modules/<release>/extra and depmod is left to the package.
install-module: module
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(if $(DESTDIR),INSTALL_MOD_PATH=$(DESTDIR)) modules_install
	$(if $(DESTDIR),,depmod -a $(shell $(MAKE) -s -C $(KDIR) kernelrelease 2>/dev/null || uname -r))

install-tools:
	$(MAKE) -C tools install

# The Debian packages into build/deb (scripts/deb.sh): layoutlease-dkms,
# layoutlease-tools, liblayoutlease0, liblayoutlease-dev, checked by lintian.
deb: deps
	@scripts/deb.sh

# What DKMS needs to build the module (no tools, tests or documentation),
# without objects of an earlier build here.
DKMS_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
DKMS_SRC := /usr/src/layoutlease-$(DKMS_VERSION)

dkms-src:
	rm -rf $(DKMS_SRC) && mkdir -p $(DKMS_SRC)
	tar -c --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' \
		--exclude='*.mod*' Kbuild Makefile dkms.conf COPYING kernel uapi \
		scripts/probe.sh | tar -x -C $(DKMS_SRC)

dkms-install: dkms-src
	dkms add -m layoutlease -v $(DKMS_VERSION)
	dkms install -m layoutlease -v $(DKMS_VERSION)

dkms-remove:
	-dkms remove -m layoutlease -v $(DKMS_VERSION) --all
	rm -rf $(DKMS_SRC)

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null
	rm -rf compat_config.h build

deps:
	@scripts/deps.sh >/dev/null

style: deps
	@scripts/style.sh

matrix: deps
	@scripts/check.sh --build-only

check: deps
	@scripts/check.sh

bench: deps
	@scripts/bench.sh

stress: deps
	@scripts/stress.sh

demo: deps
	@scripts/demo.sh

vm: deps
	scripts/vm-run -k $(K) -- $(CMD)

.PHONY: all module install install-module install-tools deb dkms-src dkms-install dkms-remove clean deps style matrix check demo bench stress vm FORCE
