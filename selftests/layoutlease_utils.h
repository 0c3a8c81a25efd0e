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
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/layoutlease.h>

#include "kselftest_harness.h"

/*
 * The deadline of a holder that unpins when told: never reached, however
 * slow the guest (a KASAN guest under TCG beside other VMs took over
 * 300 ms from a break to the holder's unpin).  Short deadlines are for
 * tests that want the revocation.
 */
#define COOP_TIMEOUT_MS 20000

/*
 * The fuzzer's and the race stress's PRNG, one state per thread:
 * xorshift64*, seeded through splitmix64.
 */
static __thread __u64 ll_rs;

static inline void ll_rnd_seed(__u64 s)
{
	s += 0x9e3779b97f4a7c15ULL;
	s = (s ^ (s >> 30)) * 0xbf58476d1ce4e5b9ULL;
	s = (s ^ (s >> 27)) * 0x94d049bb133111ebULL;
	ll_rs = (s ^ (s >> 31)) | 1;
}

static inline __u64 ll_rnd(void)
{
	ll_rs ^= ll_rs >> 12;
	ll_rs ^= ll_rs << 25;
	ll_rs ^= ll_rs >> 27;
	return ll_rs * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n), 0 if n <= 0. */
static inline long ll_rn(long n)
{
	return n > 0 ? (long)(ll_rnd() % n) : 0;
}

/* Assert that a call failed with the given errno. */
#define EXPECT_ERRNO(expected_errno, cmd)                                      \
	({                                                                     \
		ASSERT_EQ(-1, cmd);                                            \
		EXPECT_EQ(expected_errno, errno);                              \
	})

static inline int ll_dev_open(void)
{
	return open(LAYOUTLEASE_DEVICE, O_RDWR | O_CLOEXEC);
}

/* The mounts that scripts/vm-guest.sh prepared. */
static inline const char *ll_mount(const char *fs)
{
	const char *dir = getenv(strcmp(fs, "xfs") ? "LL_EXT4" : "LL_XFS");

	return dir ? dir : (strcmp(fs, "xfs") ? "/mnt/ext4" : "/mnt/xfs");
}

static inline long long ll_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The next record of @lease_fd within @ms, or one of type 0. */
static inline struct layoutlease_event ll_next_event(int lease_fd, int ms)
{
	struct layoutlease_event ev = { 0 };
	struct pollfd p = { .fd = lease_fd, .events = POLLIN };
	long long end = ll_now_ms() + ms;
	int ret;

	do {	/* the break's own signal may interrupt the poll */
		long long left = end - ll_now_ms();

		ret = poll(&p, 1, left > 0 ? left : 0);
	} while (ret < 0 && errno == EINTR);
	if (ret == 1 && (p.revents & POLLIN) &&
	    read(lease_fd, &ev, sizeof(ev)) != sizeof(ev))
		ev.type = 0;
	return ev;
}

/* The running kernel is @major.@minor or newer. */
static inline bool ll_kernel_at_least(int major, int minor)
{
	struct utsname u;
	int a = 0, b = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &a, &b) != 2)
		return false;
	return a > major || (a == major && b >= minor);
}

/* Truncate @path to @size in a child process; its exit code says how. */
static inline pid_t ll_truncate_child(const char *path, off_t size)
{
	pid_t pid = fork();

	if (!pid)
		_exit(truncate(path, size) ? 1 : 0);
	return pid;
}

/* Wait for child @pid: its exit code, or -1 if it did not exit. */
static inline int ll_wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
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

static inline int _test_cmd_lease_create(int devfd, int fd, __u64 offset,
					 __u64 length, __u32 timeout_ms,
					 __u32 flags, int *lease_fd)
{
	struct layoutlease_lease_create cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.fd = fd,
		.break_timeout_ms = timeout_ms,
		.offset = offset,
		.length = length,
		.out_lease_fd = -1,
	};
	int ret = ioctl(devfd, LAYOUTLEASE_IOC_LEASE_CREATE, &cmd);

	if (!ret && lease_fd)
		*lease_fd = cmd.out_lease_fd;
	return ret;
}

#define test_cmd_lease_create(fd, off, len, timeout, lease_fd)                 \
	ASSERT_EQ(0, _test_cmd_lease_create(self->devfd, fd, off, len, timeout,\
					    0, lease_fd))

#define test_err_lease_create(_errno, fd, off, len, timeout, flags)            \
	EXPECT_ERRNO(_errno, _test_cmd_lease_create(self->devfd, fd, off, len, \
						    timeout, flags, NULL))

static inline int _test_cmd_pin(int lease_fd, void *addr, __u64 length,
				__u32 flags, __u64 *pin_id)
{
	struct layoutlease_pin cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.addr = (uintptr_t)addr,
		.length = length,
	};
	int ret = ioctl(lease_fd, LAYOUTLEASE_IOC_PIN, &cmd);

	if (!ret && pin_id)
		*pin_id = cmd.out_pin_id;
	return ret;
}

#define test_cmd_pin(lease_fd, addr, len, pin_id)                              \
	ASSERT_EQ(0, _test_cmd_pin(lease_fd, addr, len, 0, pin_id))

#define test_err_pin(_errno, lease_fd, addr, len, flags)                       \
	EXPECT_ERRNO(_errno, _test_cmd_pin(lease_fd, addr, len, flags, NULL))

static inline int _test_cmd_unpin(int lease_fd, __u64 pin_id)
{
	struct layoutlease_unpin cmd = { .size = sizeof(cmd), .pin_id = pin_id };

	return ioctl(lease_fd, LAYOUTLEASE_IOC_UNPIN, &cmd);
}

#define test_cmd_unpin(lease_fd, pin_id)                                       \
	ASSERT_EQ(0, _test_cmd_unpin(lease_fd, pin_id))

#define test_err_unpin(_errno, lease_fd, pin_id)                               \
	EXPECT_ERRNO(_errno, _test_cmd_unpin(lease_fd, pin_id))

static inline int _test_cmd_owner(int lease_fd, int fd, __u32 sig)
{
	struct layoutlease_owner cmd = {
		.size = sizeof(cmd), .fd = fd, .signal = sig,
	};

	return ioctl(lease_fd, LAYOUTLEASE_IOC_OWNER, &cmd);
}

#define test_cmd_owner(lease_fd, sig)                                          \
	ASSERT_EQ(0, _test_cmd_owner(lease_fd, lease_fd, sig))

#define test_err_owner(_errno, lease_fd, fd, sig)                              \
	EXPECT_ERRNO(_errno, _test_cmd_owner(lease_fd, fd, sig))

static inline int _test_cmd_export(int lease_fd, __u64 pin_id, __u32 flags,
				   int *dmabuf_fd)
{
	struct layoutlease_export cmd = {
		.size = sizeof(cmd), .flags = flags, .pin_id = pin_id,
		.out_dmabuf_fd = -1,
	};
	int ret = ioctl(lease_fd, LAYOUTLEASE_IOC_EXPORT, &cmd);

	if (!ret && dmabuf_fd)
		*dmabuf_fd = cmd.out_dmabuf_fd;
	return ret;
}

#define test_cmd_export(lease_fd, pin_id, dmabuf_fd)                           \
	ASSERT_EQ(0, _test_cmd_export(lease_fd, pin_id, 0, dmabuf_fd))
#define test_err_export(_errno, lease_fd, pin_id, flags)                       \
	EXPECT_ERRNO(_errno, _test_cmd_export(lease_fd, pin_id, flags, NULL))

/* Leases in /proc/layoutleases. */
static inline int ll_proc_leases(void)
{
	char line[512];
	FILE *f = fopen("/proc/layoutleases", "r");
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += !strncmp(line, "lease ", 6);
	fclose(f);
	return n;
}

/* The layoutlease module's reference count. */
static inline int ll_module_refs(void)
{
	FILE *f = fopen("/sys/module/layoutlease/refcnt", "r");
	int n = -1;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/* Pass @fd over the unix socket @sock (SCM_RIGHTS). */
static inline int ll_send_fd(int sock, int fd)
{
	char c = 0, cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

/* An fd passed by ll_send_fd(), or -1. */
static inline int ll_recv_fd(int sock)
{
	char c, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

#endif /* _LAYOUTLEASE_UTILS_H */
