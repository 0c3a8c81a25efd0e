// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only: loading this module makes two kernel threads, one per CPU,
 * race on a plain counter for a second, so that scripts/check.sh can prove
 * that on the KCSAN kernel the VM runner fails a run whose guest log has a
 * data race report naming a module.  Elsewhere it races unseen.
 */
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/sched.h>

static unsigned long ll_racy;	/* the race: plain reads and writes */
static struct completion ll_race_done[2];

static noinline void ll_race_step(void)
{
	ll_racy = ll_racy + 1;
}

static int ll_race_fn(void *arg)
{
	struct completion *done = arg;
	unsigned long end = jiffies + HZ;

	while (time_before(jiffies, end)) {
		ll_race_step();
		cpu_relax();
	}
	complete(done);
	return 0;
}

static int __init ll_testbed_race_init(void)
{
	struct task_struct *t;
	int i;

	for (i = 0; i < 2; i++) {
		init_completion(&ll_race_done[i]);
		t = kthread_create(ll_race_fn, &ll_race_done[i], "ll_race/%d", i);
		if (IS_ERR(t))
			return PTR_ERR(t);
		kthread_bind(t, i % num_online_cpus());
		wake_up_process(t);
	}
	for (i = 0; i < 2; i++)
		wait_for_completion(&ll_race_done[i]);
	pr_info("layoutlease test bed: raced %lu times\n", ll_racy);
	return 0;
}

static void __exit ll_testbed_race_exit(void)
{
}

module_init(ll_testbed_race_init);
module_exit(ll_testbed_race_exit);

MODULE_DESCRIPTION("layoutlease test bed: a deliberate data race");
MODULE_LICENSE("GPL");
