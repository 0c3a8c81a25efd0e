// SPDX-License-Identifier: GPL-2.0
/*
 * Export of pins as dma-bufs (LAYOUTLEASE_IOC_EXPORT).
 *
 * An RDMA memory region registered with ibv_reg_dmabuf_mr() holds the
 * dma-buf, the dma-buf holds the lease, and the pin keeps the pages.  We
 * are a dynamic exporter (we have pin/unpin ops), so that importers must
 * take the reservation lock to map and are told to drop their mappings
 * with move_notify (invalidate_mappings since 7.x).
 *
 * When the pin ends (unpin, revocation at the break deadline, unmapping)
 * whoever ended it calls ll_export_revoke() before it unpins the pages:
 *
 *   revoker                      importer
 *   resv lock; revoked = true
 *   move_notify  -------------> stop issuing DMA, unmap (now or soon)
 *   resv unlock
 *   wait for the resv fences <-- in-flight DMA completes, fences signal
 *   wait for maps == pins == 0 <- unmap / unpin / detach
 *   unpin_user_pages()
 *
 * A map after the revocation fails with ENOLINK: the check and the map are
 * under the same reservation lock as the flip of @revoked.
 *
 * The reservation lock ranks below mmap_lock and above the mmu notifier
 * (dma_resv_lockdep()), so the revocation never runs inside, nor is waited
 * for by, our mmu interval notifier: a pin whose mapping goes away is
 * finished on ll_wq, its pages pinned until then (see ll_pin_invalidate()).
 * The waits that a revocation is part of are the filesystem's and
 * ll_break_wait(), both annotated for lockdep (ll_pin_end_map).
 *
 * Importers that pin (dma_buf_pin(), or a static attachment, which the core
 * pins for its whole life) cannot be revoked and are refused with
 * EOPNOTSUPP unless allow_pinned_importers is set; then a revocation waits
 * until they let go, however long that is.  On 6.1 and 6.12 without
 * CONFIG_DMABUF_MOVE_NOTIFY (Debian's configuration) the core also pins a
 * dynamic importer's buffer for each mapping, so a pin cannot be told from
 * a mapping when it comes: a dynamic attachment with more pins than
 * mappings plus the one being made is refused at map time instead.  On
 * 7.x an importer that pins but is revocable (dma_buf_attach_revocable())
 * is accepted: it unmaps and unpins in invalidate_mappings.
 *
 * Copyright (C) 2026 The layoutlease authors
 */
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/file.h>
#include <linux/kallsyms.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include "layoutlease.h"

LL_MODULE_IMPORT_NS(DMA_BUF);

static bool ll_allow_pinned_importers;
module_param_named(allow_pinned_importers, ll_allow_pinned_importers, bool,
		   0644);
MODULE_PARM_DESC(allow_pinned_importers,
		 "Accept dma-buf importers that pin: a break then waits for them (default N)");

/**
 * struct ll_export - the exporter's side of a dma-buf made from a pin
 * @ref: one for the dma-buf (dropped at its release), one per revoker
 * @lock: serialises ll_export_revoke() against the dma-buf's release
 * @dmabuf: the dma-buf; under @lock; NULL once it is released
 * @lease: a reference, which keeps the lease and its ll_file
 * @pin: the pin; under ll_file.lock; NULL once the pin ended (its revoker
 *       took @ref) or the dma-buf was released
 * @ext: the pin's runs of pages, @nr_ext of them; used only under the
 *       reservation lock while @revoked is false, which the revoker sets
 *       before it unpins them
 * @nr_ext: see @ext
 * @revoked: under the reservation lock (or before the fd exists): no
 *           attachment or mapping is made any more
 * @maps: live mappings of all attachments, under the reservation lock
 * @pins: pins of all attachments, under the reservation lock
 * @waitq: the revoker waits here for @maps and @pins to reach 0
 */
struct ll_export {
	struct kref ref;
	struct mutex lock;	/* see above */
	struct dma_buf *dmabuf;
	struct ll_lease *lease;
	struct ll_pin *pin;
	const struct ll_extent *ext;
	unsigned int nr_ext;
	bool revoked;
	unsigned int maps;
	unsigned int pins;
	wait_queue_head_t waitq;
};

/*
 * attach->priv: the counts of &struct ll_export for one attachment, under
 * the reservation lock; what the mapping check on 6.1 and 6.12 needs.
 */
struct ll_attach {
	unsigned int maps;
	unsigned int pins;
};

static void ll_export_free(struct kref *ref)
{
	struct ll_export *ex = container_of(ref, struct ll_export, ref);

	ll_lease_put(ex->lease);
	mutex_destroy(&ex->lock);
	kfree(ex);
}

static void ll_export_put(struct ll_export *ex)
{
	kref_put(&ex->ref, ll_export_free);
}

static int ll_dmabuf_attach(struct dma_buf *dmabuf,
			    struct dma_buf_attachment *attach)
{
	struct ll_export *ex = dmabuf->priv;
	struct ll_attach *la;

	if (!ll_attach_revocable(attach) && !READ_ONCE(ll_allow_pinned_importers))
		return -EOPNOTSUPP;
	/* Unlocked: an early answer only, the map checks under the lock. */
	if (READ_ONCE(ex->revoked))
		return -ENOLINK;
	la = kzalloc(sizeof(*la), GFP_KERNEL);
	if (!la)
		return -ENOMEM;
	attach->priv = la;
	return 0;
}
ALLOW_ERROR_INJECTION(ll_dmabuf_attach, ERRNO);

static void ll_dmabuf_detach(struct dma_buf *dmabuf,
			     struct dma_buf_attachment *attach)
{
	struct ll_export *ex = dmabuf->priv;
	struct ll_attach *la = attach->priv;

	/*
	 * The core unmapped and unpinned a static attachment already; an
	 * importer that detaches with a mapping left is buggy, but must not
	 * hold a revocation up for ever.
	 */
	if (la->maps || la->pins) {
		pr_warn_once("%s: importer detached with %u mappings and %u pins\n",
			     dev_name(attach->dev), la->maps, la->pins);
		dma_resv_lock(dmabuf->resv, NULL);
		ex->maps -= la->maps;
		ex->pins -= la->pins;
		dma_resv_unlock(dmabuf->resv);
		wake_up_all(&ex->waitq);
	}
	kfree(la);
}

/* May @attach pin?  Only revocable pins, unless the administrator opted in. */
static bool ll_pin_allowed(struct dma_buf_attachment *attach)
{
	if (READ_ONCE(ll_allow_pinned_importers))
		return true;
	/* A static attachment exists only if pinning was allowed. */
	if (!attach->importer_ops)
		return true;
	/* The core's pin for a mapping: checked in ll_dmabuf_map(). */
	if (LL_DMABUF_PIN_ON_MAP)
		return true;
	return ll_pin_revocable(attach);
}

/*
 * On 6.1 and 6.12 (LL_DMABUF_PIN_ON_MAP) the core pins a dynamic importer's
 * buffer for each mapping: dma_buf_map_attachment() calls our pin op right
 * before it maps.  Any other caller is the importer's own dma_buf_pin(),
 * which move_notify would never undo, even when it comes after a mapping
 * (which the map-time count cannot see): refused.  Fail-closed: were the
 * core's caller ever named otherwise, mappings would fail, not pins pass.
 */
static bool ll_pin_for_map(unsigned long caller)
{
	static const char core[] = "dma_buf_map_attachment";
	char sym[KSYM_SYMBOL_LEN];

	sprint_symbol_no_offset(sym, caller);
	return !strncmp(sym, core, sizeof(core) - 1);
}

static int ll_dmabuf_pin(struct dma_buf_attachment *attach)
{
	struct ll_export *ex = attach->dmabuf->priv;
	struct ll_attach *la = attach->priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (ex->revoked)
		return -ENOLINK;
	if (!ll_pin_allowed(attach))
		return -EOPNOTSUPP;
	if (LL_DMABUF_PIN_ON_MAP && attach->importer_ops &&
	    !READ_ONCE(ll_allow_pinned_importers) && !ll_pin_for_map(_RET_IP_))
		return -EOPNOTSUPP;
	la->pins++;
	ex->pins++;
	return 0;
}

static void ll_dmabuf_unpin(struct dma_buf_attachment *attach)
{
	struct ll_export *ex = attach->dmabuf->priv;
	struct ll_attach *la = attach->priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (WARN_ON_ONCE(!la->pins || !ex->pins))
		return;
	la->pins--;
	if (!--ex->pins)
		wake_up_all(&ex->waitq);
}

/* An sg entry's length is an unsigned int: runs go in segments below it. */
#define LL_SG_MAX_PAGES ((UINT_MAX & PAGE_MASK) >> PAGE_SHIFT)

/* One entry per run of pages (per LL_SG_MAX_PAGES of a longer one). */
static int ll_dmabuf_fill_sgt(struct sg_table *sgt, const struct ll_extent *ext,
			      unsigned int nr_ext)
{
	unsigned long off, n, nents = 0;
	struct scatterlist *sg;
	unsigned int i;
	int ret;

	for (i = 0; i < nr_ext; i++)
		nents += DIV_ROUND_UP(ext[i].npages, LL_SG_MAX_PAGES);
	if (nents > UINT_MAX)
		return -ENOMEM;
	ret = sg_alloc_table(sgt, nents, GFP_KERNEL);
	if (ret)
		return ret;
	sg = sgt->sgl;
	for (i = 0; i < nr_ext; i++) {
		for (off = 0; off < ext[i].npages; off += n) {
			n = min(ext[i].npages - off, LL_SG_MAX_PAGES);
			sg_set_page(sg, ext[i].page + off, n << PAGE_SHIFT, 0);
			sg = sg_next(sg);
		}
	}
	return 0;
}

static struct sg_table *ll_dmabuf_map(struct dma_buf_attachment *attach,
				      enum dma_data_direction dir)
{
	struct ll_export *ex = attach->dmabuf->priv;
	struct ll_attach *la = attach->priv;
	struct sg_table *sgt;
	int ret;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (ex->revoked)
		return ERR_PTR(-ENOLINK);
	/* See the top of this file: an explicit pin beside the core's. */
	if (LL_DMABUF_PIN_ON_MAP && attach->importer_ops &&
	    la->pins > la->maps + 1 && !READ_ONCE(ll_allow_pinned_importers))
		return ERR_PTR(-EOPNOTSUPP);

	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	/* The dma-buf has the pin's size: its runs, in segments. */
	ret = ll_dmabuf_fill_sgt(sgt, ex->ext, ex->nr_ext);
	if (ret)
		goto out_free;
	ret = dma_map_sgtable(attach->dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
	if (ret)
		goto out_free_table;
	la->maps++;
	ex->maps++;
	return sgt;

out_free_table:
	sg_free_table(sgt);
out_free:
	kfree(sgt);
	return ERR_PTR(ret);
}
ALLOW_ERROR_INJECTION(ll_dmabuf_map, ERRNO);

static void ll_dmabuf_unmap(struct dma_buf_attachment *attach,
			    struct sg_table *sgt, enum dma_data_direction dir)
{
	struct ll_export *ex = attach->dmabuf->priv;
	struct ll_attach *la = attach->priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	dma_unmap_sgtable(attach->dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
	sg_free_table(sgt);
	kfree(sgt);
	if (WARN_ON_ONCE(!la->maps || !ex->maps))
		return;
	la->maps--;
	if (!--ex->maps)
		wake_up_all(&ex->waitq);
}

/* The last reference to the dma-buf went (no importer holds it). */
static void ll_dmabuf_release(struct dma_buf *dmabuf)
{
	struct ll_export *ex = dmabuf->priv;
	struct ll_file *lf = ex->lease->lf;

	mutex_lock(&ex->lock);
	ex->dmabuf = NULL;
	mutex_unlock(&ex->lock);
	spin_lock(&lf->lock);
	if (ex->pin) {
		ex->pin->export = NULL;
		ex->pin = NULL;
	}
	spin_unlock(&lf->lock);
	ll_export_put(ex);
}

static const struct dma_buf_ops ll_dmabuf_ops = {
	.attach = ll_dmabuf_attach,
	.detach = ll_dmabuf_detach,
	.pin = ll_dmabuf_pin,
	.unpin = ll_dmabuf_unpin,
	.map_dma_buf = ll_dmabuf_map,
	.unmap_dma_buf = ll_dmabuf_unmap,
	.release = ll_dmabuf_release,
};

/*
 * The pin is ending: unlink its export, if any, from it and return it with
 * a reference for ll_export_revoke().  Called under ll_file.lock.
 */
struct ll_export *ll_export_unlink_locked(struct ll_pin *pin)
{
	struct ll_export *ex = pin->export;

	lockdep_assert_held(&pin->lease->lf->lock);
	if (!ex)
		return NULL;
	kref_get(&ex->ref);
	ex->pin = NULL;
	return ex;
}

/* How often a revocation that waits for its importers says so. */
#define LL_REVOKE_REPORT_MS 10000

/*
 * An importer breaks the dma-buf contract, or an opted-in pinned importer
 * takes its time: the pages stay pinned (a device may still write them), so
 * the filesystem operation waits, and the kernel log says who it waits for.
 */
static void ll_export_report(struct ll_export *ex, struct dma_buf *dmabuf,
			     const char *what, unsigned int seconds)
{
	struct dma_buf_attachment *a;

	pr_warn("lease %llu: a revocation has waited %u s: %s\n",
		ex->lease->id, seconds, what);
	dma_resv_lock(dmabuf->resv, NULL);
	list_for_each_entry(a, &dmabuf->attachments, node)
		pr_warn("lease %llu: importer %s %s\n", ex->lease->id,
			dev_driver_string(a->dev), dev_name(a->dev));
	dma_resv_unlock(dmabuf->resv);
}

static void ll_export_wait(struct ll_export *ex, struct dma_buf *dmabuf)
{
	unsigned long step = msecs_to_jiffies(LL_REVOKE_REPORT_MS);
	unsigned int seconds = 0;

	while (!dma_resv_wait_timeout(dmabuf->resv, DMA_RESV_USAGE_BOOKKEEP,
				      false, step)) {
		seconds += LL_REVOKE_REPORT_MS / 1000;
		ll_export_report(ex, dmabuf, "its fences have not signaled",
				 seconds);
	}
	while (!wait_event_idle_timeout(ex->waitq, !READ_ONCE(ex->maps) &&
					!READ_ONCE(ex->pins), step)) {
		seconds += LL_REVOKE_REPORT_MS / 1000;
		ll_export_report(ex, dmabuf, "importers still map or pin it",
				 seconds);
	}
}

static void ll_export_do_revoke(struct ll_export *ex)
{
	struct dma_buf *dmabuf;

	mutex_lock(&ex->lock);
	dmabuf = ex->dmabuf;
	if (dmabuf) {
		dma_resv_lock(dmabuf->resv, NULL);
		ex->revoked = true;
		ll_dma_buf_invalidate(dmabuf);
		dma_resv_unlock(dmabuf->resv);
		/*
		 * dma-fences signal in bounded time (a device that hangs is
		 * reset by its driver); the importers promised to unmap
		 * after move_notify; pinned importers exist only by opt-in,
		 * and may take as long as they like: idle waits, which the
		 * hung-task detector leaves alone, reported every 10 s.
		 */
		ll_export_wait(ex, dmabuf);
	}
	mutex_unlock(&ex->lock);
}

/*
 * Tell the importers of @ex to stop and wait until they did; then the
 * caller may unpin the pages.  Not from an mmu notifier (see the top of
 * this file).  Drops the reference of ll_export_unlink_locked().
 */
void ll_export_revoke(struct ll_export *ex)
{
	ll_export_do_revoke(ex);
	ll_export_put(ex);
}

/* Can @pin (from ll_pin_find(), under ll_file.lock) be exported? */
static int ll_pin_exportable(struct ll_pin *pin)
{
	if (IS_ERR(pin))
		return PTR_ERR(pin);
	if (pin->export)
		return -EBUSY;
	return 0;
}

int ll_export_ioctl(struct ll_ucmd *ucmd)
{
	struct layoutlease_export *cmd = ucmd->cmd;
	struct ll_lease *lease = ucmd->filp->private_data;
	struct ll_file *lf = lease->lf;
	DEFINE_DMA_BUF_EXPORT_INFO(exp);
	struct dma_buf *dmabuf;
	struct ll_export *ex;
	struct ll_pin *pin;
	int fd, ret;

	if (cmd->__reserved)
		return -EINVAL;
	/* The caller's queue, so that it hears of the pin's revocation. */
	ret = PTR_ERR_OR_ZERO(ll_owner_current(lease, NULL));
	if (ret)
		return ret;
	ex = kzalloc(sizeof(*ex), GFP_KERNEL_ACCOUNT);
	if (!ex)
		return -ENOMEM;
	kref_init(&ex->ref);
	mutex_init(&ex->lock);
	init_waitqueue_head(&ex->waitq);
	kref_get(&lease->ref);
	ex->lease = lease;
	ex->revoked = true;	/* until linked */

	spin_lock(&lf->lock);
	pin = ll_pin_find(lease, cmd->pin_id);
	ret = ll_pin_exportable(pin);
	if (!ret)
		exp.size = pin->npages << PAGE_SHIFT;
	spin_unlock(&lf->lock);
	if (ret)
		goto out_put_export;
	exp.ops = &ll_dmabuf_ops;
	exp.flags = O_RDWR;
	exp.priv = ex;
	dmabuf = dma_buf_export(&exp);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		goto out_put_export;
	}
	ex->dmabuf = dmabuf;
	/* From here on the dma-buf's release frees @ex. */

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto out_put_dmabuf;
	}
	/* The pin may have gone meanwhile: check again, and link. */
	spin_lock(&lf->lock);
	pin = ll_pin_find(lease, cmd->pin_id);
	ret = ll_pin_exportable(pin);
	if (!ret) {
		pin->export = ex;
		ex->pin = pin;
		ex->ext = pin->ext;
		ex->nr_ext = pin->nr_ext;
		ex->revoked = false;
	}
	spin_unlock(&lf->lock);
	if (ret)
		goto out_put_fd;
	cmd->out_dmabuf_fd = fd;
	ret = ll_ucmd_respond(ucmd, sizeof(*cmd));
	if (ret)
		goto out_put_fd;	/* no importer yet: the release unlinks */
	fd_install(fd, dmabuf->file);
	return 0;

out_put_fd:
	put_unused_fd(fd);
out_put_dmabuf:
	dma_buf_put(dmabuf);
	return ret;
out_put_export:
	ll_export_put(ex);
	return ret;
}
