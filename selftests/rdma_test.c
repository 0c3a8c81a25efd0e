// SPDX-License-Identifier: GPL-2.0
/*
 * The rdma-core example (tools/examples/rdma-dmabuf.c) against soft-RoCE
 * (rdma_rxe on a dummy netdev): ibv_reg_mr() on an fsdax mapping fails
 * with EOPNOTSUPP (the problem), the lease, pin and export work, rxe
 * refuses dma-buf memory regions (it has none), and the example gives the
 * memory back when a truncate breaks the lease.
 */
#define _GNU_SOURCE
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "layoutlease_utils.h"
#include "rxe_utils.h"

static void example_path(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	self[n > 0 ? n : 0] = 0;
	snprintf(buf, len, "%s/../tools/rdma-dmabuf", dirname(self));
}

FIXTURE(rdma) {
	char path[256];
};

FIXTURE_VARIANT(rdma) {
	const char *fs;
};

FIXTURE_VARIANT_ADD(rdma, xfs) { .fs = "xfs" };
FIXTURE_VARIANT_ADD(rdma, ext4) { .fs = "ext4" };

FIXTURE_SETUP(rdma)
{
	ASSERT_EQ(0, rxe_use_stock());
	snprintf(self->path, sizeof(self->path), "%s/rdma.%d",
		 ll_mount(variant->fs), getpid());
}

FIXTURE_TEARDOWN(rdma)
{
	unlink(self->path);
}

/* Run the example with -w, truncate once it waits, collect its lines. */
TEST_F_TIMEOUT(rdma, example, 300)
{
	static const char *const want[] = {
		"step device: ok " RXE_STOCK_DEV,
		"step reg_mr: EOPNOTSUPP",
		"step lease: ok",
		"step pin: ok",
		"step export: ok",
		"step reg_dmabuf_mr: EOPNOTSUPP",
		"step owner: ok",
		"step break: ok signal 29",
		"step unpin: ok",
	};
	char prog[PATH_MAX], out[4096] = "", line[512];
	int pipefd[2], status;
	unsigned int i;
	pid_t pid, trunc = 0;
	FILE *f;

	example_path(prog, sizeof(prog));
	ASSERT_EQ(0, access(prog, X_OK)) TH_LOG("no %s", prog);
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		execl(prog, prog, "-d", RXE_STOCK_DEV, "-t", "5000", "-w",
		      self->path, NULL);
		_exit(127);
	}
	close(pipefd[1]);
	f = fdopen(pipefd[0], "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		strncat(out, line, sizeof(out) - strlen(out) - 1);
		if (!strncmp(line, "waiting for a break", 19))
			trunc = ll_truncate_child(self->path, 0);
	}
	fclose(f);
	TH_LOG("example output:\n%s", out);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	ASSERT_NE(0, trunc);
	EXPECT_EQ(0, ll_wait_child(trunc));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		EXPECT_NE(NULL, strstr(out, want[i])) TH_LOG("missing line %u", i);
	EXPECT_EQ(0, ll_proc_leases());
}

TEST_HARNESS_MAIN
