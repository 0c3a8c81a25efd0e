// SPDX-License-Identifier: GPL-2.0
/*
 * Pins: pages of a MAP_SHARED mapping of the leased file, pinned without
 * FOLL_LONGTERM (which fsdax refuses), so that the filesystem waits for
 * them before it frees blocks; that wait is what starts a break.
 *
 * A pin is made under the mapping's invalidate_lock (shared): XFS and ext4
 * hold it exclusive from their last busy-page scan until the blocks are
 * gone, so a pin either exists before the scan (and the filesystem waits
 * for it, and a break starts) or is made after the operation.  While the
 * filesystem sleeps in a break it drops invalidate_lock; lf->breaking,
 * checked under the same lock, refuses pins then.  Faults take
 * invalidate_lock too, so pages are pinned with FOLL_NOFAULT under it and
 * faulted in beforehand without it.
 *
 * Copyright (C) 2026 The layoutlease authors
 */
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "layoutlease.h"
#include "trace.h"

#ifdef CONFIG_LOCKDEP
struct lockdep_map ll_pin_end_map = { .name = "layoutlease_pin_end" };
#endif

/* Attempts of a NONBLOCK pin whose pages keep being invalidated. */
#define LL_PIN_TRIES 16

/* RLIMIT_MEMLOCK; fail_function can make it fail (faultinj_test). */
static noinline int ll_charge(struct mm_struct *mm, unsigned long npages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;

	if (atomic64_add_return(npages, &mm->pinned_vm) > limit &&
	    !capable(CAP_IPC_LOCK)) {
		atomic64_sub(npages, &mm->pinned_vm);
		return -ENOMEM;
	}
	return 0;
}

ALLOW_ERROR_INJECTION(ll_charge, ERRNO);

static void ll_uncharge(struct mm_struct *mm, unsigned long npages)
{
	WARN_ON_ONCE(atomic64_sub_return(npages, &mm->pinned_vm) < 0);
}

/*
 * Ending a pin.  A pin ends once: unpinned by its maker, revoked at a break
 * deadline, or unmapped.  Whoever ends it flips @state from ACTIVE under
 * ll_file.lock and takes it off its lease (ll_pin_end_locked()); from then
 * on that caller alone owns the pin and finishes it outside the lock
 * (ll_pin_end_finish()): importers stopped, pages unpinned and uncharged,
 * the event sent, the pin freed.  Every other path, the pin's own notifier
 * included, finds it not ACTIVE and leaves it alone.
 */
static bool ll_pin_end_locked(struct ll_pin *pin, enum ll_pin_state why)
{
	struct ll_file *lf = pin->lease->lf;

	lockdep_assert_held(&lf->lock);
	if (pin->state != LL_PIN_ACTIVE)
		return false;
	pin->state = why;
	pin->export = ll_export_unlink_locked(pin);
	list_del_init(&pin->node);
	list_add_tail(&pin->ending_node, &lf->ending);
	return true;
}

/*
 * Pins are kept as runs of pages contiguous both in pfns and in the memmap
 * (struct ll_extent), which is what DAX file memory mostly is: a 1 GiB pin
 * of a file in a few extents costs a few runs of 16 bytes, not 2 MiB of
 * page pointers.  They are unpinned run by run, as a range; the export's
 * sg table is made of them.
 */
static void ll_unpin_runs(const struct ll_extent *ext, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		unpin_user_page_range_dirty_lock(ext[i].page, ext[i].npages, false);
}

/* The page at index @idx of @pin (< npages), from its runs. */
struct page *ll_pin_page(const struct ll_pin *pin, unsigned long idx)
{
	unsigned int i;

	for (i = 0; i < pin->nr_ext; i++) {
		if (idx < pin->ext[i].npages)
			return pin->ext[i].page + idx;
		idx -= pin->ext[i].npages;
	}
	WARN_ON_ONCE(1);
	return NULL;
}

/* Pages pinned per call of pin_user_pages(), into a scratch array. */
#define LL_PIN_BATCH 512

/*
 * Add @n pinned pages to @pin's runs, growing the array as needed (up to
 * one run per page, for a file whose blocks are scattered); false when out
 * of memory, the pages then not added.
 */
static bool ll_pin_add_runs(struct ll_pin *pin, struct page **pages, long n,
			    unsigned int *cap)
{
	long i;

	for (i = 0; i < n; i++) {
		struct ll_extent *e = pin->nr_ext ? &pin->ext[pin->nr_ext - 1] : NULL;

		if (e && pages[i] == e->page + e->npages &&
		    page_to_pfn(pages[i]) == page_to_pfn(e->page) + e->npages) {
			e->npages++;
			continue;
		}
		if (pin->nr_ext == *cap) {
			unsigned int c = min_t(unsigned long, max(8U, *cap * 2), pin->npages);
			struct ll_extent *ext = kvmalloc_array(c, sizeof(*ext),
							       GFP_KERNEL_ACCOUNT | __GFP_NOWARN);

			if (!ext) {
				/* Pages [0, i) joined the runs already. */
				unpin_user_pages(pages + i, n - i);
				return false;
			}
			if (pin->nr_ext)
				memcpy(ext, pin->ext, pin->nr_ext * sizeof(*ext));
			kvfree(pin->ext);
			pin->ext = ext;
			*cap = c;
		}
		pin->ext[pin->nr_ext++] = (struct ll_extent){ pages[i], 1 };
	}
	return true;
}

/*
 * Free a pin that is on no list; may sleep.  @put_lease: the pin was made
 * and holds a lease reference.  Waits for a running invocation of the
 * pin's notifier, so it must not be called from it.
 */
static void ll_pin_free(struct ll_pin *pin, bool put_lease)
{
	struct ll_lease *lease = pin->lease;

	if (pin->notifier_live)
		mmu_interval_notifier_remove(&pin->notifier);
	mmdrop(pin->mm);
	ll_user_uncharge(pin->user, LL_LIMIT_PINS);
	kvfree(pin->ext);
	kfree(pin);
	if (put_lease)
		ll_lease_put(lease);
}

/*
 * Finish a pin ended by ll_pin_end_locked().  The caller then calls
 * ll_break_pins_gone() once for all the pins it ended, and frees each with
 * ll_pin_free().  Not from the pin's notifier if the pin is exported: see
 * ll_pin_invalidate().
 */
static void ll_pin_end_finish(struct ll_pin *pin)
{
	struct ll_lease *lease = pin->lease;
	struct ll_file *lf = lease->lf;
	u64 length = (u64)pin->npages << PAGE_SHIFT;

	if (pin->state == LL_PIN_UNPINNED)
		trace_ll_unpin(lease->id, pin->id, pin->offset, pin->npages);
	else
		trace_ll_revoke(lease->id, pin->id, pin->offset, pin->npages,
				pin->state == LL_PIN_UNMAPPED);
	if (pin->export)
		ll_export_revoke(pin->export);
	pin->export = NULL;
	ll_unpin_runs(pin->ext, pin->nr_ext);
	ll_uncharge(pin->mm, pin->npages);
	/*
	 * The record goes before npins drops: the pin that takes npins to 0
	 * queues BREAK_DONE (ll_break_pins_gone()), and it may be another
	 * pin's, finished on another CPU, so a record queued after the
	 * decrement could follow the BREAK_DONE that says no pin remains:
	 *
	 *   finish(A)                        finish(B)
	 *   npins 2 -> 1, unlock
	 *                                    npins 1 -> 0, unlock
	 *                                    pins_gone(): BREAK_DONE
	 *   REVOKED A
	 *
	 * (found by the fuzzer on 7.2 KASAN, seed 732209852102: a revocation
	 * at the deadline beside the holder's UNPIN of another pin).
	 */
	if (pin->state != LL_PIN_UNPINNED)
		ll_lease_event(lease, pin->state == LL_PIN_REVOKED ?
				      LAYOUTLEASE_EVENT_REVOKED :
				      LAYOUTLEASE_EVENT_UNMAPPED,
			       pin->id, pin->offset, length, 0);
	/* Only now are the pages free of it: see ll_file.npins. */
	spin_lock(&lf->lock);
	if (!WARN_ON_ONCE(!lf->npins))
		lf->npins--;
	list_del(&pin->ending_node);
	pin->finished = true;
	spin_unlock(&lf->lock);
}

/*
 * A pin its own notifier ended, on ll_wq: the notifier cannot remove
 * itself, and an exported pin is finished here too.
 */
void ll_pin_free_work(struct work_struct *work)
{
	struct ll_pin *pin = container_of(work, struct ll_pin, free_work);

	ll_pin_end_map_acquire();
	if (!pin->finished) {
		ll_pin_end_finish(pin);
		ll_break_pins_gone(pin->lease->lf);
	}
	ll_pin_end_map_release();
	ll_pin_free(pin, true);
}

/*
 * Revoke every active pin of @lf whose lease's deadline has passed, in one
 * pass; the earliest deadline still ahead goes into @next.  Returns whether
 * a pin was revoked; ll_break_pins_gone() has then been called.
 */
bool ll_revoke_due(struct ll_file *lf, ktime_t now, ktime_t *next)
{
	struct ll_pin *pin, *tmp;
	struct ll_lease *lease;
	LIST_HEAD(due);

	spin_lock(&lf->lock);
	if (lf->breaking) {
		list_for_each_entry(lease, &lf->leases, file_node) {
			ktime_t deadline = ktime_add_ms(lf->break_start,
							lease->timeout_ms);

			if (list_empty(&lease->pins))
				continue;
			if (ktime_after(deadline, now)) {
				if (ktime_before(deadline, *next))
					*next = deadline;
				continue;
			}
			list_for_each_entry_safe(pin, tmp, &lease->pins, node)
				if (ll_pin_end_locked(pin, LL_PIN_REVOKED))
					list_add_tail(&pin->node, &due);
		}
	}
	spin_unlock(&lf->lock);
	if (list_empty(&due))
		return false;
	list_for_each_entry(pin, &due, node)
		ll_pin_end_finish(pin);
	ll_break_pins_gone(lf);
	list_for_each_entry_safe(pin, tmp, &due, node) {
		list_del(&pin->node);
		ll_pin_free(pin, true);
	}
	return true;
}

/*
 * Any part of the pinned range unmapped (munmap, mremap, exec, exit)
 * revokes the pin.  Truncate's own unmap (MMU_NOTIFY_CLEAR) keeps the pin:
 * the break deals with it.  A pin that is not exported is unpinned here,
 * before the mapping is gone.  An exported one is finished on ll_wq: its
 * importers stop under the dma-buf's reservation lock, which ranks above
 * the mmu notifier (dma_resv_lockdep()), so nothing here may wait for
 * them.  Its pages stay pinned, and on ll_file.ending, until they did; a
 * filesystem waits for them at its scan even when nobody maps the file any
 * more, which on 6.1 and 6.12 it would skip (ll_break_busy_page()).
 */
static bool ll_pin_invalidate(struct mmu_interval_notifier *mni,
			      const struct mmu_notifier_range *range,
			      unsigned long cur_seq)
{
	struct ll_pin *pin = container_of(mni, struct ll_pin, notifier);
	struct ll_file *lf = pin->lease->lf;
	bool ended = false;

	if ((range->event == MMU_NOTIFY_UNMAP ||
	     range->event == MMU_NOTIFY_RELEASE) &&
	    !mmu_notifier_range_blockable(range))
		return false;
	spin_lock(&lf->lock);
	mmu_interval_set_seq(mni, cur_seq);
	if (range->event == MMU_NOTIFY_UNMAP || range->event == MMU_NOTIFY_RELEASE)
		ended = ll_pin_end_locked(pin, LL_PIN_UNMAPPED);
	spin_unlock(&lf->lock);
	if (ended) {
		if (!pin->export) {
			ll_pin_end_finish(pin);
			ll_break_pins_gone(lf);
		}
		queue_work(ll_wq, &pin->free_work);
	}
	return true;
}

static const struct mmu_interval_notifier_ops ll_pin_mni_ops = {
	.invalidate = ll_pin_invalidate,
};

/*
 * The caller's active pin @id of @lease, under ll_file.lock.  A pin belongs
 * to the address space that made it: no other process that has the lease
 * fd may unpin or export it (EPERM).
 */
struct ll_pin *ll_pin_find(struct ll_lease *lease, u64 id)
{
	struct ll_pin *pin;

	lockdep_assert_held(&lease->lf->lock);
	list_for_each_entry(pin, &lease->pins, node)
		if (pin->id == id)
			return pin->mm == current->mm ? pin : ERR_PTR(-EPERM);
	return ERR_PTR(-ENOENT);
}

static int ll_unpin(struct ll_lease *lease, u64 id)
{
	struct ll_file *lf = lease->lf;
	struct ll_pin *pin;

	spin_lock(&lf->lock);
	pin = ll_pin_find(lease, id);
	if (!IS_ERR(pin))
		ll_pin_end_locked(pin, LL_PIN_UNPINNED);
	spin_unlock(&lf->lock);
	if (IS_ERR(pin))
		return PTR_ERR(pin);
	ll_pin_end_finish(pin);
	ll_break_pins_gone(lf);
	ll_pin_free(pin, true);
	return 0;
}

int ll_unpin_ioctl(struct ll_ucmd *ucmd)
{
	struct layoutlease_unpin *cmd = ucmd->cmd;

	return ll_unpin(ucmd->filp->private_data, cmd->pin_id);
}

/* The range must lie in one writable shared mapping of the leased file. */
static int ll_pin_check_vma(struct ll_lease *lease, struct mm_struct *mm,
			    unsigned long addr, unsigned long end, u64 *offset)
{
	struct vm_area_struct *vma = vma_lookup(mm, addr);
	u64 off;

	if (!vma || end > vma->vm_end || !vma->vm_file ||
	    vma->vm_file->f_mapping != lease->lf->mapping ||
	    (vma->vm_flags & (VM_SHARED | VM_WRITE)) != (VM_SHARED | VM_WRITE))
		return -EINVAL;
	off = ((u64)vma->vm_pgoff << PAGE_SHIFT) + (addr - vma->vm_start);
	if (off < lease->start || off + (end - addr) > lease->end)
		return -EINVAL;
	*offset = off;
	return 0;
}

/*
 * The one call that pins pages.  It may pin fewer than asked or fail in
 * ways no allocation failure reaches (-EFAULT on a page that is not
 * present, -EAGAIN, -EINTR): fail_function makes it fail (faultinj_test).
 */
static noinline long ll_pin_range(unsigned long addr, unsigned long n,
				  struct page **pages)
{
	return ll_pin_user_pages(addr, n, FOLL_WRITE | FOLL_NOFAULT, pages);
}
ALLOW_ERROR_INJECTION(ll_pin_range, ERRNO);

/*
 * Pin all of @pin's range into its runs, @batch pages at a time: all or
 * nothing.  0, or -EFAULT when a page is not present (fault it in and try
 * again), or the error.
 */
static int ll_pin_all(struct ll_pin *pin, struct page **batch)
{
	unsigned long done = 0;
	unsigned int cap = 0;
	long got;

	kvfree(pin->ext);
	pin->ext = NULL;
	pin->nr_ext = 0;
	while (done < pin->npages) {
		unsigned long n = min_t(unsigned long, LL_PIN_BATCH, pin->npages - done);

		got = ll_pin_range(pin->addr + (done << PAGE_SHIFT), n, batch);
		if (got > 0 && !ll_pin_add_runs(pin, batch, got, &cap))
			got = -ENOMEM;
		else if (got >= 0 && got < n)
			got = -EFAULT;	/* the pages it pinned joined the runs */
		if (got < 0) {
			ll_unpin_runs(pin->ext, pin->nr_ext);
			pin->nr_ext = 0;
			return got;
		}
		done += got;
	}
	return 0;
}

/*
 * Pin the pages and make the pin visible.  From then on the pin may end
 * (and be freed) at any time: what the caller reports comes back in @offset,
 * not from the pin.  Without @nonblock it retries until the pin is made, a
 * signal comes or an error that retrying cannot cure.
 */
static int ll_pin_pages(struct ll_lease *lease, struct ll_pin *pin,
			struct page **batch, bool nonblock, u64 *offset)
{
	struct ll_file *lf = lease->lf;
	struct mm_struct *mm = pin->mm;
	unsigned long end = pin->addr + (pin->npages << PAGE_SHIFT);
	unsigned long seq;
	bool dead;
	long got;
	int ret, tries;

	for (tries = 0; !nonblock || tries < LL_PIN_TRIES; tries++) {
		seq = mmu_interval_read_begin(&pin->notifier);
		mmap_read_lock(mm);
		ret = ll_pin_check_vma(lease, mm, pin->addr, end, &pin->offset);
		if (ret) {
			mmap_read_unlock(mm);
			return ret;
		}
		filemap_invalidate_lock_shared(lf->mapping);
		spin_lock(&lf->lock);
		if (ll_trigger_dead_locked(lf)) {
			spin_unlock(&lf->lock);
			filemap_invalidate_unlock_shared(lf->mapping);
			mmap_read_unlock(mm);
			return -ENXIO;
		}
		if (ll_file_refuses_pins(lf)) {
			spin_unlock(&lf->lock);
			filemap_invalidate_unlock_shared(lf->mapping);
			mmap_read_unlock(mm);
			if (nonblock)
				return -EAGAIN;
			ret = wait_event_interruptible(lf->waitq,
						       !ll_file_refuses_pins(lf));
			if (ret)
				return ret;
			continue;
		}
		spin_unlock(&lf->lock);

		got = ll_pin_all(pin, batch);
		dead = false;
		if (!got) {
			spin_lock(&lf->lock);
			/* Again: the sentinel's ll_break_all() may have passed. */
			dead = ll_trigger_dead_locked(lf);
			if (!dead && !mmu_interval_read_retry(&pin->notifier, seq)) {
				pin->state = LL_PIN_ACTIVE;
				list_add_tail(&pin->node, &lease->pins);
				lf->npins++;
				kref_get(&lease->ref);
				*offset = pin->offset;
				trace_ll_pin(lease->id, pin->id, pin->offset,
					     pin->npages);
				spin_unlock(&lf->lock);
				filemap_invalidate_unlock_shared(lf->mapping);
				mmap_read_unlock(mm);
				return 0;
			}
			spin_unlock(&lf->lock);
			ll_unpin_runs(pin->ext, pin->nr_ext);
			pin->nr_ext = 0;
		}
		filemap_invalidate_unlock_shared(lf->mapping);
		mmap_read_unlock(mm);
		if (dead)
			return -ENXIO;
		if (got && got != -EFAULT)
			return got;
		/*
		 * No fault while the file breaks: on 6.15 and later a page
		 * faulted in keeps the filesystem's wait going (see
		 * ll_revoke_work()).  The loop's top waits for the break.
		 */
		if (ll_file_refuses_pins(lf))
			continue;
		if (fault_in_safe_writeable((const char __user *)pin->addr,
					    end - pin->addr))
			return -EFAULT;
		if (signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return -EAGAIN;
}

int ll_pin_ioctl(struct ll_ucmd *ucmd)
{
	struct layoutlease_pin *cmd = ucmd->cmd;
	struct ll_lease *lease = ucmd->filp->private_data;
	struct mm_struct *mm = current->mm;
	struct page **batch = NULL;
	struct ll_owner *o;
	struct ll_pin *pin;
	u64 end;
	int ret;

	if (!cmd->length || !PAGE_ALIGNED(cmd->addr) ||
	    !PAGE_ALIGNED(cmd->length) ||
	    check_add_overflow(cmd->addr, cmd->length, &end) ||
	    end > TASK_SIZE ||
	    (cmd->length >> PAGE_SHIFT) > INT_MAX / sizeof(struct page *))
		return -EINVAL;
	if (!mm)
		return -EINVAL;
	if (!ll_trigger_check())
		return -ENXIO;

	pin = kzalloc(sizeof(*pin), GFP_KERNEL_ACCOUNT);
	if (!pin)
		return -ENOMEM;
	pin->addr = cmd->addr;
	pin->npages = cmd->length >> PAGE_SHIFT;
	pin->id = ll_new_id();
	pin->mm = mm;
	mmgrab(mm);
	INIT_WORK(&pin->free_work, ll_pin_free_work);
	pin->state = LL_PIN_NEW;	/* the notifier leaves it alone */
	pin->lease = lease;
	pin->user = ll_user_charge(LL_LIMIT_PINS);
	if (IS_ERR(pin->user)) {
		ret = PTR_ERR(pin->user);
		pin->user = NULL;
		goto out_free;
	}
	ret = ll_charge(mm, pin->npages);
	if (ret)
		goto out_free;
	ret = -ENOMEM;
	batch = kmalloc_array(min_t(unsigned long, pin->npages, LL_PIN_BATCH),
			      sizeof(*batch), GFP_KERNEL);
	if (!batch)
		goto out_uncharge;
	ret = mmu_interval_notifier_insert(&pin->notifier, mm, pin->addr,
					   cmd->length, &ll_pin_mni_ops);
	if (ret)
		goto out_uncharge;
	pin->notifier_live = true;

	/* The caller's queue, so that it hears of the pin's revocation. */
	o = ll_owner_current(lease, NULL);
	ret = PTR_ERR_OR_ZERO(o);
	if (ret)
		goto out_uncharge;
	cmd->out_pin_id = pin->id;
	ret = ll_pin_pages(lease, pin, batch, cmd->flags & LAYOUTLEASE_PIN_NONBLOCK,
			   &cmd->out_offset);
	if (ret)
		goto out_uncharge;
	kfree(batch);
	/* From here on @pin may be gone already. */
	ret = ll_ucmd_respond(ucmd, sizeof(*cmd));
	if (ret)
		ll_unpin(lease, cmd->out_pin_id);
	return ret;

out_uncharge:
	ll_uncharge(mm, pin->npages);
out_free:
	kfree(batch);
	ll_pin_free(pin, false);
	return ret;
}
