// SPDX-License-Identifier: GPL-2.0
/*
 * dmabuf_bench: numbers, never a pass/fail.  Run by make bench in a VM,
 * with the test importer ll_importer.ko standing in for a device.
 *
 *   dmabuf_bench DIR      (a DAX mount)
 *
 * 1. Export of a 256 MiB pin as a dma-buf, then attach and map by one
 *    importer (sg table and DMA mapping of 65536 pages).
 * 2. From the start of a break (the BREAK event's time) to move_notify
 *    delivered to 1 and to 64 importers, when the holder unpins at once;
 *    and from the deadline to move_notify when the holder ignores it.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>

/* The helpers come with the kselftest harness, which is not used here. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "layoutlease_utils.h"
#include "kmod/ll_importer.h"

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void load_importer(void)
{
	const char *dir = getenv("LL_TESTMODS");
	char cmd[512];

	if (access(LL_IMPORTER_DEVICE, F_OK) && dir) {
		snprintf(cmd, sizeof(cmd), "insmod %s/ll_importer.ko", dir);
		if (system(cmd))
			die("insmod ll_importer.ko");
	}
}

struct held {
	int fd, lease_fd, dmabuf_fd;
	char *map;
	size_t len;
	__u64 pin_id;
};

static void hold(struct held *h, int devfd, const char *path, size_t len,
		 unsigned int timeout_ms)
{
	struct layoutlease_lease_create lc = { .size = sizeof(lc) };
	struct layoutlease_export ex = { .size = sizeof(ex) };
	struct layoutlease_pin pin = { .size = sizeof(pin) };

	h->len = len;
	h->fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (h->fd < 0 || ftruncate(h->fd, len))
		die(path);
	h->map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, h->fd, 0);
	if (h->map == MAP_FAILED)
		die("mmap");
	memset(h->map, 1, len);
	lc.fd = h->fd;
	lc.length = len;
	lc.break_timeout_ms = timeout_ms;
	if (ioctl(devfd, LAYOUTLEASE_IOC_LEASE_CREATE, &lc))
		die("LEASE_CREATE");
	h->lease_fd = lc.out_lease_fd;
	pin.addr = (uintptr_t)h->map;
	pin.length = len;
	if (ioctl(h->lease_fd, LAYOUTLEASE_IOC_PIN, &pin))
		die("PIN");
	h->pin_id = pin.out_pin_id;
	ex.pin_id = h->pin_id;
	if (ioctl(h->lease_fd, LAYOUTLEASE_IOC_EXPORT, &ex))
		die("EXPORT");
	h->dmabuf_fd = ex.out_dmabuf_fd;
}

static void release(struct held *h, const char *path)
{
	close(h->dmabuf_fd);
	munmap(h->map, h->len);
	close(h->lease_fd);
	close(h->fd);
	unlink(path);
}

static void bench_export(int devfd, const char *dir)
{
	struct layoutlease_export ex = { .size = sizeof(ex) };
	struct lli_attach at = { .mode = LLI_DYNAMIC };
	long long t0, t1, t2;
	char path[512];
	struct held h;
	int imp;

	snprintf(path, sizeof(path), "%s/bench-export", dir);
	hold(&h, devfd, path, 256 << 20, 5000);
	close(h.dmabuf_fd);
	imp = open(LL_IMPORTER_DEVICE, O_RDWR);
	if (imp < 0)
		die(LL_IMPORTER_DEVICE);
	ex.pin_id = h.pin_id;
	t0 = now_ns();
	if (ioctl(h.lease_fd, LAYOUTLEASE_IOC_EXPORT, &ex))
		die("EXPORT");
	t1 = now_ns();
	at.dmabuf_fd = ex.out_dmabuf_fd;
	if (ioctl(imp, LLI_IOC_ATTACH, &at))
		die("ATTACH");
	t2 = now_ns();
	printf("%s: 256 MiB pin: export %.3f ms, attach + map (65536 pages) %.3f ms, total %.3f ms\n",
	       dir, (t1 - t0) / 1e6, (t2 - t1) / 1e6, (t2 - t0) / 1e6);
	close(imp);
	h.dmabuf_fd = ex.out_dmabuf_fd;
	release(&h, path);
}

/*
 * @forced: the holder ignores the break; measured from the deadline (100 ms)
 * instead of from the break start.
 */
static void bench_notify(int devfd, const char *dir, int n, int forced)
{
	struct layoutlease_event ev;
	long long first = 0, last = 0, t;
	char path[512];
	struct held h;
	int i, imp[64];
	pid_t child;

	snprintf(path, sizeof(path), "%s/bench-notify", dir);
	hold(&h, devfd, path, 16 * sysconf(_SC_PAGESIZE), forced ? 100 : 5000);
	for (i = 0; i < n; i++) {
		struct lli_attach at = { .dmabuf_fd = h.dmabuf_fd };

		imp[i] = open(LL_IMPORTER_DEVICE, O_RDWR);
		if (imp[i] < 0 || ioctl(imp[i], LLI_IOC_ATTACH, &at))
			die("ATTACH");
	}
	child = ll_truncate_child(path, 0);
	ev = ll_next_event(h.lease_fd, 5000);
	if (ev.type != LAYOUTLEASE_EVENT_BREAK)
		die("no BREAK event");
	if (!forced && _test_cmd_unpin(h.lease_fd, h.pin_id))
		die("UNPIN");
	if (ll_wait_child(child))
		die("truncate");
	for (i = 0; i < n; i++) {
		struct lli_status st;

		if (ioctl(imp[i], LLI_IOC_STATUS, &st) || st.moves != 1)
			die("importer not notified");
		if (!first || (long long)st.ack_ns < first)
			first = st.ack_ns;
		if ((long long)st.ack_ns > last)
			last = st.ack_ns;
		close(imp[i]);
	}
	t = forced ? (long long)ev.deadline_ns : (long long)ev.time_ns;
	printf("%s: %s -> move_notify, %2d importer%s: first %.3f ms, last %.3f ms%s\n",
	       dir, forced ? "deadline   " : "break start", n, n == 1 ? " " : "s",
	       (first - t) / 1e6, (last - t) / 1e6,
	       forced ? " (holder ignores the break)" : " (holder unpins at once)");
	release(&h, path);
}

int main(int argc, char **argv)
{
	int devfd, r;

	if (argc != 2) {
		fprintf(stderr, "usage: dmabuf_bench DIR\n");
		return 2;
	}
	load_importer();
	devfd = ll_dev_open();
	if (devfd < 0)
		die(LAYOUTLEASE_DEVICE);
	for (r = 0; r < 3; r++)
		bench_export(devfd, argv[1]);
	for (r = 0; r < 3; r++) {
		bench_notify(devfd, argv[1], 1, 0);
		bench_notify(devfd, argv[1], 64, 0);
	}
	for (r = 0; r < 3; r++) {
		bench_notify(devfd, argv[1], 1, 1);
		bench_notify(devfd, argv[1], 64, 1);
	}
	return 0;
}
