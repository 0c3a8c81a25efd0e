// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of /dev/layoutlease: the test bed itself (the DAX mounts are
 * DAX-active on both filesystems) and the ioctl contract of
 * LAYOUTLEASE_IOC_GET_INFO, which every later command follows.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "layoutlease_utils.h"

#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

/* The DAX mounts of the test bed, one variant per filesystem. */
FIXTURE(dax) {
	char path[256];
	int fd;
};

FIXTURE_VARIANT(dax) {
	const char *fs;
};

FIXTURE_VARIANT_ADD(dax, xfs) { .fs = "xfs" };
FIXTURE_VARIANT_ADD(dax, ext4) { .fs = "ext4" };

FIXTURE_SETUP(dax)
{
	snprintf(self->path, sizeof(self->path), "%s/ll-test.%d",
		 ll_mount(variant->fs), getpid());
	self->fd = open(self->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ftruncate(self->fd, 1 << 20));
}

FIXTURE_TEARDOWN(dax)
{
	close(self->fd);
	unlink(self->path);
}

/* The file system is mounted with -o dax=always and the file is DAX. */
TEST_F(dax, file_is_dax)
{
	struct statx stx;

	ASSERT_EQ(0, statx(self->fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx));
	ASSERT_TRUE(stx.stx_attributes_mask & STATX_ATTR_DAX);
	ASSERT_TRUE(stx.stx_attributes & STATX_ATTR_DAX);
}

FIXTURE(dev) {
	int fd;
};

FIXTURE_SETUP(dev)
{
	self->fd = ll_dev_open();
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(dev)
{
	close(self->fd);
}

/* The device is a character device that anyone may open. */
TEST_F(dev, node)
{
	struct stat st;

	ASSERT_EQ(0, fstat(self->fd, &st));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	ASSERT_EQ(0666, st.st_mode & 0777);
	ASSERT_EQ(10, major(st.st_rdev));	/* a misc device */
	ASSERT_EQ(-1, lseek(self->fd, 0, SEEK_SET));
	ASSERT_EQ(ESPIPE, errno);
}

TEST_F(dev, get_info)
{
	struct layoutlease_get_info info;

	test_ioctl_get_info(&info);
	ASSERT_EQ(sizeof(info), info.size);
	ASSERT_EQ(LAYOUTLEASE_API_VERSION, info.out_api_version);
	ASSERT_EQ(1ULL << (LAYOUTLEASE_CMD_GET_INFO - LAYOUTLEASE_CMD_BASE),
		  info.out_commands & (1ULL << (LAYOUTLEASE_CMD_GET_INFO -
					       LAYOUTLEASE_CMD_BASE)));
	ASSERT_EQ(0, info.out_get_info_flags);
	ASSERT_EQ(0, info.__reserved);
}

/* Every size from 0 to the first version's minus one is refused. */
TEST_F(dev, get_info_length)
{
	size_t min = offsetof(struct layoutlease_get_info, out_get_info_flags) +
		     sizeof(__u64);
	struct {
		struct layoutlease_get_info info;
		__u64 extra[4];
	} big;
	struct layoutlease_get_info info;
	size_t size;

	for (size = 0; size < min; size++)
		test_err_get_info(EINVAL, &info, size, 0);

	/* A larger struct with a zero tail works; the tail is left alone. */
	memset(&big, 0, sizeof(big));
	big.info.size = sizeof(big);
	ASSERT_EQ(0, ioctl(self->fd, LAYOUTLEASE_IOC_GET_INFO, &big));
	ASSERT_EQ(LAYOUTLEASE_API_VERSION, big.info.out_api_version);
	ASSERT_EQ(0, big.extra[0] | big.extra[1] | big.extra[2] | big.extra[3]);

	/* A non-zero byte the kernel does not know: E2BIG, nothing written. */
	memset(&big, 0, sizeof(big));
	big.info.size = sizeof(big);
	big.extra[3] = 1;
	EXPECT_ERRNO(E2BIG, ioctl(self->fd, LAYOUTLEASE_IOC_GET_INFO, &big));
	ASSERT_EQ(0, big.info.out_api_version);

	/*
	 * A program built against an older header that had a shorter struct:
	 * the output stops at its size.
	 */
	memset(&big, 0xff, sizeof(big));
	memset(&big.info, 0, min);
	big.info.size = min;
	ASSERT_EQ(0, ioctl(self->fd, LAYOUTLEASE_IOC_GET_INFO, &big));
	ASSERT_EQ(0xffffffffffffffffULL, big.extra[0]);
}

TEST_F(dev, get_info_flags_and_reserved)
{
	struct layoutlease_get_info info;
	int bit;

	for (bit = 0; bit < 32; bit++)
		test_err_get_info(EOPNOTSUPP, &info, sizeof(info), 1U << bit);

	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	info.__reserved = 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, LAYOUTLEASE_IOC_GET_INFO, &info));
	ASSERT_EQ(0, info.out_api_version);
}

TEST_F(dev, bad_pointer)
{
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, LAYOUTLEASE_IOC_GET_INFO, NULL));
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, LAYOUTLEASE_IOC_GET_INFO,
				   (void *)16));
}

/* Unknown command numbers, other ioctl types and encodings: ENOTTY. */
TEST_F(dev, unknown_commands)
{
	struct layoutlease_get_info info = { .size = sizeof(info) };
	unsigned int nr;

	for (nr = 0; nr < 256; nr++) {
		/* Commands of lease fds are unknown on the device. */
		if (nr == LAYOUTLEASE_CMD_GET_INFO ||
		    nr == LAYOUTLEASE_CMD_LEASE_CREATE)
			continue;
		EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO(LAYOUTLEASE_TYPE, nr),
					   &info));
	}
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO(LAYOUTLEASE_TYPE + 1,
						 LAYOUTLEASE_CMD_GET_INFO), &info));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IOWR(LAYOUTLEASE_TYPE,
						   LAYOUTLEASE_CMD_GET_INFO,
						   struct layoutlease_get_info),
				   &info));
	ASSERT_EQ(0, info.out_api_version);
}

/* The device fd does not pin the module beyond its life. */
TEST(open_close_many)
{
	int i, fd;

	for (i = 0; i < 1000; i++) {
		fd = ll_dev_open();
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, close(fd));
	}
}

TEST_HARNESS_MAIN
