// SPDX-License-Identifier: GPL-2.0
/*
 * Operations that move or free a file's blocks without the filesystem's
 * busy-page scan (Documentation/hooks.rst, the block-moving audit): each
 * must break the lease first, bounded by the timeout, like truncate.
 */
#define _GNU_SOURCE
#include <linux/fs.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <xfs/xfs.h>

#include "layoutlease_utils.h"

/* From the kernel's <linux/ext4.h> (uapi), which older libc headers lack. */
struct move_extent {
	__u32 reserved;
	__u32 donor_fd;
	__u64 orig_start;
	__u64 donor_start;
	__u64 len;
	__u64 moved_len;
};

#define EXT4_IOC_MOVE_EXT _IOWR('f', 15, struct move_extent)
#define EXT4_IOC_SWAP_BOOT _IO('f', 17)

#define NPAGES 16
#define TIMEOUT_MS 300

static long page_size;

/* A new file at @path of @len bytes of @byte, on disk: its fd, or -1. */
static int open_filled(const char *path, int byte, size_t len)
{
	char *buf = malloc(len);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd >= 0 && (!buf ||
			pwrite(fd, memset(buf, byte, len), len, 0) != (ssize_t)len ||
			fsync(fd))) {
		close(fd);
		fd = -1;
	}
	free(buf);
	return fd;
}

/* Which of the two files is leased and pinned. */
FIXTURE(swapext) {
	int devfd;
	int fd[2];		/* target, tmp */
	char path[2][256];
	int lease_fd;
	char *map;
	size_t len;
};

FIXTURE_VARIANT(swapext) {
	int pinned;		/* 0: the target, 1: the tmp file */
};

FIXTURE_VARIANT_ADD(swapext, target_pinned) { .pinned = 0 };
FIXTURE_VARIANT_ADD(swapext, tmp_pinned) { .pinned = 1 };

FIXTURE_SETUP(swapext)
{
	int i;

	page_size = sysconf(_SC_PAGESIZE);
	self->len = NPAGES * page_size;
	self->devfd = ll_dev_open();
	ASSERT_LE(0, self->devfd);
	for (i = 0; i < 2; i++) {
		snprintf(self->path[i], sizeof(self->path[i]), "%s/swapext%d.%d",
			 ll_mount("xfs"), i, getpid());
		self->fd[i] = open_filled(self->path[i], i ? 0xa5 : 0x5a, self->len);
		ASSERT_LE(0, self->fd[i]);
	}
	i = variant->pinned;
	self->map = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd[i], 0);
	ASSERT_NE(MAP_FAILED, self->map);
	test_cmd_lease_create(self->fd[i], 0, self->len, TIMEOUT_MS,
			      &self->lease_fd);
}

FIXTURE_TEARDOWN(swapext)
{
	int i;

	if (self->map != MAP_FAILED)
		munmap(self->map, self->len);
	close(self->lease_fd);
	for (i = 0; i < 2; i++) {
		close(self->fd[i]);
		unlink(self->path[i]);
	}
	close(self->devfd);
}

/* XFS_IOC_SWAPEXT of target and tmp in a child; its exit code: 0 done. */
static pid_t swapext_child(int target, int tmp, size_t len)
{
	pid_t pid = fork();

	if (!pid) {
		struct xfs_swapext sx = {
			.sx_version = XFS_SX_VERSION,
			.sx_fdtarget = target,
			.sx_fdtmp = tmp,
			.sx_offset = 0,
			.sx_length = len,
		};
		struct stat st;

		if (fstat(target, &st))
			_exit(10);
		sx.sx_stat.bs_ctime.tv_sec = st.st_ctim.tv_sec;
		sx.sx_stat.bs_ctime.tv_nsec = st.st_ctim.tv_nsec;
		sx.sx_stat.bs_mtime.tv_sec = st.st_mtim.tv_sec;
		sx.sx_stat.bs_mtime.tv_nsec = st.st_mtim.tv_nsec;
		_exit(ioctl(tmp, XFS_IOC_SWAPEXT, &sx) ? errno : 0);
	}
	return pid;
}

/* The holder unpins at the break: the swap goes on at once. */
TEST_F(swapext, breaks_cooperative)
{
	struct layoutlease_event ev;
	long long t0;
	__u64 id;
	pid_t pid;

	close(self->lease_fd);
	test_cmd_lease_create(self->fd[variant->pinned], 0, self->len,
			      COOP_TIMEOUT_MS, &self->lease_fd);

	test_cmd_pin(self->lease_fd, self->map, self->len, &id);
	t0 = ll_now_ms();
	pid = swapext_child(self->fd[0], self->fd[1], self->len);
	ev = ll_next_event(self->lease_fd, 5000);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, ev.type)
		TH_LOG("XFS_IOC_SWAPEXT started no break");
	test_cmd_unpin(self->lease_fd, id);
	ASSERT_EQ(0, ll_wait_child(pid));
	/* Not revoked (the unpin found the pin): no deadline waited for. */
	ASSERT_GT(COOP_TIMEOUT_MS, ll_now_ms() - t0);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK_DONE,
		  ll_next_event(self->lease_fd, 1000).type);
	/* The data forks were swapped. */
	ASSERT_EQ(variant->pinned ? 0x5a : (char)0xa5, self->map[0]);
}

/* The holder ignores the break: revoked at the deadline, then the swap. */
TEST_F(swapext, breaks_forced)
{
	struct layoutlease_event ev;
	long long t0, t;
	__u64 id;
	pid_t pid;

	test_cmd_pin(self->lease_fd, self->map, self->len, &id);
	t0 = ll_now_ms();
	pid = swapext_child(self->fd[0], self->fd[1], self->len);
	ev = ll_next_event(self->lease_fd, 5000);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, ev.type);
	ASSERT_EQ(0, ll_wait_child(pid));
	t = ll_now_ms() - t0;
	TH_LOG("swap took %lld ms with a %d ms timeout", t, TIMEOUT_MS);
	ASSERT_LE(TIMEOUT_MS - 20, t);
	ASSERT_GT(TIMEOUT_MS + 10000, t);
	ev = ll_next_event(self->lease_fd, 1000);
	ASSERT_EQ(LAYOUTLEASE_EVENT_REVOKED, ev.type);
	ASSERT_EQ(id, ev.pin_id);
	test_err_unpin(ENOENT, self->lease_fd, id);
}

/* No pin, no break: the swap is not held up by a lease alone. */
TEST_F(swapext, lease_without_pin)
{
	long long t0;

	/* A long deadline: a swap held by the lease would show plainly. */
	close(self->lease_fd);
	test_cmd_lease_create(self->fd[variant->pinned], 0, self->len,
			      COOP_TIMEOUT_MS, &self->lease_fd);
	t0 = ll_now_ms();
	ASSERT_EQ(0, ll_wait_child(swapext_child(self->fd[0], self->fd[1],
						  self->len)));
	ASSERT_GT(COOP_TIMEOUT_MS, ll_now_ms() - t0);
	ASSERT_EQ(0, ll_next_event(self->lease_fd, 100).type);
}

/*
 * XFS with reflink=1 on the scratch pmem device (6.12 and later mount it
 * with dax=always; 6.1 refuses).  Reflink and dedupe break the lease of
 * both files, the source's too: a process that can only read a pinned
 * file can force its pins' revocation (Documentation/admin.rst).
 */
FIXTURE(reflink) {
	int devfd;
	int fd[2];		/* the pinned file, the other one */
	int lease_fd;
	char *map;
	size_t len;
	bool mounted;
};

FIXTURE_VARIANT(reflink) {
	bool pinned_is_dest;
	bool dedupe;
};

FIXTURE_VARIANT_ADD(reflink, clone_onto_pinned) { .pinned_is_dest = true };
FIXTURE_VARIANT_ADD(reflink, clone_from_pinned) { .pinned_is_dest = false };
FIXTURE_VARIANT_ADD(reflink, dedupe_onto_pinned) {
	.pinned_is_dest = true, .dedupe = true,
};
FIXTURE_VARIANT_ADD(reflink, dedupe_from_pinned) {
	.pinned_is_dest = false, .dedupe = true,
};

#define SCRATCH "/mnt/scratch"

FIXTURE_SETUP(reflink)
{
	const char *dev = getenv("LL_SCRATCH");
	char cmd[512], path[64];
	int i;

	self->map = MAP_FAILED;
	self->lease_fd = self->fd[0] = self->fd[1] = -1;
	page_size = sysconf(_SC_PAGESIZE);
	self->len = NPAGES * page_size;
	if (!dev)
		SKIP(return, "no scratch pmem device (LL_SCRATCH)");
	mkdir(SCRATCH, 0755);
	snprintf(cmd, sizeof(cmd), "mkfs.xfs -q -f -m reflink=1 %s && "
		 "mount -t xfs -o dax=always %s " SCRATCH " 2>/dev/null",
		 dev, dev);
	if (system(cmd))
		SKIP(return, "XFS with reflink cannot be mounted with DAX here");
	self->mounted = true;
	self->devfd = ll_dev_open();
	ASSERT_LE(0, self->devfd);
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), SCRATCH "/f%d", i);
		/* The same bytes: dedupe shares only equal ranges. */
		self->fd[i] = open_filled(path, 0x5a, self->len);
		ASSERT_LE(0, self->fd[i]);
	}
	self->map = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd[0], 0);
	ASSERT_NE(MAP_FAILED, self->map);
	test_cmd_lease_create(self->fd[0], 0, self->len, COOP_TIMEOUT_MS,
			      &self->lease_fd);
}

FIXTURE_TEARDOWN(reflink)
{
	if (!self->mounted)
		return;
	if (self->map != MAP_FAILED)
		munmap(self->map, self->len);
	close(self->lease_fd);
	close(self->fd[0]);
	close(self->fd[1]);
	close(self->devfd);
	if (system("umount " SCRATCH))
		TH_LOG("umount " SCRATCH " failed");
}

/* Clone or dedupe between @src and @dst in a child that opened them anew. */
static pid_t remap_child(const char *src, const char *dst, size_t len,
			 bool dedupe)
{
	pid_t pid = fork();

	if (!pid) {
		/* The source only read: that is all FICLONE asks of it. */
		int s = open(src, O_RDONLY), d = open(dst, O_RDWR);

		if (s < 0 || d < 0)
			_exit(10);
		if (dedupe) {
			struct {
				struct file_dedupe_range r;
				struct file_dedupe_range_info i;
			} a = {
				.r = { .src_offset = 0, .src_length = len,
				       .dest_count = 1 },
				.i = { .dest_fd = d, .dest_offset = 0 },
			};

			if (ioctl(s, FIDEDUPERANGE, &a))
				_exit(errno);
			_exit(a.i.status == FILE_DEDUPE_RANGE_SAME ? 0 : 11);
		}
		_exit(ioctl(d, FICLONE, s) ? errno : 0);
	}
	return pid;
}

TEST_F(reflink, breaks)
{
	const char *pinned = SCRATCH "/f0", *other = SCRATCH "/f1";
	struct layoutlease_event ev;
	long long t0;
	__u64 id;
	pid_t pid;

	test_cmd_pin(self->lease_fd, self->map, self->len, &id);
	t0 = ll_now_ms();
	pid = variant->pinned_is_dest ?
		remap_child(other, pinned, self->len, variant->dedupe) :
		remap_child(pinned, other, self->len, variant->dedupe);
	ev = ll_next_event(self->lease_fd, 5000);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, ev.type);
	test_cmd_unpin(self->lease_fd, id);
	ASSERT_EQ(0, ll_wait_child(pid));
	/* Not revoked (the unpin found the pin): no deadline waited for. */
	ASSERT_GT(COOP_TIMEOUT_MS, ll_now_ms() - t0);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK_DONE,
		  ll_next_event(self->lease_fd, 1000).type);
}

/*
 * ext4 refuses EXT4_IOC_MOVE_EXT of a DAX file but checks only the
 * original: on a dax=inode mount a DAX donor's blocks would move into a
 * plain file.  With the module both DAX roles are refused (EOPNOTSUPP).
 */
TEST(ext4_move_ext_dax_donor_refused)
{
	const char *dev = getenv("LL_SCRATCH");
	struct fsxattr fa;
	struct move_extent me = { 0 };
	char buf[65536];
	int dir, orig, donor, ret, err;

	if (!dev)
		SKIP(return, "no scratch pmem device (LL_SCRATCH)");
	mkdir(SCRATCH, 0755);
	snprintf(buf, sizeof(buf), "mkfs.ext4 -q -F -b 4096 %s && "
		 "mount -t ext4 -o dax=inode %s " SCRATCH, dev, dev);
	ASSERT_EQ(0, system(buf));
	/* Files made in a directory with FS_XFLAG_DAX are DAX. */
	ASSERT_EQ(0, mkdir(SCRATCH "/dax", 0755));
	dir = open(SCRATCH "/dax", O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, dir);
	ASSERT_EQ(0, ioctl(dir, FS_IOC_FSGETXATTR, &fa));
	fa.fsx_xflags |= FS_XFLAG_DAX;
	ASSERT_EQ(0, ioctl(dir, FS_IOC_FSSETXATTR, &fa));
	close(dir);
	orig = open(SCRATCH "/orig", O_RDWR | O_CREAT, 0600);
	donor = open(SCRATCH "/dax/donor", O_RDWR | O_CREAT, 0600);
	ASSERT_LE(0, orig);
	ASSERT_LE(0, donor);
	memset(buf, 0x5a, sizeof(buf));
	ASSERT_EQ(sizeof(buf), pwrite(orig, buf, sizeof(buf), 0));
	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(sizeof(buf), pwrite(donor, buf, sizeof(buf), 0));
	ASSERT_EQ(0, fsync(orig));
	ASSERT_EQ(0, fsync(donor));
	me.donor_fd = donor;
	me.len = sizeof(buf) / 4096;
	ret = ioctl(orig, EXT4_IOC_MOVE_EXT, &me);
	err = errno;
	close(orig);
	close(donor);
	ASSERT_EQ(0, system("umount " SCRATCH));
	ASSERT_EQ(-1, ret);
	ASSERT_EQ(EOPNOTSUPP, err);
	ASSERT_EQ(0, me.moved_len);
}

/* EXT4_IOC_SWAP_BOOT would move a DAX file's blocks to the boot inode. */
TEST(ext4_swap_boot_dax_refused)
{
	static char buf[65536];
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/swapboot.%d", ll_mount("ext4"), getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(sizeof(buf), pwrite(fd, buf, sizeof(buf), 0));
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(fd, EXT4_IOC_SWAP_BOOT));
	close(fd);
	unlink(path);
}

/*
 * swapon of a DAX file: the swap code would write straight to blocks that
 * pins give devices.  Stock kernels refuse it (EINVAL from the swap
 * activation on XFS and ext4, measured on 6.1, 6.12 and 7.2), leased or
 * not, and the lease and its pin are intact after.
 */
TEST(swapon_of_dax_refused)
{
	static const char *const fs[] = { "xfs", "ext4" };
	static char buf[1 << 20];
	char path[256], cmd[300];
	int i, j, devfd = ll_dev_open(), fd, lease_fd;
	__u64 id;
	char *m;

	ASSERT_LE(0, devfd);
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/swap.%d", ll_mount(fs[i]), getpid());
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		ASSERT_LE(0, fd);
		for (j = 0; j < 16; j++)
			ASSERT_EQ(sizeof(buf), write(fd, buf, sizeof(buf)));
		ASSERT_EQ(0, fsync(fd));
		snprintf(cmd, sizeof(cmd), "mkswap -q %s", path);
		ASSERT_EQ(0, system(cmd));
		if (swapon(path, 0) && errno == ENOSYS) {
			close(fd);
			unlink(path);
			close(devfd);
			SKIP(return, "no swap in this kernel");
		}
		EXPECT_EQ(EINVAL, errno);
		m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ASSERT_NE(MAP_FAILED, m);
		ASSERT_EQ(0, _test_cmd_lease_create(devfd, fd, 0, 1 << 20, 0, 0,
						    &lease_fd));
		ASSERT_EQ(0, _test_cmd_pin(lease_fd, m, 1 << 20, 0, &id));
		EXPECT_ERRNO(EINVAL, swapon(path, 0));
		EXPECT_EQ(0, _test_cmd_unpin(lease_fd, id));
		munmap(m, 1 << 20);
		close(lease_fd);
		close(fd);
		unlink(path);
	}
	close(devfd);
}

/* From the kernel's libxfs/xfs_fs.h (6.10+), which xfsprogs 6.1 lacks. */
struct ll_xfs_exchange_range {
	__s32 file1_fd;
	__u32 pad;
	__u64 file1_offset;
	__u64 file2_offset;
	__u64 length;
	__u64 flags;
};

#define LL_XFS_IOC_EXCHANGE_RANGE _IOW('X', 129, struct ll_xfs_exchange_range)
#define LL_STATX_ATTR_DAX 0x00200000

static bool is_dax(int fd)
{
	struct statx stx;

	return !statx(fd, "", AT_EMPTY_PATH, 0, &stx) &&
	       (stx.stx_attributes & LL_STATX_ATTR_DAX);
}

/*
 * XFS_IOC_EXCHANGE_RANGE of a DAX file and a plain one, on a dax=inode
 * mount: XFS scans for busy pages only when both are DAX, else it just
 * takes both invalidate_locks, which the module's wrapper turns into a
 * break (cooperative: the holder unpins; forced: revoked at the deadline).
 * Debian 12's mkfs.xfs cannot make the feature, so it is set with xfs_db
 * (an incompat bit of the superblock, XFS_SB_FEAT_INCOMPAT_EXCHRANGE).
 */
FIXTURE(exchange) {
	int devfd;
	int fd[2];		/* the DAX file, the plain one */
	int lease_fd;
	char *map;
	size_t len;
	bool mounted;
};

FIXTURE_VARIANT(exchange) {
	bool forced;
	int timeout_ms;
};

FIXTURE_VARIANT_ADD(exchange, cooperative) {
	.forced = false, .timeout_ms = COOP_TIMEOUT_MS,
};

FIXTURE_VARIANT_ADD(exchange, forced) {
	.forced = true, .timeout_ms = TIMEOUT_MS,
};

FIXTURE_SETUP(exchange)
{
	const char *dev = getenv("LL_SCRATCH");
	const char *path[2] = { SCRATCH "/dax/a", SCRATCH "/b" };
	struct fsxattr fa;
	char cmd[1024];
	int i, dir;

	self->map = MAP_FAILED;
	self->lease_fd = self->fd[0] = self->fd[1] = -1;
	page_size = sysconf(_SC_PAGESIZE);
	self->len = NPAGES * page_size;
	if (!dev)
		SKIP(return, "no scratch pmem device (LL_SCRATCH)");
	mkdir(SCRATCH, 0755);
	snprintf(cmd, sizeof(cmd),
		 "mkfs.xfs -q -f -m reflink=1 %1$s && "
		 "v=$(xfs_db -r -c 'sb 0' -c 'print features_incompat' %1$s | "
		 "sed 's/.* = //') && "
		 "xfs_db -x -c 'sb 0' -c \"write -d features_incompat $((v | 64))\" "
		 "%1$s >/dev/null && "
		 "mount -t xfs -o dax=inode %1$s " SCRATCH " 2>/dev/null", dev);
	if (system(cmd))
		SKIP(return, "XFS with exchange-range cannot be mounted here");
	self->mounted = true;
	ASSERT_EQ(0, mkdir(SCRATCH "/dax", 0755));
	dir = open(SCRATCH "/dax", O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, dir);
	ASSERT_EQ(0, ioctl(dir, FS_IOC_FSGETXATTR, &fa));
	fa.fsx_xflags |= FS_XFLAG_DAX;
	ASSERT_EQ(0, ioctl(dir, FS_IOC_FSSETXATTR, &fa));
	close(dir);
	self->devfd = ll_dev_open();
	ASSERT_LE(0, self->devfd);
	for (i = 0; i < 2; i++) {
		self->fd[i] = open_filled(path[i], i ? 0xa5 : 0x5a, self->len);
		ASSERT_LE(0, self->fd[i]);
	}
	ASSERT_TRUE(is_dax(self->fd[0]));
	ASSERT_FALSE(is_dax(self->fd[1]));
	self->map = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd[0], 0);
	ASSERT_NE(MAP_FAILED, self->map);
	test_cmd_lease_create(self->fd[0], 0, self->len, variant->timeout_ms,
			      &self->lease_fd);
}

FIXTURE_TEARDOWN(exchange)
{
	if (!self->mounted)
		return;
	if (self->map != MAP_FAILED)
		munmap(self->map, self->len);
	close(self->lease_fd);
	close(self->fd[0]);
	close(self->fd[1]);
	close(self->devfd);
	if (system("umount " SCRATCH))
		TH_LOG("umount " SCRATCH " failed");
}

TEST_F(exchange, mixed_pair_breaks)
{
	struct ll_xfs_exchange_range xr = { 0 };
	struct layoutlease_event ev;
	long long t0, t;
	char c = 0;
	__u64 id;
	pid_t pid;
	int rc;

	/* Does the kernel know the ioctl?  A range of length 0 tells. */
	xr.file1_fd = self->fd[0];
	if (ioctl(self->fd[1], LL_XFS_IOC_EXCHANGE_RANGE, &xr) &&
	    (errno == ENOTTY || errno == EOPNOTSUPP))
		SKIP(return, "no XFS_IOC_EXCHANGE_RANGE (%s)", strerror(errno));
	test_cmd_pin(self->lease_fd, self->map, self->len, &id);
	t0 = ll_now_ms();
	pid = fork();
	if (!pid) {
		xr.length = self->len;
		_exit(ioctl(self->fd[1], LL_XFS_IOC_EXCHANGE_RANGE, &xr) ?
		      errno : 0);
	}
	ev = ll_next_event(self->lease_fd, 5000);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, ev.type)
		TH_LOG("XFS_IOC_EXCHANGE_RANGE started no break");
	if (!variant->forced)
		test_cmd_unpin(self->lease_fd, id);
	rc = ll_wait_child(pid);
	t = ll_now_ms() - t0;
	TH_LOG("exchange took %lld ms (timeout %d ms)", t, variant->timeout_ms);
	ASSERT_EQ(0, rc) TH_LOG("exchange: %s", strerror(rc));
	ev = ll_next_event(self->lease_fd, 1000);
	if (variant->forced) {
		ASSERT_LE(TIMEOUT_MS - 20, t);
		ASSERT_EQ(LAYOUTLEASE_EVENT_REVOKED, ev.type);
		ASSERT_EQ(id, ev.pin_id);
		test_err_unpin(ENOENT, self->lease_fd, id);
	} else {
		ASSERT_GT(COOP_TIMEOUT_MS, t);
		ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK_DONE, ev.type);
	}
	/* The ranges were exchanged. */
	ASSERT_EQ(1, pread(self->fd[0], &c, 1, 0));
	ASSERT_EQ((char)0xa5, c);
}

TEST_HARNESS_MAIN
