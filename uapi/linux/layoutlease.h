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
 * Every ioctl of /dev/layoutlease (and, later, of lease fds) is
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
 *  - ENOTTY: unknown command number.
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
};

/**
 * LAYOUTLEASE_API_VERSION - version of the interface described here
 *
 * Raised when a command or a flag is added; user space should probe
 * features with the masks of &struct layoutlease_get_info rather than by
 * comparing versions.
 */
#define LAYOUTLEASE_API_VERSION 1

/**
 * struct layoutlease_get_info - ioctl(LAYOUTLEASE_IOC_GET_INFO)
 * @size: sizeof(struct layoutlease_get_info)
 * @flags: Must be 0
 * @out_api_version: LAYOUTLEASE_API_VERSION of the running module
 * @__reserved: Must be 0
 * @out_commands: bit (n - LAYOUTLEASE_CMD_BASE) is set for every command n
 *                this module accepts, on the device or on lease fds
 * @out_get_info_flags: flags accepted by LAYOUTLEASE_IOC_GET_INFO
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
};

#define LAYOUTLEASE_IOC_GET_INFO _IO(LAYOUTLEASE_TYPE, LAYOUTLEASE_CMD_GET_INFO)

#endif /* _UAPI_LINUX_LAYOUTLEASE_H */
