# SPDX-License-Identifier: GPL-2.0
#
# make              build layoutlease.ko against KDIR (the running kernel)
# make install      install it into /lib/modules/<release>/extra and depmod
# make check        style, the build matrix and the selftests in VMs
# make demo         boot a VM and show the module at work on a DAX mount
# make bench        the benchmark in a VM (numbers, never a pass/fail)
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

install: module
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install
	depmod -a $(shell $(MAKE) -s -C $(KDIR) kernelrelease 2>/dev/null || uname -r)

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

demo: deps
	@scripts/demo.sh

vm: deps
	scripts/vm-run -k $(K) -- $(CMD)

.PHONY: all module install clean deps style matrix check demo bench vm FORCE
