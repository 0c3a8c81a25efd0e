// SPDX-License-Identifier: GPL-2.0
/* 7.x renamed move_notify to invalidate_mappings and added revocable pins. */
#include <linux/dma-buf.h>

bool ll_probe(struct dma_buf_attachment *attach);
bool ll_probe(struct dma_buf_attachment *attach)
{
	struct dma_buf_attach_ops ops = { .invalidate_mappings = NULL };

	return dma_buf_attach_revocable(attach) && !ops.invalidate_mappings;
}
