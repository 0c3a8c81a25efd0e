// SPDX-License-Identifier: GPL-2.0
/*
 * Per-user limits: how many leases, pins and owner entries one user may
 * have, counted by effective uid as inotify counts its instances and
 * watches.  Memory is charged to the memory cgroup of whoever allocates
 * (GFP_KERNEL_ACCOUNT) and pinned pages to RLIMIT_MEMLOCK; these limits
 * bound the objects themselves, whatever processes a user spreads them
 * over: leases are files (but RLIMIT_NOFILE is per process), pins are
 * small, and every process that touches a lease fd gets an owner entry
 * with an event queue.  The limits are module parameters, writable at run
 * time; lowering one takes nothing away.
 *
 * Copyright (C) 2026 The layoutlease authors
 */
#include <linux/cred.h>
#include <linux/hashtable.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "layoutlease.h"

static unsigned int ll_max_user[LL_NR_LIMITS] = {
	[LL_LIMIT_LEASES] = 1024,
	[LL_LIMIT_PINS] = 16384,
	[LL_LIMIT_OWNERS] = 8192,
};
module_param_named(max_user_leases, ll_max_user[LL_LIMIT_LEASES], uint, 0644);
MODULE_PARM_DESC(max_user_leases,
		 "Leases one user may hold (default 1024; over it, EMFILE)");
module_param_named(max_user_pins, ll_max_user[LL_LIMIT_PINS], uint, 0644);
MODULE_PARM_DESC(max_user_pins,
		 "Pins one user may hold (default 16384; over it, ENOSPC)");
module_param_named(max_user_owners, ll_max_user[LL_LIMIT_OWNERS], uint, 0644);
MODULE_PARM_DESC(max_user_owners,
		 "Owner entries (processes times leases) of one user (default 8192; over it, ENOSPC)");

static const int ll_limit_errno[LL_NR_LIMITS] = {
	[LL_LIMIT_LEASES] = EMFILE,
	[LL_LIMIT_PINS] = ENOSPC,
	[LL_LIMIT_OWNERS] = ENOSPC,
};

/**
 * struct ll_user - what one user holds
 * @node: in ll_users, under ll_users_lock
 * @uid: the effective uid it is charged to
 * @count: its leases, pins and owners, under ll_users_lock; the entry is
 *         freed when all are 0
 */
struct ll_user {
	struct hlist_node node;
	kuid_t uid;
	unsigned int count[LL_NR_LIMITS];
};

static DEFINE_HASHTABLE(ll_users, 6);
static DEFINE_SPINLOCK(ll_users_lock);

static struct ll_user *ll_user_find(kuid_t uid)
{
	struct ll_user *u;

	lockdep_assert_held(&ll_users_lock);
	hash_for_each_possible(ll_users, u, node, __kuid_val(uid))
		if (uid_eq(u->uid, uid))
			return u;
	return NULL;
}

/* Unhash @u if it holds nothing; returns it then, for kfree(). */
static struct ll_user *ll_user_unhash_idle(struct ll_user *u)
{
	unsigned int i;

	lockdep_assert_held(&ll_users_lock);
	for (i = 0; i < LL_NR_LIMITS; i++)
		if (u->count[i])
			return NULL;
	hash_del(&u->node);
	return u;
}

/*
 * Charge one object of kind @what to the caller's effective uid.  Returns
 * the user to uncharge it from later, or ERR_PTR(-EMFILE or -ENOSPC) over
 * the limit, or ERR_PTR(-ENOMEM).
 */
noinline struct ll_user *ll_user_charge(enum ll_limit what)
{
	kuid_t uid = current_euid();
	struct ll_user *u, *new = NULL, *idle = NULL;

	for (;;) {
		spin_lock(&ll_users_lock);
		u = ll_user_find(uid);
		if (!u && new) {
			hash_add(ll_users, &new->node, __kuid_val(uid));
			u = new;
			new = NULL;
		}
		if (u)
			break;
		spin_unlock(&ll_users_lock);
		new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
		if (!new)
			return ERR_PTR(-ENOMEM);
		new->uid = uid;
	}
	if (u->count[what] < READ_ONCE(ll_max_user[what])) {
		u->count[what]++;
	} else {
		idle = ll_user_unhash_idle(u);
		u = ERR_PTR(-ll_limit_errno[what]);
	}
	spin_unlock(&ll_users_lock);
	kfree(new);
	kfree(idle);
	return u;
}
ALLOW_ERROR_INJECTION(ll_user_charge, ERRNO);

void ll_user_uncharge(struct ll_user *u, enum ll_limit what)
{
	struct ll_user *idle;

	if (!u)
		return;
	spin_lock(&ll_users_lock);
	if (!WARN_ON_ONCE(!u->count[what]))
		u->count[what]--;
	idle = ll_user_unhash_idle(u);
	spin_unlock(&ll_users_lock);
	kfree(idle);
}

/*
 * At module exit every object is gone, and with it every charge: an entry
 * left is a charge some path forgot to give back.
 */
void ll_users_exit(void)
{
	struct hlist_node *tmp;
	struct ll_user *u;
	int bkt;

	hash_for_each_safe(ll_users, bkt, tmp, u, node) {
		WARN(1, "layoutlease: uid %u still charged: %u leases, %u pins, %u owners\n",
		     __kuid_val(u->uid), u->count[LL_LIMIT_LEASES],
		     u->count[LL_LIMIT_PINS], u->count[LL_LIMIT_OWNERS]);
		hash_del(&u->node);
		kfree(u);
	}
}
