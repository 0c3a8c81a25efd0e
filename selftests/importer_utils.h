/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the selftests that drive the test-only dma-buf importer
 * ll_importer.ko (selftests/kmod/ll_importer.c): it is loaded once per
 * process from $LL_TESTMODS, the build of the running kernel.
 */
#ifndef _IMPORTER_UTILS_H
#define _IMPORTER_UTILS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kmod/ll_importer.h"

/* Load the importer once per process, from the build of this kernel. */
static void __attribute__((constructor)) load_importer(void)
{
	const char *dir = getenv("LL_TESTMODS");
	char cmd[512];

	if (access(LL_IMPORTER_DEVICE, F_OK) && dir) {
		snprintf(cmd, sizeof(cmd), "insmod %s/ll_importer.ko", dir);
		if (system(cmd))
			fprintf(stderr, "# cannot load ll_importer.ko\n");
	}
}

static inline int lli_attach(int imp, int dmabuf_fd, __u32 mode)
{
	struct lli_attach a = { .dmabuf_fd = dmabuf_fd, .mode = mode };

	return ioctl(imp, LLI_IOC_ATTACH, &a);
}

static inline int lli_write(int imp, __u64 off, __u64 len, __u8 val, __u32 delay_ms)
{
	struct lli_access op = {
		.offset = off, .length = len, .value = val, .delay_ms = delay_ms,
	};

	return ioctl(imp, LLI_IOC_WRITE, &op);
}

static inline int lli_read(int imp, __u64 off, __u64 *val)
{
	struct lli_access op = { .offset = off, .length = 8 };
	int ret = ioctl(imp, LLI_IOC_READ, &op);

	*val = op.value;
	return ret;
}

static inline struct lli_status lli_status(int imp)
{
	struct lli_status st;

	memset(&st, 0xff, sizeof(st));
	if (ioctl(imp, LLI_IOC_STATUS, &st))
		memset(&st, 0xff, sizeof(st));
	return st;
}

#endif /* _IMPORTER_UTILS_H */
