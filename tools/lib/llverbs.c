// SPDX-License-Identifier: GPL-2.0
/* liblayoutlease's verbs part: see llverbs.h. */
#include <errno.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include <rdma/ib_user_ioctl_cmds.h>
#include <rdma/rdma_user_ioctl.h>

#include "llverbs.h"

#define ATTR(id, l, d) ((struct ib_uverbs_attr){ .attr_id = (id), .len = (l), \
	.flags = UVERBS_ATTR_F_MANDATORY, .data = (d) })

int ll_verbs_reg_dmabuf_mr(struct ibv_pd *pd, __u64 offset, __u64 length,
			   __u64 iova, int fd, unsigned int access,
			   __u32 *handle, __u32 *lkey, __u32 *rkey)
{
	struct {
		struct ib_uverbs_ioctl_hdr hdr;
		struct ib_uverbs_attr attrs[9];
	} c = {
		.hdr = {
			.length = sizeof(c),
			.object_id = UVERBS_OBJECT_MR,
			.method_id = UVERBS_METHOD_REG_DMABUF_MR,
			.num_attrs = 9,
			.driver_id = RDMA_DRIVER_RXE,
		},
		.attrs = {
			ATTR(UVERBS_ATTR_REG_DMABUF_MR_HANDLE, 0, 0),
			ATTR(UVERBS_ATTR_REG_DMABUF_MR_PD_HANDLE, 0, pd->handle),
			ATTR(UVERBS_ATTR_REG_DMABUF_MR_OFFSET, 8, offset),
			ATTR(UVERBS_ATTR_REG_DMABUF_MR_LENGTH, 8, length),
			ATTR(UVERBS_ATTR_REG_DMABUF_MR_IOVA, 8, iova),
			ATTR(UVERBS_ATTR_REG_DMABUF_MR_FD, 4, (__u32)fd),
			ATTR(UVERBS_ATTR_REG_DMABUF_MR_ACCESS_FLAGS, 8, access),
			ATTR(UVERBS_ATTR_REG_DMABUF_MR_RESP_LKEY, 4, (uintptr_t)lkey),
			ATTR(UVERBS_ATTR_REG_DMABUF_MR_RESP_RKEY, 4, (uintptr_t)rkey),
		},
	};

	if (ioctl(pd->context->cmd_fd, RDMA_VERBS_IOCTL, &c))
		return -errno;
	/* The kernel writes the new object's handle into the attribute. */
	*handle = c.attrs[0].data;
	return 0;
}

int ll_verbs_destroy_mr(struct ibv_context *ctx, __u32 handle)
{
	struct {
		struct ib_uverbs_ioctl_hdr hdr;
		struct ib_uverbs_attr attrs[1];
	} c = {
		.hdr = {
			.length = sizeof(c),
			.object_id = UVERBS_OBJECT_MR,
			.method_id = UVERBS_METHOD_MR_DESTROY,
			.num_attrs = 1,
			.driver_id = RDMA_DRIVER_RXE,
		},
		.attrs = { ATTR(UVERBS_ATTR_DESTROY_MR_HANDLE, 0, handle) },
	};

	return ioctl(ctx->cmd_fd, RDMA_VERBS_IOCTL, &c) ? -errno : 0;
}
