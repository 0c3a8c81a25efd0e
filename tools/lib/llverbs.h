/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liblayoutlease's verbs part: the kernel's REG_DMABUF_MR for a libibverbs
 * provider that lacks reg_dmabuf_mr (rxe's, in every rdma-core to date).
 * Used by the preload library and by the selftests; it needs libibverbs.
 * Every function returns 0 or a negative errno; none sets errno.
 */
#ifndef _LLVERBS_H
#define _LLVERBS_H

#include <linux/types.h>
#include <infiniband/verbs.h>

/*
 * UVERBS_METHOD_REG_DMABUF_MR, as a provider's reg_dmabuf_mr would issue
 * it: a region of [@offset, +@length) of dma-buf @fd at @iova, with the
 * ibv_access_flags @access.  On success the region's handle, lkey and rkey.
 * -EINVAL from a device whose driver is not rxe: the kernel checks the
 * driver id, and every other driver's provider has the verb.
 */
int ll_verbs_reg_dmabuf_mr(struct ibv_pd *pd, __u64 offset, __u64 length,
			   __u64 iova, int fd, unsigned int access,
			   __u32 *handle, __u32 *lkey, __u32 *rkey);

/* UVERBS_METHOD_MR_DESTROY of a region ll_verbs_reg_dmabuf_mr() made. */
int ll_verbs_destroy_mr(struct ibv_context *ctx, __u32 handle);

#endif /* _LLVERBS_H */
