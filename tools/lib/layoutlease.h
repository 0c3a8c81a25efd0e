/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liblayoutlease: a small C library over /dev/layoutlease.
 * The ioctl-level functions return 0 (or an fd) or a negative errno and
 * do not set errno; the fcntl-style ones return -1 and set errno, as
 * fcntl(2) does.
 */
#ifndef _LIBLAYOUTLEASE_H
#define _LIBLAYOUTLEASE_H

#include <linux/layoutlease.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Open /dev/layoutlease (close-on-exec); returns the fd or -errno. */
int ll_open(void);

/* LAYOUTLEASE_IOC_GET_INFO into @info, which need not be initialised. */
int ll_get_info(int devfd, struct layoutlease_get_info *info);

/*
 * LAYOUTLEASE_IOC_LEASE_CREATE on @fd's [@offset, @offset + @length);
 * returns the lease fd or -errno.  @timeout_ms 0 is the module's default.
 */
int ll_lease_create(int devfd, int fd, unsigned long long offset,
		    unsigned long long length, unsigned int timeout_ms,
		    unsigned int flags);

/* LAYOUTLEASE_IOC_PIN of [@addr, @addr + @length); the pin id in @pin_id. */
int ll_pin(int lease_fd, void *addr, unsigned long long length,
	   unsigned int flags, unsigned long long *pin_id);

/* LAYOUTLEASE_IOC_UNPIN. */
int ll_unpin(int lease_fd, unsigned long long pin_id);

/*
 * LAYOUTLEASE_IOC_EXPORT: export pin @pin_id as a dma-buf; returns its fd
 * (close-on-exec) or -errno.
 */
int ll_export(int lease_fd, unsigned long long pin_id);

/* LAYOUTLEASE_IOC_OWNER: signal @sig (0: SIGIO) with si_fd @lease_fd. */
int ll_owner(int lease_fd, int sig);

/* Read one event; -EAGAIN if none and the fd is non-blocking. */
int ll_read_event(int lease_fd, struct layoutlease_event *ev);

/* The name of event type @type. */
const char *ll_event_name(unsigned int type);

/* The name of command @nr (LAYOUTLEASE_CMD_*), or NULL if unknown here. */
const char *ll_command_name(unsigned int nr);

/*
 * fcntl-style calls (LIBLAYOUTLEASE_0.4): a layout lease of the whole file
 * open as @fd, named by @fd as fcntl(F_SETLEASE) names a file lease.  They
 * return -1 and set errno; they are thread-safe, not async-signal-safe.
 * Documentation/uapi.rst compares them with fcntl(2).
 */

/*
 * F_RDLCK: take the lease (or keep it, and join as an owner in a child);
 * F_UNLCK: release this process's hold on it.  EAGAIN: a break is in
 * progress (F_RDLCK), no lease (F_UNLCK); EINVAL: another @type, or not a
 * file of a DAX mount.
 */
int ll_setlease(int fd, int type);

/* F_RDLCK while the lease is held and not breaking, else F_UNLCK. */
int ll_getlease(int fd);

/* The signal of @fd's lease events, 0 for SIGIO; before or after the lease. */
int ll_setsig(int fd, int sig);

/* The signal ll_setsig() chose for @fd, 0 for SIGIO. */
int ll_getsig(int fd);

/* The lease fd of @fd's lease, for ll_pin() and read(); ENOENT if none. */
int ll_lease_fd(int fd);

#ifdef __cplusplus
}
#endif

#endif /* _LIBLAYOUTLEASE_H */
