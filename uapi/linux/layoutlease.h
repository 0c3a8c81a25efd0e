/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * layoutlease: revocable long-term device access to DAX file memory.
 *
 * Copyright (C) 2026 The layoutlease authors
 */
#ifndef _UAPI_LINUX_LAYOUTLEASE_H
#define _UAPI_LINUX_LAYOUTLEASE_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define LAYOUTLEASE_DEVICE "/dev/layoutlease"
#define LAYOUTLEASE_TYPE 0xb8

/**
 * DOC: General ioctl format
 *
 * Every ioctl of /dev/layoutlease and of lease fds is
 * ``_IO(LAYOUTLEASE_TYPE, LAYOUTLEASE_CMD_*)`` and takes a pointer to a
 * command struct whose first member is ``__u32 size``, set by user space to
 * sizeof the struct it was compiled with, and whose second member is
 * ``__u32 flags``.  The kernel accepts any size from the command's first
 * version up: bytes it does not know must be zero, and bytes it does not
 * fill in are left untouched.  A struct only ever grows at its end, so a
 * program built against an older or newer header keeps working.
 *
 * The errno contract, for every command:
 *
 *  - ENOTTY: unknown command number, or a command of lease fds on the
 *    device fd or the reverse.
 *  - EFAULT: the struct is not readable, or not writable for output.
 *  - EINVAL: ``size`` is smaller than the command's first version, a
 *    reserved field or padding is not 0, or a value is out of range.
 *  - E2BIG: ``size`` is larger than the kernel's struct and a byte past the
 *    kernel's struct is not 0.
 *  - EOPNOTSUPP: a bit in ``flags`` that this kernel does not support; the
 *    supported flags of each command are reported by
 *    LAYOUTLEASE_IOC_GET_INFO.
 *
 * A command that fails has changed nothing: no lease or pin the caller
 * holds is released because a request was malformed.
 */
enum {
	LAYOUTLEASE_CMD_BASE = 0x80,
	LAYOUTLEASE_CMD_GET_INFO = LAYOUTLEASE_CMD_BASE,
	LAYOUTLEASE_CMD_LEASE_CREATE,
	LAYOUTLEASE_CMD_PIN,
	LAYOUTLEASE_CMD_UNPIN,
	LAYOUTLEASE_CMD_OWNER,
	LAYOUTLEASE_CMD_EXPORT,
};

/**
 * LAYOUTLEASE_API_VERSION - version of the interface described here
 *
 * Raised when a command or a flag is added; user space should probe
 * features with the masks of &struct layoutlease_get_info rather than by
 * comparing versions.
 */
#define LAYOUTLEASE_API_VERSION 4

/**
 * struct layoutlease_get_info - ioctl(LAYOUTLEASE_IOC_GET_INFO)
 * @size: sizeof(struct layoutlease_get_info)
 * @flags: Must be 0
 * @out_api_version: LAYOUTLEASE_API_VERSION of the running module
 * @__reserved: Must be 0
 * @out_commands: bit (n - LAYOUTLEASE_CMD_BASE) is set for every command n
 *                this module accepts, on the device or on lease fds
 * @out_get_info_flags: flags accepted by LAYOUTLEASE_IOC_GET_INFO
 * @out_lease_create_flags: flags accepted by LAYOUTLEASE_IOC_LEASE_CREATE
 * @out_pin_flags: flags accepted by LAYOUTLEASE_IOC_PIN
 * @out_unpin_flags: flags accepted by LAYOUTLEASE_IOC_UNPIN
 * @out_owner_flags: flags accepted by LAYOUTLEASE_IOC_OWNER
 * @out_default_break_timeout_ms: break timeout of a lease that asks for 0
 * @out_max_break_timeout_ms: the cap of break timeouts (module parameter)
 * @out_export_flags: flags accepted by LAYOUTLEASE_IOC_EXPORT (API 3)
 *
 * Reports what the running module supports, in the manner of UFFDIO_API:
 * every later command adds an ``out_<command>_flags`` mask at the end of
 * this struct.  Works on the /dev/layoutlease fd.
 */
struct layoutlease_get_info {
	__u32 size;
	__u32 flags;
	__u32 out_api_version;
	__u32 __reserved;
	__aligned_u64 out_commands;
	__aligned_u64 out_get_info_flags;
	__aligned_u64 out_lease_create_flags;
	__aligned_u64 out_pin_flags;
	__aligned_u64 out_unpin_flags;
	__aligned_u64 out_owner_flags;
	__u32 out_default_break_timeout_ms;
	__u32 out_max_break_timeout_ms;
	__aligned_u64 out_export_flags;
};

#define LAYOUTLEASE_IOC_GET_INFO _IO(LAYOUTLEASE_TYPE, LAYOUTLEASE_CMD_GET_INFO)

/**
 * enum layoutlease_lease_create_flags - flags of LAYOUTLEASE_IOC_LEASE_CREATE
 * @LAYOUTLEASE_LEASE_NONBLOCK: fail with EAGAIN instead of waiting while a
 *                              break is in progress on the file
 * @LAYOUTLEASE_LEASE_EXCLUSIVE: an exclusive lease (API 4): while it has
 *     pins, an operation that would break it fails at once with ETXTBSY
 *     instead (truncate, O_TRUNC, fallocate punch, collapse, insert, zero
 *     range, XFS allocation, reflink and dedupe from or onto the file,
 *     XFS_IOC_SWAPEXT, XFS_IOC_EXCHANGE_RANGE), whoever asks, the lease's
 *     own process too, and the file is left as it was.  Who may take one is
 *     the administrator's choice (module parameter ``exclusive``, by
 *     default CAP_SYS_ADMIN or CAP_LEASE; EPERM otherwise), who can also
 *     end every exclusive lease's refusals (``exclusive=off``): they are
 *     then ordinary leases.  Unmapping, exit and the revocation of an
 *     ordinary lease's pins at its deadline work as ever.
 */
enum layoutlease_lease_create_flags {
	LAYOUTLEASE_LEASE_NONBLOCK = 1 << 0,
	LAYOUTLEASE_LEASE_EXCLUSIVE = 1 << 1,
};

/**
 * struct layoutlease_lease_create - ioctl(LAYOUTLEASE_IOC_LEASE_CREATE)
 * @size: sizeof(struct layoutlease_lease_create)
 * @flags: &enum layoutlease_lease_create_flags
 * @fd: an fd of a regular file on a DAX mount (XFS or ext4, -o dax)
 * @break_timeout_ms: how long holders get to unpin once a break started
 *                    before the module revokes their pins; 0 for the
 *                    default; values above the cap are lowered to it
 * @offset: start of the leased range in the file; page aligned
 * @length: length of the range; page aligned, not 0
 * @out_lease_fd: the new lease fd, close-on-exec
 * @out_break_timeout_ms: the break timeout in force
 * @out_lease_id: the lease's id, as /proc/layoutleases shows it
 *
 * On /dev/layoutlease.  Takes a layout lease on a range of the file.  The
 * caller needs what fcntl(F_SETLEASE) needs: it owns the file (through the
 * mount's idmapping) or has CAP_LEASE, and the security modules allow it
 * to lock the file.  The lease keeps the file itself, not @fd's open file:
 * closing @fd ends its locks and its write access as usual.  Errors besides
 * the general ones: EBADF @fd is not open; EOPNOTSUPP the file is not a
 * regular file on an XFS or ext4 DAX mount (ext2 and ext3 are refused,
 * whichever driver mounted them), or LAYOUTLEASE_LEASE_EXCLUSIVE and the
 * module could not hook the refusals of this filesystem; EACCES not the owner and no CAP_LEASE, or
 * an LSM's own errno; EINVAL misaligned, empty or overflowing range;
 * EAGAIN a break is in progress and LAYOUTLEASE_LEASE_NONBLOCK was given;
 * EINTR a signal came while waiting for a break to end; EPERM
 * LAYOUTLEASE_LEASE_EXCLUSIVE without the administrator's leave; EMFILE, also when
 * the caller's user holds max_user_leases leases; ENOSPC its user holds
 * max_user_owners owner entries; ENOMEM.
 */
struct layoutlease_lease_create {
	__u32 size;
	__u32 flags;
	__s32 fd;
	__u32 break_timeout_ms;
	__aligned_u64 offset;
	__aligned_u64 length;
	__s32 out_lease_fd;
	__u32 out_break_timeout_ms;
	__aligned_u64 out_lease_id;
};

#define LAYOUTLEASE_IOC_LEASE_CREATE \
	_IO(LAYOUTLEASE_TYPE, LAYOUTLEASE_CMD_LEASE_CREATE)

/**
 * enum layoutlease_pin_flags - flags of LAYOUTLEASE_IOC_PIN
 * @LAYOUTLEASE_PIN_NONBLOCK: fail with EAGAIN instead of waiting while a
 *                            break is in progress on the file
 */
enum layoutlease_pin_flags {
	LAYOUTLEASE_PIN_NONBLOCK = 1 << 0,
};

/**
 * struct layoutlease_pin - ioctl(LAYOUTLEASE_IOC_PIN)
 * @size: sizeof(struct layoutlease_pin)
 * @flags: &enum layoutlease_pin_flags
 * @addr: start of the user range to pin; page aligned
 * @length: its length; page aligned, not 0
 * @out_pin_id: the pin's id, for LAYOUTLEASE_IOC_UNPIN and events
 * @out_offset: the file offset of @addr
 *
 * On a lease fd.  Pins the pages of a range of the caller's address space
 * that lies inside one writable MAP_SHARED mapping of the leased file and
 * inside the leased range.  The pin belongs to the caller's address space:
 * only it can unpin or export the pin, though every process that has the
 * lease fd hears of it.  The pin lasts until it is unpinned, a break
 * revokes it, or any part of the mapping goes away (munmap, mremap, exec,
 * exit), which revokes it; closing the lease fd leaves it.  A revoked pin
 * is gone: its id is known no more (ENOENT), and the REVOKED or UNMAPPED
 * record said so.  The calling process gets an event queue of its own if
 * it had none.  The pages are charged to RLIMIT_MEMLOCK (unless
 * CAP_IPC_LOCK).  Errors besides the general ones: EINVAL misaligned or
 * empty range, or a range not wholly inside such a mapping and the leased
 * range; EAGAIN a break is in progress and LAYOUTLEASE_PIN_NONBLOCK was
 * given (or, with it, the pages kept being invalidated); EINTR a signal
 * came while waiting; ENOMEM over RLIMIT_MEMLOCK or out of memory; EFAULT
 * the pages could not be faulted in; ENOSPC the caller's user holds
 * max_user_pins pins (or max_user_owners owner entries); ENXIO the
 * module's break trigger does not fire (kprobes disarmed by the
 * administrator): no pin is granted until it does.  On error nothing is
 * pinned.
 */
struct layoutlease_pin {
	__u32 size;
	__u32 flags;
	__aligned_u64 addr;
	__aligned_u64 length;
	__aligned_u64 out_pin_id;
	__aligned_u64 out_offset;
};

#define LAYOUTLEASE_IOC_PIN _IO(LAYOUTLEASE_TYPE, LAYOUTLEASE_CMD_PIN)

/**
 * struct layoutlease_unpin - ioctl(LAYOUTLEASE_IOC_UNPIN)
 * @size: sizeof(struct layoutlease_unpin)
 * @flags: Must be 0
 * @pin_id: a pin of this lease
 *
 * On a lease fd.  Releases a pin of the caller's.  Errors besides the
 * general ones: ENOENT no such pin on this lease (never made, unpinned, or
 * ended by a revocation); EPERM the pin belongs to another address space.
 * A failed UNPIN changed nothing.
 */
struct layoutlease_unpin {
	__u32 size;
	__u32 flags;
	__aligned_u64 pin_id;
};

#define LAYOUTLEASE_IOC_UNPIN _IO(LAYOUTLEASE_TYPE, LAYOUTLEASE_CMD_UNPIN)

/**
 * struct layoutlease_owner - ioctl(LAYOUTLEASE_IOC_OWNER)
 * @size: sizeof(struct layoutlease_owner)
 * @flags: Must be 0
 * @fd: the number of this lease fd in the calling process; it becomes the
 *      si_fd of the signals this process gets
 * @signal: the signal to send at every event, 0 for SIGIO
 *
 * On a lease fd.  Registers the calling process as an owner of the lease:
 * it gets @signal, with si_code POLL_MSG and si_fd @fd, at every event,
 * until it closes its last fd of the lease or exits; calling again changes
 * @fd and @signal.  The signal is the process's, as fcntl(F_SETOWN,
 * F_SETSIG) makes it: any thread that does not block it takes it, and
 * sigwaitinfo() in any thread sees it.  As there, a signal with si_codes of
 * its own (SIGCHLD, SIGSEGV, ...) comes with si_code SI_SIGIO, a real-time
 * signal that cannot be queued falls back to a plain SIGIO, and the
 * caller's user ids at registration must still allow it to signal itself.
 * Errors besides the general ones: EBADF @fd is not this lease in the
 * calling process; EINVAL @signal is not a valid signal; ENOSPC the
 * caller's user holds max_user_owners owner entries; ENOMEM, ENFILE.
 */
struct layoutlease_owner {
	__u32 size;
	__u32 flags;
	__s32 fd;
	__u32 signal;
};

#define LAYOUTLEASE_IOC_OWNER _IO(LAYOUTLEASE_TYPE, LAYOUTLEASE_CMD_OWNER)

/**
 * struct layoutlease_export - ioctl(LAYOUTLEASE_IOC_EXPORT)
 * @size: sizeof(struct layoutlease_export)
 * @flags: Must be 0
 * @pin_id: a pin of this lease
 * @out_dmabuf_fd: the new dma-buf fd (O_RDWR, close-on-exec)
 * @__reserved: Must be 0
 *
 * On a lease fd (API 3).  Exports a pin as a dma-buf of the pin's length,
 * for a device driver to import (``ibv_reg_dmabuf_mr()``).  The dma-buf
 * holds the lease; the pin keeps the pages.  Importers must attach
 * dynamically, with a ``move_notify`` (``invalidate_mappings`` since
 * 7.x) callback: when the pin ends (unpin, revocation at a break deadline,
 * unmapping) every importer is told to stop, the module waits for the
 * importers' fences and for their mappings to be unmapped, and only then
 * unpins the pages.  Afterwards the dma-buf stays valid as an object but
 * cannot be attached or mapped again (ENOLINK).  Importers that pin the
 * buffer (``dma_buf_pin()``) or attach without that callback are refused
 * with EOPNOTSUPP unless the module parameter ``allow_pinned_importers``
 * is set.  The dma-buf cannot be mmap()ed.  A pin is exported at most once
 * at a time.  Errors besides the general ones: ENOENT no such pin on this
 * lease, or it was revoked; EBUSY the pin's dma-buf still
 * exists; EPERM the pin belongs to another address space (a pin is
 * exported only by the process that made it); EMFILE, ENOMEM; ENOSPC the
 * caller's user holds max_user_owners owner entries.
 */
struct layoutlease_export {
	__u32 size;
	__u32 flags;
	__aligned_u64 pin_id;
	__s32 out_dmabuf_fd;
	__u32 __reserved;
};

#define LAYOUTLEASE_IOC_EXPORT _IO(LAYOUTLEASE_TYPE, LAYOUTLEASE_CMD_EXPORT)

/**
 * enum layoutlease_event_type - what a &struct layoutlease_event reports
 * @LAYOUTLEASE_EVENT_BREAK: the filesystem needs the blocks of the file
 *     back; unpin before @deadline_ns or the pins are revoked
 * @LAYOUTLEASE_EVENT_REVOKED: pin @pin_id was revoked at the deadline
 * @LAYOUTLEASE_EVENT_UNMAPPED: pin @pin_id was revoked because its mapping
 *     went away (munmap, mremap, exec, exit)
 * @LAYOUTLEASE_EVENT_BREAK_DONE: no pin remains; the filesystem goes on
 * @LAYOUTLEASE_EVENT_OVERFLOW: events were lost; the queue was full
 */
enum layoutlease_event_type {
	LAYOUTLEASE_EVENT_BREAK = 1,
	LAYOUTLEASE_EVENT_REVOKED,
	LAYOUTLEASE_EVENT_UNMAPPED,
	LAYOUTLEASE_EVENT_BREAK_DONE,
	LAYOUTLEASE_EVENT_OVERFLOW,
};

/**
 * struct layoutlease_event - a record read() from a lease fd
 * @type: &enum layoutlease_event_type
 * @__reserved: 0
 * @lease_id: the lease
 * @pin_id: the pin, for REVOKED and UNMAPPED; else 0
 * @offset: the range: the leased range for BREAK and BREAK_DONE, the pin's
 *          range for REVOKED and UNMAPPED
 * @length: see @offset
 * @deadline_ns: for BREAK: when the pins will be revoked, CLOCK_MONOTONIC
 * @time_ns: when the event happened, CLOCK_MONOTONIC
 *
 * read() returns whole records only (EINVAL for a buffer smaller than one),
 * blocks unless O_NONBLOCK (then EAGAIN).  Each process that has the lease
 * fd reads its own queue, made when it creates the lease, registers, pins,
 * exports, or first reads or polls; a read() or poll() through a file
 * table that does not hold the lease fd (an inherited epoll, an io_uring
 * fixed file) has no queue: EBADF, or EPOLLERR; so has a process whose
 * user holds max_user_owners owner entries: ENOSPC, or EPOLLERR.  A full
 * queue drops the newest events and ends with one OVERFLOW record.  A
 * record that cannot be copied out (EFAULT) stays queued.
 */
struct layoutlease_event {
	__u32 type;
	__u32 __reserved;
	__aligned_u64 lease_id;
	__aligned_u64 pin_id;
	__aligned_u64 offset;
	__aligned_u64 length;
	__aligned_u64 deadline_ns;
	__aligned_u64 time_ns;
};

#endif /* _UAPI_LINUX_LAYOUTLEASE_H */
