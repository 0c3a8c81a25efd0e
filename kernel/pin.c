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

#define LL_PIN_TRIES 16

static int ll_charge(struct mm_struct *mm, unsigned long npages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;

	if (atomic64_add_return(npages, &mm->pinned_vm) > limit &&
	    !capable(CAP_IPC_LOCK)) {
		atomic64_sub(npages, &mm->pinned_vm);
		return -ENOMEM;
	}
	return 0;
}

static void ll_uncharge(struct mm_struct *mm, unsigned long npages)
{
	WARN_ON_ONCE(atomic64_sub_return(npages, &mm->pinned_vm) < 0);
}

/* What a revocation does once it dropped ll_file.lock. */
struct ll_revoke {
	struct page **pages;
	unsigned long npages;
	struct mm_struct *mm;
	struct ll_lease *lease;
	u64 id;
	u64 offset;
	enum ll_pin_state why;
	struct ll_pin *free_pin;
	struct ll_export *export;
};

/*
 * Take an active pin's pages under ll_file.lock.  Returns false if the pin
 * is not active.  Everything ll_revoke_finish() needs is copied: the pin
 * may be freed as soon as the lock is dropped.
 */
static bool ll_revoke_locked(struct ll_pin *pin, enum ll_pin_state why,
			     struct ll_revoke *rv)
{
	struct ll_lease *lease = pin->lease;

	lockdep_assert_held(&lease->lf->lock);
	if (pin->state != LL_PIN_ACTIVE)
		return false;
	rv->pages = pin->pages;
	rv->npages = pin->npages;
	rv->mm = pin->mm;
	mmgrab(rv->mm);
	rv->lease = lease;
	kref_get(&lease->ref);
	rv->id = pin->id;
	rv->offset = pin->offset;
	rv->why = why;
	rv->free_pin = NULL;
	rv->export = ll_export_unlink_locked(pin);
	pin->pages = NULL;
	pin->state = why;
	lease->lf->npins--;
	if (lease->closed && !pin->freeing) {
		pin->freeing = true;
		rv->free_pin = pin;
	}
	return true;
}

/* @in_notifier: called from the pin's mmu interval notifier. */
static void ll_revoke_finish(struct ll_revoke *rv, bool in_notifier)
{
	struct ll_lease *lease = rv->lease;

	trace_ll_revoke(lease->id, rv->id, rv->offset, rv->npages,
			rv->why == LL_PIN_UNMAPPED);
	if (rv->export)
		ll_export_revoke(rv->export, in_notifier);
	unpin_user_pages(rv->pages, rv->npages);
	ll_uncharge(rv->mm, rv->npages);
	mmdrop(rv->mm);
	kvfree(rv->pages);
	ll_lease_event(lease, rv->why == LL_PIN_REVOKED ?
			      LAYOUTLEASE_EVENT_REVOKED :
			      LAYOUTLEASE_EVENT_UNMAPPED,
		       rv->id, rv->offset, (u64)rv->npages << PAGE_SHIFT, 0);
	ll_break_pins_gone(lease->lf);
	if (rv->free_pin)
		queue_work(ll_wq, &rv->free_pin->free_work);
	ll_lease_put(lease);
}

/* Called from the notifier only. */
static void ll_pin_revoke(struct ll_pin *pin, enum ll_pin_state why)
{
	struct ll_file *lf = pin->lease->lf;
	struct ll_revoke rv;
	bool revoked;

	spin_lock(&lf->lock);
	revoked = ll_revoke_locked(pin, why, &rv);
	spin_unlock(&lf->lock);
	if (revoked)
		ll_revoke_finish(&rv, true);
}

/* Revoke the first active pin of @lf whose lease's deadline has passed. */
bool ll_revoke_one(struct ll_file *lf, ktime_t now, ktime_t *next)
{
	struct ll_lease *lease;
	struct ll_revoke rv;
	struct ll_pin *pin;
	bool revoked = false;

	spin_lock(&lf->lock);
	if (!lf->breaking)
		goto out;
	list_for_each_entry(lease, &lf->leases, file_node) {
		ktime_t deadline = ktime_add_ms(lf->break_start, lease->timeout_ms);

		list_for_each_entry(pin, &lease->pins, node) {
			if (pin->state != LL_PIN_ACTIVE)
				continue;
			if (ktime_compare(deadline, now) <= 0) {
				revoked = ll_revoke_locked(pin, LL_PIN_REVOKED, &rv);
				goto out;
			}
			*next = ktime_before(deadline, *next) ? deadline : *next;
		}
	}
out:
	spin_unlock(&lf->lock);
	if (revoked)
		ll_revoke_finish(&rv, false);
	return revoked;
}

/*
 * Any part of the pinned range unmapped (munmap, mremap, exec, exit)
 * revokes the pin before the mapping is gone: on 6.1 and 6.12 a filesystem
 * does not wait for pinned pages of a file that nobody maps.  Truncate's
 * own unmap (MMU_NOTIFY_CLEAR) keeps the pin: the break deals with it.
 */
static bool ll_pin_invalidate(struct mmu_interval_notifier *mni,
			      const struct mmu_notifier_range *range,
			      unsigned long cur_seq)
{
	struct ll_pin *pin = container_of(mni, struct ll_pin, notifier);
	struct ll_file *lf = pin->lease->lf;

	spin_lock(&lf->lock);
	mmu_interval_set_seq(mni, cur_seq);
	spin_unlock(&lf->lock);
	if (range->event != MMU_NOTIFY_UNMAP && range->event != MMU_NOTIFY_RELEASE)
		return true;
	if (!mmu_notifier_range_blockable(range))
		return false;
	ll_pin_revoke(pin, LL_PIN_UNMAPPED);
	return true;
}

static const struct mmu_interval_notifier_ops ll_pin_mni_ops = {
	.invalidate = ll_pin_invalidate,
};

/*
 * Free a pin that is off its lease's list; may sleep.  @put_lease: the pin
 * was made and holds a lease reference.
 */
static void ll_pin_free(struct ll_pin *pin, bool put_lease)
{
	struct ll_lease *lease = pin->lease;

	if (pin->notifier_live)
		mmu_interval_notifier_remove(&pin->notifier);
	mmdrop(pin->mm);
	kvfree(pin->pages);
	kfree(pin);
	if (put_lease)
		ll_lease_put(lease);
}

void ll_pin_free_work(struct work_struct *work)
{
	struct ll_pin *pin = container_of(work, struct ll_pin, free_work);
	struct ll_file *lf = pin->lease->lf;

	spin_lock(&lf->lock);
	list_del(&pin->node);
	spin_unlock(&lf->lock);
	ll_pin_free(pin, true);
}

/*
 * The lease fd is being released.  Active pins stay (the lease lives on
 * for them, until they are revoked); revoked ones go now, and any revoked
 * later is freed by its revoker.
 */
void ll_pins_release(struct ll_lease *lease)
{
	struct ll_file *lf = lease->lf;
	struct ll_pin *pin, *tmp;
	LIST_HEAD(dead);

	spin_lock(&lf->lock);
	lease->closed = true;
	list_for_each_entry_safe(pin, tmp, &lease->pins, node) {
		if (pin->state != LL_PIN_ACTIVE && !pin->freeing) {
			pin->freeing = true;
			list_move(&pin->node, &dead);
		}
	}
	spin_unlock(&lf->lock);
	list_for_each_entry_safe(pin, tmp, &dead, node) {
		list_del(&pin->node);
		ll_pin_free(pin, true);
	}
}

struct ll_pin *ll_pin_find(struct ll_lease *lease, u64 id)
{
	struct ll_pin *pin;

	lockdep_assert_held(&lease->lf->lock);
	list_for_each_entry(pin, &lease->pins, node)
		if (pin->id == id && !pin->freeing)
			return pin;
	return NULL;
}

static int ll_unpin(struct ll_lease *lease, u64 id)
{
	struct ll_file *lf = lease->lf;
	struct ll_export *export = NULL;
	struct page **pages = NULL;
	struct ll_pin *pin;
	int ret = 0;

	spin_lock(&lf->lock);
	pin = ll_pin_find(lease, id);
	if (!pin) {
		spin_unlock(&lf->lock);
		return -ENOENT;
	}
	pin->freeing = true;
	list_del(&pin->node);
	if (pin->state == LL_PIN_ACTIVE) {
		export = ll_export_unlink_locked(pin);
		pages = pin->pages;
		pin->pages = NULL;
		lf->npins--;
	} else {
		ret = -ENOLINK;
	}
	spin_unlock(&lf->lock);

	if (pages) {
		trace_ll_unpin(lease->id, pin->id, pin->offset, pin->npages);
		if (export)
			ll_export_revoke(export, false);
		unpin_user_pages(pages, pin->npages);
		ll_uncharge(pin->mm, pin->npages);
		kvfree(pages);
		ll_break_pins_gone(lf);
	}
	ll_pin_free(pin, true);
	return ret;
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

static int ll_pin_pages(struct ll_lease *lease, struct ll_pin *pin, bool nonblock)
{
	struct ll_file *lf = lease->lf;
	struct mm_struct *mm = pin->mm;
	unsigned long end = pin->addr + (pin->npages << PAGE_SHIFT);
	unsigned long seq;
	long got;
	int ret, tries;

	for (tries = 0; tries < LL_PIN_TRIES; tries++) {
		seq = mmu_interval_read_begin(&pin->notifier);
		mmap_read_lock(mm);
		ret = ll_pin_check_vma(lease, mm, pin->addr, end, &pin->offset);
		if (ret) {
			mmap_read_unlock(mm);
			return ret;
		}
		filemap_invalidate_lock_shared(lf->mapping);
		spin_lock(&lf->lock);
		if (lf->breaking) {
			spin_unlock(&lf->lock);
			filemap_invalidate_unlock_shared(lf->mapping);
			mmap_read_unlock(mm);
			if (nonblock)
				return -EAGAIN;
			ret = wait_event_interruptible(lf->waitq,
						       !READ_ONCE(lf->breaking));
			if (ret)
				return ret;
			continue;
		}
		spin_unlock(&lf->lock);

		got = ll_pin_user_pages(pin->addr, pin->npages,
					FOLL_WRITE | FOLL_NOFAULT, pin->pages);
		if (got == pin->npages) {
			spin_lock(&lf->lock);
			if (!mmu_interval_read_retry(&pin->notifier, seq)) {
				pin->state = LL_PIN_ACTIVE;
				list_add_tail(&pin->node, &lease->pins);
				lf->npins++;
				kref_get(&lease->ref);
				spin_unlock(&lf->lock);
				filemap_invalidate_unlock_shared(lf->mapping);
				mmap_read_unlock(mm);
				return 0;
			}
			spin_unlock(&lf->lock);
		}
		if (got > 0)
			unpin_user_pages(pin->pages, got);
		filemap_invalidate_unlock_shared(lf->mapping);
		mmap_read_unlock(mm);
		if (got < 0 && got != -EFAULT)
			return got;
		if (fault_in_safe_writeable((const char __user *)pin->addr,
					    end - pin->addr))
			return -EFAULT;
		if (fatal_signal_pending(current))
			return -EINTR;
	}
	return -EAGAIN;
}

int ll_pin_ioctl(struct ll_ucmd *ucmd)
{
	struct layoutlease_pin *cmd = ucmd->cmd;
	struct ll_lease *lease = ucmd->filp->private_data;
	struct mm_struct *mm = current->mm;
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

	pin = kzalloc(sizeof(*pin), GFP_KERNEL);
	if (!pin)
		return -ENOMEM;
	pin->addr = cmd->addr;
	pin->npages = cmd->length >> PAGE_SHIFT;
	pin->id = ll_new_id();
	pin->mm = mm;
	mmgrab(mm);
	INIT_WORK(&pin->free_work, ll_pin_free_work);
	pin->state = LL_PIN_REVOKED;	/* until it holds pages */
	pin->lease = lease;
	ret = ll_charge(mm, pin->npages);
	if (ret)
		goto out_free;
	ret = -ENOMEM;
	pin->pages = kvmalloc_array(pin->npages, sizeof(*pin->pages),
				    GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!pin->pages)
		goto out_uncharge;
	ret = mmu_interval_notifier_insert(&pin->notifier, mm, pin->addr,
					   cmd->length, &ll_pin_mni_ops);
	if (ret)
		goto out_uncharge;
	pin->notifier_live = true;

	ret = ll_pin_pages(lease, pin, cmd->flags & LAYOUTLEASE_PIN_NONBLOCK);
	if (ret)
		goto out_uncharge;

	trace_ll_pin(lease->id, pin->id, pin->offset, pin->npages);
	cmd->out_pin_id = pin->id;
	cmd->out_offset = pin->offset;
	ret = ll_ucmd_respond(ucmd, sizeof(*cmd));
	if (ret)
		ll_unpin(lease, cmd->out_pin_id);
	return ret;

out_uncharge:
	ll_uncharge(mm, pin->npages);
out_free:
	ll_pin_free(pin, false);
	return ret;
}
