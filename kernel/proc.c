// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/layoutleases, in the spirit of /proc/locks: one line per lease,
 * then one per pin and one per owner.  fdinfo of a lease fd shows the same
 * for its lease.  Pids are those of the reader's pid namespace.
 *
 * Copyright (C) 2026 The layoutlease authors
 */
#include <linux/fs.h>
#include <linux/kdev_t.h>
#include <linux/pid_namespace.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>

#include "layoutlease.h"

void ll_lease_show(struct seq_file *m, struct ll_lease *lease)
{
	struct inode *inode = d_inode(lease->path.dentry);
	struct ll_file *lf = lease->lf;
	unsigned long pins = 0, pages = 0;
	struct ll_owner *o;
	struct ll_pin *pin;
	bool breaking;
	s64 left = 0;

	spin_lock(&lf->lock);
	breaking = lf->breaking;
	if (breaking)
		left = ktime_ms_delta(ktime_add_ms(lf->break_start, lease->timeout_ms),
				      ktime_get());
	list_for_each_entry(pin, &lease->pins, node) {
		pins++;
		pages += pin->npages;
	}
	seq_printf(m, "lease %llu: %s %02x:%02x:%llu %llu-%llu timeout %ums pins %lu pages %lu",
		   lease->id, breaking ? "BREAKING" : "ACTIVE",
		   MAJOR(inode->i_sb->s_dev), MINOR(inode->i_sb->s_dev),
		   (u64)inode->i_ino, lease->start, lease->end - 1,
		   lease->timeout_ms, pins, pages);
	if (breaking)
		seq_printf(m, " deadline %lldms", left);
	if (lease->exclusive)
		seq_puts(m, " exclusive");
	seq_putc(m, '\n');
	list_for_each_entry(pin, &lease->pins, node) {
		/* It is printed again, with a larger buffer: stop here. */
		if (seq_has_overflowed(m))
			break;
		seq_printf(m, "  pin %llu: pinned offset %llu pages %lu runs %u%s\n",
			   pin->id, pin->offset, pin->npages,
			   pin->nr_ext, pin->export ? " exported" : "");
	}
	spin_unlock(&lf->lock);

	spin_lock(&lease->owner_lock);
	list_for_each_entry(o, &lease->owners, node) {
		pid_t nr = pid_vnr(o->pid);

		if (!nr)	/* not visible in the reader's namespace */
			continue;
		seq_printf(m, "  owner %d: fd %d signal %d queued %u%s\n", nr,
			   o->fd, o->signal, o->count,
			   o->overflow ? " overflow" : "");
	}
	spin_unlock(&lease->owner_lock);
}

/*
 * One record per lease, ll_files_lock held from ->start to ->stop: for one
 * buffer's worth, not for the whole file, and a lease that does not fit is
 * printed again alone, not the file again from the start.
 */
static void *ll_proc_start(struct seq_file *m, loff_t *pos)
{
	mutex_lock(&ll_files_lock);
	return seq_list_start(&ll_all_leases, *pos);
}

static void *ll_proc_next(struct seq_file *m, void *v, loff_t *pos)
{
	return seq_list_next(v, &ll_all_leases, pos);
}

static void ll_proc_stop(struct seq_file *m, void *v)
{
	mutex_unlock(&ll_files_lock);
}

static int ll_proc_show(struct seq_file *m, void *v)
{
	ll_lease_show(m, list_entry(v, struct ll_lease, all_node));
	return 0;
}

static const struct seq_operations ll_proc_ops = {
	.start = ll_proc_start,
	.next = ll_proc_next,
	.stop = ll_proc_stop,
	.show = ll_proc_show,
};

int ll_proc_init(void)
{
	if (!proc_create_seq("layoutleases", 0444, NULL, &ll_proc_ops))
		return -ENOMEM;
	return 0;
}

void ll_proc_exit(void)
{
	remove_proc_entry("layoutleases", NULL);
}
