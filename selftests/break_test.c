// SPDX-License-Identifier: GPL-2.0
/*
 * Which filesystem operations start a break, on XFS and ext4: the table of
 * Documentation/hooks.rst, asserted.  Each operation runs in a child while
 * the whole file is pinned; a break shows as a BREAK event, after which the
 * pin is dropped so that the operation completes.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <linux/falloc.h>

#include "layoutlease_utils.h"

#define NPAGES 16

enum op {
	OP_TRUNC_DOWN, OP_TRUNC_UP, OP_TRUNC_SAME, OP_OPEN_TRUNC, OP_PUNCH,
	OP_COLLAPSE, OP_INSERT, OP_ZERO, OP_ALLOC, OP_WRITE, OP_STORE,
	OP_FSYNC, OP_MSYNC, OP_READ, OP_UNLINK, OP_MAX,
};

static const char *const op_name[OP_MAX] = {
	"truncate down", "truncate up", "truncate to same size", "open O_TRUNC",
	"punch hole", "collapse range", "insert range", "zero range",
	"allocating fallocate", "write", "store through mapping", "fsync",
	"msync", "read", "unlink",
};

/* Measured on 6.1, 6.12 and 7.2; the same on all three. */
static const int breaks_xfs[OP_MAX] = {
	[OP_TRUNC_DOWN] = 1, [OP_TRUNC_UP] = 1, [OP_TRUNC_SAME] = 1,
	[OP_OPEN_TRUNC] = 1, [OP_PUNCH] = 1, [OP_COLLAPSE] = 1, [OP_INSERT] = 1,
	[OP_ZERO] = 1, [OP_ALLOC] = 1,
};

static const int breaks_ext4[OP_MAX] = {
	[OP_TRUNC_DOWN] = 1, [OP_TRUNC_UP] = 1, [OP_TRUNC_SAME] = 1,
	[OP_OPEN_TRUNC] = 1, [OP_PUNCH] = 1, [OP_COLLAPSE] = 1, [OP_INSERT] = 1,
	[OP_ZERO] = 1,
};

static int do_op(enum op op, const char *path, int fd, char *map, long ps)
{
	size_t len = NPAGES * ps;
	char buf[64] = { 0 };
	int f;

	switch (op) {
	case OP_TRUNC_DOWN:
		return ftruncate(fd, len / 2);
	case OP_TRUNC_UP:
		return ftruncate(fd, 2 * len);
	case OP_TRUNC_SAME:
		return ftruncate(fd, len);
	case OP_OPEN_TRUNC:
		f = open(path, O_RDWR | O_TRUNC);
		return f < 0 ? -1 : close(f);
	case OP_PUNCH:
		return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, ps, ps);
	case OP_COLLAPSE:
		return fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, ps, ps);
	case OP_INSERT:
		return fallocate(fd, FALLOC_FL_INSERT_RANGE, ps, ps);
	case OP_ZERO:
		return fallocate(fd, FALLOC_FL_ZERO_RANGE, ps, ps);
	case OP_ALLOC:
		return fallocate(fd, 0, len, len);
	case OP_WRITE:
		return pwrite(fd, buf, sizeof(buf), ps) == sizeof(buf) ? 0 : -1;
	case OP_STORE:
		map[ps] = 1;
		return 0;
	case OP_FSYNC:
		return fsync(fd);
	case OP_MSYNC:
		return msync(map, len, MS_SYNC);
	case OP_READ:
		return pread(fd, buf, sizeof(buf), 0) == sizeof(buf) ? 0 : -1;
	case OP_UNLINK:
		return unlink(path);
	default:
		return -1;
	}
}

FIXTURE(brk) {
	int devfd;
};

FIXTURE_VARIANT(brk) {
	const char *fs;
	const int *breaks;
};

FIXTURE_VARIANT_ADD(brk, xfs) { .fs = "xfs", .breaks = breaks_xfs };
FIXTURE_VARIANT_ADD(brk, ext4) { .fs = "ext4", .breaks = breaks_ext4 };

FIXTURE_SETUP(brk)
{
	self->devfd = ll_dev_open();
	ASSERT_LE(0, self->devfd);
}

FIXTURE_TEARDOWN(brk)
{
	close(self->devfd);
}

TEST_F(brk, operations)
{
	long ps = sysconf(_SC_PAGESIZE);
	size_t len = NPAGES * ps;
	int op, wrong = 0;

	for (op = 0; op < OP_MAX; op++) {
		struct layoutlease_event ev = { 0 };
		struct pollfd p[2];
		char path[256];
		int fd, lease_fd, status, broke, done[2];
		char *map;
		__u64 id;
		pid_t pid;

		snprintf(path, sizeof(path), "%s/break.%d.%d", ll_mount(variant->fs),
			 getpid(), op);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, ftruncate(fd, len));
		map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ASSERT_NE(MAP_FAILED, map);
		memset(map, 0x11, len);
		test_cmd_lease_create(fd, 0, len, 10000, &lease_fd);
		test_cmd_pin(lease_fd, map, len, &id);

		/*
		 * The child's end of the pipe closes when it is done: an
		 * operation that breaks cannot finish before the BREAK record,
		 * one that does not finishes without it.
		 */
		ASSERT_EQ(0, pipe(done));
		pid = fork();
		if (!pid) {
			close(done[0]);
			_exit(do_op(op, path, fd, map, ps) ? 1 : 0);
		}
		close(done[1]);
		p[0].fd = lease_fd;
		p[0].events = POLLIN;
		p[1].fd = done[0];
		p[1].events = POLLIN;
		ASSERT_LT(0, poll(p, 2, 30000));
		broke = !!(p[0].revents & POLLIN);
		close(done[0]);
		if (broke)
			ASSERT_EQ(sizeof(ev), read(lease_fd, &ev, sizeof(ev)));
		test_cmd_unpin(lease_fd, id);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(0, WEXITSTATUS(status)) {
			TH_LOG("%s failed", op_name[op]);
		}
		TH_LOG("%-24s %s", op_name[op], broke ? "breaks" : "no break");
		if (broke)
			EXPECT_EQ(LAYOUTLEASE_EVENT_BREAK, ev.type);
		if (broke != variant->breaks[op]) {
			TH_LOG("%s: expected %s", op_name[op],
			       variant->breaks[op] ? "a break" : "no break");
			wrong++;
		}
		munmap(map, len);
		close(lease_fd);
		close(fd);
		unlink(path);
	}
	ASSERT_EQ(0, wrong);
}

TEST_HARNESS_MAIN
