/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the layoutlease selftests, in the manner of
 * tools/testing/selftests/iommu/iommufd_utils.h: for every ioctl a triplet
 * _test_x() (returns 0 or -1 with errno), test_x() (asserts success) and
 * test_err_x() (asserts the given errno).
 */
#ifndef _LAYOUTLEASE_UTILS_H
#define _LAYOUTLEASE_UTILS_H

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/layoutlease.h>

#include "kselftest_harness.h"

/* Assert that a call failed with the given errno. */
#define EXPECT_ERRNO(expected_errno, cmd)                                      \
	({                                                                     \
		ASSERT_EQ(-1, cmd);                                            \
		EXPECT_EQ(expected_errno, errno);                              \
	})

static inline int ll_open(void)
{
	return open(LAYOUTLEASE_DEVICE, O_RDWR | O_CLOEXEC);
}

/* The mounts that scripts/vm-guest.sh prepared. */
static inline const char *ll_mount(const char *fs)
{
	const char *dir = getenv(strcmp(fs, "xfs") ? "LL_EXT4" : "LL_XFS");

	return dir ? dir : (strcmp(fs, "xfs") ? "/mnt/ext4" : "/mnt/xfs");
}

static inline int _test_ioctl_get_info(int fd, struct layoutlease_get_info *info,
				       __u32 size, __u32 flags)
{
	memset(info, 0, sizeof(*info));
	info->size = size;
	info->flags = flags;
	return ioctl(fd, LAYOUTLEASE_IOC_GET_INFO, info);
}

#define test_ioctl_get_info(info)                                              \
	ASSERT_EQ(0, _test_ioctl_get_info(self->fd, info, sizeof(*(info)), 0))

#define test_err_get_info(_errno, info, size, flags)                           \
	EXPECT_ERRNO(_errno, _test_ioctl_get_info(self->fd, info, size, flags))

#endif /* _LAYOUTLEASE_UTILS_H */
