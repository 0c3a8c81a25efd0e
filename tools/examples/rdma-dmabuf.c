// SPDX-License-Identifier: GPL-2.0
/*
 * rdma-dmabuf: register DAX file memory with an RDMA device through a
 * layoutlease dma-buf, and give it back when the filesystem asks.
 *
 *   rdma-dmabuf [-d DEVICE] [-t TIMEOUT_MS] [-l LENGTH] [-w] FILE
 *
 * Steps, each reported on a line "step NAME: ok|ERRNO (message)":
 *   reg_mr          ibv_reg_mr() on the fsdax mapping: the problem.  The
 *                   kernel refuses long-term pins of fsdax pages
 *                   (EOPNOTSUPP), since nothing would ever release them.
 *   lease, pin, export
 *                   a layout lease on FILE, a pin of the mapping, the pin
 *                   exported as a dma-buf
 *   reg_dmabuf_mr   ibv_reg_dmabuf_mr() on the dma-buf: the memory region
 *                   holds the dma-buf, which holds the lease.  Drivers
 *                   without dma-buf memory regions (rxe, siw) refuse it
 *                   with EOPNOTSUPP.
 * With -w it then waits for a break (SIGIO from the lease), deregisters
 * the memory region, closes the dma-buf and unpins, reporting each step
 * with its time since the break started.
 *
 * Exit status: 0 if the lease, pin and export worked (and with -w, the
 * break was handled); the RDMA outcomes are reported, not judged.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include <layoutlease.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void step(const char *name, int err, const char *what)
{
	if (!err)
		printf("step %s: ok%s%s\n", name, what ? " " : "", what ? what : "");
	else
		printf("step %s: %s (%s)%s%s\n", name, strerrorname_np(err),
		       strerror(err), what ? " " : "", what ? what : "");
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: rdma-dmabuf [-d DEVICE] [-t TIMEOUT_MS] [-l LENGTH] [-w] FILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
		     IBV_ACCESS_REMOTE_READ;
	const char *devname = NULL;
	unsigned long long pin_id;
	unsigned int timeout_ms = 0;
	size_t len = 1 << 20;
	struct ibv_device **list = NULL;
	struct ibv_context *ctx = NULL;
	struct ibv_mr *mr = NULL;
	struct ibv_pd *pd = NULL;
	int c, fd, devfd, lease_fd, dmabuf_fd, ret, wait_break = 0;
	char what[128];
	struct stat st;
	char *map;

	while ((c = getopt(argc, argv, "d:t:l:w")) != -1) {
		switch (c) {
		case 'd':
			devname = optarg;
			break;
		case 't':
			timeout_ms = strtoul(optarg, NULL, 0);
			break;
		case 'l':
			len = strtoull(optarg, NULL, 0);
			break;
		case 'w':
			wait_break = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();

	fd = open(argv[optind], O_RDWR | O_CREAT, 0600);
	if (fd < 0 || fstat(fd, &st)) {
		step("open", errno, argv[optind]);
		return 1;
	}
	if ((size_t)st.st_size < len && ftruncate(fd, len)) {
		step("open", errno, "cannot size the file");
		return 1;
	}
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		step("mmap", errno, NULL);
		return 1;
	}
	memset(map, 0, len);	/* allocate the blocks */

	/* The RDMA device and a protection domain. */
	list = ibv_get_device_list(NULL);
	for (c = 0; list && list[c]; c++)
		if (!devname || !strcmp(devname, ibv_get_device_name(list[c])))
			break;
	if (list && list[c])
		ctx = ibv_open_device(list[c]);
	if (ctx)
		pd = ibv_alloc_pd(ctx);
	snprintf(what, sizeof(what), "%s",
		 ctx ? ibv_get_device_name(ctx->device) : "none");
	step("device", pd ? 0 : ENODEV, what);

	/* 1. The problem: no long-term pin of fsdax memory. */
	if (pd) {
		mr = ibv_reg_mr(pd, map, len, access);
		step("reg_mr", mr ? 0 : errno, NULL);
		if (mr) {
			ibv_dereg_mr(mr);
			mr = NULL;
		}
	}

	/* 2. A lease, a pin under it, the pin as a dma-buf. */
	devfd = ll_open();
	if (devfd < 0) {
		step("lease", -devfd, "cannot open " LAYOUTLEASE_DEVICE);
		return 1;
	}
	lease_fd = ll_lease_create(devfd, fd, 0, len, timeout_ms, 0);
	step("lease", lease_fd < 0 ? -lease_fd : 0, NULL);
	if (lease_fd < 0)
		return 1;
	ret = ll_pin(lease_fd, map, len, 0, &pin_id);
	snprintf(what, sizeof(what), "pin %llu, %zu KiB", pin_id, len >> 10);
	step("pin", -ret, ret ? NULL : what);
	if (ret)
		return 1;
	dmabuf_fd = ll_export(lease_fd, pin_id);
	step("export", dmabuf_fd < 0 ? -dmabuf_fd : 0, NULL);
	if (dmabuf_fd < 0)
		return 1;

	/* 3. The memory region holds the dma-buf. */
	if (pd) {
		mr = ibv_reg_dmabuf_mr(pd, 0, len, (uintptr_t)map, dmabuf_fd,
				       access);
		if (mr)
			snprintf(what, sizeof(what), "lkey 0x%x rkey 0x%x",
				 mr->lkey, mr->rkey);
		step("reg_dmabuf_mr", mr ? 0 : errno, mr ? what : NULL);
	}

	/* 4. Give the memory back when the filesystem needs it. */
	if (wait_break) {
		struct layoutlease_event ev;
		siginfo_t si;
		sigset_t set;
		double t0;

		sigemptyset(&set);
		sigaddset(&set, SIGIO);
		sigprocmask(SIG_BLOCK, &set, NULL);
		ret = ll_owner(lease_fd, SIGIO);
		step("owner", -ret, NULL);
		printf("waiting for a break\n");
		fflush(stdout);
		if (sigwaitinfo(&set, &si) < 0) {
			step("break", errno, NULL);
			return 1;
		}
		t0 = now_ms();
		ret = ll_read_event(lease_fd, &ev);
		snprintf(what, sizeof(what), "signal %d si_fd %d event %s, %.0f ms to the deadline",
			 si.si_signo, si.si_fd,
			 ret ? "?" : ll_event_name(ev.type),
			 ret ? 0.0 : (ev.deadline_ns - ev.time_ns) / 1e6);
		step("break", -ret, what);
		if (mr) {
			ret = ibv_dereg_mr(mr);
			snprintf(what, sizeof(what), "+%.2f ms", now_ms() - t0);
			step("dereg_mr", ret, what);
		}
		close(dmabuf_fd);
		ret = ll_unpin(lease_fd, pin_id);
		snprintf(what, sizeof(what), "+%.2f ms", now_ms() - t0);
		step("unpin", -ret, what);
		if (ret)
			return 1;
	}

	if (pd)
		ibv_dealloc_pd(pd);
	if (ctx)
		ibv_close_device(ctx);
	if (list)
		ibv_free_device_list(list);
	return 0;
}
