// SPDX-License-Identifier: GPL-2.0
/*
 * layoutlease: revocable long-term device access to DAX file memory.
 *
 * This file holds the module's entry points and the ioctl dispatch of
 * /dev/layoutlease, modelled on drivers/iommu/iommufd/main.c: one table
 * entry per command with the size of its first version (offsetofend of its
 * last field then), the supported flags and one small function.  The table
 * is the single source of truth for LAYOUTLEASE_IOC_GET_INFO.
 *
 * Copyright (C) 2026 The layoutlease authors
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/stddef.h>
#include <linux/uaccess.h>

#include "layoutlease.h"

/*
 * Break timeouts.  The default gives a process time to deregister its
 * memory regions (milliseconds for an RDMA driver) even under load; the cap
 * bounds how long any truncate on a leased file can be held up.
 */
unsigned int ll_default_break_timeout_ms = 5000;
module_param_named(default_break_timeout_ms, ll_default_break_timeout_ms,
		   uint, 0644);
MODULE_PARM_DESC(default_break_timeout_ms,
		 "Break timeout of a lease that asks for 0 (ms, default 5000)");
unsigned int ll_max_break_timeout_ms = 30000;
module_param_named(max_break_timeout_ms, ll_max_break_timeout_ms, uint, 0644);
MODULE_PARM_DESC(max_break_timeout_ms,
		 "Cap of the break timeout of any lease (ms, default 30000)");

/*
 * Copy the kernel's struct back, truncated to what user space knows.  It
 * comes after the command took effect, so its failure is every command's
 * last error path: fail_function can make it fail (faultinj_test).
 */
noinline int ll_ucmd_respond(struct ll_ucmd *ucmd, size_t cmd_len)
{
	if (copy_to_user(ucmd->ubuffer, ucmd->cmd,
			 min_t(size_t, ucmd->user_size, cmd_len)))
		return -EFAULT;
	return 0;
}
ALLOW_ERROR_INJECTION(ll_ucmd_respond, ERRNO);

static int ll_get_info(struct ll_ucmd *ucmd);

/* Every command struct, so that the dispatcher has room for any of them. */
union ll_ucmd_buffer {
	struct layoutlease_get_info get_info;
	struct layoutlease_lease_create lease_create;
	struct layoutlease_pin pin;
	struct layoutlease_unpin unpin;
	struct layoutlease_owner owner;
	struct layoutlease_export export;
};

/**
 * struct ll_ioctl_op - a command of the dispatch table
 * @size: sizeof the kernel's struct
 * @min_size: size of the command's first version
 * @ioctl_num: the full ioctl number
 * @flags: the flags the command supports
 * @lease_fd: the command works on lease fds, else on /dev/layoutlease
 * @execute: the command; the struct is copied in and its flags checked
 */
struct ll_ioctl_op {
	unsigned int size;
	unsigned int min_size;
	unsigned int ioctl_num;
	u32 flags;
	bool lease_fd;
	int (*execute)(struct ll_ucmd *ucmd);
};

#define LL_IOCTL_OP(_cmd, _fn, _struct, _last, _flags, _lease_fd)              \
	[LAYOUTLEASE_CMD_##_cmd - LAYOUTLEASE_CMD_BASE] = {                    \
		.size = sizeof(_struct) +                                      \
			BUILD_BUG_ON_ZERO(sizeof(union ll_ucmd_buffer) <       \
					  sizeof(_struct)),                    \
		.min_size = offsetofend(_struct, _last),                       \
		.ioctl_num = LAYOUTLEASE_IOC_##_cmd,                           \
		.flags = _flags,                                               \
		.lease_fd = _lease_fd,                                         \
		.execute = _fn,                                                \
	}

static const struct ll_ioctl_op ll_ioctl_ops[] = {
	LL_IOCTL_OP(GET_INFO, ll_get_info,
		    struct layoutlease_get_info, out_get_info_flags, 0, false),
	LL_IOCTL_OP(LEASE_CREATE, ll_lease_create,
		    struct layoutlease_lease_create, out_lease_id,
		    LAYOUTLEASE_LEASE_NONBLOCK | LAYOUTLEASE_LEASE_EXCLUSIVE,
		    false),
	LL_IOCTL_OP(PIN, ll_pin_ioctl, struct layoutlease_pin, out_offset,
		    LAYOUTLEASE_PIN_NONBLOCK, true),
	LL_IOCTL_OP(UNPIN, ll_unpin_ioctl, struct layoutlease_unpin, pin_id,
		    0, true),
	LL_IOCTL_OP(OWNER, ll_owner_ioctl, struct layoutlease_owner, signal,
		    0, true),
	LL_IOCTL_OP(EXPORT, ll_export_ioctl, struct layoutlease_export,
		    __reserved, 0, true),
};

/* Both size and flags lead every struct: the dispatcher checks them. */
struct ll_cmd_header {
	u32 size;
	u32 flags;
};

static const struct ll_ioctl_op *ll_ioctl_op(unsigned int cmd)
{
	unsigned int nr = _IOC_NR(cmd);
	const struct ll_ioctl_op *op;

	if (_IOC_TYPE(cmd) != LAYOUTLEASE_TYPE || nr < LAYOUTLEASE_CMD_BASE ||
	    nr - LAYOUTLEASE_CMD_BASE >= ARRAY_SIZE(ll_ioctl_ops))
		return NULL;
	op = &ll_ioctl_ops[nr - LAYOUTLEASE_CMD_BASE];
	if (!op->execute || op->ioctl_num != cmd)
		return NULL;
	return op;
}

static int ll_get_info(struct ll_ucmd *ucmd)
{
	struct layoutlease_get_info *info = ucmd->cmd;
	unsigned int i;

	if (info->__reserved)
		return -EINVAL;

	info->out_api_version = LAYOUTLEASE_API_VERSION;
	info->out_commands = 0;
	for (i = 0; i < ARRAY_SIZE(ll_ioctl_ops); i++)
		if (ll_ioctl_ops[i].execute)
			info->out_commands |= BIT_ULL(i);
	info->out_get_info_flags = ll_ioctl_op(LAYOUTLEASE_IOC_GET_INFO)->flags;
	info->out_lease_create_flags =
		ll_ioctl_op(LAYOUTLEASE_IOC_LEASE_CREATE)->flags;
	info->out_pin_flags = ll_ioctl_op(LAYOUTLEASE_IOC_PIN)->flags;
	info->out_unpin_flags = ll_ioctl_op(LAYOUTLEASE_IOC_UNPIN)->flags;
	info->out_owner_flags = ll_ioctl_op(LAYOUTLEASE_IOC_OWNER)->flags;
	info->out_export_flags = ll_ioctl_op(LAYOUTLEASE_IOC_EXPORT)->flags;
	info->out_default_break_timeout_ms =
		min(ll_default_break_timeout_ms, ll_max_break_timeout_ms);
	info->out_max_break_timeout_ms = ll_max_break_timeout_ms;
	return ll_ucmd_respond(ucmd, sizeof(*info));
}

/* The ioctl of /dev/layoutlease and of lease fds. */
long ll_dispatch(struct file *filp, unsigned int cmd, unsigned long arg,
		 bool lease_fd)
{
	const struct ll_ioctl_op *op = ll_ioctl_op(cmd);
	union ll_ucmd_buffer buf;
	struct ll_cmd_header *hdr = (struct ll_cmd_header *)&buf;
	struct ll_ucmd ucmd = {
		.ubuffer = (void __user *)arg,
		.cmd = &buf,
		.filp = filp,
	};
	int ret;

	BUILD_BUG_ON(offsetof(struct layoutlease_get_info, flags) !=
		     offsetof(struct ll_cmd_header, flags));
	BUILD_BUG_ON(offsetof(struct layoutlease_pin, flags) !=
		     offsetof(struct ll_cmd_header, flags));

	if (!op || op->lease_fd != lease_fd)
		return -ENOIOCTLCMD;
	if (get_user(ucmd.user_size, (u32 __user *)ucmd.ubuffer))
		return -EFAULT;
	if (ucmd.user_size < op->min_size)
		return -EINVAL;
	ret = copy_struct_from_user(ucmd.cmd, op->size, ucmd.ubuffer,
				    ucmd.user_size);
	if (ret)
		return ret;
	if (hdr->flags & ~op->flags)
		return -EOPNOTSUPP;
	return op->execute(&ucmd);
}

static long ll_dev_ioctl(struct file *filp, unsigned int cmd,
			 unsigned long arg)
{
	return ll_dispatch(filp, cmd, arg, false);
}

static const struct file_operations ll_dev_fops = {
	.owner = THIS_MODULE,
	.open = nonseekable_open,
	.unlocked_ioctl = ll_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

/*
 * Anyone may open the device: what a lease may cover is decided per file,
 * as for fcntl(F_SETLEASE), and pins are charged to the caller's
 * RLIMIT_MEMLOCK.  Administrators who want less can change the mode with a
 * udev rule.
 */
static struct miscdevice ll_miscdev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "layoutlease",
	.fops = &ll_dev_fops,
	.mode = 0666,
};

static int __init ll_init(void)
{
	int ret;

	ret = ll_break_init();
	if (ret)
		return ret;
	ret = ll_hooks_init();
	if (ret)
		goto out_break;
	ret = ll_proc_init();
	if (ret)
		goto out_hooks;
	ret = misc_register(&ll_miscdev);
	if (ret) {
		pr_err("cannot register /dev/%s: %d\n", ll_miscdev.name, ret);
		goto out_proc;
	}
	pr_info("api %d ready\n", LAYOUTLEASE_API_VERSION);
	return 0;

out_proc:
	ll_proc_exit();
out_hooks:
	ll_hooks_exit();
out_break:
	ll_break_exit();
	return ret;
}

static void __exit ll_exit(void)
{
	misc_deregister(&ll_miscdev);
	ll_proc_exit();
	ll_hooks_exit();
	ll_break_exit();
	ll_users_exit();
}

module_init(ll_init);
module_exit(ll_exit);

MODULE_DESCRIPTION("Revocable long-term device access to DAX file memory");
MODULE_AUTHOR("The layoutlease authors");
MODULE_LICENSE("GPL");
