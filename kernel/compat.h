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

/*
 * 6.12 made a file's fown_struct (F_SETOWN's target) a pointer, allocated
 * on demand by file_f_owner_allocate() (include/linux/fs.h); before, it was
 * embedded in struct file.  NULL when it cannot be allocated.
 */
#include <linux/fs.h>
static inline struct fown_struct *ll_file_fown(struct file *file)
{
#ifdef LL_HAVE_FILE_F_OWNER_ALLOCATE
	if (file_f_owner_allocate(file))
		return NULL;
	return file_f_owner(file);
#else
	return &file->f_owner;
#endif
}

/*
 * 6.5 renamed ftrace_instruction_pointer_set() (include/linux/ftrace.h,
 * defined by the architecture) to ftrace_regs_set_instruction_pointer().
 * hooks.c proves at load that setting it redirects the call.
 */
#include <linux/ftrace.h>
static inline void ll_ftrace_set_ip(struct ftrace_regs *fregs, unsigned long ip)
{
#ifdef LL_HAVE_FTRACE_REGS_SET_INSTRUCTION_POINTER
	ftrace_regs_set_instruction_pointer(fregs, ip);
#else
	ftrace_instruction_pointer_set(fregs, ip);
#endif
}

/*
 * 6.15 made filesystems remove a file's DAX entries (dax_break_layout(),
 * include/linux/dax.h) before they truncate its page cache, which WARNs on
 * any entry left (truncate_folio_batch_exceptionals()).  An operation that
 * skips the busy-page scan (hooks.c) skips that too: the module does it for
 * a leased file once its pins are gone.  -ERESTARTSYS: a page is still busy
 * (a short-term reference); before 6.15 there is nothing to do.
 */
#include <linux/dax.h>
static inline int ll_dax_drop_entries(struct address_space *mapping)
{
#ifdef LL_HAVE_DAX_BREAK_LAYOUT
	return dax_break_layout(mapping->host, 0, LLONG_MAX, NULL);
#else
	return 0;
#endif
}

/*
 * From 6.15 on (the series that added dax_break_layout()) every mapping of
 * an fsdax page holds a reference, and the filesystem's wait for a busy
 * page ends only when its count reaches 0: a fault while the filesystem
 * sleeps, invalidate_lock dropped, keeps it asleep until that mapping goes.
 * On 6.1 and 6.12 mappings hold none.  See ll_revoke_work().
 */
#ifdef LL_HAVE_DAX_BREAK_LAYOUT
#define LL_DAX_MAPPINGS_HOLD_PAGES true
#else
#define LL_DAX_MAPPINGS_HOLD_PAGES false
#endif

/*
 * The page a filesystem waits on for a busy fsdax page: the page itself on
 * 6.1/6.12 (each counts its own references from 1), its folio's head from
 * 6.15 on (fsdax folios are refcounted, and may be large, since the series
 * that added dax_break_layout()).
 */
#include <linux/mm.h>
static inline struct page *ll_dax_wait_page(struct page *page)
{
#ifdef LL_HAVE_DAX_BREAK_LAYOUT
	return &page_folio(page)->page;
#else
	return page;
#endif
}

/*
 * 6.3 moved the file-lock API (vfs_setlease()) from fs.h to filelock.h.
 */
#ifdef LL_HAVE_FILELOCK_H
#include <linux/filelock.h>
#endif

/*
 * dma-buf importers (include/linux/dma-buf.h).  7.x renamed move_notify to
 * invalidate_mappings, made it optional, added dma_buf_attach_revocable()
 * (an importer that pins but unmaps and unpins when told) and dropped
 * CONFIG_DMABUF_MOVE_NOTIFY: dynamic importers are never pinned for a
 * mapping.  Before, every attach_ops had a move_notify, and without
 * CONFIG_DMABUF_MOVE_NOTIFY (Debian's 6.1 and 6.12) the core pinned a
 * dynamic exporter's buffer for every mapping of a dynamic importer.
 */
#include <linux/dma-buf.h>
#ifdef LL_HAVE_DMA_BUF_INVALIDATE_MAPPINGS
#define LL_DMABUF_PIN_ON_MAP false
static inline void ll_dma_buf_invalidate(struct dma_buf *dmabuf)
{
	dma_buf_invalidate_mappings(dmabuf);
}

static inline bool ll_attach_revocable(struct dma_buf_attachment *attach)
{
	return dma_buf_attach_revocable(attach);
}

static inline bool ll_pin_revocable(struct dma_buf_attachment *attach)
{
	return dma_buf_attach_revocable(attach);
}
#else
#define LL_DMABUF_PIN_ON_MAP (!IS_ENABLED(CONFIG_DMABUF_MOVE_NOTIFY))
static inline void ll_dma_buf_invalidate(struct dma_buf *dmabuf)
{
	dma_buf_move_notify(dmabuf);
}

static inline bool ll_attach_revocable(struct dma_buf_attachment *attach)
{
	return attach->importer_ops;
}

/* A 6.x importer that pins ignores move_notify (ib_umem_dmabuf_get_pinned). */
static inline bool ll_pin_revocable(struct dma_buf_attachment *attach)
{
	return false;
}
#endif

#endif /* _LAYOUTLEASE_COMPAT_H */
