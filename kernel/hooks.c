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
#include <linux/dax.h>
#include <linux/fs.h>
#include <linux/ftrace.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/ptrace.h>
#include <linux/uaccess.h>

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
 * The busy-page scan, which break.c's kprobes watch, also goes through a
 * wrapper: when it finds no busy page, pages of pins that ended but are
 * still pinned count as busy (ll_break_busy_page()), and the wait that
 * follows, on a leased file, is annotated for lockdep.  The filesystem
 * holds i_rwsem and invalidate_lock here, and waits after the call for
 * what it returns.  (Not on other files: 7.2 scans an inode being evicted,
 * maybe from reclaim, and a lease keeps its file from eviction.)
 */
static struct page *ll_busy_scan_done(struct address_space *mapping,
				      struct page *page, loff_t start,
				      loff_t end)
{
	if (!page)
		page = ll_break_busy_page(mapping, start, end);
	if (ll_file_leased(mapping)) {
		ll_break_scan_result(mapping, page);
		if (page)
			ll_pin_end_might_wait();
	}
	return page;
}

static struct page *ll_busy_page_range(struct address_space *mapping,
				       loff_t start, loff_t end)
{
	struct page *page = dax_layout_busy_page_range(mapping, start, end);

	page = ll_busy_scan_done(mapping, page, start, end);
	module_put(THIS_MODULE);
	return page;
}

/* Its whole-file form, which may not reach the range scan's entry. */
static struct page *ll_busy_page(struct address_space *mapping)
{
	struct page *page = dax_layout_busy_page(mapping);

	page = ll_busy_scan_done(mapping, page, 0, LLONG_MAX);
	module_put(THIS_MODULE);
	return page;
}

#ifdef LL_HAVE_DAX_BREAK_LAYOUT
/* 6.15+: the filesystems' break, scans and waits; see ll_break_fs_enter(). */
static int ll_dax_break_layout(struct inode *inode, loff_t start, loff_t end,
			       void (cb)(struct inode *))
{
	struct ll_file *lf;
	int ret;

	/*
	 * An exclusive lease with pins refuses (exclusive.c); the filesystem
	 * holds invalidate_lock exclusive.  Not the call without @cb, a try
	 * whose error XFS's xfs_mmaplock_two_inodes_and_break_dax_layout()
	 * answers by trying again: its file was refused at the operation's
	 * entry (xfs_reflink_remap_prep()).
	 */
	if (cb && ll_exclusive_refuses(inode->i_mapping)) {
		module_put(THIS_MODULE);
		return -ETXTBSY;
	}
	lf = ll_break_fs_enter(inode->i_mapping);
	ret = dax_break_layout(inode, start, end, cb);

	ll_break_fs_exit(lf);
	module_put(THIS_MODULE);
	return ret;
}
#endif

/**
 * struct ll_redirect - a kernel function whose calls go to a wrapper
 * @ops: the IPMODIFY ftrace_ops, filtered on @from
 * @from: the function
 * @to: the wrapper, which calls @from (not redirected) and puts the
 *      module reference the redirection took
 * @name: @from's name, for the log
 */
struct ll_redirect {
	struct ftrace_ops ops;
	unsigned long from;
	unsigned long to;
	const char *name;
};

/*
 * The redirection.  @parent_ip inside this module: the wrapper's own call
 * (or the load-time check's, or break.c's sentinel's), which must reach
 * the real function.
 */
static void notrace ll_ftrace_redirect(unsigned long ip, unsigned long parent_ip,
				       struct ftrace_ops *ops,
				       struct ftrace_regs *fregs)
{
	struct ll_redirect *r = container_of(ops, struct ll_redirect, ops);

	if (!within_module(parent_ip, THIS_MODULE) && try_module_get(THIS_MODULE))
		ll_ftrace_set_ip(fregs, r->to);
}

/*
 * Permanent, as livepatch's: while one is registered, sysctl
 * kernel.ftrace_enabled=0 fails (EBUSY) instead of silencing these hooks
 * and the ftrace-based kprobes of break.c and below.
 */
#define LL_REDIRECT(fn, wrapper) {					\
	.ops = {							\
		.func = ll_ftrace_redirect,				\
		.flags = FTRACE_OPS_FL_SAVE_REGS |			\
			 FTRACE_OPS_FL_IPMODIFY |			\
			 FTRACE_OPS_FL_RECURSION |			\
			 FTRACE_OPS_FL_PERMANENT,			\
	},								\
	.from = (unsigned long)(fn),					\
	.to = (unsigned long)(wrapper),					\
	.name = #fn,							\
}

static struct ll_redirect ll_redirects[] = {
	LL_REDIRECT(filemap_invalidate_lock_two, ll_invalidate_lock_two),
	LL_REDIRECT(dax_layout_busy_page_range, ll_busy_page_range),
	LL_REDIRECT(dax_layout_busy_page, ll_busy_page),
#ifdef LL_HAVE_DAX_BREAK_LAYOUT
	LL_REDIRECT(dax_break_layout, ll_dax_break_layout),
#endif
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

/*
 * The filter hash that ftrace_set_filter_ip() allocates for @ops is freed
 * with ftrace_free_filter(), never by removing the address again: that
 * allocates a copy, which can fail and leave the entry, and leaves an
 * empty hash behind even when it works (kmemleak found both under fault
 * injection, faultinj_test).
 */
static int ll_hook_register(struct ftrace_ops *ops, unsigned long addr,
			    const char *name)
{
	int ret = ftrace_set_filter_ip(ops, addr, 0, 0);

	if (!ret)
		ret = register_ftrace_function(ops);
	if (ret) {
		ftrace_free_filter(ops);
		pr_err("cannot redirect %s with ftrace (%d)\n", name, ret);
	}
	return ret;
}

static void ll_hook_unregister(struct ftrace_ops *ops)
{
	unregister_ftrace_function(ops);
	ftrace_free_filter(ops);
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
	ll_hook_unregister(&ll_check_ops);
	if (got != 1) {
		pr_err("ftrace does not redirect calls on this kernel: no hook for XFS_IOC_SWAPEXT\n");
		return -EOPNOTSUPP;
	}
	return 0;
}

/*
 * Refusals: kprobes on functions of ext4 and XFS that make the call return
 * an errno at its entry (as fail_function does): a pre-handler that moves
 * the instruction pointer to a function returning the errno, which needs a
 * post-handler for the kprobe to be an IPMODIFY one on ftrace.
 *
 * ext4 refuses online defrag (EXT4_IOC_MOVE_EXT) of a DAX file, but checks
 * only the original file: on a dax=inode mount a DAX donor's blocks, pinned
 * maybe, move into a file that can be truncated.  EXT4_IOC_SWAP_BOOT moves
 * a file's blocks to the boot loader inode without the busy scan.  The
 * module completes ext4's refusal: both are EOPNOTSUPP for DAX files, the
 * errno ext4 gives.  DAX-ness cannot change while a file is open, so the
 * check has no window.  Without these probes the module does not load.
 *
 * The others are the refusals of exclusive leases (exclusive.c): ETXTBSY
 * while an exclusive lease of the file has pins.  Without them the module
 * loads, and refuses exclusive leases on that filesystem (EOPNOTSUPP).
 */
/* include/uapi/linux/ext4.h, which 6.1's headers do not ship. */
#define LL_EXT4_IOC_SWAP_BOOT _IO('f', 17)

static noinline long ll_refuse_eopnotsupp(void)
{
	return -EOPNOTSUPP;
}

static noinline long ll_refuse_etxtbsy(void)
{
	return -ETXTBSY;
}

static int ll_refuse(struct pt_regs *regs, long (*fn)(void))
{
	instruction_pointer_set(regs, (unsigned long)fn);
	return 1;
}

static bool ll_file_dax(unsigned long arg)
{
	struct file *file = (struct file *)arg;

	return file && IS_DAX(file_inode(file));
}

/* ext4_move_extents(struct file *orig, struct file *donor, ...) */
static int ll_move_ext_pre(struct kprobe *kp, struct pt_regs *regs)
{
	if (!ll_file_dax(regs_get_kernel_argument(regs, 1)))
		return 0;
	return ll_refuse(regs, ll_refuse_eopnotsupp);
}

/* __ext4_ioctl(struct file *filp, unsigned int cmd, unsigned long arg) */
static int ll_ext4_ioctl_pre(struct kprobe *kp, struct pt_regs *regs)
{
	if ((unsigned int)regs_get_kernel_argument(regs, 1) != LL_EXT4_IOC_SWAP_BOOT ||
	    !ll_file_dax(regs_get_kernel_argument(regs, 0)))
		return 0;
	return ll_refuse(regs, ll_refuse_eopnotsupp);
}

static bool ll_file_refuses(unsigned long arg)
{
	struct file *file = (struct file *)arg;

	return file && ll_exclusive_refuses(file_inode(file)->i_mapping);
}

/* An fd of the calling task, looked up under RCU: no sleep. */
static bool ll_fd_refuses(int fd)
{
	struct file *file = fget(fd);
	bool ret = ll_file_refuses((unsigned long)file);

	if (file)
		fput(file);	/* not the last: the fd table holds one */
	return ret;
}

#ifndef LL_HAVE_DAX_BREAK_LAYOUT
/*
 * 6.1 and 6.12: the filesystems' breaks, with invalidate_lock held
 * exclusive.  xfs_break_dax_layouts(struct inode *, bool *retry) (which
 * xfs_break_layouts() and xfs_ilock2_io_mmap() call),
 * ext4_break_layouts(struct inode *).
 */
static int ll_break_layouts_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct inode *inode = (void *)regs_get_kernel_argument(regs, 0);

	if (!inode || !ll_exclusive_refuses(inode->i_mapping))
		return 0;
	return ll_refuse(regs, ll_refuse_etxtbsy);
}
#endif

/*
 * xfs_reflink_remap_prep(struct file *file_in, loff_t pos_in,
 * struct file *file_out, ...): reflink and dedupe, either file.
 */
static int ll_remap_prep_pre(struct kprobe *kp, struct pt_regs *regs)
{
	if (!ll_file_refuses(regs_get_kernel_argument(regs, 0)) &&
	    !ll_file_refuses(regs_get_kernel_argument(regs, 2)))
		return 0;
	return ll_refuse(regs, ll_refuse_etxtbsy);
}

/*
 * xfs_swap_extents(ip, tip, struct xfs_swapext *sxp): XFS_IOC_SWAPEXT; the
 * ioctl copied *sxp in and looked its two fds up (sx_fdtarget, sx_fdtmp).
 */
struct ll_xfs_swapext_head {
	s64 sx_version;
	s64 sx_fdtarget;
	s64 sx_fdtmp;
};

static int ll_swap_extents_pre(struct kprobe *kp, struct pt_regs *regs)
{
	const struct ll_xfs_swapext_head *sxp =
		(void *)regs_get_kernel_argument(regs, 2);

	if (!sxp || (!ll_fd_refuses(sxp->sx_fdtarget) &&
		     !ll_fd_refuses(sxp->sx_fdtmp)))
		return 0;
	return ll_refuse(regs, ll_refuse_etxtbsy);
}

/*
 * xfs_ioc_exchange_range() and xfs_ioc_commit_range() (6.10+, 6.16+):
 * (struct file *file2, struct xfs_... __user *argp), whose first field is
 * __s32 file1_fd, read without faulting (a kprobe cannot sleep): a
 * missing page is no refusal, and the ioctl then faults it in and fails
 * or goes on to break.
 */
static int ll_exchange_pre(struct kprobe *kp, struct pt_regs *regs)
{
	const s32 __user *argp = (void __user *)regs_get_kernel_argument(regs, 1);
	s32 fd1;

	if (ll_file_refuses(regs_get_kernel_argument(regs, 0)) ||
	    (!copy_from_user_nofault(&fd1, argp, sizeof(fd1)) &&
	     ll_fd_refuses(fd1)))
		return ll_refuse(regs, ll_refuse_etxtbsy);
	return 0;
}

static void ll_refuse_post(struct kprobe *kp, struct pt_regs *regs,
			   unsigned long flags)
{
}

/**
 * enum ll_probe_kind - what a module's probe is for
 * @LL_PROBE_SAFETY: a refusal the pins' safety rests on: no load without
 * @LL_PROBE_EXCL: a refusal of exclusive leases: without it the module
 *                 refuses exclusive leases on the filesystem
 * @LL_PROBE_EXCL_OPT: the same, of a function not on every kernel
 */
enum ll_probe_kind {
	LL_PROBE_SAFETY,
	LL_PROBE_EXCL,
	LL_PROBE_EXCL_OPT,
};

struct ll_probe_def {
	const char *symbol;
	kprobe_pre_handler_t pre;
	enum ll_probe_kind kind;
};

#define LL_MOD_PROBES_MAX 5

/**
 * struct ll_mod_hooks - the refusal probes in one filesystem module
 * @module: its name (it may be a module, loaded after this one, or built in)
 * @defs: the probes; the first is on every kernel, so its absence means
 *        the module is not loaded
 * @n: how many
 * @kps: the registered probes, each from a fresh copy of its def
 * @live: which of @kps are registered
 * @hooked: the probes are registered (the module is loaded)
 * @refuses: every exclusive refusal probe is registered
 *
 * All under ll_mod_mutex; @refuses is also read locklessly.
 */
struct ll_mod_hooks {
	const char *module;
	const struct ll_probe_def *defs;
	unsigned int n;
	struct kprobe kps[LL_MOD_PROBES_MAX];
	bool live[LL_MOD_PROBES_MAX];
	bool hooked;
	bool refuses;
};

static const struct ll_probe_def ll_ext4_defs[] = {
	{ "ext4_move_extents", ll_move_ext_pre, LL_PROBE_SAFETY },
	/* Not ext4_ioctl(): ext4_compat_ioctl() jumps past it, to this. */
	{ "__ext4_ioctl", ll_ext4_ioctl_pre, LL_PROBE_SAFETY },
#ifndef LL_HAVE_DAX_BREAK_LAYOUT
	{ "ext4_break_layouts", ll_break_layouts_pre, LL_PROBE_EXCL },
#endif
};

static const struct ll_probe_def ll_xfs_defs[] = {
	{ "xfs_swap_extents", ll_swap_extents_pre, LL_PROBE_EXCL },
	{ "xfs_reflink_remap_prep", ll_remap_prep_pre, LL_PROBE_EXCL },
	{ "xfs_ioc_exchange_range", ll_exchange_pre, LL_PROBE_EXCL_OPT },
	{ "xfs_ioc_commit_range", ll_exchange_pre, LL_PROBE_EXCL_OPT },
#ifndef LL_HAVE_DAX_BREAK_LAYOUT
	{ "xfs_break_dax_layouts", ll_break_layouts_pre, LL_PROBE_EXCL },
#endif
};

static_assert(ARRAY_SIZE(ll_ext4_defs) <= LL_MOD_PROBES_MAX);
static_assert(ARRAY_SIZE(ll_xfs_defs) <= LL_MOD_PROBES_MAX);

static DEFINE_MUTEX(ll_mod_mutex);
static struct ll_mod_hooks ll_mods[] = {
	{ .module = "ext4", .defs = ll_ext4_defs, .n = ARRAY_SIZE(ll_ext4_defs) },
	{ .module = "xfs", .defs = ll_xfs_defs, .n = ARRAY_SIZE(ll_xfs_defs) },
};

/*
 * Register a probe of @d from a fresh struct.  7.2's register_kprobe()
 * returns 0 when arming the probe failed and it took the probe out of its
 * table again (Documentation/hooks.rst); enable_kprobe() then does not find
 * it (-EINVAL, and is a no-op for a probe that is there): once more, then
 * the failure it is (arming allocates).
 */
static int ll_kprobe_register(struct kprobe *kp, const struct ll_probe_def *d)
{
	int tries, ret;

	for (tries = 0; tries < 2; tries++) {
		*kp = (struct kprobe){
			.symbol_name = d->symbol,
			.pre_handler = d->pre,
			.post_handler = ll_refuse_post,
		};
		ret = register_kprobe(kp);
		if (ret || !enable_kprobe(kp))
			return ret;
	}
	return -ENOMEM;
}

static void ll_mod_unhook(struct ll_mod_hooks *m)
{
	unsigned int i;

	lockdep_assert_held(&ll_mod_mutex);
	for (i = 0; i < m->n; i++)
		if (m->live[i])
			unregister_kprobe(&m->kps[i]);
	memset(m->live, 0, sizeof(m->live));
	m->hooked = false;
	WRITE_ONCE(m->refuses, false);
}

/*
 * Register @m's probes.  -ENOENT: the module is not loaded (its notifier
 * comes back then); another error: a safety probe is missing.
 */
static int ll_mod_hook(struct ll_mod_hooks *m)
{
	bool refuses = true;
	unsigned int i;
	int ret;

	lockdep_assert_held(&ll_mod_mutex);
	if (m->hooked)
		return 0;
	for (i = 0; i < m->n; i++) {
		const struct ll_probe_def *d = &m->defs[i];

		ret = ll_kprobe_register(&m->kps[i], d);
		if (!ret) {
			m->live[i] = true;
			continue;
		}
		if (ret == -ENOENT && !i)
			return ret;	/* not loaded */
		if (d->kind == LL_PROBE_SAFETY) {
			pr_err("cannot probe %s (%d)\n", d->symbol, ret);
			ll_mod_unhook(m);
			return ret == -ENOENT ? -EOPNOTSUPP : ret;
		}
		if (d->kind == LL_PROBE_EXCL_OPT && ret == -ENOENT)
			continue;
		pr_warn("cannot probe %s (%d): no exclusive leases on %s\n",
			d->symbol, ret, m->module);
		refuses = false;
	}
	m->hooked = true;
	WRITE_ONCE(m->refuses, refuses);
	return 0;
}

/* Can exclusive leases on filesystem @fs be refused on every path? */
bool ll_hooks_refuse_on(const char *fs)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ll_mods); i++)
		if (!strcmp(fs, ll_mods[i].module))
			return READ_ONCE(ll_mods[i].refuses);
	return false;
}

/* ext4 and XFS may be modules, loaded (or reloaded) after this one. */
static int ll_module_event(struct notifier_block *nb, unsigned long state,
			   void *data)
{
	struct module *mod = data;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ll_mods); i++) {
		struct ll_mod_hooks *m = &ll_mods[i];

		if (strcmp(mod->name, m->module))
			continue;
		mutex_lock(&ll_mod_mutex);
		if (state == MODULE_STATE_LIVE && ll_mod_hook(m))
			pr_err("cannot probe %s: its DAX files' block moves are not refused\n",
			       m->module);
		else if (state == MODULE_STATE_GOING)
			ll_mod_unhook(m);
		mutex_unlock(&ll_mod_mutex);
	}
	return NOTIFY_DONE;
}

static struct notifier_block ll_module_nb = {
	.notifier_call = ll_module_event,
};

static void ll_mods_unhook(void)
{
	unsigned int i;

	mutex_lock(&ll_mod_mutex);
	for (i = 0; i < ARRAY_SIZE(ll_mods); i++)
		ll_mod_unhook(&ll_mods[i]);
	mutex_unlock(&ll_mod_mutex);
}

int ll_hooks_init(void)
{
	int ret = ll_hook_check();
	unsigned int i;

	if (ret)
		return ret;
	ret = register_module_notifier(&ll_module_nb);
	if (ret)
		return ret;
	/* Not loaded (-ENOENT): the notifier hooks it when it comes. */
	mutex_lock(&ll_mod_mutex);
	for (i = 0; i < ARRAY_SIZE(ll_mods); i++) {
		ret = ll_mod_hook(&ll_mods[i]);
		if (ret && ret != -ENOENT)
			break;
		ret = 0;
	}
	mutex_unlock(&ll_mod_mutex);
	if (ret)
		goto out_mods;
	for (i = 0; i < ARRAY_SIZE(ll_redirects); i++) {
		ret = ll_hook_register(&ll_redirects[i].ops, ll_redirects[i].from,
				       ll_redirects[i].name);
		if (ret)
			goto out_redirects;
	}
	return 0;

out_redirects:
	while (i--)
		ll_hook_unregister(&ll_redirects[i].ops);
out_mods:
	ll_mods_unhook();
	unregister_module_notifier(&ll_module_nb);
	return ret;
}

void ll_hooks_exit(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ll_redirects); i++)
		ll_hook_unregister(&ll_redirects[i].ops);
	unregister_module_notifier(&ll_module_nb);
	ll_mods_unhook();
}
