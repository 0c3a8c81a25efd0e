// SPDX-License-Identifier: GPL-2.0
/*
 * A layoutlease dma-buf registered as an rxe memory region through the raw
 * UVERBS_METHOD_REG_DMABUF_MR ioctl (the rxe provider has no reg_dmabuf_mr),
 * then a truncate: the region must not hold it past the deadline.
 *
 *   reg_dmabuf_smoke FILE LEN TIMEOUT_MS
 *
 * Not built by make: see Documentation/rdma.rst (work in progress).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <infiniband/verbs.h>
#include <rdma/ib_user_ioctl_cmds.h>
#include <rdma/rdma_user_ioctl.h>

#include "../../tools/lib/layoutlease.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct reg_cmd {
	struct ib_uverbs_ioctl_hdr hdr;
	struct ib_uverbs_attr attrs[9];
};

static int reg_dmabuf_mr(struct ibv_pd *pd, __u64 off, __u64 len, __u64 iova, int fd,
			 __u32 access, __u32 *handle, __u32 *lkey, __u32 *rkey)
{
	struct reg_cmd c = { 0 };
	__u64 acc = access;
	int n = 0;

	c.attrs[n++] = (struct ib_uverbs_attr){ .attr_id = UVERBS_ATTR_REG_DMABUF_MR_HANDLE,
		.flags = UVERBS_ATTR_F_MANDATORY };
	c.attrs[n++] = (struct ib_uverbs_attr){ .attr_id = UVERBS_ATTR_REG_DMABUF_MR_PD_HANDLE,
		.flags = UVERBS_ATTR_F_MANDATORY, .data = pd->handle };
	c.attrs[n++] = (struct ib_uverbs_attr){ .attr_id = UVERBS_ATTR_REG_DMABUF_MR_OFFSET,
		.len = 8, .flags = UVERBS_ATTR_F_MANDATORY, .data = off };
	c.attrs[n++] = (struct ib_uverbs_attr){ .attr_id = UVERBS_ATTR_REG_DMABUF_MR_LENGTH,
		.len = 8, .flags = UVERBS_ATTR_F_MANDATORY, .data = len };
	c.attrs[n++] = (struct ib_uverbs_attr){ .attr_id = UVERBS_ATTR_REG_DMABUF_MR_IOVA,
		.len = 8, .flags = UVERBS_ATTR_F_MANDATORY, .data = iova };
	c.attrs[n++] = (struct ib_uverbs_attr){ .attr_id = UVERBS_ATTR_REG_DMABUF_MR_FD,
		.len = 4, .flags = UVERBS_ATTR_F_MANDATORY, .data = (__u32)fd };
	c.attrs[n++] = (struct ib_uverbs_attr){ .attr_id = UVERBS_ATTR_REG_DMABUF_MR_ACCESS_FLAGS,
		.len = 8, .flags = UVERBS_ATTR_F_MANDATORY, .data = acc };
	c.attrs[n++] = (struct ib_uverbs_attr){ .attr_id = UVERBS_ATTR_REG_DMABUF_MR_RESP_LKEY,
		.len = 4, .flags = UVERBS_ATTR_F_MANDATORY, .data = (uintptr_t)lkey };
	c.attrs[n++] = (struct ib_uverbs_attr){ .attr_id = UVERBS_ATTR_REG_DMABUF_MR_RESP_RKEY,
		.len = 4, .flags = UVERBS_ATTR_F_MANDATORY, .data = (uintptr_t)rkey };
	c.hdr.length = sizeof(c.hdr) + n * sizeof(c.attrs[0]);
	c.hdr.object_id = UVERBS_OBJECT_MR;
	c.hdr.method_id = UVERBS_METHOD_REG_DMABUF_MR;
	c.hdr.num_attrs = n;
	c.hdr.driver_id = RDMA_DRIVER_RXE;
	if (ioctl(pd->context->cmd_fd, RDMA_VERBS_IOCTL, &c))
		return -errno;
	*handle = c.attrs[0].data;
	return 0;
}

static int dereg(struct ibv_context *ctx, __u32 handle)
{
	struct {
		struct ib_uverbs_ioctl_hdr hdr;
		struct ib_uverbs_attr attrs[1];
	} c = { 0 };

	c.attrs[0] = (struct ib_uverbs_attr){ .attr_id = UVERBS_ATTR_DESTROY_MR_HANDLE,
		.flags = UVERBS_ATTR_F_MANDATORY, .data = handle };
	c.hdr.length = sizeof(c);
	c.hdr.object_id = UVERBS_OBJECT_MR;
	c.hdr.method_id = UVERBS_METHOD_MR_DESTROY;
	c.hdr.num_attrs = 1;
	c.hdr.driver_id = RDMA_DRIVER_RXE;
	return ioctl(ctx->cmd_fd, RDMA_VERBS_IOCTL, &c) ? -errno : 0;
}

int main(int argc, char **argv)
{
	int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
	struct ibv_device **list;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	unsigned long long pin_id;
	__u32 h = 0, lkey = 0, rkey = 0;
	int fd, devfd, lease_fd, dfd, ret, st;
	size_t len;
	double t0;
	pid_t c;
	char *m;

	if (argc != 4)
		return 2;
	len = strtoull(argv[2], NULL, 0);
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, len))
		return perror("open"), 1;
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return perror("mmap"), 1;
	memset(m, 0x5a, len);
	list = ibv_get_device_list(NULL);
	if (!list || !list[0])
		return printf("no device\n"), 1;
	ctx = ibv_open_device(list[0]);
	pd = ctx ? ibv_alloc_pd(ctx) : NULL;
	if (!pd)
		return printf("no pd\n"), 1;
	devfd = ll_open();
	lease_fd = ll_lease_create(devfd, fd, 0, len, atoi(argv[3]), 0);
	if (lease_fd < 0)
		return printf("lease %d\n", lease_fd), 1;
	ret = ll_pin(lease_fd, m, len, 0, &pin_id);
	dfd = ret ? ret : ll_export(lease_fd, pin_id);
	if (dfd < 0)
		return printf("pin/export %d\n", dfd), 1;
	ret = reg_dmabuf_mr(pd, 0, len, (uintptr_t)m, dfd, access, &h, &lkey, &rkey);
	printf("reg_dmabuf_mr: %s handle %u lkey 0x%x rkey 0x%x\n",
	       ret ? strerror(-ret) : "ok", h, lkey, rkey);
	fflush(stdout);
	if (ret)
		return 1;
	system("cat /proc/layoutleases");
	t0 = now_ms();
	c = fork();
	if (!c)
		_exit(truncate(argv[1], 0) ? 1 : 0);
	waitpid(c, &st, 0);
	printf("truncate: exit %d after %.0f ms\n", WEXITSTATUS(st), now_ms() - t0);
	system("cat /proc/layoutleases");
	ret = dereg(ctx, h);
	printf("dereg: %s\n", ret ? strerror(-ret) : "ok");
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	return 0;
}
