/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Test-only dma-buf importer (ll_importer.ko): the interface the selftests
 * drive it through.  Every open of /dev/ll_importer is one "device" with at
 * most one attachment.
 */
#ifndef _LL_IMPORTER_H
#define _LL_IMPORTER_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define LL_IMPORTER_DEVICE "/dev/ll_importer"

enum ll_importer_mode {
	LLI_DYNAMIC = 0,	/* dma_buf_dynamic_attach with move_notify */
	LLI_PINNED = 1,		/* dynamic attach, then dma_buf_pin() */
	LLI_STATIC = 2,		/* dma_buf_attach(): no importer ops */
	LLI_STUBBORN = 3,	/* dynamic, never unmaps: breaks the contract */
};

/* Attach to a dma-buf and map it, as ib_umem_dmabuf_get{,_pinned}() do. */
struct lli_attach {
	__s32 dmabuf_fd;
	__u32 mode;
};

/*
 * A "device" access of [offset, offset + length): fill with @value, or
 * read the 8 bytes at @offset into @value.  @delay_ms > 0 (writes only):
 * the access is in flight for that long, with a fence in the dma-buf's
 * reservation object, as a DMA would be.  Fails with ENXIO when the device
 * has no mapping (never mapped, or told to stop).
 */
struct lli_access {
	__u64 offset;
	__u64 length;
	__u64 value;
	__u32 delay_ms;
	__u32 __pad;
};

struct lli_status {
	__u32 attached;
	__u32 mapped;		/* a mapping is live */
	__u32 moves;		/* move_notify calls */
	__u32 pinned;		/* holds a dma_buf_pin() */
	__u32 accesses;		/* device accesses done */
	__u32 unpinned_access;	/* accesses that found a page not pinned */
	__u32 unpinned_unmap;	/* unmaps that found a page not pinned */
	__u32 late_access;	/* accesses that ended after the unmap */
	__u64 ack_ns;		/* last move_notify, CLOCK_MONOTONIC */
	__u64 last_access_ns;	/* end of the last access */
	__u64 unmap_ns;		/* last unmap after a move_notify */
	__s32 map_error;	/* last failed (re)map: -errno */
	__u32 __pad;
};

#define LLI_TYPE 0xb9
#define LLI_IOC_ATTACH _IOW(LLI_TYPE, 1, struct lli_attach)
#define LLI_IOC_MAP _IO(LLI_TYPE, 2)
#define LLI_IOC_WRITE _IOW(LLI_TYPE, 3, struct lli_access)
#define LLI_IOC_READ _IOWR(LLI_TYPE, 4, struct lli_access)
#define LLI_IOC_STATUS _IOR(LLI_TYPE, 5, struct lli_status)
#define LLI_IOC_DETACH _IO(LLI_TYPE, 6)
/* A dynamic, mapped attachment calls dma_buf_pin() (map first, pin later). */
#define LLI_IOC_PIN _IO(LLI_TYPE, 7)

#endif /* _LL_IMPORTER_H */
