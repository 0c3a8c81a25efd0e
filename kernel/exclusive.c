// SPDX-License-Identifier: GPL-2.0
/*
 * Exclusive leases: who may take one, and whether one refuses an operation.
 *
 * While an exclusive lease has pins, an operation that would break it fails
 * with ETXTBSY instead, before it changed anything.  hooks.c refuses at two
 * kinds of points:
 *
 *  - the filesystem's own break, where it holds the file's invalidate_lock
 *    exclusive: xfs_break_dax_layouts() and ext4_break_layouts() on 6.1 and
 *    6.12, dax_break_layout() (through its wrapper) on 6.15 and later.  A
 *    pin is made under the same lock, shared (pin.c), so the check and the
 *    pins it counts cannot race: either the pin exists and the operation
 *    fails, or it comes after the operation.
 *
 *  - the entries of XFS's two-file operations, whose second file is locked
 *    where no refusal can return an error (the nested busy scan of
 *    xfs_ilock2_io_mmap(), the wrapper of filemap_invalidate_lock_two()):
 *    xfs_reflink_remap_prep(), xfs_swap_extents(), xfs_ioc_exchange_range()
 *    and xfs_ioc_commit_range().  These check before the locks: a pin made
 *    between the check and the lock, or an fd that another thread replaces
 *    in between, meets an operation already under way, which then breaks
 *    the lease as an ordinary one (below).
 *
 * Anything that reaches a break of an exclusive lease with pins all the
 * same (those races, a path this module does not know) is broken as an
 * ordinary lease is, with its timeout, and the log says so: the pins'
 * safety never rests on the refusal.
 *
 * Who may take one (module parameter "exclusive"): "admin", the default,
 * CAP_SYS_ADMIN or CAP_LEASE in the initial user namespace, since a file
 * that cannot be truncated is a denial of service to every other user of
 * it; "owner", whoever may take a lease on the file; "off", nobody, and the
 * exclusive leases that exist refuse nothing more: the administrator's way
 * to end them (the next truncate breaks them with their timeout).
 *
 * Copyright (C) 2026 The layoutlease authors
 */
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/moduleparam.h>
#include <linux/rcupdate.h>
#include <linux/string.h>

#include "layoutlease.h"

enum {
	LL_EXCL_OFF,
	LL_EXCL_ADMIN,
	LL_EXCL_OWNER,
};

static const char * const ll_excl_names[] = {
	[LL_EXCL_OFF] = "off",
	[LL_EXCL_ADMIN] = "admin",
	[LL_EXCL_OWNER] = "owner",
};

/* Read locklessly: a change applies to the next check. */
static int ll_excl_policy = LL_EXCL_ADMIN;

static int ll_excl_set(const char *val, const struct kernel_param *kp)
{
	int i = sysfs_match_string(ll_excl_names, val);

	if (i < 0)
		return -EINVAL;
	WRITE_ONCE(ll_excl_policy, i);
	return 0;
}

static int ll_excl_get(char *buf, const struct kernel_param *kp)
{
	return scnprintf(buf, PAGE_SIZE, "%s\n",
			 ll_excl_names[READ_ONCE(ll_excl_policy)]);
}

static const struct kernel_param_ops ll_excl_ops = {
	.set = ll_excl_set,
	.get = ll_excl_get,
};

module_param_cb(exclusive, &ll_excl_ops, NULL, 0644);
MODULE_PARM_DESC(exclusive,
		 "Who may take exclusive leases: admin (CAP_SYS_ADMIN or CAP_LEASE, default), owner (whoever may lease the file) or off (nobody; existing ones refuse nothing)");

/* May the caller take an exclusive lease on a file of @inode's kind? */
int ll_exclusive_permitted(struct inode *inode)
{
	switch (READ_ONCE(ll_excl_policy)) {
	case LL_EXCL_OWNER:
		break;
	case LL_EXCL_ADMIN:
		if (capable(CAP_SYS_ADMIN) || capable(CAP_LEASE))
			break;
		return -EPERM;
	default:
		return -EPERM;
	}
	/* Without its refusal hooks a filesystem's leases would only break. */
	return ll_hooks_refuse_on(inode->i_sb->s_type->name) ? 0 : -EOPNOTSUPP;
}

/* An exclusive lease of @lf has pins, and refusals are on. */
bool ll_exclusive_pinned_locked(struct ll_file *lf)
{
	struct ll_lease *lease;

	lockdep_assert_held(&lf->lock);
	if (READ_ONCE(ll_excl_policy) == LL_EXCL_OFF)
		return false;
	list_for_each_entry(lease, &lf->leases, file_node)
		if (lease->exclusive && !list_empty(&lease->pins))
			return true;
	return false;
}

/*
 * Must an operation that would break @mapping's leases fail?  From any
 * context, the kprobes' too: a lookup under RCU and ll_file.lock.
 */
bool ll_exclusive_refuses(struct address_space *mapping)
{
	struct ll_file *lf;
	bool ret = false;

	if (!mapping || READ_ONCE(ll_excl_policy) == LL_EXCL_OFF)
		return false;
	rcu_read_lock();
	lf = ll_file_lookup_rcu(mapping);
	if (lf) {
		spin_lock(&lf->lock);
		ret = ll_exclusive_pinned_locked(lf);
		spin_unlock(&lf->lock);
	}
	rcu_read_unlock();
	return ret;
}
