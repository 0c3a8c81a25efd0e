// SPDX-License-Identifier: GPL-2.0
/*
 * ll_importer: a test-only dma-buf importer that behaves like a device
 * driver, for the layoutlease selftests.  Never installed.
 *
 * Each open of /dev/ll_importer is a device with at most one attachment.
 * It attaches dynamically (move_notify), pinned (dma_buf_pin(), as
 * ib_umem_dmabuf_get_pinned() does) or statically (dma_buf_attach()),
 * maps the sg table into its "page table" of DMA addresses and accesses
 * the memory through it, as a device would, synchronously or "in flight"
 * with a fence in the reservation object.  On move_notify it stops taking
 * accesses at once, lets the one in flight finish (its fence) and unmaps
 * from a work item, as a driver that must first quiesce its hardware does.
 *
 * It records what the selftests check: every access and every unmap looks
 * at whether the pages are still pinned (the exporter must not unpin while
 * the device can reach them), and when the last access ended relative to
 * the unmap.
 *
 * Copyright (C) 2026 The layoutlease authors
 */
#include <linux/dma-buf.h>
#include <linux/dma-direct.h>
#include <linux/dma-fence.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/highmem.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "ll_importer.h"

LL_MODULE_IMPORT_NS(DMA_BUF);

static struct platform_device *lli_pdev;
static u64 lli_fence_context;
static atomic64_t lli_fence_seqno;
static DEFINE_SPINLOCK(lli_fence_lock);

/**
 * struct lli_dev - one open of /dev/ll_importer
 * @lock: serialises the ioctls of this fd
 * @dmabuf: the imported buffer (a reference), NULL if not attached
 * @attach: the attachment
 * @mode: &enum ll_importer_mode
 * @sgt: the live mapping; under the reservation lock
 * @pt: DMA address of every page of @sgt, the "device page table"; valid
 *      while @sgt is, and while an access is in flight
 * @npages: pages of the buffer
 * @stopped: told to stop (move_notify): no access is taken any more;
 *           under the reservation lock
 * @detaching: the fd is going away; under the reservation lock
 * @op: the access in flight, if @op_fence
 * @op_fence: its fence, also in the reservation object
 * @op_work: completes the access in flight
 * @unmap_work: unmaps after a move_notify
 * @st_lock: protects @st
 * @st: what the selftests read
 */
struct lli_dev {
	struct mutex lock;	/* see above */
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *attach;
	u32 mode;
	struct sg_table *sgt;
	dma_addr_t *pt;
	unsigned long npages;
	bool stopped;
	bool detaching;
	struct lli_access op;
	struct dma_fence *op_fence;
	struct delayed_work op_work;
	struct work_struct unmap_work;
	spinlock_t st_lock;	/* see above */
	struct lli_status st;
};

static const char *lli_fence_name(struct dma_fence *fence)
{
	return "ll_importer";
}

static const struct dma_fence_ops lli_fence_ops = {
	.get_driver_name = lli_fence_name,
	.get_timeline_name = lli_fence_name,
};

/* The "device" reaches the memory through its page table only. */
static void lli_do_access(struct lli_dev *d, struct lli_access *op, bool write)
{
	struct device *dev = &lli_pdev->dev;
	u64 pos = op->offset, end = op->offset + op->length;
	u32 unpinned = 0;

	while (pos < end) {
		unsigned long idx = pos >> PAGE_SHIFT;
		unsigned int off = offset_in_page(pos);
		unsigned int n = min_t(u64, PAGE_SIZE - off, end - pos);
		struct page *page;
		void *va;

		page = pfn_to_page(PHYS_PFN(dma_to_phys(dev, d->pt[idx])));
		if (!folio_maybe_dma_pinned(page_folio(page)))
			unpinned++;
		va = kmap_local_page(page);
		if (write)
			memset(va + off, (u8)op->value, n);
		else
			memcpy(&op->value, va + off, min_t(unsigned int, n, 8));
		kunmap_local(va);
		if (!write)
			break;
		pos += n;
	}
	spin_lock(&d->st_lock);
	d->st.accesses++;
	d->st.unpinned_access += unpinned;
	d->st.last_access_ns = ktime_get_ns();
	if (d->st.unmap_ns > d->st.ack_ns && d->st.last_access_ns > d->st.unmap_ns)
		d->st.late_access++;
	spin_unlock(&d->st_lock);
}

static void lli_op_work(struct work_struct *work)
{
	struct lli_dev *d = container_of(to_delayed_work(work), struct lli_dev,
					 op_work);
	struct dma_fence *fence = d->op_fence;

	lli_do_access(d, &d->op, true);
	WRITE_ONCE(d->op_fence, NULL);
	dma_fence_signal(fence);
	dma_fence_put(fence);
}

/* Called with the reservation lock held. */
static void lli_unmap_locked(struct lli_dev *d)
{
	unsigned long i;
	u32 unpinned = 0;

	dma_resv_assert_held(d->dmabuf->resv);
	if (!d->sgt)
		return;
	for (i = 0; i < d->npages; i++) {
		struct page *page = pfn_to_page(PHYS_PFN(dma_to_phys(&lli_pdev->dev,
								      d->pt[i])));

		if (!folio_maybe_dma_pinned(page_folio(page)))
			unpinned++;
	}
	/*
	 * The record goes first: the exporter's revocation waits for this
	 * unmap and then tells the holder, who may read the status before
	 * dma_buf_unmap_attachment() has returned here (seen on the 7.2
	 * KASAN kernel: UNMAPPED read, st.mapped still 1).
	 */
	spin_lock(&d->st_lock);
	d->st.mapped = 0;
	d->st.unpinned_unmap += unpinned;
	if (d->stopped)
		d->st.unmap_ns = ktime_get_ns();
	spin_unlock(&d->st_lock);
	dma_buf_unmap_attachment(d->attach, d->sgt, DMA_BIDIRECTIONAL);
	d->sgt = NULL;
}

static void lli_unmap_work(struct work_struct *work)
{
	struct lli_dev *d = container_of(work, struct lli_dev, unmap_work);

	struct dma_fence *fence;

	/*
	 * Quiesce the "hardware" first: wait for the access in flight (the
	 * reservation object holds its fence while we look).
	 */
	dma_resv_lock(d->dmabuf->resv, NULL);
	fence = d->op_fence ? dma_fence_get(d->op_fence) : NULL;
	dma_resv_unlock(d->dmabuf->resv);
	if (fence) {
		dma_fence_wait(fence, false);
		dma_fence_put(fence);
	}
	dma_resv_lock(d->dmabuf->resv, NULL);
	if (d->stopped)
		lli_unmap_locked(d);
	dma_resv_unlock(d->dmabuf->resv);
}

static void lli_move_notify(struct dma_buf_attachment *attach)
{
	struct lli_dev *d = attach->importer_priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	d->stopped = true;
	spin_lock(&d->st_lock);
	d->st.moves++;
	d->st.ack_ns = ktime_get_ns();
	spin_unlock(&d->st_lock);
	if (d->sgt && !d->detaching && d->mode == LLI_DYNAMIC)
		queue_work(system_wq, &d->unmap_work);
}

static const struct dma_buf_attach_ops lli_dynamic_ops = {
#ifdef LL_HAVE_DMA_BUF_INVALIDATE_MAPPINGS
	.invalidate_mappings = lli_move_notify,
#else
	.move_notify = lli_move_notify,
#endif
};

/*
 * A pinned importer: on 6.x move_notify is mandatory but, as in
 * ib_umem_dmabuf_get_pinned(), it does nothing; on 7.x it has none.
 */
static const struct dma_buf_attach_ops lli_pinned_ops = {
#ifndef LL_HAVE_DMA_BUF_INVALIDATE_MAPPINGS
	.move_notify = lli_move_notify,
#endif
};

/* Map and fill the page table; called with the reservation lock held. */
static int lli_map_locked(struct lli_dev *d)
{
	struct scatterlist *sg;
	struct sg_table *sgt;
	unsigned long n = 0;
	unsigned int i;

	dma_resv_assert_held(d->dmabuf->resv);
	if (d->sgt)
		return 0;
	sgt = dma_buf_map_attachment(d->attach, DMA_BIDIRECTIONAL);
	if (IS_ERR(sgt)) {
		spin_lock(&d->st_lock);
		d->st.map_error = PTR_ERR(sgt);
		spin_unlock(&d->st_lock);
		return PTR_ERR(sgt);
	}
	for_each_sgtable_dma_sg(sgt, sg, i) {
		dma_addr_t a = sg_dma_address(sg);
		unsigned int len = sg_dma_len(sg);

		for (; len && n < d->npages; len -= PAGE_SIZE, a += PAGE_SIZE)
			d->pt[n++] = a;
	}
	if (n != d->npages) {
		dma_buf_unmap_attachment(d->attach, sgt, DMA_BIDIRECTIONAL);
		return -EIO;
	}
	d->sgt = sgt;
	d->stopped = false;
	spin_lock(&d->st_lock);
	d->st.mapped = 1;
	spin_unlock(&d->st_lock);
	return 0;
}

static void lli_detach(struct lli_dev *d)
{
	if (!d->dmabuf)
		return;
	flush_delayed_work(&d->op_work);
	dma_resv_lock(d->dmabuf->resv, NULL);
	d->detaching = true;
	dma_resv_unlock(d->dmabuf->resv);
	flush_work(&d->unmap_work);

	dma_resv_lock(d->dmabuf->resv, NULL);
	lli_unmap_locked(d);
	if (d->st.pinned)
		dma_buf_unpin(d->attach);
	dma_resv_unlock(d->dmabuf->resv);
	dma_buf_detach(d->dmabuf, d->attach);
	dma_buf_put(d->dmabuf);
	kvfree(d->pt);
	d->pt = NULL;
	d->dmabuf = NULL;
	d->attach = NULL;
	d->detaching = false;
	d->stopped = false;
	spin_lock(&d->st_lock);
	d->st.attached = 0;
	d->st.mapped = 0;
	d->st.pinned = 0;
	spin_unlock(&d->st_lock);
}

static int lli_attach(struct lli_dev *d, struct lli_attach *arg)
{
	struct device *dev = &lli_pdev->dev;
	struct dma_buf_attachment *attach;
	struct dma_buf *dmabuf;
	int ret;

	if (d->dmabuf)
		return -EBUSY;
	if (arg->mode > LLI_STUBBORN)
		return -EINVAL;
	dmabuf = dma_buf_get(arg->dmabuf_fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	d->npages = dmabuf->size >> PAGE_SHIFT;
	d->pt = kvcalloc(d->npages, sizeof(*d->pt), GFP_KERNEL);
	if (!d->pt) {
		ret = -ENOMEM;
		goto out_put;
	}
	d->mode = arg->mode;
	if (arg->mode == LLI_STATIC)
		attach = dma_buf_attach(dmabuf, dev);
	else
		attach = dma_buf_dynamic_attach(dmabuf, dev,
						arg->mode == LLI_PINNED ?
						&lli_pinned_ops : &lli_dynamic_ops,
						d);
	if (IS_ERR(attach)) {
		ret = PTR_ERR(attach);
		goto out_free;
	}
	d->dmabuf = dmabuf;
	d->attach = attach;
	spin_lock(&d->st_lock);
	memset(&d->st, 0, sizeof(d->st));
	d->st.attached = 1;
	spin_unlock(&d->st_lock);

	dma_resv_lock(dmabuf->resv, NULL);
	if (arg->mode == LLI_PINNED) {
		ret = dma_buf_pin(attach);
		if (ret)
			goto out_unlock;
		d->st.pinned = 1;
	}
	ret = lli_map_locked(d);
	dma_resv_unlock(dmabuf->resv);
	if (ret)
		goto out_detach;
	return 0;

out_unlock:
	dma_resv_unlock(dmabuf->resv);
out_detach:
	lli_detach(d);
	return ret;
out_free:
	kvfree(d->pt);
	d->pt = NULL;
out_put:
	dma_buf_put(dmabuf);
	return ret;
}

static int lli_access(struct lli_dev *d, struct lli_access *op, bool write)
{
	struct dma_fence *fence;
	int ret = 0;

	if (!d->dmabuf)
		return -ENXIO;
	if (op->offset >= (u64)d->npages << PAGE_SHIFT ||
	    op->length > ((u64)d->npages << PAGE_SHIFT) - op->offset ||
	    (!write && op->delay_ms))
		return -EINVAL;
	dma_resv_lock(d->dmabuf->resv, NULL);
	if (!d->sgt || d->stopped) {
		ret = -ENXIO;
		goto out_unlock;
	}
	if (!op->delay_ms) {
		lli_do_access(d, op, write);
		goto out_unlock;
	}
	if (READ_ONCE(d->op_fence)) {
		ret = -EBUSY;
		goto out_unlock;
	}
	ret = dma_resv_reserve_fences(d->dmabuf->resv, 1);
	if (ret)
		goto out_unlock;
	fence = kzalloc(sizeof(*fence), GFP_KERNEL);
	if (!fence) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	dma_fence_init(fence, &lli_fence_ops, &lli_fence_lock, lli_fence_context,
		       atomic64_inc_return(&lli_fence_seqno));
	dma_resv_add_fence(d->dmabuf->resv, fence, DMA_RESV_USAGE_WRITE);
	d->op = *op;
	d->op_fence = fence;	/* our reference, dropped by lli_op_work */
	schedule_delayed_work(&d->op_work, msecs_to_jiffies(op->delay_ms));
out_unlock:
	dma_resv_unlock(d->dmabuf->resv);
	return ret;
}

static long lli_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct lli_dev *d = filp->private_data;
	void __user *uarg = (void __user *)arg;
	struct lli_attach at;
	struct lli_access op;
	struct lli_status st;
	long ret;

	mutex_lock(&d->lock);
	switch (cmd) {
	case LLI_IOC_ATTACH:
		ret = -EFAULT;
		if (!copy_from_user(&at, uarg, sizeof(at)))
			ret = lli_attach(d, &at);
		break;
	case LLI_IOC_MAP:
		ret = -ENXIO;
		if (d->dmabuf && d->mode == LLI_DYNAMIC) {
			dma_resv_lock(d->dmabuf->resv, NULL);
			ret = lli_map_locked(d);
			dma_resv_unlock(d->dmabuf->resv);
		}
		break;
	case LLI_IOC_WRITE:
	case LLI_IOC_READ:
		ret = -EFAULT;
		if (copy_from_user(&op, uarg, sizeof(op)))
			break;
		ret = lli_access(d, &op, cmd == LLI_IOC_WRITE);
		if (!ret && cmd == LLI_IOC_READ &&
		    copy_to_user(uarg, &op, sizeof(op)))
			ret = -EFAULT;
		break;
	case LLI_IOC_STATUS:
		spin_lock(&d->st_lock);
		st = d->st;
		spin_unlock(&d->st_lock);
		ret = copy_to_user(uarg, &st, sizeof(st)) ? -EFAULT : 0;
		break;
	case LLI_IOC_PIN:
		ret = -ENXIO;
		if (d->dmabuf && d->mode == LLI_DYNAMIC && !d->st.pinned) {
			dma_resv_lock(d->dmabuf->resv, NULL);
			ret = dma_buf_pin(d->attach);
			if (!ret)
				d->st.pinned = 1;
			dma_resv_unlock(d->dmabuf->resv);
		}
		break;
	case LLI_IOC_DETACH:
		ret = d->dmabuf ? 0 : -ENXIO;
		lli_detach(d);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&d->lock);
	return ret;
}

static int lli_open(struct inode *inode, struct file *filp)
{
	struct lli_dev *d = kzalloc(sizeof(*d), GFP_KERNEL);

	if (!d)
		return -ENOMEM;
	mutex_init(&d->lock);
	spin_lock_init(&d->st_lock);
	INIT_DELAYED_WORK(&d->op_work, lli_op_work);
	INIT_WORK(&d->unmap_work, lli_unmap_work);
	filp->private_data = d;
	return nonseekable_open(inode, filp);
}

static int lli_release(struct inode *inode, struct file *filp)
{
	struct lli_dev *d = filp->private_data;

	lli_detach(d);
	mutex_destroy(&d->lock);
	kfree(d);
	return 0;
}

static const struct file_operations lli_fops = {
	.owner = THIS_MODULE,
	.open = lli_open,
	.release = lli_release,
	.unlocked_ioctl = lli_ioctl,
};

static struct miscdevice lli_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "ll_importer",
	.fops = &lli_fops,
	.mode = 0666,
};

static int __init lli_init(void)
{
	int ret;

	lli_pdev = platform_device_register_simple("ll_importer", -1, NULL, 0);
	if (IS_ERR(lli_pdev))
		return PTR_ERR(lli_pdev);
	ret = dma_coerce_mask_and_coherent(&lli_pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		goto out_pdev;
	lli_fence_context = dma_fence_context_alloc(1);
	ret = misc_register(&lli_misc);
	if (ret)
		goto out_pdev;
	return 0;

out_pdev:
	platform_device_unregister(lli_pdev);
	return ret;
}

static void __exit lli_exit(void)
{
	misc_deregister(&lli_misc);
	platform_device_unregister(lli_pdev);
}

module_init(lli_init);
module_exit(lli_exit);
MODULE_DESCRIPTION("layoutlease test-only dma-buf importer");
MODULE_LICENSE("GPL");
