// SPDX-License-Identifier: GPL-2.0
/*
 * layoutlease-bench: measures, never asserts.  Run it on a DAX mount (the
 * VM's /mnt/xfs or /mnt/ext4: make bench).  Prints one line per number.
 *
 *   layoutlease-bench [DIR] [MiB]     defaults: $LL_XFS, 256
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <layoutlease.h>

#define NOWNERS 100

static char path[512];
static size_t len;
static int devfd;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "layoutlease-bench: %s: %s\n", what, strerror(err));
	exit(1);
}

/* A file of @len bytes, written through a shared mapping: all blocks mapped. */
static char *prepare(int *fd)
{
	char *map;

	*fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (*fd < 0 || ftruncate(*fd, len))
		die("create", errno);
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (map == MAP_FAILED)
		die("mmap", errno);
	memset(map, 0xa5, len);
	return map;
}

static void finish(int fd, char *map)
{
	munmap(map, len);
	close(fd);
	unlink(path);
}

/* Truncate to 0 in a child; returns a pipe that yields its duration (ns). */
static int truncate_child(pid_t *pid)
{
	int p[2];

	if (pipe(p))
		die("pipe", errno);
	*pid = fork();
	if (!*pid) {
		long long t0 = now_ns(), t;

		if (truncate(path, 0))
			_exit(1);
		t = now_ns() - t0;
		_exit(write(p[1], &t, sizeof(t)) == sizeof(t) ? 0 : 1);
	}
	close(p[1]);
	return p[0];
}

static long long truncate_result(int p, pid_t pid)
{
	long long t = -1;

	if (read(p, &t, sizeof(t)) != sizeof(t))
		t = -1;
	close(p);
	waitpid(pid, NULL, 0);
	return t;
}

static int wait_event(int lease_fd, unsigned int type, struct layoutlease_event *ev)
{
	struct pollfd pfd = { .fd = lease_fd, .events = POLLIN };

	for (;;) {
		if (poll(&pfd, 1, 30000) != 1)
			return -1;
		if (ll_read_event(lease_fd, ev))
			return -1;
		if (ev->type == type)
			return 0;
	}
}

static long long baseline(void)
{
	int fd, p;
	char *map = prepare(&fd);
	pid_t pid;
	long long t;

	p = truncate_child(&pid);
	t = truncate_result(p, pid);
	finish(fd, map);
	return t;
}

/* The holder unpins at the BREAK event; @timeout_ms 0: it never does. */
static long long with_holder(int cooperative, unsigned int timeout_ms)
{
	struct layoutlease_event ev;
	unsigned long long id;
	int fd, lease_fd, p;
	char *map = prepare(&fd);
	pid_t pid;
	long long t;

	lease_fd = ll_lease_create(devfd, fd, 0, len, timeout_ms, 0);
	if (lease_fd < 0)
		die("lease", -lease_fd);
	if (ll_pin(lease_fd, map, len, 0, &id))
		die("pin", errno);
	p = truncate_child(&pid);
	if (cooperative) {
		if (wait_event(lease_fd, LAYOUTLEASE_EVENT_BREAK, &ev))
			die("no break event", EIO);
		ll_unpin(lease_fd, id);
	}
	t = truncate_result(p, pid);
	close(lease_fd);
	finish(fd, map);
	return t;
}

/* From break start to the last of NOWNERS owner processes having its signal. */
static void fanout(void)
{
	long long stamps[NOWNERS], max = 0, start;
	struct layoutlease_event ev;
	unsigned long long id;
	int fd, lease_fd, p, ready[2], times[2], i;
	char *map = prepare(&fd);
	pid_t pids[NOWNERS], tpid;
	char c;

	lease_fd = ll_lease_create(devfd, fd, 0, len, 10000, 0);
	if (lease_fd < 0 || pipe(ready) || pipe(times))
		die("lease", errno);
	for (i = 0; i < NOWNERS; i++) {
		pids[i] = fork();
		if (!pids[i]) {
			sigset_t set;
			long long t;

			sigemptyset(&set);
			sigaddset(&set, SIGUSR1);
			sigprocmask(SIG_BLOCK, &set, NULL);
			if (ll_owner(lease_fd, SIGUSR1) || write(ready[1], "r", 1) != 1)
				_exit(1);
			sigwaitinfo(&set, NULL);
			t = now_ns();
			_exit(write(times[1], &t, sizeof(t)) == sizeof(t) ? 0 : 1);
		}
	}
	for (i = 0; i < NOWNERS; i++)
		if (read(ready[0], &c, 1) != 1)
			die("owner", EIO);
	if (ll_pin(lease_fd, map, len, 0, &id))
		die("pin", errno);
	p = truncate_child(&tpid);
	if (wait_event(lease_fd, LAYOUTLEASE_EVENT_BREAK, &ev))
		die("no break event", EIO);
	start = ev.deadline_ns - 10000LL * 1000000;
	for (i = 0; i < NOWNERS; i++) {
		if (read(times[0], &stamps[i], sizeof(stamps[i])) != sizeof(stamps[i]))
			die("owner time", EIO);
		if (stamps[i] - start > max)
			max = stamps[i] - start;
	}
	ll_unpin(lease_fd, id);
	truncate_result(p, tpid);
	for (i = 0; i < NOWNERS; i++)
		waitpid(pids[i], NULL, 0);
	printf("bench: signal fan-out to %d owner processes: %.2f ms (break start to last signal received)\n",
	       NOWNERS, max / 1e6);
	close(lease_fd);
	finish(fd, map);
}

static long mem_free_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* The runs that /proc/layoutleases gives pin @id, or -1. */
static long pin_runs(unsigned long long id)
{
	FILE *f = fopen("/proc/layoutleases", "r");
	unsigned long long pid, off;
	unsigned long pages;
	char line[512];
	long runs = -1, r;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "  pin %llu: pinned offset %llu pages %lu runs %ld", &pid, &off,
			   &pages, &r) == 4 && pid == id)
			runs = r;
	if (f)
		fclose(f);
	return runs;
}

/*
 * What a pin keeps to track its pages: 16 bytes per run of contiguous
 * memory (struct ll_extent), against the 8 bytes per page an array of
 * page pointers takes, for the file written in one go and for one whose
 * blocks alternate with another file's (16 MiB, a page of each in turn).
 */
static void tracking(void)
{
	size_t flen[2] = { len, 16 << 20 }, o;
	int frag;

	for (frag = 0; frag < 2; frag++) {
		char other[600], *map, *page = calloc(1, 4096);
		unsigned long long id;
		int fd, ofd = -1, lease_fd;
		long runs;

		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (frag) {
			snprintf(other, sizeof(other), "%s.other", path);
			ofd = open(other, O_RDWR | O_CREAT | O_TRUNC, 0600);
			for (o = 0; fd >= 0 && ofd >= 0 && o < flen[1]; o += 4096)
				if (pwrite(fd, page, 4096, o) != 4096 || fsync(fd) ||
				    pwrite(ofd, page, 4096, o) != 4096 || fsync(ofd))
					die("interleaved writes", errno);
		} else if (fd < 0 || ftruncate(fd, flen[0])) {
			die("create", errno);
		}
		map = mmap(NULL, flen[frag], PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED)
			die("mmap", errno);
		memset(map, 0xa5, flen[frag]);
		lease_fd = ll_lease_create(devfd, fd, 0, flen[frag], 0, 0);
		if (lease_fd < 0 || ll_pin(lease_fd, map, flen[frag], 0, &id))
			die("lease and pin", errno);
		runs = pin_runs(id);
		printf("bench: pin tracking, %s file of %zu MiB: %ld runs, %.0f bytes per pinned GiB (page pointers: %.0f), %.4fx\n",
		       frag ? "interleaved" : "one-go", flen[frag] >> 20, runs,
		       runs * 16.0 * (1 << 30) / flen[frag], 8.0 * (1 << 30) / 4096,
		       runs * 16.0 / (8.0 * flen[frag] / 4096));
		ll_unpin(lease_fd, id);
		close(lease_fd);
		munmap(map, flen[frag]);
		close(fd);
		if (ofd >= 0) {
			close(ofd);
			unlink(other);
		}
		unlink(path);
		free(page);
	}
}

/* Kernel memory the module takes for a pinned range, from MemFree. */
static void memory(void)
{
	unsigned long long id;
	int fd, lease_fd, i;
	char *map = prepare(&fd);
	long best = -1;

	lease_fd = ll_lease_create(devfd, fd, 0, len, 0, 0);
	for (i = 0; i < 5; i++) {
		long before, after;

		sync();
		before = mem_free_kb();
		if (ll_pin(lease_fd, map, len, 0, &id))
			die("pin", errno);
		after = mem_free_kb();
		ll_unpin(lease_fd, id);
		if (best < 0 || before - after < best)
			best = before - after;
	}
	printf("bench: module memory per pinned GiB: %.0f KiB (MemFree drop for %zu MiB, best of 5)\n",
	       best * (1024.0 * 1024 * 1024 / len), len >> 20);
	close(lease_fd);
	finish(fd, map);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : getenv("LL_XFS");
	long long base, coop, forced;
	int i;

	len = (size_t)(argc > 2 ? atoi(argv[2]) : 256) << 20;
	if (!dir)
		dir = "/mnt/xfs";
	snprintf(path, sizeof(path), "%s/bench.%d", dir, getpid());
	devfd = ll_open();
	if (devfd < 0)
		die(LAYOUTLEASE_DEVICE, -devfd);

	printf("bench: %s, %zu MiB file, all blocks written through a shared mapping\n",
	       dir, len >> 20);
	for (i = 0, base = 0, coop = 0; i < 3; i++) {
		base += baseline();
		coop += with_holder(1, 10000);
	}
	printf("bench: truncate, no lease: %.2f ms (mean of 3)\n", base / 3e6);
	printf("bench: truncate, pinned, cooperative holder: %.2f ms (mean of 3), %.2fx\n",
	       coop / 3e6, (double)coop / base);
	forced = with_holder(0, 100);
	printf("bench: truncate, pinned, holder ignores the break, timeout 100 ms: %.2f ms, %.2f ms over timeout plus unleased truncate\n",
	       forced / 1e6, forced / 1e6 - 100 - base / 3e6);
	fanout();
	memory();
	tracking();
	return 0;
}
