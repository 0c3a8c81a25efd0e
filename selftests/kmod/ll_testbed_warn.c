// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only: loading this module issues one WARN, so that scripts/check.sh
 * can prove that the VM runner fails a run whose guest log has a warning.
 */
#include <linux/bug.h>
#include <linux/module.h>

static int __init ll_testbed_warn_init(void)
{
	WARN(1, "layoutlease test bed: deliberate warning\n");
	return 0;
}

static void __exit ll_testbed_warn_exit(void)
{
}

module_init(ll_testbed_warn_init);
module_exit(ll_testbed_warn_exit);

MODULE_DESCRIPTION("layoutlease test bed: issues a deliberate WARN");
MODULE_LICENSE("GPL");
