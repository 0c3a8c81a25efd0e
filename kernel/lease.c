// SPDX-License-Identifier: GPL-2.0
/*
 * Leases, lease fds, owners and events.
 *
 * Copyright (C) 2026 The layoutlease authors
 */
#include <linux/anon_inodes.h>
#include <linux/cred.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/magic.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "layoutlease.h"
#include "trace.h"

/* ll_file objects by mapping; writers hold ll_files_lock, the kprobe RCU. */
DEFINE_MUTEX(ll_files_lock);
static DEFINE_HASHTABLE(ll_files, 8);
/* Every lease, for /proc/layoutleases; under ll_files_lock. */
LIST_HEAD(ll_all_leases);
static atomic64_t ll_next_id = ATOMIC64_INIT(0);

u64 ll_new_id(void)
{
	return atomic64_inc_return(&ll_next_id);
}

struct ll_file *ll_file_lookup_rcu(struct address_space *mapping)
{
	struct ll_file *lf;

	hash_for_each_possible_rcu(ll_files, lf, node, (unsigned long)mapping)
		if (lf->mapping == mapping)
			return lf;
	return NULL;
}

/* The file's break state, made if it has none; NULL if out of memory. */
static noinline struct ll_file *ll_file_get(struct address_space *mapping)
{
	struct ll_file *lf;

	lockdep_assert_held(&ll_files_lock);
	hash_for_each_possible(ll_files, lf, node, (unsigned long)mapping) {
		if (lf->mapping == mapping) {
			kref_get(&lf->ref);
			return lf;
		}
	}
	lf = kzalloc(sizeof(*lf), GFP_KERNEL_ACCOUNT);
	if (!lf)
		return NULL;
	lf->mapping = mapping;
	lf->dev = mapping->host->i_sb->s_dev;
	lf->ino = mapping->host->i_ino;
	kref_init(&lf->ref);
	spin_lock_init(&lf->lock);
	INIT_LIST_HEAD(&lf->leases);
	INIT_LIST_HEAD(&lf->ending);
	INIT_WORK(&lf->break_work, ll_break_work);
	INIT_DELAYED_WORK(&lf->revoke_work, ll_revoke_work);
	init_waitqueue_head(&lf->waitq);
	hash_add_rcu(ll_files, &lf->node, (unsigned long)mapping);
	return lf;
}
ALLOW_ERROR_INJECTION(ll_file_get, NULL);

static void ll_file_release(struct kref *ref)
{
	struct ll_file *lf = container_of(ref, struct ll_file, ref);

	lockdep_assert_held(&ll_files_lock);
	hash_del_rcu(&lf->node);
	mutex_unlock(&ll_files_lock);
	/* The works hold a reference while queued: none can be pending. */
	WARN_ON_ONCE(lf->npins || !list_empty(&lf->leases));
	kfree_rcu(lf, rcu);
}

void ll_file_put(struct ll_file *lf)
{
	kref_put_mutex(&lf->ref, ll_file_release, &ll_files_lock);
}

/*
 * Module exit: no lease is left (each holds a module reference), but a
 * work item may still be queued or timed (a break's grace period), holding
 * the last reference of its ll_file.  Run them now.
 */
void ll_files_flush(void)
{
	struct ll_file *lf, *cur;
	unsigned int bkt, rounds = 0;

	for (;;) {
		lf = NULL;
		mutex_lock(&ll_files_lock);
		hash_for_each(ll_files, bkt, cur, node) {
			lf = cur;
			kref_get(&lf->ref);
			break;
		}
		mutex_unlock(&ll_files_lock);
		if (!lf)
			return;
		flush_delayed_work(&lf->revoke_work);
		flush_work(&lf->break_work);
		ll_file_put(lf);
		if (WARN_ON_ONCE(++rounds > 100000))
			return;
	}
}

/* ---------------------------------------------------------------- owners */

static struct ll_owner *ll_owner_find(struct ll_lease *lease,
				      struct files_struct *files)
{
	struct ll_owner *o;

	lockdep_assert_held(&lease->owner_lock);
	list_for_each_entry(o, &lease->owners, node)
		if (o->files == files)
			return o;
	return NULL;
}

/*
 * Signals.  An owner's signal is process-directed with the si_fd of its own
 * fd, as fcntl(F_SETOWN, F_SETSIG) makes it: delivered to any thread that
 * does not block it, or taken by sigwaitinfo() in any thread, even after the
 * main thread exited.  The one exported way to send such a signal with a
 * chosen si_fd is kill_fasync() on an entry whose file's f_owner names the
 * process (send_sig_info() signals one thread).  The lease fd's own
 * f_owner belongs to its open file description, which fork and SCM_RIGHTS
 * share, so every registered owner has a private file for it, never
 * installed in a file table.  Its credentials are the registering
 * process's, checked at every signal as for F_SETOWN (sigio_perm()).
 */
static const struct file_operations ll_sigio_fops = {
	.owner = THIS_MODULE,
};

static struct file *ll_sigio_create(int sig, int fd, struct fasync_struct **fa)
{
	struct fown_struct *fown;
	struct file *file;
	int ret;

	file = anon_inode_getfile("[layoutlease-sigio]", &ll_sigio_fops, NULL,
				  O_RDONLY);
	if (IS_ERR(file))
		return file;
	fown = ll_file_fown(file);
	if (!fown) {
		ret = -ENOMEM;
		goto out_put_file;
	}
	__f_setown(file, task_tgid(current), PIDTYPE_TGID, 1);
	WRITE_ONCE(fown->signum, sig);
	ret = fasync_helper(fd, file, 1, fa);
	if (ret < 0)
		goto out_put_file;
	return file;

out_put_file:
	fput(file);
	return ERR_PTR(ret);
}

static void ll_sigio_free(struct file *file, struct fasync_struct **fa)
{
	if (!file)
		return;
	fasync_helper(-1, file, 0, fa);
	fput(file);
}

/*
 * si_fd follows the registered fd.  This is fasync_helper()'s own update of
 * an existing entry (fasync_insert_entry()), which cannot be called here:
 * it allocates.
 */
static void ll_sigio_set_fd(struct ll_owner *o)
{
	lockdep_assert_held(&o->lease->owner_lock);
	if (!o->sigio)
		return;
	write_lock_irq(&o->sigio->fa_lock);
	o->sigio->fa_fd = o->fd;
	write_unlock_irq(&o->sigio->fa_lock);
}

static void ll_owner_free(struct ll_owner *o)
{
	ll_sigio_free(o->sigio_file, &o->sigio);
	put_pid(o->pid);
	ll_user_uncharge(o->user, LL_LIMIT_OWNERS);
	kvfree(o);
}

static int ll_match_file(const void *p, struct file *file, unsigned int fd)
{
	return file == p ? fd + 1 : 0;
}

/*
 * The calling process's owner entry, made if it has none.  @filp: the
 * lease fd of a read() or poll(), which may come from a file table that
 * does not hold it (an inherited epoll, an io_uring fixed file): ->flush
 * would never end such an entry, so none is made for it (EBADF).  NULL for
 * the ioctls, which come through the caller's table.
 */
noinline struct ll_owner *ll_owner_current(struct ll_lease *lease,
					   struct file *filp)
{
	struct files_struct *files = current->files;
	struct ll_owner *o, *new;

	if (!files)
		return ERR_PTR(-EBADF);
	spin_lock(&lease->owner_lock);
	o = ll_owner_find(lease, files);
	spin_unlock(&lease->owner_lock);
	if (o)
		return o;
	if (filp && !iterate_fd(files, 0, ll_match_file, filp))
		return ERR_PTR(-EBADF);

	new = kvzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
	if (!new)
		return ERR_PTR(-ENOMEM);
	new->user = ll_user_charge(LL_LIMIT_OWNERS);
	if (IS_ERR(new->user)) {
		o = ERR_CAST(new->user);
		kvfree(new);
		return o;
	}
	new->lease = lease;
	new->files = files;
	new->pid = get_task_pid(current, PIDTYPE_TGID);
	new->fd = -1;

	spin_lock(&lease->owner_lock);
	o = ll_owner_find(lease, files);
	if (!o) {
		list_add_tail(&new->node, &lease->owners);
		o = new;
		new = NULL;
	}
	spin_unlock(&lease->owner_lock);
	if (new)
		ll_owner_free(new);
	return o;
}
ALLOW_ERROR_INJECTION(ll_owner_current, ERRNO);

static void ll_owner_queue(struct ll_owner *o, const struct layoutlease_event *ev)
{
	if (o->count == LL_EVENT_QUEUE) {
		o->overflow = true;
		return;
	}
	o->events[(o->head + o->count) % LL_EVENT_QUEUE] = *ev;
	o->count++;
}

static void ll_owner_signal(struct ll_owner *o)
{
	lockdep_assert_held(&o->lease->owner_lock);
	if (o->sigio)
		kill_fasync(&o->sigio, o->signal, POLL_MSG);
}

/*
 * Queue an event for every process that has the lease fd and signal the
 * registered ones.  Signals are sent under owner_lock, which ->flush takes
 * to end a registration: no signal reaches a process after it.
 */
void ll_lease_event(struct ll_lease *lease, u32 type, u64 pin_id, u64 offset,
		    u64 length, ktime_t deadline)
{
	struct layoutlease_event ev = {
		.type = type,
		.lease_id = lease->id,
		.pin_id = pin_id,
		.offset = offset,
		.length = length,
		.deadline_ns = ktime_to_ns(deadline),
		.time_ns = ktime_get_ns(),
	};
	unsigned int owners = 0;
	struct ll_owner *o;

	/*
	 * Signals go before the record is visible (an owner's under the lock
	 * that read() takes too): a reader that sees the record finds the
	 * signal already pending.
	 */
	kill_fasync(&lease->fasync, SIGIO, POLL_IN);
	spin_lock(&lease->owner_lock);
	list_for_each_entry(o, &lease->owners, node) {
		ll_owner_signal(o);
		ll_owner_queue(o, &ev);
		owners++;
	}
	spin_unlock(&lease->owner_lock);
	trace_ll_event(lease->id, type, pin_id, owners);
	wake_up_interruptible_poll(&lease->readq, EPOLLIN | EPOLLRDNORM);
}

int ll_owner_ioctl(struct ll_ucmd *ucmd)
{
	struct layoutlease_owner *cmd = ucmd->cmd;
	struct ll_lease *lease = ucmd->filp->private_data;
	struct fasync_struct *fa = NULL;
	struct file *f, *sigio;
	struct ll_owner *o;
	int sig = cmd->signal ? cmd->signal : SIGIO;

	if (!valid_signal(sig) || sig == SIGKILL || sig == SIGSTOP)
		return -EINVAL;
	f = fget(cmd->fd);
	if (!f)
		return -EBADF;
	fput(f);
	if (f != ucmd->filp)
		return -EBADF;
	o = ll_owner_current(lease, NULL);
	if (IS_ERR(o))
		return PTR_ERR(o);
	sigio = ll_sigio_create(sig, cmd->fd, &fa);
	if (IS_ERR(sigio))
		return PTR_ERR(sigio);

	/*
	 * The owner is looked up again: another thread may have closed the
	 * process's last fd of the lease meanwhile, ending its entry.
	 */
	spin_lock(&lease->owner_lock);
	o = ll_owner_find(lease, current->files);
	if (o) {
		swap(o->sigio_file, sigio);
		swap(o->sigio, fa);
		o->fd = cmd->fd;
		o->signal = sig;
	}
	spin_unlock(&lease->owner_lock);
	/* The registration replaced, or the new one if the entry is gone. */
	ll_sigio_free(sigio, &fa);
	return o ? 0 : -EBADF;
}

/*
 * Every close() of a lease fd, and every fd closed at exit, comes here with
 * the closing file table.  When that table has no fd of the lease left, or
 * is being torn down (its count reached 0: close_files() at exit, which on
 * some kernels leaves the fds in the table while it closes them), the
 * process's registration ends, so that a freed table's address never
 * identifies an owner.  When the registered fd was closed but another
 * remains, si_fd follows it.
 */
static int ll_lease_flush(struct file *filp, fl_owner_t id)
{
	struct ll_lease *lease = filp->private_data;
	struct files_struct *files = id;
	struct ll_owner *o;
	int fd, left;
	bool kept;

	spin_lock(&lease->owner_lock);
	o = ll_owner_find(lease, files);
	fd = o ? o->fd : -1;
	spin_unlock(&lease->owner_lock);
	if (!o)
		return 0;

	if (!atomic_read(&files->count)) {
		left = 0;
		kept = false;
	} else {
		left = iterate_fd(files, 0, ll_match_file, filp);
		kept = fd >= 0 &&
		       iterate_fd(files, fd, ll_match_file, filp) == fd + 1;
	}

	spin_lock(&lease->owner_lock);
	o = ll_owner_find(lease, files);
	if (o && !left) {
		list_del(&o->node);
	} else {
		if (o && !kept && o->fd == fd && fd >= 0) {
			o->fd = left - 1;
			ll_sigio_set_fd(o);
		}
		o = NULL;
	}
	spin_unlock(&lease->owner_lock);
	if (o)
		ll_owner_free(o);
	return 0;
}

/* ------------------------------------------------------------ the lease fd */

static bool ll_owner_ready(struct ll_owner *o)
{
	return o->count || o->overflow;
}

/* Take the oldest record of @o's queue (or the overflow record) into @ev. */
static bool ll_owner_peek(struct ll_owner *o, struct layoutlease_event *ev)
{
	if (o->count) {
		*ev = o->events[o->head];
		return true;
	}
	if (o->overflow) {
		memset(ev, 0, sizeof(*ev));
		ev->type = LAYOUTLEASE_EVENT_OVERFLOW;
		ev->time_ns = ktime_get_ns();
		return true;
	}
	return false;
}

static void ll_owner_pop(struct ll_owner *o)
{
	if (o->count) {
		o->head = (o->head + 1) % LL_EVENT_QUEUE;
		o->count--;
	} else {
		o->overflow = false;
	}
}

/* Put back a record that could not be copied out, as the oldest. */
static void ll_owner_unpop(struct ll_owner *o, const struct layoutlease_event *ev)
{
	if (ev->type == LAYOUTLEASE_EVENT_OVERFLOW) {
		o->overflow = true;
		return;
	}
	if (o->count == LL_EVENT_QUEUE) {	/* the newest one makes room */
		o->count--;
		o->overflow = true;
	}
	o->head = (o->head + LL_EVENT_QUEUE - 1) % LL_EVENT_QUEUE;
	o->events[o->head] = *ev;
	o->count++;
}

/*
 * Whole records only.  No lock is held across copy_to_user(), which may
 * sleep for as long as a userfaultfd or FUSE page makes it: a record is
 * taken off the queue under owner_lock, and put back at its head if it
 * cannot be copied out, so a bad buffer loses nothing and a reader stuck
 * in a fault holds up nobody else.
 */
static ssize_t ll_lease_read(struct file *filp, char __user *buf, size_t count,
			     loff_t *ppos)
{
	struct ll_lease *lease = filp->private_data;
	struct layoutlease_event ev;
	struct ll_owner *o;
	ssize_t done = 0;
	int ret = 0;

	if (count < sizeof(ev))
		return -EINVAL;
	o = ll_owner_current(lease, filp);
	if (IS_ERR(o))
		return PTR_ERR(o);
	while (count - done >= sizeof(ev)) {
		bool have;

		spin_lock(&lease->owner_lock);
		o = ll_owner_find(lease, current->files);
		have = o && ll_owner_peek(o, &ev);
		if (have)
			ll_owner_pop(o);
		spin_unlock(&lease->owner_lock);
		if (!have) {
			if (done || (filp->f_flags & O_NONBLOCK)) {
				ret = done ? 0 : -EAGAIN;
				break;
			}
			ret = wait_event_interruptible(lease->readq,
						       ll_lease_readable(lease));
			if (ret)
				break;
			continue;
		}
		if (copy_to_user(buf + done, &ev, sizeof(ev))) {
			spin_lock(&lease->owner_lock);
			o = ll_owner_find(lease, current->files);
			if (o)
				ll_owner_unpop(o, &ev);
			spin_unlock(&lease->owner_lock);
			ret = -EFAULT;
			break;
		}
		done += sizeof(ev);
	}
	return done ? done : ret;
}

bool ll_lease_readable(struct ll_lease *lease)
{
	struct ll_owner *o;
	bool ready;

	spin_lock(&lease->owner_lock);
	o = ll_owner_find(lease, current->files);
	ready = o && ll_owner_ready(o);
	spin_unlock(&lease->owner_lock);
	return ready;
}

static __poll_t ll_lease_poll(struct file *filp, struct poll_table_struct *wait)
{
	struct ll_lease *lease = filp->private_data;

	poll_wait(filp, &lease->readq, wait);
	if (IS_ERR(ll_owner_current(lease, filp)))
		return EPOLLERR;
	return ll_lease_readable(lease) ? EPOLLIN | EPOLLRDNORM : 0;
}

static int ll_lease_fasync(int fd, struct file *filp, int on)
{
	struct ll_lease *lease = filp->private_data;

	return fasync_helper(fd, filp, on, &lease->fasync);
}

static void ll_lease_free(struct kref *ref)
{
	struct ll_lease *lease = container_of(ref, struct ll_lease, ref);
	struct ll_file *lf = lease->lf;
	struct ll_owner *o, *tmp;

	WARN_ON_ONCE(!list_empty(&lease->pins));
	trace_ll_lease_release(lease->id);
	spin_lock(&lf->lock);
	list_del(&lease->file_node);
	spin_unlock(&lf->lock);
	mutex_lock(&ll_files_lock);
	list_del(&lease->all_node);
	mutex_unlock(&ll_files_lock);
	list_for_each_entry_safe(o, tmp, &lease->owners, node)
		ll_owner_free(o);
	path_put(&lease->path);
	ll_file_put(lf);
	ll_user_uncharge(lease->user, LL_LIMIT_LEASES);
	kfree(lease);
	module_put(THIS_MODULE);
}

void ll_lease_put(struct ll_lease *lease)
{
	kref_put(&lease->ref, ll_lease_free);
}

static int ll_lease_release(struct inode *inode, struct file *filp)
{
	struct ll_lease *lease = filp->private_data;

	if (!lease)	/* lease creation failed before the lease was made */
		return 0;
	/* Active pins stay, and keep the lease, until they end. */
	ll_lease_put(lease);
	return 0;
}

static void ll_lease_show_fdinfo(struct seq_file *m, struct file *filp)
{
	ll_lease_show(m, filp->private_data);
}

static long ll_lease_ioctl(struct file *filp, unsigned int cmd,
			   unsigned long arg)
{
	return ll_dispatch(filp, cmd, arg, true);
}

static const struct file_operations ll_lease_fops = {
	.owner = THIS_MODULE,
	.read = ll_lease_read,
	.poll = ll_lease_poll,
	.fasync = ll_lease_fasync,
	.flush = ll_lease_flush,
	.release = ll_lease_release,
	.unlocked_ioctl = ll_lease_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.show_fdinfo = ll_lease_show_fdinfo,
	.llseek = noop_llseek,
};

/* ------------------------------------------------------------ lease create */

/*
 * XFS and ext4 are the filesystems whose break path we hook and test.  By
 * the filesystem's name, not its magic: ext2 and ext3 share ext4's, and
 * ext2 never waits for busy DAX pages.
 */
static bool ll_supported_file(struct inode *inode)
{
	const char *fs = inode->i_sb->s_type->name;

	return S_ISREG(inode->i_mode) && IS_DAX(inode) &&
	       (!strcmp(fs, "xfs") || !strcmp(fs, "ext4"));
}

/*
 * What fcntl(F_SETLEASE) demands, by the kernel's own code: vfs_setlease()
 * checks the owner (through the mount's idmapping) or CAP_LEASE and asks
 * the LSMs (security_file_lock(), not exported).  Asked to remove a lease
 * of an owner that no lease has, @cookie, it changes nothing and answers
 * EAGAIN once the checks passed.
 */
static int ll_lease_permitted(struct file *target, void *cookie)
{
	int ret = vfs_setlease(target, F_UNLCK, NULL, &cookie);

	if (ret == -EAGAIN)
		return 0;
	return WARN_ON_ONCE(!ret) ? -EACCES : ret;
}

/* Wait until no break is in progress on @lf; called with lf->lock held. */
int ll_wait_no_break(struct ll_file *lf, bool nonblock)
	__must_hold(&lf->lock)
{
	int ret;

	lockdep_assert_held(&lf->lock);
	while (lf->breaking) {
		if (nonblock)
			return -EAGAIN;
		spin_unlock(&lf->lock);
		ret = wait_event_interruptible(lf->waitq, !READ_ONCE(lf->breaking));
		spin_lock(&lf->lock);
		if (ret)
			return ret;
	}
	return 0;
}

int ll_lease_create(struct ll_ucmd *ucmd)
{
	struct layoutlease_lease_create *cmd = ucmd->cmd;
	struct ll_owner *o, *tmp;
	struct ll_lease *lease;
	struct inode *inode;
	struct ll_file *lf;
	struct file *target, *filp;
	u64 end;
	int fd, ret;

	if (!cmd->length || !PAGE_ALIGNED(cmd->offset) ||
	    !PAGE_ALIGNED(cmd->length) ||
	    check_add_overflow(cmd->offset, cmd->length, &end) ||
	    end > LLONG_MAX)
		return -EINVAL;

	target = fget(cmd->fd);
	if (!target)
		return -EBADF;
	inode = file_inode(target);
	ret = -EOPNOTSUPP;
	if (!ll_supported_file(inode))
		goto out_put_target;

	ret = -ENOMEM;
	lease = kzalloc(sizeof(*lease), GFP_KERNEL_ACCOUNT);
	if (!lease)
		goto out_put_target;
	lease->user = ll_user_charge(LL_LIMIT_LEASES);
	if (IS_ERR(lease->user)) {
		ret = PTR_ERR(lease->user);
		lease->user = NULL;
		goto out_free_lease;
	}
	ret = ll_lease_permitted(target, lease);
	if (!ret && (cmd->flags & LAYOUTLEASE_LEASE_EXCLUSIVE))
		ret = ll_exclusive_permitted(inode);
	if (ret)
		goto out_free_lease;
	lease->exclusive = cmd->flags & LAYOUTLEASE_LEASE_EXCLUSIVE;
	kref_init(&lease->ref);
	/*
	 * The file's path, not the caller's struct file: the dentry keeps the
	 * inode and the mount keeps the filesystem (umount is EBUSY), and the
	 * caller's file, its locks and its write access are its own.
	 */
	lease->path = target->f_path;
	path_get(&lease->path);
	lease->id = ll_new_id();
	lease->start = cmd->offset;
	lease->end = end;
	lease->timeout_ms = cmd->break_timeout_ms ? : ll_default_break_timeout_ms;
	lease->timeout_ms = min(lease->timeout_ms, ll_max_break_timeout_ms);
	INIT_LIST_HEAD(&lease->pins);
	INIT_LIST_HEAD(&lease->owners);
	spin_lock_init(&lease->owner_lock);
	init_waitqueue_head(&lease->readq);
	o = ll_owner_current(lease, NULL);
	if (IS_ERR(o)) {
		ret = PTR_ERR(o);
		goto out_put_path;
	}

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto out_free_owners;
	}
	filp = anon_inode_getfile("[layoutlease]", &ll_lease_fops, lease, O_RDWR);
	if (IS_ERR(filp)) {
		ret = PTR_ERR(filp);
		goto out_put_fd;
	}

	mutex_lock(&ll_files_lock);
	lf = ll_file_get(inode->i_mapping);
	if (!lf) {
		mutex_unlock(&ll_files_lock);
		ret = -ENOMEM;
		goto out_put_filp;
	}
	lease->lf = lf;
	list_add_tail(&lease->all_node, &ll_all_leases);
	mutex_unlock(&ll_files_lock);
	ll_sentinel_start();

	spin_lock(&lf->lock);
	ret = ll_wait_no_break(lf, cmd->flags & LAYOUTLEASE_LEASE_NONBLOCK);
	if (!ret)
		list_add_tail(&lease->file_node, &lf->leases);
	spin_unlock(&lf->lock);
	if (ret)
		goto out_unlink;
	__module_get(THIS_MODULE);	/* for the lease, see ll_lease_free() */

	cmd->out_lease_fd = fd;
	cmd->out_break_timeout_ms = lease->timeout_ms;
	cmd->out_lease_id = lease->id;
	ret = ll_ucmd_respond(ucmd, sizeof(*cmd));
	if (ret) {
		/* The lease is complete: ->release tears it down. */
		fput(filp);
		put_unused_fd(fd);
		fput(target);
		return ret;
	}
	trace_ll_lease_create(lease->id, inode->i_sb->s_dev, inode->i_ino,
			      lease->start, lease->end, lease->timeout_ms);
	fput(target);
	fd_install(fd, filp);
	return 0;

out_unlink:
	mutex_lock(&ll_files_lock);
	list_del(&lease->all_node);
	mutex_unlock(&ll_files_lock);
	ll_file_put(lf);
out_put_filp:
	/* Not yet a lease: make ->release a no-op. */
	filp->private_data = NULL;
	fput(filp);
out_put_fd:
	put_unused_fd(fd);
out_free_owners:
	list_for_each_entry_safe(o, tmp, &lease->owners, node)
		ll_owner_free(o);
out_put_path:
	path_put(&lease->path);
out_free_lease:
	ll_user_uncharge(lease->user, LL_LIMIT_LEASES);
	kfree(lease);
out_put_target:
	fput(target);
	return ret;
}
