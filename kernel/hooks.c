// SPDX-License-Identifier: GPL-2.0
/*
 * Hooks on block-moving operations that skip the busy-page scan.
 *
 * Truncate, punch hole and their kin scan for busy DAX pages and wait,
 * which the kprobes of break.c turn into a break.  Some operations move or
 * free the blocks of a regular file without that scan: XFS_IOC_SWAPEXT
 * (xfs_swap_extents(), what xfs_fsr calls) on 6.1, 6.12 and 7.2 swaps the
 * data forks of two files after truncating their page cache, so pinned
 * blocks would belong to the other file, which can then be unlinked and its
 * blocks reused while a device still writes them.  Every such operation of
 * XFS takes both files' invalidate_lock with filemap_invalidate_lock_two()
 * (as do reflink, dedupe and exchange-range through xfs_ilock2_io_mmap(),
 * which scan themselves); see Documentation/hooks.rst for the audit.
 *
 * A kprobe cannot sleep, and the operation must wait for the pins to go,
 * so filemap_invalidate_lock_two() is redirected with ftrace (an IPMODIFY
 * ftrace_ops, as livepatch does) to a wrapper that breaks and waits first:
 *
 *   caller (i_rwsem held)     wrapper                      pins
 *   filemap_invalidate_  -->  ll_break_wait(m1, m2) -----> BREAK, unpin or
 *   lock_two(m1, m2)          (sleeps until no pin)  <---- revoke at deadline
 *                             filemap_invalidate_lock_two()   (draining:
 *                             ll_break_locked(): pins?         no new pin)
 *                               yes: unlock, wait again
 *                               no: return, locked
 *
 * Calls from this module itself are not redirected (the wrapper calls the
 * real function).  The redirection is proved at load on the running kernel
 * with a function of this module; if it does not work the module does not
 * load.
 *
 * Copyright (C) 2026 The layoutlease authors
 */
#include <linux/fs.h>
#include <linux/ftrace.h>
#include <linux/module.h>

#include "layoutlease.h"

/*
 * The wrapper runs with a module reference, taken by the redirection: it
 * sleeps, and the module must not go while a task is in it.  What runs
 * after the put is a return, which ftrace's unregistration waits out
 * (an RCU-tasks grace period).
 */
static void ll_invalidate_lock_two(struct address_space *mapping1,
				   struct address_space *mapping2)
{
	for (;;) {
		ll_break_wait(mapping1);
		if (mapping2 != mapping1)
			ll_break_wait(mapping2);
		filemap_invalidate_lock_two(mapping1, mapping2);
		if (!ll_break_locked(mapping1) &&
		    (mapping2 == mapping1 || !ll_break_locked(mapping2)))
			break;
		filemap_invalidate_unlock_two(mapping1, mapping2);
	}
	module_put(THIS_MODULE);
}

/*
 * The redirection.  @parent_ip inside this module: the wrapper's own call
 * (or the load-time check's), which must reach the real function.
 */
static void notrace ll_ftrace_redirect(unsigned long ip, unsigned long parent_ip,
				       struct ftrace_ops *ops,
				       struct ftrace_regs *fregs)
{
	if (!within_module(parent_ip, THIS_MODULE) && try_module_get(THIS_MODULE))
		ll_ftrace_set_ip(fregs, (unsigned long)ll_invalidate_lock_two);
}

static struct ftrace_ops ll_lock_two_ops = {
	.func = ll_ftrace_redirect,
	.flags = FTRACE_OPS_FL_SAVE_REGS | FTRACE_OPS_FL_IPMODIFY |
		 FTRACE_OPS_FL_RECURSION,
};

/* The load-time check: a call of this returns 1 only if redirected. */
static noinline int ll_hook_check_target(void)
{
	barrier();
	return 0;
}

static noinline int ll_hook_check_redirected(void)
{
	return 1;
}

static void notrace ll_ftrace_check(unsigned long ip, unsigned long parent_ip,
				    struct ftrace_ops *ops,
				    struct ftrace_regs *fregs)
{
	ll_ftrace_set_ip(fregs, (unsigned long)ll_hook_check_redirected);
}

static struct ftrace_ops ll_check_ops = {
	.func = ll_ftrace_check,
	.flags = FTRACE_OPS_FL_SAVE_REGS | FTRACE_OPS_FL_IPMODIFY |
		 FTRACE_OPS_FL_RECURSION,
};

static int ll_hook_register(struct ftrace_ops *ops, unsigned long addr,
			    const char *name)
{
	int ret = ftrace_set_filter_ip(ops, addr, 0, 0);

	if (!ret)
		ret = register_ftrace_function(ops);
	if (ret) {
		ftrace_set_filter_ip(ops, addr, 1, 0);
		pr_err("cannot redirect %s with ftrace (%d)\n", name, ret);
	}
	return ret;
}

static void ll_hook_unregister(struct ftrace_ops *ops, unsigned long addr)
{
	unregister_ftrace_function(ops);
	ftrace_set_filter_ip(ops, addr, 1, 0);
}

static int ll_hook_check(void)
{
	int (*target)(void) = ll_hook_check_target;
	unsigned long addr = (unsigned long)ll_hook_check_target;
	int ret, got;

	ret = ll_hook_register(&ll_check_ops, addr, "a function of its own");
	if (ret)
		return ret;
	OPTIMIZER_HIDE_VAR(target);	/* a real call, not inlined */
	got = target();
	ll_hook_unregister(&ll_check_ops, addr);
	if (got != 1) {
		pr_err("ftrace does not redirect calls on this kernel: no hook for XFS_IOC_SWAPEXT\n");
		return -EOPNOTSUPP;
	}
	return 0;
}

int ll_hooks_init(void)
{
	int ret = ll_hook_check();

	if (ret)
		return ret;
	return ll_hook_register(&ll_lock_two_ops,
				(unsigned long)filemap_invalidate_lock_two,
				"filemap_invalidate_lock_two");
}

void ll_hooks_exit(void)
{
	ll_hook_unregister(&ll_lock_two_ops,
			   (unsigned long)filemap_invalidate_lock_two);
}
