/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels layoutlease supports lives here,
 * fed by the build-time probes of kernel/probes/ (see scripts/probe.sh),
 * which write compat_config.h into the build directory.  No other file
 * tests a kernel version.  This header is force-included (see Kbuild).
 */
#ifndef _LAYOUTLEASE_COMPAT_H
#define _LAYOUTLEASE_COMPAT_H

/* Force-included before anything else, so the message prefix goes here. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include "compat_config.h"

#include <linux/mm.h>
#include <linux/module.h>

/*
 * 6.13 made the namespace of MODULE_IMPORT_NS() a string literal
 * (include/linux/module.h).
 */
#ifdef LL_HAVE_MODULE_IMPORT_NS_IDENT
#define LL_MODULE_IMPORT_NS(ns) MODULE_IMPORT_NS(ns)
#else
#define LL_MODULE_IMPORT_NS(ns) MODULE_IMPORT_NS(__stringify(ns))
#endif

/*
 * 6.5 dropped the vmas argument of pin_user_pages()
 * (include/linux/mm.h).
 */
static inline long ll_pin_user_pages(unsigned long start,
				     unsigned long nr_pages,
				     unsigned int gup_flags,
				     struct page **pages)
{
#ifdef LL_HAVE_PIN_USER_PAGES_VMAS
	return pin_user_pages(start, nr_pages, gup_flags, pages, NULL);
#else
	return pin_user_pages(start, nr_pages, gup_flags, pages);
#endif
}

#endif /* _LAYOUTLEASE_COMPAT_H */
