/* SPDX-License-Identifier: GPL-2.0 */
/*
 * layoutlease internals: objects, locking and lifetime.
 *
 * Objects
 *   ll_file   one per leased file (keyed by its address_space); holds the
 *             break state of the file.  Found from the kprobe under RCU.
 *   ll_lease  one per LAYOUTLEASE_IOC_LEASE_CREATE; its anon-inode file is
 *             the lease fd.  Holds the leased file's path (so the inode
 *             cannot be evicted under a pin, nor the filesystem unmounted)
 *             and a reference on ll_file.
 *   ll_pin    pinned pages of one user mapping; holds a lease reference.
 *   ll_owner  a process (files_struct) that has the lease fd: its event
 *             queue and, once registered, its signal and si_fd.
 *   ll_export a pin exported as a dma-buf (dmabuf.c); holds a lease
 *             reference; the pin and it point to each other until the pin
 *             ends or the dma-buf is released.
 *
 * Lock order
 *   mm->mmap_lock -> mapping->invalidate_lock -> ll_file.lock
 *   ll_export.lock -> dma_resv (see dmabuf.c for the mmu notifier)
 *   ll_lease.owner_lock is a leaf (signals are sent under it), and so is
 *   ll_users_lock (user.c).
 *   ll_files_lock (global mutex) -> ll_file.lock
 *
 * Lifetime
 *   ll_lease.ref: one for the lease fd (dropped at ->release), one per pin
 *   that is not yet unpinned, one per exported dma-buf.  The last put frees
 *   the lease and drops the ll_file reference.  ll_file.ref: one per lease; the last put removes it
 *   from the hash (under ll_files_lock) and frees it after an RCU grace
 *   period, since the kprobe looks it up under RCU.
 */
#ifndef _LAYOUTLEASE_INTERNAL_H
#define _LAYOUTLEASE_INTERNAL_H

#include <linux/error-injection.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/lockdep.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/path.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/seq_file.h>
#include <linux/layoutlease.h>

struct ll_user;

struct ll_ucmd {
	void __user *ubuffer;
	u32 user_size;
	void *cmd;
	struct file *filp;
};

int ll_ucmd_respond(struct ll_ucmd *ucmd, size_t cmd_len);

/**
 * struct ll_file - break state of one leased file
 * @node: in the ll_files hash, keyed by @mapping; RCU for readers
 * @mapping: the file's address_space (the kprobe's key)
 * @dev: the file's device, for the tracepoints; set at creation, as the
 *       work items may outlive the inode (see @revoke_work)
 * @ino: the file's inode number, likewise
 * @ref: one per lease on the file
 * @lock: protects @leases, @npins, the break state (@breaking to
 *        @drain_end), the state of every pin of every lease on the file
 * @leases: the leases on this file
 * @npins: pins of this file that still hold pages: active ones and ended
 *         ones whose ender has not yet unpinned them (a filesystem may go
 *         on only when it is 0)
 * @ending: those ended ones, by ll_pin.ending_node: the scan reports their
 *          pages busy when the filesystem would skip them (hooks.c)
 * @breaking: a break is in progress: no new lease or pin is granted
 * @notified: the break's BREAK records went out
 * @draining: no pin is left, but the filesystem has not yet made a scan
 *            that found nothing busy (ll_break_scan_result()): pins stay
 *            refused until it does (then its invalidate_lock keeps them
 *            out until the operation is done) or a grace period since
 *            its last scan passed (it gave up, say on a signal)
 * @break_start: when the break in progress started; a lease's pins are
 *               revoked at @break_start plus its timeout
 * @drain_end: while draining: when the grace period ends the break
 * @fs_breaking: filesystem calls of dax_break_layout() on the file now
 *               running (6.15+, hooks.c).  That waits on one busy page
 *               until it is idle, without rescanning, so while one runs
 *               the grace period ends no drain (pins let in then would
 *               hold the page it waits on); its return ends the drain
 * @break_work: delivers the break event (kicked from the kprobe)
 * @revoke_work: revokes the remaining pins at their deadline; ends
 *               draining at its grace period; while draining on 6.15+
 *               zaps the file's mappings every LL_DRAIN_ZAP_MS, through
 *               an inode reference (igrab() of a lease's dentry, under
 *               @lock: a lease keeps the inode, but the work may outlive
 *               the leases) dropped after the zap, outside @lock
 * @waitq: lease and pin requests waiting for the break to end, and
 *         ll_break_wait() for the pins to be gone
 * @rcu: frees the ll_file after a grace period
 */
struct ll_file {
	struct hlist_node node;
	struct address_space *mapping;
	dev_t dev;
	u64 ino;
	struct kref ref;
	spinlock_t lock;		/* see above */
	struct list_head leases;
	unsigned long npins;
	struct list_head ending;
	bool breaking;
	bool notified;
	bool draining;
	ktime_t break_start;
	ktime_t drain_end;
	unsigned int fs_breaking;
	struct work_struct break_work;
	struct delayed_work revoke_work;
	wait_queue_head_t waitq;
	struct rcu_head rcu;
};

/**
 * struct ll_extent - pinned pages that are contiguous in memory
 * @page: the first; the others follow it in the memmap and in pfns
 * @npages: how many
 */
struct ll_extent {
	struct page *page;
	unsigned long npages;
};

/*
 * A pin is NEW until it holds pages, then ACTIVE, on its lease's list,
 * until it ends; how it ended says who owns it now (see pin.c).
 */
enum ll_pin_state {
	LL_PIN_NEW,
	LL_PIN_ACTIVE,
	LL_PIN_UNPINNED,
	LL_PIN_REVOKED,
	LL_PIN_UNMAPPED,
};

/**
 * struct ll_pin - pinned pages of a MAP_SHARED mapping of the leased file
 * @node: in ll_lease.pins while ACTIVE, under ll_file.lock; then the
 *        ender's
 * @lease: holds a reference (from ACTIVE on)
 * @id: user-visible id
 * @state: &enum ll_pin_state, under ll_file.lock; the one who moves it
 *         from ACTIVE owns the pin from then on and frees it
 * @addr: user address of the first page
 * @offset: file offset of the first page
 * @npages: number of pages
 * @ext: the pinned pages, as runs of physically contiguous pages whose
 *       struct pages are contiguous too (DAX file memory mostly is): 16
 *       bytes per run instead of 8 per page (pin.c)
 * @nr_ext: how many runs
 * @mm: the address space the pin came from and belongs to (grabbed): only
 *      it may unpin or export the pin
 * @notifier: ends the pin when its mapping goes away
 * @notifier_live: @notifier is inserted and must be removed
 * @ending_node: in ll_file.ending from its end until its pages are
 *               unpinned, under ll_file.lock
 * @finished: importers stopped, pages unpinned, event sent
 * @free_work: finishes (if exported) and frees a pin that its own
 *             notifier ended
 * @export: its dma-buf's exporter state, if exported; under ll_file.lock
 *          while ACTIVE, then the ender's
 * @user: the user it is charged to (user.c)
 */
struct ll_pin {
	struct list_head node;
	struct ll_lease *lease;
	u64 id;
	enum ll_pin_state state;
	unsigned long addr;
	u64 offset;
	unsigned long npages;
	struct ll_extent *ext;
	unsigned int nr_ext;
	struct mm_struct *mm;
	struct mmu_interval_notifier notifier;
	bool notifier_live;
	struct list_head ending_node;
	bool finished;
	struct work_struct free_work;
	struct ll_export *export;
	struct ll_user *user;
};

#define LL_EVENT_QUEUE 64

/**
 * struct ll_owner - a process that has the lease fd
 * @node: in ll_lease.owners
 * @lease: the lease (the owner lives no longer than it)
 * @files: the process's file table: the key, compared only
 * @pid: its thread-group id, for /proc/layoutleases
 * @fd: si_fd of its signals
 * @signal: 0 until it registered with LAYOUTLEASE_IOC_OWNER
 * @sigio_file: from registration on: a private file whose f_owner is the
 *	process, with @signal (see ll_owner_signal())
 * @sigio: its one fasync entry, fa_fd = @fd; @sigio and @sigio_file are
 *	set and replaced together under owner_lock, and freed with the owner
 * @head: first queued event
 * @count: queued events
 * @overflow: events were dropped since the queue was last drained
 * @events: the queue
 * @user: the user it is charged to (user.c)
 */
struct ll_owner {
	struct list_head node;
	struct ll_lease *lease;
	struct files_struct *files;
	struct pid *pid;
	int fd;
	int signal;
	struct file *sigio_file;
	struct fasync_struct *sigio;
	unsigned int head;
	unsigned int count;
	bool overflow;
	struct layoutlease_event events[LL_EVENT_QUEUE];
	struct ll_user *user;
};

/**
 * struct ll_lease - a layout lease
 * @ref: see Lifetime above
 * @lf: the leased file's break state
 * @path: the leased file's path (a reference)
 * @id: user-visible id
 * @start: leased range, in bytes
 * @end: end of the leased range (exclusive)
 * @timeout_ms: break timeout
 * @exclusive: LAYOUTLEASE_LEASE_EXCLUSIVE; set at creation (exclusive.c)
 * @file_node: in ll_file.leases, under ll_file.lock
 * @pins: pins of this lease, under ll_file.lock
 * @owner_lock: protects @owners and every owner's queue
 * @owners: processes that have the lease fd
 * @readq: readers and pollers of the lease fd
 * @fasync: O_ASYNC/F_SETOWN users of the lease fd
 * @all_node: in ll_all_leases, under ll_files_lock
 * @user: the user it is charged to (user.c)
 */
struct ll_lease {
	struct kref ref;
	struct ll_file *lf;
	struct path path;
	u64 id;
	u64 start;
	u64 end;
	u32 timeout_ms;
	bool exclusive;
	struct list_head file_node;
	struct list_head pins;
	spinlock_t owner_lock;		/* see above */
	struct list_head owners;
	wait_queue_head_t readq;
	struct fasync_struct *fasync;
	struct list_head all_node;
	struct ll_user *user;
};

extern unsigned int ll_default_break_timeout_ms;
extern unsigned int ll_max_break_timeout_ms;

/* main.c */
long ll_dispatch(struct file *filp, unsigned int cmd, unsigned long arg,
		 bool lease_fd);

/* lease.c */
extern struct mutex ll_files_lock;
extern struct list_head ll_all_leases;
u64 ll_new_id(void);
struct ll_file *ll_file_lookup_rcu(struct address_space *mapping);
void ll_file_put(struct ll_file *lf);
void ll_files_flush(void);
int ll_wait_no_break(struct ll_file *lf, bool nonblock);
bool ll_lease_readable(struct ll_lease *lease);
void ll_lease_show(struct seq_file *m, struct ll_lease *lease);
int ll_lease_create(struct ll_ucmd *ucmd);
int ll_owner_ioctl(struct ll_ucmd *ucmd);
struct ll_owner *ll_owner_current(struct ll_lease *lease, struct file *filp);
void ll_lease_put(struct ll_lease *lease);
void ll_lease_event(struct ll_lease *lease, u32 type, u64 pin_id, u64 offset,
		    u64 length, ktime_t deadline);

/* user.c */
enum ll_limit {
	LL_LIMIT_LEASES,
	LL_LIMIT_PINS,
	LL_LIMIT_OWNERS,
	LL_NR_LIMITS,
};

struct ll_user *ll_user_charge(enum ll_limit what);
void ll_user_uncharge(struct ll_user *u, enum ll_limit what);
void ll_users_exit(void);

/* pin.c */
int ll_pin_ioctl(struct ll_ucmd *ucmd);
int ll_unpin_ioctl(struct ll_ucmd *ucmd);
void ll_pin_free_work(struct work_struct *work);
bool ll_revoke_due(struct ll_file *lf, ktime_t now, ktime_t *next);

/*
 * lockdep: the work that ends pins (deadline revocations, pins ended by
 * their notifier) holds ll_pin_end_map; whoever waits for pins to end
 * (the filesystem at its scan, ll_break_wait()) takes it once, as
 * flush_work() takes a work's map, so that lockdep sees what the wait
 * depends on.
 */
extern struct lockdep_map ll_pin_end_map;
#define ll_pin_end_map_acquire() lock_map_acquire(&ll_pin_end_map)
#define ll_pin_end_map_release() lock_map_release(&ll_pin_end_map)
#define ll_pin_end_might_wait()						\
	do {								\
		lock_map_acquire(&ll_pin_end_map);			\
		lock_map_release(&ll_pin_end_map);			\
	} while (0)
struct ll_pin *ll_pin_find(struct ll_lease *lease, u64 id);
struct page *ll_pin_page(const struct ll_pin *pin, unsigned long idx);

/* dmabuf.c */
struct ll_export;
int ll_export_ioctl(struct ll_ucmd *ucmd);
struct ll_export *ll_export_unlink_locked(struct ll_pin *pin);
void ll_export_revoke(struct ll_export *ex);

/* break.c */
int ll_break_init(void);
void ll_break_exit(void);
void ll_break_work(struct work_struct *work);
void ll_revoke_work(struct work_struct *work);
void ll_break_pins_gone(struct ll_file *lf);
void ll_break_wait(struct address_space *mapping);
bool ll_break_locked(struct address_space *mapping);
void ll_break_scan_result(struct address_space *mapping, bool busy);

/*
 * No pin is made while a break is in progress, nor while a filesystem is
 * inside dax_break_layout() on the file (6.15+): it may sleep on a page
 * held by something other than a pin (a pipe's vmsplice() reference, a
 * mapping faulted again), with no break when the file has no pin, and a
 * pin of that page would hold it until the unpin.  Read under @lf->lock,
 * or locklessly for a wait's condition (ll_break_fs_exit() wakes).
 */
static inline bool ll_file_refuses_pins(const struct ll_file *lf)
{
	return READ_ONCE(lf->breaking) || READ_ONCE(lf->fs_breaking);
}

struct ll_file *ll_break_fs_enter(struct address_space *mapping);
void ll_break_fs_exit(struct ll_file *lf);
bool ll_trigger_check(void);
bool ll_file_leased(struct address_space *mapping);
struct page *ll_break_busy_page(struct address_space *mapping, loff_t start,
				loff_t end);
bool ll_trigger_dead_locked(struct ll_file *lf);
void ll_sentinel_start(void);

/* exclusive.c */
int ll_exclusive_permitted(struct inode *inode);
bool ll_exclusive_pinned_locked(struct ll_file *lf);
bool ll_exclusive_refuses(struct address_space *mapping);

/* hooks.c */
bool ll_hooks_refuse_on(const char *fs);
int ll_hooks_init(void);
void ll_hooks_exit(void);
extern struct workqueue_struct *ll_wq;

/* proc.c */
int ll_proc_init(void);
void ll_proc_exit(void);

#endif /* _LAYOUTLEASE_INTERNAL_H */
