// SPDX-License-Identifier: GPL-2.0
/*
 * Breaks: the trigger, the notification and the revocation at the deadline.
 *
 * XFS and ext4 wait for pinned DAX pages in xfs_break_dax_layouts() and
 * ext4_break_layouts(), which both scan with dax_layout_busy_page_range()
 * (dax_layout_busy_page() tail-calls it; on 7.2 dax_break_layout() calls
 * it).  Stock kernels offer no hook there, so a kprobe on its entry is the
 * trigger: it runs with preemption off, holding the filesystem's i_rwsem
 * and invalidate_lock, for every file (DAX or not) on every size change,
 * so it only looks the mapping up under RCU and, if the file has pins,
 * marks it breaking and kicks a work item.  Nothing here takes i_rwsem or
 * waits for the filesystem.
 *
 *   truncate (i_rwsem, invalidate_lock)   kprobe        break_work / revoke_work
 *   dax_layout_busy_page_range()  ------> breaking = 1
 *                                         queue   ----> BREAK event, signals
 *   sleeps (invalidate_lock dropped)                    at deadline: unpin
 *   page idle: woken, rescans, goes on  <-------------- (or holders unpin)
 *                                                       npins == 0: BREAK_DONE
 *
 * Copyright (C) 2026 The layoutlease authors
 */
#include <linux/dax.h>
#include <linux/kprobes.h>
#include <linux/ktime.h>
#include <linux/rcupdate.h>

#include "layoutlease.h"
#include "trace.h"

struct workqueue_struct *ll_wq;

/* How long pins stay refused after the last one went, at most. */
#define LL_DRAIN_GRACE_MS 1000
/* While draining, how often the file's mappings are zapped (6.15 on). */
#define LL_DRAIN_ZAP_MS 10

static void ll_arm_revoke(struct ll_file *lf, ktime_t when);

/* The break is over; called with lf->lock held, then wake lf->waitq. */
static void ll_end_break(struct ll_file *lf)
{
	lockdep_assert_held(&lf->lock);
	lf->breaking = false;
	lf->notified = false;
	lf->draining = false;
	trace_ll_break_end(lf->mapping, lf->dev, lf->ino, lf->npins);
}

/* Start a break of @lf if it has pins and none is in progress. */
static void ll_break_start_locked(struct ll_file *lf)
{
	lockdep_assert_held(&lf->lock);
	if (!lf->npins || lf->breaking)
		return;
	/* Past the refusals of exclusive.c: broken, as an ordinary lease. */
	if (ll_exclusive_pinned_locked(lf))
		pr_warn_ratelimited("breaking an exclusive lease of %u:%u:%llu: the operation passed the refusal (a pin or an fd that raced it, or a path the module does not refuse)\n",
				    MAJOR(lf->dev), MINOR(lf->dev), lf->ino);
	lf->breaking = true;
	lf->break_start = ktime_get();
	trace_ll_break_start(lf->mapping, lf->dev, lf->ino, lf->npins);
	/* Pins hold leases hold @lf: this is never the last. */
	kref_get(&lf->ref);
	if (!queue_work(ll_wq, &lf->break_work))
		refcount_dec(&lf->ref.refcount);
}

/*
 * The filesystem scans @mapping for busy pages, holding its
 * invalidate_lock: start a break.  A drain ends by the scan's result
 * (ll_break_scan_result()), not here.  Returns the file's pins.
 */
static unsigned long ll_break_scan_locked(struct ll_file *lf)
{
	lockdep_assert_held(&lf->lock);
	if (!lf->draining)
		ll_break_start_locked(lf);
	return lf->npins;
}

/*
 * What a scan of a leased file found (hooks.c's wrapper, as it returns).
 * Only a scan that found no busy page ends a drain: the filesystem holds
 * invalidate_lock from there until its operation is done, which keeps new
 * pins out.  One that found a page will drop the lock and sleep again, so
 * the drain goes on (pins refused, on 6.15 and later the mappings zapped)
 * and its grace starts again.  Ending the drain at the scan's entry, as
 * before, let pins in while the filesystem still slept on a page, and a
 * new pin of that page held the truncate (race_stress on 7.2).
 */
void ll_break_scan_result(struct address_space *mapping, bool busy)
{
	struct ll_file *lf;
	bool ended = false;

	rcu_read_lock();
	lf = ll_file_lookup_rcu(mapping);
	if (lf) {
		spin_lock(&lf->lock);
		if (lf->draining && !busy) {
			ll_end_break(lf);
			ended = true;
		} else if (lf->draining) {
			lf->drain_end = ktime_add_ms(ktime_get(), LL_DRAIN_GRACE_MS);
		} else if (busy && LL_DAX_MAPPINGS_HOLD_PAGES && lf->fs_breaking &&
			   !lf->breaking) {
			/*
			 * No pin, yet the filesystem will sleep on a page: a
			 * mapping faulted in meanwhile would keep it asleep.
			 * Zap as a drain does (ll_revoke_work()).
			 */
			ll_arm_revoke(lf, ktime_get());
		}
		spin_unlock(&lf->lock);
		if (ended)
			wake_up_all(&lf->waitq);
	}
	rcu_read_unlock();
}

/*
 * On 6.15 and later the filesystems break through dax_break_layout(),
 * which hooks.c wraps: between these two calls the filesystem may sleep
 * on one busy page until it is idle, with no rescan to report, for longer
 * than the grace period when faults keep mapping the page again.  Ending
 * the drain then let a pin of that page in, and the truncate waited for
 * its unpin (race_stress on 7.2, ext4 collapse range held 6 s).  So the
 * drain outlasts the call, and its return (done, or given up on a signal)
 * ends it.  Returns the file with a reference, or NULL.
 */
struct ll_file *ll_break_fs_enter(struct address_space *mapping)
{
	struct ll_file *lf;

	rcu_read_lock();
	lf = ll_file_lookup_rcu(mapping);
	if (lf && !kref_get_unless_zero(&lf->ref))
		lf = NULL;
	rcu_read_unlock();
	if (lf) {
		spin_lock(&lf->lock);
		WRITE_ONCE(lf->fs_breaking, lf->fs_breaking + 1);
		spin_unlock(&lf->lock);
	}
	return lf;
}

void ll_break_fs_exit(struct ll_file *lf)
{
	bool ended = false;

	if (!lf)
		return;
	spin_lock(&lf->lock);
	if (!WARN_ON_ONCE(!lf->fs_breaking)) {
		WRITE_ONCE(lf->fs_breaking, lf->fs_breaking - 1);
		if (!lf->fs_breaking) {
			if (lf->draining)
				ll_end_break(lf);
			ended = true;	/* ll_file_refuses_pins() waiters */
		}
	}
	spin_unlock(&lf->lock);
	if (ended)
		wake_up_all(&lf->waitq);
	ll_file_put(lf);
}

bool ll_file_leased(struct address_space *mapping)
{
	bool leased;

	rcu_read_lock();
	leased = ll_file_lookup_rcu(mapping);
	rcu_read_unlock();
	return leased;
}

/* Returns the file's pins. */
static unsigned long ll_break_mapping(struct address_space *mapping)
{
	unsigned long npins = 0;
	struct ll_file *lf;

	rcu_read_lock();
	lf = ll_file_lookup_rcu(mapping);
	if (lf) {
		spin_lock(&lf->lock);
		npins = ll_break_scan_locked(lf);
		spin_unlock(&lf->lock);
	}
	rcu_read_unlock();
	return npins;
}

/*
 * For a filesystem operation that moves or frees blocks of @mapping without
 * the busy-page scan (see hooks.c), before it takes the invalidate_lock:
 * start a break as the scan would, and wait, as the filesystem would, until
 * no pin holds pages any more (the holders unpinned, or the deadline
 * revoked them).  The file drains then, refusing pins.  May sleep; the wait
 * is bounded by the leases' break timeouts.
 */
void ll_break_wait(struct address_space *mapping)
{
	struct ll_file *lf;

	if (!mapping)
		return;
	rcu_read_lock();
	lf = ll_file_lookup_rcu(mapping);
	if (lf && !kref_get_unless_zero(&lf->ref))
		lf = NULL;
	rcu_read_unlock();
	if (!lf)
		return;
	spin_lock(&lf->lock);
	ll_break_start_locked(lf);
	spin_unlock(&lf->lock);
	ll_pin_end_might_wait();
	wait_event_idle(lf->waitq, !READ_ONCE(lf->npins));
	ll_file_put(lf);
}

/*
 * For the scan (redirected by hooks.c), when it found no busy page in
 * [@start, @end] of @mapping: a page of a pin that ended but whose pages
 * are still pinned while its importers stop (ll_file.ending).  On 6.1 and
 * 6.12 the scan skips a file that nobody maps; without this, an exported
 * pin's munmap followed by a truncate would free blocks that a device may
 * still write.  The filesystem then waits for the page as for any busy
 * one, and the unpin wakes it.
 */
struct page *ll_break_busy_page(struct address_space *mapping, loff_t start,
				loff_t end)
{
	pgoff_t first = start >> PAGE_SHIFT;
	pgoff_t last = end == LLONG_MAX ? ULONG_MAX : end >> PAGE_SHIFT;
	struct page *page = NULL;
	struct ll_file *lf;
	struct ll_pin *pin;

	rcu_read_lock();
	lf = ll_file_lookup_rcu(mapping);
	if (lf) {
		spin_lock(&lf->lock);
		list_for_each_entry(pin, &lf->ending, ending_node) {
			pgoff_t p0 = pin->offset >> PAGE_SHIFT;
			pgoff_t p1 = p0 + pin->npages - 1;

			if (p1 < first || p0 > last)
				continue;
			page = ll_dax_wait_page(ll_pin_page(pin, max(first, p0) - p0));
			break;
		}
		spin_unlock(&lf->lock);
	}
	rcu_read_unlock();
	return page;
}

/*
 * The same operation, now holding @mapping's invalidate_lock for writing,
 * which keeps pins out until it is done: what its rescan would do, and on
 * 6.15 and later the removal of the DAX entries that the filesystem's own
 * break does (see ll_dax_drop_entries()).  Returns true if the caller must
 * unlock and wait again: pins were made before it locked, or a page is
 * still busy.
 */
bool ll_break_locked(struct address_space *mapping)
{
	if (!mapping)
		return false;
	if (ll_break_mapping(mapping))
		return true;
	if (!ll_file_leased(mapping))
		return false;
	if (!ll_dax_drop_entries(mapping)) {
		/* Locked with no pin: as a scan that found none busy. */
		ll_break_scan_result(mapping, false);
		return false;
	}
	/*
	 * A short-term reference (direct I/O, vmsplice) holds a page: wait
	 * for it as the filesystem would, though not interruptibly (the
	 * operation cannot fail here).
	 */
	schedule_timeout_idle(1);
	return true;
}

/*
 * The scan's entry points.  dax_layout_busy_page() tail-calls the range
 * scan on the kernels we know, but a compiler may inline it there, so both
 * are probed (a call seen twice is one break).  Each one's first argument
 * is the mapping, read with regs_get_kernel_argument() (any calling
 * convention the kernel has).
 */
static int ll_break_kprobe(struct kprobe *kp, struct pt_regs *regs);

static struct kprobe ll_kprobes[] = {
	{ .symbol_name = "dax_layout_busy_page_range",
	  .pre_handler = ll_break_kprobe, },
	{ .symbol_name = "dax_layout_busy_page",
	  .pre_handler = ll_break_kprobe, },
};

/*
 * The trigger's sentinel.  A probe can stop firing while it stays
 * registered: "echo 0 > /sys/kernel/debug/kprobes/enabled" disarms every
 * kprobe of the kernel, and no one tells their owners.  Truncates of
 * pinned files would then wait as in stock, for pins no break ends.  So
 * the module calls each probed entry itself with a mapping of no file,
 * which the scan returns from at once (no host, so not DAX), and counts
 * the probes' hits on it: at load (no hit, no load), before every pin, and
 * every LL_SENTINEL_MS while a lease exists (ll_sentinel_work).  Found
 * dead, the trigger is taken for a break of every file: pins are refused
 * (ENXIO) and every file with pins breaks as if truncated, its holders
 * told and their pins revoked at their deadline.  That bounds the wait of
 * a truncate caught by a disarm to the sentinel's period plus the timeout.
 * ftrace, the other way to silence a probe on a function's entry
 * (sysctl kernel.ftrace_enabled=0), is kept on by hooks.c's permanent
 * ftrace_ops.
 */
#define LL_SENTINEL_MS 500

static struct address_space ll_sentinel_mapping;
static atomic_t ll_sentinel_hits[ARRAY_SIZE(ll_kprobes)];
/* Under ll_trigger_lock; read locklessly, and under ll_file.lock by pins. */
static bool ll_trigger_dead;
static DEFINE_MUTEX(ll_trigger_lock);

static int ll_break_kprobe(struct kprobe *kp, struct pt_regs *regs)
{
	struct address_space *mapping = (void *)regs_get_kernel_argument(regs, 0);

	if (mapping == &ll_sentinel_mapping)
		atomic_inc(&ll_sentinel_hits[kp - ll_kprobes]);
	else
		ll_break_mapping(mapping);
	return 0;
}

/* Does every probe fire?  (A concurrent caller's hit proves it too.) */
static bool ll_trigger_fires(void)
{
	int before[ARRAY_SIZE(ll_kprobes)];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ll_kprobes); i++)
		before[i] = atomic_read(&ll_sentinel_hits[i]);
	dax_layout_busy_page_range(&ll_sentinel_mapping, 0, 0);
	dax_layout_busy_page(&ll_sentinel_mapping);
	for (i = 0; i < ARRAY_SIZE(ll_kprobes); i++)
		if (atomic_read(&ll_sentinel_hits[i]) == before[i])
			return false;
	return true;
}

/* A break of every file with pins, under ll_files_lock. */
static void ll_break_all(void)
{
	struct ll_lease *lease;

	mutex_lock(&ll_files_lock);
	list_for_each_entry(lease, &ll_all_leases, all_node) {
		spin_lock(&lease->lf->lock);
		ll_break_start_locked(lease->lf);
		spin_unlock(&lease->lf->lock);
	}
	mutex_unlock(&ll_files_lock);
}

/*
 * Check the trigger, and act on a change.  Returns whether it fires.  The
 * flag goes up before the walk, and a pin checks it under ll_file.lock
 * where it is made active: a pin is either refused or seen by
 * ll_break_all().
 */
bool ll_trigger_check(void)
{
	bool fires = ll_trigger_fires();

	if (fires == !READ_ONCE(ll_trigger_dead))
		return fires;
	mutex_lock(&ll_trigger_lock);
	fires = ll_trigger_fires();
	if (fires != !ll_trigger_dead) {
		WRITE_ONCE(ll_trigger_dead, !fires);
		if (fires) {
			pr_info("the break trigger fires again: pins are granted\n");
		} else {
			pr_err("the break trigger does not fire (kprobes disarmed in /sys/kernel/debug/kprobes/enabled?): pins refused, every pinned file breaks\n");
			ll_break_all();
		}
	}
	mutex_unlock(&ll_trigger_lock);
	return fires;
}

/* For a pin, under ll_file.lock: refused while the trigger is dead. */
bool ll_trigger_dead_locked(struct ll_file *lf)
{
	lockdep_assert_held(&lf->lock);
	return READ_ONCE(ll_trigger_dead);
}

static void ll_sentinel_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(ll_sentinel_work, ll_sentinel_fn);

static void ll_sentinel_fn(struct work_struct *work)
{
	bool leases;

	ll_trigger_check();
	mutex_lock(&ll_files_lock);
	leases = !list_empty(&ll_all_leases);
	mutex_unlock(&ll_files_lock);
	if (leases)
		ll_sentinel_start();
}

/*
 * Watch the trigger while leases exist (called at every lease's making).
 * On the module's own workqueue: 7.2 warns of system_wq's users, and
 * ll_break_exit() cancels this work before it destroys ll_wq.
 */
void ll_sentinel_start(void)
{
	queue_delayed_work(ll_wq, &ll_sentinel_work,
			   msecs_to_jiffies(LL_SENTINEL_MS));
}

/*
 * A compiler's private copy of a scan entry (foo.part.0, foo.constprop.0,
 * foo.isra.0) would take calls that never reach the probed entry: refuse
 * to load on such a kernel rather than let truncates hang as in stock.
 */
static const char *const ll_clone_suffixes[] = {
	".part.0", ".constprop.0", ".isra.0", ".cold",
};

static bool ll_symbol_exists(const char *name)
{
	struct kprobe kp = { .symbol_name = name };

	if (register_kprobe(&kp))
		return false;
	unregister_kprobe(&kp);
	return true;
}

static int ll_check_clones(void)
{
	char name[KSYM_NAME_LEN];
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(ll_kprobes); i++) {
		for (j = 0; j < ARRAY_SIZE(ll_clone_suffixes); j++) {
			snprintf(name, sizeof(name), "%s%s",
				 ll_kprobes[i].symbol_name, ll_clone_suffixes[j]);
			if (ll_symbol_exists(name)) {
				pr_err("%s exists: calls to it would bypass the break hook\n",
				       name);
				return -EOPNOTSUPP;
			}
		}
	}
	return 0;
}

/*
 * (Re)arm revoke_work for @when; called with lf->lock held by a caller
 * that holds a reference on @lf through a lease.  A queued work holds one
 * reference.
 */
static void ll_arm_revoke(struct ll_file *lf, ktime_t when)
{
	s64 ns = ktime_to_ns(ktime_sub(when, ktime_get()));
	unsigned long delay = ns > 0 ? nsecs_to_jiffies(ns) + 1 : 0;

	lockdep_assert_held(&lf->lock);
	kref_get(&lf->ref);
	if (mod_delayed_work(ll_wq, &lf->revoke_work, delay))
		refcount_dec(&lf->ref.refcount);	/* it had one */
}

/*
 * The BREAK record, once per break, to every owner of every lease of @lf;
 * returns the earliest deadline.  Whoever first learns of the break sends
 * it: the break work, or the end of the last pin if that came first (a
 * BREAK_DONE never goes out before its BREAK).
 */
static ktime_t ll_break_notify_locked(struct ll_file *lf)
{
	ktime_t first = KTIME_MAX;
	struct ll_lease *lease;

	lockdep_assert_held(&lf->lock);
	if (lf->notified)
		return KTIME_MAX;
	lf->notified = true;
	list_for_each_entry(lease, &lf->leases, file_node) {
		ktime_t deadline = ktime_add_ms(lf->break_start, lease->timeout_ms);

		ll_lease_event(lease, LAYOUTLEASE_EVENT_BREAK, 0, lease->start,
			       lease->end - lease->start, deadline);
		if (ktime_before(deadline, first))
			first = deadline;
	}
	return first;
}

void ll_break_work(struct work_struct *work)
{
	struct ll_file *lf = container_of(work, struct ll_file, break_work);
	ktime_t first;

	spin_lock(&lf->lock);
	if (lf->breaking) {
		first = ll_break_notify_locked(lf);
		if (!lf->draining && first != KTIME_MAX)
			ll_arm_revoke(lf, first);
	}
	spin_unlock(&lf->lock);
	ll_file_put(lf);
}

/*
 * At a deadline: revoke the pins whose lease's deadline passed.  At the end
 * of the drain grace: end a break whose filesystem never rescanned (it gave
 * up, say on a signal).  A revocation that empties the file starts the
 * drain (ll_break_pins_gone()): the break goes on until the filesystem's
 * rescan or the grace, never at once, since the filesystem may still be
 * asleep with invalidate_lock dropped.
 */
/*
 * On kernels whose fsdax mappings hold page references, the filesystem
 * asleep in its break wakes only when a page's count reaches 0: once the
 * pins are gone, a fault in the meantime (the holder touching its mapping,
 * with invalidate_lock dropped by the sleeping filesystem) would keep it
 * asleep until that mapping went, the truncate unbounded.  So while the
 * file drains its mappings are zapped every LL_DRAIN_ZAP_MS: the count
 * drops, the filesystem wakes, and its writer lock on invalidate_lock
 * holds new faults off while it rescans (which ends the drain).  race_stress
 * found it on 7.2: truncates held for seconds until the holder unmapped.
 * Returns an inode reference to zap with, or NULL.
 */
static struct inode *ll_drain_zap_inode(struct ll_file *lf)
{
	struct ll_lease *lease;

	lockdep_assert_held(&lf->lock);
	if (!LL_DAX_MAPPINGS_HOLD_PAGES || !(lf->draining || lf->fs_breaking))
		return NULL;
	lease = list_first_entry_or_null(&lf->leases, struct ll_lease, file_node);
	return lease ? igrab(d_inode(lease->path.dentry)) : NULL;
}

void ll_revoke_work(struct work_struct *work)
{
	struct ll_file *lf = container_of(to_delayed_work(work), struct ll_file,
					  revoke_work);
	struct inode *zap = NULL;
	ktime_t next = KTIME_MAX;
	bool ended = false;

	ll_pin_end_map_acquire();
	ll_revoke_due(lf, ktime_get(), &next);
	ll_pin_end_map_release();
	spin_lock(&lf->lock);
	if (lf->draining) {
		if (!lf->fs_breaking && !ktime_before(ktime_get(), lf->drain_end)) {
			ll_end_break(lf);
			ended = true;
		} else {
			/* In dax_break_layout(): its return ends the drain. */
			if (!ktime_before(ktime_get(), lf->drain_end))
				lf->drain_end = ktime_add_ms(ktime_get(),
							     LL_DRAIN_GRACE_MS);
			zap = ll_drain_zap_inode(lf);
			next = lf->drain_end;
			if (zap)
				next = min(next, ktime_add_ms(ktime_get(), LL_DRAIN_ZAP_MS));
			ll_arm_revoke(lf, next);
		}
	} else if (lf->breaking && next != KTIME_MAX) {
		ll_arm_revoke(lf, next);
	} else if (!lf->breaking && lf->fs_breaking) {
		/* In dax_break_layout() with no pin: see ll_break_scan_result(). */
		zap = ll_drain_zap_inode(lf);
		if (zap)
			ll_arm_revoke(lf, ktime_add_ms(ktime_get(), LL_DRAIN_ZAP_MS));
	}
	spin_unlock(&lf->lock);
	if (ended)
		wake_up_all(&lf->waitq);
	if (zap) {
		unmap_mapping_range(zap->i_mapping, 0, 0, 1);
		iput(zap);
	}
	ll_file_put(lf);
}

/*
 * Pins of @lf went away.  When none is left the filesystem goes on: the
 * holders get BREAK_DONE, and pins stay refused until the filesystem's
 * rescan (see ll_break_mapping()) or the grace period ends the break.  The
 * caller holds a lease of @lf.
 */
void ll_break_pins_gone(struct ll_file *lf)
{
	struct ll_lease *lease;

	spin_lock(&lf->lock);
	if (lf->breaking && !lf->draining && !lf->npins) {
		ll_break_notify_locked(lf);
		lf->draining = true;
		lf->drain_end = ktime_add_ms(ktime_get(), LL_DRAIN_GRACE_MS);
		list_for_each_entry(lease, &lf->leases, file_node)
			ll_lease_event(lease, LAYOUTLEASE_EVENT_BREAK_DONE, 0,
				       lease->start, lease->end - lease->start, 0);
		/* At once where mappings hold pages: see ll_revoke_work(). */
		ll_arm_revoke(lf, LL_DAX_MAPPINGS_HOLD_PAGES ? ktime_get() :
			      lf->drain_end);
		wake_up_all(&lf->waitq);	/* ll_break_wait() */
	}
	spin_unlock(&lf->lock);
}

static void ll_unregister_probes(unsigned int n)
{
	while (n--)
		unregister_kprobe(&ll_kprobes[n]);
}

static int ll_register_probes(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(ll_kprobes); i++) {
		/* From a clean struct: register_kprobe() fills it in. */
		ll_kprobes[i] = (struct kprobe){
			.symbol_name = ll_kprobes[i].symbol_name,
			.pre_handler = ll_kprobes[i].pre_handler,
		};
		ret = register_kprobe(&ll_kprobes[i]);
		if (ret) {
			pr_err("cannot probe %s (%d)%s\n",
			       ll_kprobes[i].symbol_name, ret,
			       ret == -ENOENT || ret == -EINVAL ?
			       ": this kernel lacks the break hook" : "");
			ll_unregister_probes(i);
			return ret;
		}
	}
	return 0;
}

/*
 * The probes, then the sentinel's proof that they fire.  A second try
 * because 7.2's __register_kprobe() returns 0 when arming the probe failed
 * (an allocation in ftrace_set_filter_ip(): faultinj_test found it): the
 * probe is then neither armed nor registered.  Probes that fail the proof
 * twice are kprobes disarmed by the admin.
 */
int ll_break_init(void)
{
	unsigned int try;
	int ret;

	ll_wq = alloc_workqueue("layoutlease", WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!ll_wq)
		return -ENOMEM;
	ret = ll_check_clones();
	if (ret)
		goto out_wq;
	for (try = 0; ; try++) {
		ret = ll_register_probes();
		if (ret)
			goto out_wq;
		if (ll_trigger_fires())
			return 0;
		ll_unregister_probes(ARRAY_SIZE(ll_kprobes));
		if (try)
			break;
		pr_warn("the break probes do not fire: registering them again\n");
	}
	pr_err("the break probes do not fire (kprobes disarmed in /sys/kernel/debug/kprobes/enabled?)\n");
	ret = -EOPNOTSUPP;
out_wq:
	destroy_workqueue(ll_wq);
	return ret;
}

void ll_break_exit(void)
{
	unsigned int i;

	cancel_delayed_work_sync(&ll_sentinel_work);
	for (i = 0; i < ARRAY_SIZE(ll_kprobes); i++)
		unregister_kprobe(&ll_kprobes[i]);
	ll_files_flush();
	destroy_workqueue(ll_wq);
}
