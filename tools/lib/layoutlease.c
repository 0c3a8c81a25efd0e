// SPDX-License-Identifier: GPL-2.0
/* liblayoutlease: see layoutlease.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "layoutlease.h"

int ll_open(void)
{
	int fd = open(LAYOUTLEASE_DEVICE, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int ll_get_info(int devfd, struct layoutlease_get_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return ioctl(devfd, LAYOUTLEASE_IOC_GET_INFO, info) ? -errno : 0;
}

int ll_lease_create(int devfd, int fd, unsigned long long offset,
		    unsigned long long length, unsigned int timeout_ms,
		    unsigned int flags)
{
	struct layoutlease_lease_create cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.fd = fd,
		.break_timeout_ms = timeout_ms,
		.offset = offset,
		.length = length,
	};

	return ioctl(devfd, LAYOUTLEASE_IOC_LEASE_CREATE, &cmd) ? -errno :
								 cmd.out_lease_fd;
}

int ll_pin(int lease_fd, void *addr, unsigned long long length,
	   unsigned int flags, unsigned long long *pin_id)
{
	struct layoutlease_pin cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.addr = (uintptr_t)addr,
		.length = length,
	};

	if (ioctl(lease_fd, LAYOUTLEASE_IOC_PIN, &cmd))
		return -errno;
	if (pin_id)
		*pin_id = cmd.out_pin_id;
	return 0;
}

int ll_unpin(int lease_fd, unsigned long long pin_id)
{
	struct layoutlease_unpin cmd = { .size = sizeof(cmd), .pin_id = pin_id };

	return ioctl(lease_fd, LAYOUTLEASE_IOC_UNPIN, &cmd) ? -errno : 0;
}

int ll_export(int lease_fd, unsigned long long pin_id)
{
	struct layoutlease_export cmd = { .size = sizeof(cmd), .pin_id = pin_id };

	return ioctl(lease_fd, LAYOUTLEASE_IOC_EXPORT, &cmd) ? -errno :
							      cmd.out_dmabuf_fd;
}

int ll_owner(int lease_fd, int sig)
{
	struct layoutlease_owner cmd = {
		.size = sizeof(cmd), .fd = lease_fd, .signal = sig,
	};

	return ioctl(lease_fd, LAYOUTLEASE_IOC_OWNER, &cmd) ? -errno : 0;
}

int ll_read_event(int lease_fd, struct layoutlease_event *ev)
{
	ssize_t n = read(lease_fd, ev, sizeof(*ev));

	if (n < 0)
		return -errno;
	return n == sizeof(*ev) ? 0 : -EIO;
}

const char *ll_event_name(unsigned int type)
{
	switch (type) {
	case LAYOUTLEASE_EVENT_BREAK:
		return "BREAK";
	case LAYOUTLEASE_EVENT_REVOKED:
		return "REVOKED";
	case LAYOUTLEASE_EVENT_UNMAPPED:
		return "UNMAPPED";
	case LAYOUTLEASE_EVENT_BREAK_DONE:
		return "BREAK_DONE";
	case LAYOUTLEASE_EVENT_OVERFLOW:
		return "OVERFLOW";
	}
	return "?";
}

const char *ll_command_name(unsigned int nr)
{
	switch (nr) {
	case LAYOUTLEASE_CMD_GET_INFO:
		return "GET_INFO";
	case LAYOUTLEASE_CMD_LEASE_CREATE:
		return "LEASE_CREATE";
	case LAYOUTLEASE_CMD_PIN:
		return "PIN";
	case LAYOUTLEASE_CMD_UNPIN:
		return "UNPIN";
	case LAYOUTLEASE_CMD_OWNER:
		return "OWNER";
	case LAYOUTLEASE_CMD_EXPORT:
		return "EXPORT";
	}
	return NULL;
}
