// SPDX-License-Identifier: GPL-2.0
/* liblayoutlease: see layoutlease.h. */
#include <errno.h>
#include <fcntl.h>
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

const char *ll_command_name(unsigned int nr)
{
	switch (nr) {
	case LAYOUTLEASE_CMD_GET_INFO:
		return "GET_INFO";
	}
	return NULL;
}
