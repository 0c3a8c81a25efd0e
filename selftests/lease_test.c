// SPDX-License-Identifier: GPL-2.0
/*
 * Leases, pins, breaks and revocation on XFS and ext4 DAX mounts.
 */
#define _GNU_SOURCE
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "layoutlease_utils.h"

#define NPAGES 16

static long page_size;
static volatile sig_atomic_t got_sig, got_fd, got_code;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	got_sig = sig;
	got_fd = si->si_fd;
	got_code = si->si_code;
}

FIXTURE(lease) {
	int devfd;
	int fd;
	int lease_fd;
	char path[256];
	char *map;
	size_t len;
};

FIXTURE_VARIANT(lease) {
	const char *fs;
};

FIXTURE_VARIANT_ADD(lease, xfs) { .fs = "xfs" };
FIXTURE_VARIANT_ADD(lease, ext4) { .fs = "ext4" };

FIXTURE_SETUP(lease)
{
	struct sigaction sa = {
		.sa_sigaction = on_signal,
		.sa_flags = SA_SIGINFO | SA_RESTART,
	};

	page_size = sysconf(_SC_PAGESIZE);
	self->len = NPAGES * page_size;
	self->devfd = ll_dev_open();
	ASSERT_LE(0, self->devfd);
	snprintf(self->path, sizeof(self->path), "%s/lease.%d",
		 ll_mount(variant->fs), getpid());
	self->fd = open(self->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ftruncate(self->fd, self->len));
	self->map = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	memset(self->map, 0x5a, self->len);
	test_cmd_lease_create(self->fd, 0, self->len, 0, &self->lease_fd);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	got_sig = got_fd = got_code = 0;
}

FIXTURE_TEARDOWN(lease)
{
	if (self->map != MAP_FAILED)
		munmap(self->map, self->len);
	close(self->lease_fd);
	close(self->fd);
	unlink(self->path);
	close(self->devfd);
}

TEST_F(lease, create)
{
	char buf[4096];
	FILE *f;
	int n;

	ASSERT_EQ(FD_CLOEXEC, fcntl(self->lease_fd, F_GETFD));
	snprintf(buf, sizeof(buf), "/proc/self/fdinfo/%d", self->lease_fd);
	f = fopen(buf, "r");
	ASSERT_NE(NULL, f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	ASSERT_NE(NULL, strstr(buf, "lease "));
	ASSERT_NE(NULL, strstr(buf, "ACTIVE"));
	f = fopen("/proc/layoutleases", "r");
	ASSERT_NE(NULL, f);
	fclose(f);
}

TEST_F(lease, create_errors)
{
	char nondax[64];
	int tmp;

	snprintf(nondax, sizeof(nondax), "/tmp/ll-nondax.%d", getpid());
	tmp = open(nondax, O_RDWR | O_CREAT | O_TRUNC, 0600);
	unlink(nondax);

	test_err_lease_create(EBADF, -1, 0, self->len, 0, 0);
	test_err_lease_create(EINVAL, self->fd, 1, self->len, 0, 0);
	test_err_lease_create(EINVAL, self->fd, 0, 1, 0, 0);
	test_err_lease_create(EINVAL, self->fd, 0, 0, 0, 0);
	test_err_lease_create(EINVAL, self->fd, -page_size, 2 * page_size, 0, 0);
	test_err_lease_create(EOPNOTSUPP, self->fd, 0, self->len, 0, 1U << 31);
	ASSERT_LE(0, tmp);
	test_err_lease_create(EOPNOTSUPP, tmp, 0, self->len, 0, 0);
	close(tmp);
	/* The lease made in setup is intact. */
	test_cmd_pin(self->lease_fd, self->map, page_size, NULL);
}

TEST_F(lease, pin_unpin)
{
	__u64 id, id2;

	test_cmd_pin(self->lease_fd, self->map, 4 * page_size, &id);
	test_cmd_pin(self->lease_fd, self->map + 4 * page_size, page_size, &id2);
	ASSERT_NE(id, id2);
	test_cmd_unpin(self->lease_fd, id);
	test_err_unpin(ENOENT, self->lease_fd, id);
	test_err_unpin(ENOENT, self->lease_fd, 0);
	test_cmd_unpin(self->lease_fd, id2);
}

TEST_F(lease, pin_errors)
{
	char *priv, stack[8192];
	int small;
	__u64 id;

	test_cmd_pin(self->lease_fd, self->map, page_size, &id);
	test_err_pin(EINVAL, self->lease_fd, self->map + 1, page_size, 0);
	test_err_pin(EINVAL, self->lease_fd, self->map, 1, 0);
	test_err_pin(EINVAL, self->lease_fd, self->map, 0, 0);
	test_err_pin(EINVAL, self->lease_fd, self->map, self->len + page_size, 0);
	test_err_pin(EINVAL, self->lease_fd, (void *)((uintptr_t)stack & ~(page_size - 1)),
		     page_size, 0);
	test_err_pin(EINVAL, self->lease_fd, (void *)-page_size, 2 * page_size, 0);
	test_err_pin(EINVAL, self->lease_fd, self->map, 1ULL << 46, 0);
	test_err_pin(EINVAL, self->lease_fd, self->map, 1ULL << 40, 0);
	test_err_pin(EOPNOTSUPP, self->lease_fd, self->map, page_size, 1U << 30);
	priv = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->fd, 0);
	ASSERT_NE(MAP_FAILED, priv);
	test_err_pin(EINVAL, self->lease_fd, priv, page_size, 0);
	munmap(priv, self->len);
	/* A lease on the first half only: the second half is outside it. */
	test_cmd_lease_create(self->fd, 0, self->len / 2, 0, &small);
	test_err_pin(EINVAL, small, self->map + self->len / 2, page_size, 0);
	test_cmd_pin(small, self->map, page_size, NULL);
	close(small);
	/* The first pin is intact. */
	test_cmd_unpin(self->lease_fd, id);
}

/* The holder unpins when told: the truncate goes on at once. */
TEST_F(lease, truncate_cooperative)
{
	struct layoutlease_event ev;
	long long t0;
	__u64 id;
	pid_t pid;

	test_cmd_owner(self->lease_fd, SIGUSR1);
	test_cmd_pin(self->lease_fd, self->map, self->len, &id);
	t0 = ll_now_ms();
	pid = ll_truncate_child(self->path, page_size);
	ev = ll_next_event(self->lease_fd, 10000);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, ev.type);
	ASSERT_EQ(0, ev.offset);
	ASSERT_EQ(self->len, ev.length);
	ASSERT_LT(ev.time_ns, ev.deadline_ns);
	ASSERT_EQ(SIGUSR1, got_sig);
	ASSERT_EQ(self->lease_fd, got_fd);
	ASSERT_EQ(POLL_MSG, got_code);
	/*
	 * Timed from the unpin, not from the truncate's start: how long the
	 * event and the signal took to come is the guest's load, not the
	 * module's.  Well under the 5 s default break timeout: the unpin, not the
	 * deadline, let the truncate go, and BREAK_DONE (not REVOKED) says so.
	 */
	t0 = ll_now_ms();
	test_cmd_unpin(self->lease_fd, id);
	ASSERT_EQ(0, ll_wait_child(pid));
	EXPECT_GT(4000, ll_now_ms() - t0);
	ev = ll_next_event(self->lease_fd, 1000);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK_DONE, ev.type);
}

/* The holder does nothing: its pin is revoked at the deadline. */
TEST_F(lease, truncate_revoke)
{
	struct layoutlease_event ev;
	long long t0, t;
	int lease_fd;
	__u64 id;
	pid_t pid;

	test_cmd_lease_create(self->fd, 0, self->len, 500, &lease_fd);
	test_cmd_pin(lease_fd, self->map, self->len, &id);
	t0 = ll_now_ms();
	pid = ll_truncate_child(self->path, page_size);
	ASSERT_EQ(0, ll_wait_child(pid));
	t = ll_now_ms() - t0;
	TH_LOG("truncate took %lld ms with a 500 ms break timeout", t);
	ASSERT_LE(450, t);
	ASSERT_GT(2500, t);
	ev = ll_next_event(lease_fd, 1000);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, ev.type);
	ev = ll_next_event(lease_fd, 1000);
	ASSERT_EQ(LAYOUTLEASE_EVENT_REVOKED, ev.type);
	ASSERT_EQ(id, ev.pin_id);
	ev = ll_next_event(lease_fd, 1000);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK_DONE, ev.type);
	/* The revocation ended the pin: nothing is left to unpin. */
	test_err_unpin(ENOENT, lease_fd, id);
	test_err_export(ENOENT, lease_fd, id, 0);
	close(lease_fd);
}

/* munmap of a pinned range revokes the pin first; truncate then never waits. */
TEST_F(lease, munmap_revokes)
{
	struct layoutlease_event ev;
	__u64 id;

	test_cmd_pin(self->lease_fd, self->map, 2 * page_size, &id);
	ASSERT_EQ(0, munmap(self->map, self->len));
	self->map = MAP_FAILED;
	ev = ll_next_event(self->lease_fd, 1000);
	ASSERT_EQ(LAYOUTLEASE_EVENT_UNMAPPED, ev.type);
	ASSERT_EQ(id, ev.pin_id);
	ASSERT_EQ(0, ftruncate(self->fd, 0));
	test_err_unpin(ENOENT, self->lease_fd, id);
}

/* Operations that must not start a break. */
TEST_F(lease, no_break)
{
	struct layoutlease_event ev;
	char buf[64];
	__u64 id;

	test_cmd_pin(self->lease_fd, self->map, self->len, &id);
	ASSERT_EQ(sizeof(buf), pwrite(self->fd, buf, sizeof(buf), 0));
	ASSERT_EQ(sizeof(buf), pread(self->fd, buf, sizeof(buf), 0));
	self->map[page_size] = 1;
	ASSERT_EQ(0, fsync(self->fd));
	ASSERT_EQ(0, msync(self->map, self->len, MS_SYNC));
	ev = ll_next_event(self->lease_fd, 200);
	ASSERT_EQ(0, ev.type);
	test_cmd_unpin(self->lease_fd, id);
}

/* Every short size and a non-zero tail, per ioctl; nothing changes. */
TEST_F(lease, struct_lengths)
{
	static const struct {
		unsigned long cmd;
		size_t min, size;
		int on_lease;
	} cmds[] = {
		{ LAYOUTLEASE_IOC_LEASE_CREATE,
		  offsetof(struct layoutlease_lease_create, out_lease_id) + 8,
		  sizeof(struct layoutlease_lease_create), 0 },
		{ LAYOUTLEASE_IOC_PIN, offsetof(struct layoutlease_pin, out_offset) + 8,
		  sizeof(struct layoutlease_pin), 1 },
		{ LAYOUTLEASE_IOC_UNPIN, offsetof(struct layoutlease_unpin, pin_id) + 8,
		  sizeof(struct layoutlease_unpin), 1 },
		{ LAYOUTLEASE_IOC_OWNER, offsetof(struct layoutlease_owner, signal) + 4,
		  sizeof(struct layoutlease_owner), 1 },
	};
	union {
		__u32 size;
		char bytes[256];
	} buf;
	unsigned int i;
	size_t size;
	__u64 id;

	test_cmd_pin(self->lease_fd, self->map, page_size, &id);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		int fd = cmds[i].on_lease ? self->lease_fd : self->devfd;

		ASSERT_EQ(cmds[i].min, cmds[i].size);
		for (size = 0; size < cmds[i].min; size++) {
			memset(&buf, 0, sizeof(buf));
			buf.size = size;
			EXPECT_ERRNO(EINVAL, ioctl(fd, cmds[i].cmd, &buf));
		}
		memset(&buf, 0, sizeof(buf));
		buf.size = sizeof(buf);
		buf.bytes[sizeof(buf) - 1] = 1;
		EXPECT_ERRNO(E2BIG, ioctl(fd, cmds[i].cmd, &buf));
		/* On the other kind of fd the command does not exist. */
		memset(&buf, 0, sizeof(buf));
		buf.size = cmds[i].size;
		EXPECT_ERRNO(ENOTTY, ioctl(cmds[i].on_lease ? self->devfd :
					   self->lease_fd, cmds[i].cmd, &buf));
	}
	test_cmd_unpin(self->lease_fd, id);
}

/* Not the owner and no CAP_LEASE: EACCES, as for F_SETLEASE. */
TEST_F(lease, permission)
{
	pid_t pid = fork();
	int status;

	if (!pid) {
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(10);
		if (!_test_cmd_lease_create(self->devfd, self->fd, 0, self->len, 0, 0, NULL) ||
		    errno != EACCES)
			_exit(11);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));
}

/* read(): whole records only; a bad buffer loses nothing; overflow. */
TEST_F(lease, read_records)
{
	struct layoutlease_event ev[80];
	int i, n, flags;
	void *bad;
	__u64 id;

	flags = fcntl(self->lease_fd, F_GETFL);
	ASSERT_EQ(0, fcntl(self->lease_fd, F_SETFL, flags | O_NONBLOCK));
	EXPECT_ERRNO(EAGAIN, read(self->lease_fd, ev, sizeof(ev[0])));
	/* 70 UNMAPPED records: more than the queue holds. */
	for (i = 0; i < 70; i++) {
		test_cmd_pin(self->lease_fd, self->map, page_size, &id);
		ASSERT_EQ(0, munmap(self->map, self->len));
		self->map = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
				 MAP_SHARED, self->fd, 0);
		ASSERT_NE(MAP_FAILED, self->map);
	}
	EXPECT_ERRNO(EINVAL, read(self->lease_fd, ev, sizeof(ev[0]) - 1));
	bad = mmap(NULL, page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, bad);
	EXPECT_ERRNO(EFAULT, read(self->lease_fd, bad, sizeof(ev[0])));
	munmap(bad, page_size);
	n = read(self->lease_fd, ev, sizeof(ev));
	ASSERT_EQ(65 * (int)sizeof(ev[0]), n);
	for (i = 0; i < 64; i++)
		ASSERT_EQ(LAYOUTLEASE_EVENT_UNMAPPED, ev[i].type);
	ASSERT_EQ(LAYOUTLEASE_EVENT_OVERFLOW, ev[64].type);
	EXPECT_ERRNO(EAGAIN, read(self->lease_fd, ev, sizeof(ev[0])));
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC), ret;

	if (fd < 0)
		return -1;
	ret = write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
	close(fd);
	return ret;
}

/* Every tracepoint fires: create, pin, break start and end, unpin, release. */
TEST_F(lease, tracepoints)
{
	static const char *const want[] = {
		"ll_lease_create:", "ll_pin:", "ll_break_start:", "ll_unpin:",
		"ll_break_end:", "ll_lease_release:", "ll_revoke:", "ll_event:",
	};
	const char *tr = "/sys/kernel/tracing";
	static char buf[1 << 16];
	char path[256];
	int lease_fd, fd, n, i;
	__u64 id;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/events/layoutlease/enable", tr);
	if (access(path, W_OK))
		SKIP(return, "no tracefs");
	ASSERT_EQ(0, write_file(path, "1"));
	snprintf(path, sizeof(path), "%s/trace", tr);
	ASSERT_EQ(0, write_file(path, ""));

	test_cmd_lease_create(self->fd, 0, self->len, 0, &lease_fd);
	test_cmd_pin(lease_fd, self->map, self->len, &id);
	pid = ll_truncate_child(self->path, self->len);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, ll_next_event(lease_fd, 10000).type);
	test_cmd_unpin(lease_fd, id);
	ASSERT_EQ(0, ll_wait_child(pid));
	test_cmd_pin(lease_fd, self->map, page_size, &id);
	munmap(self->map, self->len);
	self->map = MAP_FAILED;
	close(lease_fd);

	/*
	 * The unmapped pin is freed, and the lease released with it, from the
	 * module's workqueue: give it a moment.
	 */
	for (i = 0; i < 100 && ll_proc_leases() > 1; i++)
		usleep(10000);
	snprintf(path, sizeof(path), "%s/events/layoutlease/enable", tr);
	ASSERT_EQ(0, write_file(path, "0"));
	snprintf(path, sizeof(path), "%s/trace", tr);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ASSERT_LT(0, n);
	buf[n] = 0;
	for (i = 0, n = 0; i < (int)(sizeof(want) / sizeof(want[0])); i++) {
		if (!strstr(buf, want[i])) {
			TH_LOG("no %s in the trace", want[i]);
			n++;
		}
	}
	ASSERT_EQ(0, n);
}

/* Runs of physically contiguous blocks of @fd's first @len bytes (FIEMAP). */
static int fiemap_runs(int fd, size_t len)
{
	struct {
		struct fiemap fm;
		struct fiemap_extent ext[512];
	} m = { .fm = { .fm_length = len, .fm_flags = FIEMAP_FLAG_SYNC,
			.fm_extent_count = 512 } };
	__u64 next = 0;
	unsigned int i;
	int runs = 0;

	if (ioctl(fd, FS_IOC_FIEMAP, &m) || m.fm.fm_mapped_extents >= 512)
		return -1;
	for (i = 0; i < m.fm.fm_mapped_extents; i++) {
		runs += !i || m.ext[i].fe_physical != next;
		next = m.ext[i].fe_physical + m.ext[i].fe_length;
	}
	return runs;
}

/* The "runs" of pin @id in /proc/layoutleases, or -1. */
static int proc_pin_runs(__u64 id)
{
	FILE *f = fopen("/proc/layoutleases", "r");
	char line[512];
	int runs = -1;

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long pid, off;
		unsigned long pages;
		int r;

		if (sscanf(line, "  pin %llu: pinned offset %llu pages %lu runs %d", &pid, &off,
			   &pages, &r) == 4 && pid == id)
			runs = r;
	}
	if (f)
		fclose(f);
	return runs;
}

/*
 * A pin keeps its pages as runs of contiguous memory: as many as the
 * file's blocks make (FIEMAP, physical), for a file written in one go and
 * for one whose blocks alternate with another file's.  It still pins,
 * unpins and breaks as before (the rest of the suite).
 */
TEST_F(lease, pin_runs)
{
	size_t len = 256 * page_size;
	char path[300], *map;
	int frag, fd[2], lease_fd, runs, i;
	__u64 id;

	for (frag = 0; frag < 2; frag++) {
		for (i = 0; i < 2; i++) {
			snprintf(path, sizeof(path), "%s.runs%d", self->path, i);
			fd[i] = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
			ASSERT_LE(0, fd[i]);
		}
		if (frag) {	/* a block of each in turn, each allocated at once */
			char *b = calloc(1, page_size);
			size_t o;

			for (o = 0; o < len; o += page_size)
				for (i = 0; i < 2; i++) {
					ASSERT_EQ(page_size, pwrite(fd[i], b, page_size, o));
					ASSERT_EQ(0, fsync(fd[i]));
				}
			free(b);
		} else {
			ASSERT_EQ(0, fallocate(fd[0], 0, 0, len));
		}
		map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd[0], 0);
		ASSERT_NE(MAP_FAILED, map);
		memset(map, 0x5a, len);
		runs = fiemap_runs(fd[0], len);
		ASSERT_LT(0, runs);
		test_cmd_lease_create(fd[0], 0, len, 0, &lease_fd);
		test_cmd_pin(lease_fd, map, len, &id);
		TH_LOG("%s file: %d runs by FIEMAP, pin %d", frag ? "interleaved" : "one-go",
		       runs, proc_pin_runs(id));
		EXPECT_EQ(runs, proc_pin_runs(id));
		/*
		 * ext4 interleaves the two files' blocks (19 runs on 6.12 and
		 * 7.2); XFS may not, by its speculative preallocation (1 run on
		 * 6.12, 256 on 7.2): there, equal counts are what is asserted.
		 */
		if (frag && !strcmp(variant->fs, "ext4"))
			EXPECT_LT(1, runs) TH_LOG("the interleaving left the file contiguous");
		test_cmd_unpin(lease_fd, id);
		munmap(map, len);
		close(lease_fd);
		for (i = 0; i < 2; i++) {
			close(fd[i]);
			snprintf(path, sizeof(path), "%s.runs%d", self->path, i);
			unlink(path);
		}
	}
}

TEST_HARNESS_MAIN
