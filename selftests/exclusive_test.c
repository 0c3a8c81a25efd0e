// SPDX-License-Identifier: GPL-2.0
/*
 * Exclusive leases (LAYOUTLEASE_LEASE_EXCLUSIVE): while one has pins, every
 * operation that would break it fails with ETXTBSY, from any process, the
 * lease's own too, and leaves the file as it was: size, blocks (their
 * physical addresses, by FIEMAP) and contents are compared after each.  The
 * pin stays, and no event came.  The permission rule of the module
 * parameter "exclusive", and what still ends an exclusive lease: unmapping,
 * exit, SIGKILL, the administrator's exclusive=off.
 */
#define _GNU_SOURCE
#include <linux/falloc.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <xfs/xfs.h>

#include "layoutlease_utils.h"

#define NPAGES 16
/* Short: a refusal that failed shows as a break, revoked soon. */
#define TIMEOUT_MS 300
#define PARAM "/sys/module/layoutlease/parameters/exclusive"
#define SCRATCH "/mnt/scratch"

static long ps;

static int param_set(const char *v)
{
	int fd = open(PARAM, O_WRONLY);
	ssize_t n = fd < 0 ? -1 : write(fd, v, strlen(v));
	int e = errno;

	if (fd >= 0)
		close(fd);
	errno = e;
	return n == (ssize_t)strlen(v) ? 0 : -1;
}

static void param_get(char *buf, size_t len)
{
	int fd = open(PARAM, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
}

/* What a refused operation must leave as it was. */
struct state {
	struct stat st;
	unsigned int nextents;
	struct fiemap_extent ext[32];
	unsigned char *data;
	size_t len;
};

static int state_get(int fd, struct state *s)
{
	struct {
		struct fiemap fm;
		struct fiemap_extent ext[32];
	} m = { .fm = { .fm_length = FIEMAP_MAX_OFFSET, .fm_flags = FIEMAP_FLAG_SYNC,
			.fm_extent_count = 32 } };

	if (fstat(fd, &s->st) || ioctl(fd, FS_IOC_FIEMAP, &m))
		return -1;
	s->nextents = m.fm.fm_mapped_extents;
	memcpy(s->ext, m.ext, sizeof(s->ext));
	s->len = s->st.st_size;
	s->data = malloc(s->len ? s->len : 1);
	return s->data && pread(fd, s->data, s->len, 0) == (ssize_t)s->len ? 0 : -1;
}

/* "" if @a and @b are the same file, else what differs. */
static const char *state_diff(const struct state *a, const struct state *b)
{
	unsigned int i;

	if (a->st.st_size != b->st.st_size)
		return "size";
	if (a->st.st_blocks != b->st.st_blocks)
		return "st_blocks";
	if (a->nextents != b->nextents)
		return "number of extents";
	for (i = 0; i < a->nextents && i < 32; i++)
		if (a->ext[i].fe_logical != b->ext[i].fe_logical ||
		    a->ext[i].fe_physical != b->ext[i].fe_physical ||
		    a->ext[i].fe_length != b->ext[i].fe_length)
			return "extents (physical blocks)";
	if (memcmp(a->data, b->data, a->len))
		return "contents";
	return "";
}

enum op {
	OP_TRUNC_DOWN, OP_TRUNC_UP, OP_TRUNC_SAME, OP_TRUNCATE_PATH,
	OP_OPEN_TRUNC, OP_PUNCH, OP_COLLAPSE, OP_INSERT, OP_ZERO, OP_ALLOC,
	OP_MAX,
};

static const char *const op_name[OP_MAX] = {
	"ftruncate down", "ftruncate up", "ftruncate to same size",
	"truncate(2)", "open O_TRUNC", "punch hole", "collapse range",
	"insert range", "zero range", "allocating fallocate",
};

/* Every operation of Documentation/hooks.rst's table that breaks. */
static const bool breaks_xfs[OP_MAX] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, [OP_ALLOC] = 1,
};

static const bool breaks_ext4[OP_MAX] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, [OP_ALLOC] = 0,
};

/* 0, or the errno of the operation. */
static int do_op(enum op op, const char *path, int fd, size_t len)
{
	int f, ret;

	switch (op) {
	case OP_TRUNC_DOWN:
		ret = ftruncate(fd, len / 2);
		break;
	case OP_TRUNC_UP:
		ret = ftruncate(fd, 2 * len);
		break;
	case OP_TRUNC_SAME:
		ret = ftruncate(fd, len);
		break;
	case OP_TRUNCATE_PATH:
		ret = truncate(path, 0);
		break;
	case OP_OPEN_TRUNC:
		f = open(path, O_RDWR | O_TRUNC);
		ret = f < 0 ? -1 : close(f);
		break;
	case OP_PUNCH:
		ret = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, ps, ps);
		break;
	case OP_COLLAPSE:
		ret = fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, ps, ps);
		break;
	case OP_INSERT:
		ret = fallocate(fd, FALLOC_FL_INSERT_RANGE, ps, ps);
		break;
	case OP_ZERO:
		ret = fallocate(fd, FALLOC_FL_ZERO_RANGE, ps, ps);
		break;
	case OP_ALLOC:
		ret = fallocate(fd, 0, len, len);
		break;
	default:
		return EINVAL;
	}
	return ret ? errno : 0;
}

/* @op on @path in a child that opened it anew: the child's errno. */
static int op_in_child(enum op op, const char *path, size_t len)
{
	pid_t pid = fork();

	if (!pid) {
		int fd = open(path, O_RDWR);

		_exit(fd < 0 ? 255 : do_op(op, path, fd, len));
	}
	return ll_wait_child(pid);
}

/* No record waits on @lease_fd. */
static bool no_event(int lease_fd)
{
	struct pollfd p = { .fd = lease_fd, .events = POLLIN };

	return poll(&p, 1, 0) == 0;
}

static int open_filled(const char *path, int byte, size_t len)
{
	char *buf = malloc(len);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t i;

	for (i = 0; buf && i < len; i++)
		buf[i] = byte + i / 4096 * 7 + i % 251;
	if (fd >= 0 && (!buf || pwrite(fd, buf, len, 0) != (ssize_t)len || fsync(fd))) {
		close(fd);
		fd = -1;
	}
	free(buf);
	return fd;
}

FIXTURE(excl) {
	int devfd, fd, lease_fd;
	char path[256];
	char *map;
	size_t len;
	__u64 pin;
};

FIXTURE_VARIANT(excl) {
	const char *fs;
	const bool *breaks;
};

FIXTURE_VARIANT_ADD(excl, xfs) { .fs = "xfs", .breaks = breaks_xfs };
FIXTURE_VARIANT_ADD(excl, ext4) { .fs = "ext4", .breaks = breaks_ext4 };

static int lease_excl(int devfd, int fd, size_t len, int *lease_fd)
{
	return _test_cmd_lease_create(devfd, fd, 0, len, TIMEOUT_MS,
				      LAYOUTLEASE_LEASE_EXCLUSIVE, lease_fd);
}

FIXTURE_SETUP(excl)
{
	ps = sysconf(_SC_PAGESIZE);
	self->len = NPAGES * ps;
	self->map = MAP_FAILED;
	self->lease_fd = -1;
	ASSERT_EQ(0, param_set("admin"));
	self->devfd = ll_dev_open();
	ASSERT_LE(0, self->devfd);
	snprintf(self->path, sizeof(self->path), "%s/excl.%d", ll_mount(variant->fs),
		 getpid());
	self->fd = open_filled(self->path, 0x30, self->len);
	ASSERT_LE(0, self->fd);
	self->map = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	ASSERT_EQ(0, lease_excl(self->devfd, self->fd, self->len, &self->lease_fd));
	test_cmd_pin(self->lease_fd, self->map, self->len, &self->pin);
}

FIXTURE_TEARDOWN(excl)
{
	param_set("admin");
	if (self->map != MAP_FAILED)
		munmap(self->map, self->len);
	close(self->lease_fd);
	close(self->fd);
	close(self->devfd);
	unlink(self->path);
}

/* GET_INFO reports the flag; /proc/layoutleases and fdinfo show it. */
TEST_F(excl, reported)
{
	struct layoutlease_get_info info = { .size = sizeof(info) };
	char buf[4096], want[64], fdinfo[64];
	ssize_t n;
	int fd;

	ASSERT_EQ(0, ioctl(self->devfd, LAYOUTLEASE_IOC_GET_INFO, &info));
	ASSERT_LE(4, info.out_api_version);
	ASSERT_TRUE(info.out_lease_create_flags & LAYOUTLEASE_LEASE_EXCLUSIVE);
	snprintf(fdinfo, sizeof(fdinfo), "/proc/self/fdinfo/%d", self->lease_fd);
	fd = open(fdinfo, O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ASSERT_LT(0, n);
	buf[n] = 0;
	snprintf(want, sizeof(want), "pages %d exclusive\n", NPAGES);
	ASSERT_NE(NULL, strstr(buf, want)) TH_LOG("fdinfo: %s", buf);
}

/*
 * Every breaking operation, from another process and from the lease's
 * own: ETXTBSY, the file unchanged, the pin there, no event.  Those that
 * do not break (ext4's allocating fallocate) work.
 */
TEST_F(excl, operations_refused)
{
	struct state before, after;
	int op, who, err;

	ASSERT_EQ(0, state_get(self->fd, &before));
	for (op = 0; op < OP_MAX; op++) {
		for (who = 0; who < 2; who++) {
			if (!variant->breaks[op])
				continue;
			err = who ? do_op(op, self->path, self->fd, self->len) :
				    op_in_child(op, self->path, self->len);
			TH_LOG("%-24s %-8s %s", op_name[op], who ? "own" : "other",
			       strerror(err));
			EXPECT_EQ(ETXTBSY, err) TH_LOG("%s (%s): %s", op_name[op],
						       who ? "own process" : "another process",
						       strerror(err));
			ASSERT_EQ(0, state_get(self->fd, &after));
			EXPECT_STREQ("", state_diff(&before, &after))
				TH_LOG("%s changed the file", op_name[op]);
			free(after.data);
			EXPECT_TRUE(no_event(self->lease_fd)) TH_LOG("%s broke", op_name[op]);
		}
	}
	/* The pin is there, and its memory is the file's. */
	EXPECT_EQ(0, memcmp(self->map, before.data, self->len));
	test_cmd_unpin(self->lease_fd, self->pin);
	EXPECT_TRUE(no_event(self->lease_fd));
	/* Without pins the lease refuses nothing. */
	EXPECT_EQ(0, op_in_child(OP_TRUNC_SAME, self->path, self->len));
	if (!variant->breaks[OP_ALLOC])
		EXPECT_EQ(0, do_op(OP_ALLOC, self->path, self->fd, self->len));
	free(before.data);
}

/* The kernel log from now on, at /dev/kmsg's end. */
static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* Did a record since kmsg_open() say @what? */
static bool kmsg_has(int fd, const char *what)
{
	char rec[8192];
	bool found = false;
	ssize_t n;

	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;
		rec[n] = 0;
		found |= !!strstr(rec, what);
	}
	return found;
}

/*
 * Pins made and dropped in a loop against truncates from another process:
 * the refusal and the pins it counts are both under the file's
 * invalidate_lock, so each truncate is either refused or finds no active
 * pin, and no break of an active exclusive pin ever starts (the module's
 * log would say so).  A truncate that comes while an UNPIN is finishing
 * (the pin ended, its pages not yet unpinned) waits for those pages as
 * for any pin's, with BREAK and BREAK_DONE to the holder and pins refused
 * meanwhile, as for any lease: counted, not failed.  No pin is revoked.
 */
TEST_F(excl, pins_race_truncates)
{
	long long end;
	int res[2], n[2] = { 0, 0 }, pins = 0, breaks = 0, kmsg = kmsg_open();
	struct layoutlease_event ev;
	pid_t pid;

	ASSERT_LE(0, kmsg);
	test_cmd_unpin(self->lease_fd, self->pin);
	ASSERT_EQ(0, pipe(res));
	pid = fork();
	if (!pid) {
		int fd = open(self->path, O_RDWR), c[2] = { 0, 0 };

		end = ll_now_ms() + 3000;
		while (fd >= 0 && ll_now_ms() < end) {
			int err = do_op(OP_TRUNC_SAME, self->path, fd, self->len);

			if (err && err != ETXTBSY)
				_exit(err);
			c[!!err]++;
		}
		_exit(write(res[1], c, sizeof(c)) == sizeof(c) ? 0 : 1);
	}
	close(res[1]);
	end = ll_now_ms() + 3000;
	while (ll_now_ms() < end) {
		__u64 pin;

		test_cmd_pin(self->lease_fd, self->map, self->len, &pin);
		test_cmd_unpin(self->lease_fd, pin);
		pins++;
		while (!no_event(self->lease_fd)) {
			ASSERT_EQ(sizeof(ev), read(self->lease_fd, &ev, sizeof(ev)));
			ASSERT_NE(LAYOUTLEASE_EVENT_REVOKED, ev.type);
			breaks += ev.type == LAYOUTLEASE_EVENT_BREAK;
		}
	}
	ASSERT_EQ(0, ll_wait_child(pid));
	ASSERT_EQ(sizeof(n), read(res[0], n, sizeof(n)));
	close(res[0]);
	TH_LOG("%d pins; truncates: %d done, %d refused; %d breaks of an ending pin",
	       pins, n[0], n[1], breaks);
	ASSERT_LT(0, n[0] + n[1]);
	ASSERT_FALSE(kmsg_has(kmsg, "breaking an exclusive lease"));
	close(kmsg);
	/* The fixture's pin, for the teardown's sake. */
	test_cmd_pin(self->lease_fd, self->map, self->len, &self->pin);
}

/* Run @cmd through the shell; its exit code, its output in @out. */
static int run_out(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");
	size_t n = f ? fread(out, 1, len - 1, f) : 0;
	int st = f ? pclose(f) : -1;

	out[n] = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * layoutlease truncate: refused with ETXTBSY (exit 1) while pinned, done
 * once unpinned, each with the call's own time on CLOCK_MONOTONIC.
 */
TEST_F(excl, tool_truncate)
{
	char exe[PATH_MAX], cmd[2 * PATH_MAX], out[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct timespec ts;
	double when;

	exe[n > 0 ? n : 0] = 0;
	/* build/selftests/exclusive_test: the tool is in build/tools. */
	snprintf(cmd, sizeof(cmd), "%s/../tools/layoutlease truncate -s %zu %s",
		 dirname(exe), self->len / 2, self->path);
	ASSERT_EQ(1, run_out(cmd, out, sizeof(out))) TH_LOG("%s", out);
	ASSERT_NE(NULL, strstr(out, ": failed after ")) TH_LOG("%s", out);
	ASSERT_NE(NULL, strstr(out, "ETXTBSY")) TH_LOG("%s", out);
	/* Its clock is CLOCK_MONOTONIC: the first line's time is just past. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	when = strtod(out, NULL);
	ASSERT_TRUE(when <= ts.tv_sec * 1e3 + ts.tv_nsec / 1e6 &&
		    when > ts.tv_sec * 1e3 + ts.tv_nsec / 1e6 - 60000) TH_LOG("%s", out);
	EXPECT_TRUE(no_event(self->lease_fd));
	test_cmd_unpin(self->lease_fd, self->pin);
	ASSERT_EQ(0, run_out(cmd, out, sizeof(out))) TH_LOG("%s", out);
	ASSERT_NE(NULL, strstr(out, ": returned after ")) TH_LOG("%s", out);
	ASSERT_EQ(self->len / 2, lseek(self->fd, 0, SEEK_END));
}

/* Only the pinned lease counts: an ordinary lease's pins still break. */
TEST_F(excl, ordinary_lease_still_breaks)
{
	struct layoutlease_event ev;
	int lease2, fd;
	__u64 pin2;
	pid_t pid;
	char path[300];
	char *map;

	snprintf(path, sizeof(path), "%s.2", self->path);
	fd = open_filled(path, 0x40, self->len);
	ASSERT_LE(0, fd);
	map = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	test_cmd_lease_create(fd, 0, self->len, TIMEOUT_MS, &lease2);
	test_cmd_pin(lease2, map, self->len, &pin2);
	pid = ll_truncate_child(path, 0);
	ev = ll_next_event(lease2, 10000);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, ev.type);
	test_cmd_unpin(lease2, pin2);
	ASSERT_EQ(0, ll_wait_child(pid));
	munmap(map, self->len);
	close(lease2);
	close(fd);
	unlink(path);
	/* And the exclusive one on the other file was not touched. */
	EXPECT_TRUE(no_event(self->lease_fd));
	EXPECT_EQ(ETXTBSY, op_in_child(OP_TRUNC_DOWN, self->path, self->len));
}

/*
 * SPEC 6: unmapping revokes an exclusive lease's pin too (UNMAPPED), and
 * then the truncate goes on.
 */
TEST_F(excl, munmap_revokes)
{
	struct layoutlease_event ev;

	ASSERT_EQ(0, munmap(self->map, self->len));
	self->map = MAP_FAILED;
	ev = ll_next_event(self->lease_fd, 10000);
	ASSERT_EQ(LAYOUTLEASE_EVENT_UNMAPPED, ev.type);
	EXPECT_EQ(0, op_in_child(OP_TRUNC_DOWN, self->path, self->len));
}

/*
 * Closing the lease fd leaves the pin, which holds the lease: still
 * refused, as a pin of an ordinary lease still breaks.  Exit and SIGKILL
 * of the holder end everything.
 */
TEST_F(excl, close_exit_kill)
{
	int how;

	ASSERT_EQ(0, close(self->lease_fd));
	self->lease_fd = -1;
	EXPECT_EQ(ETXTBSY, op_in_child(OP_TRUNC_DOWN, self->path, self->len));
	ASSERT_EQ(0, munmap(self->map, self->len));
	self->map = MAP_FAILED;
	EXPECT_EQ(0, op_in_child(OP_TRUNC_SAME, self->path, self->len));

	for (how = 0; how < 2; how++) {
		int ready[2], lease_fd;
		char c;
		pid_t pid;

		ASSERT_EQ(0, pipe(ready));
		pid = fork();
		if (!pid) {
			char *map = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
					 MAP_SHARED, self->fd, 0);
			__u64 pin;

			if (map == MAP_FAILED ||
			    lease_excl(self->devfd, self->fd, self->len, &lease_fd) ||
			    _test_cmd_pin(lease_fd, map, self->len, 0, &pin))
				_exit(1);
			if (write(ready[1], "x", 1) != 1)
				_exit(1);
			if (how)
				pause();
			_exit(0);
		}
		close(ready[1]);
		ASSERT_EQ(1, read(ready[0], &c, 1));
		close(ready[0]);
		if (how) {
			EXPECT_EQ(ETXTBSY, op_in_child(OP_TRUNC_SAME, self->path, self->len));
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		} else {
			EXPECT_EQ(0, ll_wait_child(pid));
		}
		EXPECT_EQ(0, op_in_child(OP_TRUNC_SAME, self->path, self->len))
			TH_LOG("after the holder's %s", how ? "SIGKILL" : "exit");
	}
}

/*
 * exclusive=admin: a file owner without CAP_SYS_ADMIN or CAP_LEASE gets
 * EPERM (an ordinary lease works); exclusive=owner lets them; a bad value
 * is EINVAL and changes nothing.
 */
TEST_F(excl, permission)
{
	char buf[32];
	pid_t pid;
	int mode;

	EXPECT_ERRNO(EINVAL, param_set("sometimes"));
	param_get(buf, sizeof(buf));
	EXPECT_STREQ("admin\n", buf);
	ASSERT_EQ(0, fchown(self->fd, 65534, 65534));
	for (mode = 0; mode < 2; mode++) {
		ASSERT_EQ(0, param_set(mode ? "owner" : "admin"));
		pid = fork();
		if (!pid) {
			int lease_fd, ret;

			if (setgid(65534) || setuid(65534))
				_exit(10);
			/* An ordinary lease: the owner may. */
			if (_test_cmd_lease_create(self->devfd, self->fd, 0, self->len,
						   TIMEOUT_MS, 0, &lease_fd))
				_exit(11);
			close(lease_fd);
			ret = lease_excl(self->devfd, self->fd, self->len, &lease_fd);
			_exit(ret ? errno : 0);
		}
		EXPECT_EQ(mode ? 0 : EPERM, ll_wait_child(pid))
			TH_LOG("exclusive=%s", mode ? "owner" : "admin");
	}
	/* A user who may not lease the file at all may not either way. */
	ASSERT_EQ(0, fchown(self->fd, 0, 0));
	pid = fork();
	if (!pid) {
		int lease_fd;

		if (setgid(65534) || setuid(65534))
			_exit(10);
		_exit(lease_excl(self->devfd, self->fd, self->len, &lease_fd) ? errno : 0);
	}
	EXPECT_EQ(EACCES, ll_wait_child(pid));
}

/*
 * exclusive=off: no new one (EPERM, root too), and those that exist
 * refuse nothing more: a truncate breaks them as ordinary leases, with
 * their timeout.  Back to admin, they refuse again.
 */
TEST_F(excl, off_ends_refusals)
{
	struct layoutlease_event ev;
	int lease_fd;
	pid_t pid;
	__u64 pin;

	ASSERT_EQ(0, param_set("off"));
	EXPECT_ERRNO(EPERM, lease_excl(self->devfd, self->fd, self->len, &lease_fd));
	pid = ll_truncate_child(self->path, self->len);
	ev = ll_next_event(self->lease_fd, 10000);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, ev.type);
	/* Ignored: revoked at the deadline. */
	ev = ll_next_event(self->lease_fd, 10000);
	ASSERT_EQ(LAYOUTLEASE_EVENT_REVOKED, ev.type);
	ASSERT_EQ(0, ll_wait_child(pid));
	ev = ll_next_event(self->lease_fd, 10000);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK_DONE, ev.type);

	ASSERT_EQ(0, param_set("admin"));
	test_cmd_pin(self->lease_fd, self->map, self->len, &pin);
	EXPECT_EQ(ETXTBSY, op_in_child(OP_PUNCH, self->path, self->len));
	EXPECT_TRUE(no_event(self->lease_fd));
}

/* XFS_IOC_SWAPEXT (xfs_fsr) with the pinned file as target or as tmp. */
TEST_F(excl, swapext)
{
	struct state before, after;
	char path[300];
	int i, tmp;

	if (strcmp(variant->fs, "xfs"))
		SKIP(return, "XFS only");
	snprintf(path, sizeof(path), "%s.tmp", self->path);
	tmp = open_filled(path, 0x77, self->len);
	ASSERT_LE(0, tmp);
	ASSERT_EQ(0, state_get(self->fd, &before));
	for (i = 0; i < 2; i++) {
		int target = i ? tmp : self->fd, other = i ? self->fd : tmp;
		struct xfs_swapext sx = {
			.sx_version = XFS_SX_VERSION,
			.sx_fdtarget = target,
			.sx_fdtmp = other,
			.sx_length = self->len,
		};
		struct stat st;

		ASSERT_EQ(0, fstat(target, &st));
		sx.sx_stat.bs_ctime.tv_sec = st.st_ctim.tv_sec;
		sx.sx_stat.bs_ctime.tv_nsec = st.st_ctim.tv_nsec;
		sx.sx_stat.bs_mtime.tv_sec = st.st_mtim.tv_sec;
		sx.sx_stat.bs_mtime.tv_nsec = st.st_mtim.tv_nsec;
		EXPECT_ERRNO(ETXTBSY, ioctl(other, XFS_IOC_SWAPEXT, &sx));
		ASSERT_EQ(0, state_get(self->fd, &after));
		EXPECT_STREQ("", state_diff(&before, &after));
		free(after.data);
		EXPECT_TRUE(no_event(self->lease_fd));
	}
	close(tmp);
	unlink(path);
	free(before.data);
}

/*
 * Reflink and dedupe onto and from the pinned file, and exchange-range
 * with a DAX and with a plain partner: XFS with reflink=1 on the scratch
 * device, dax=inode (the plain partner).
 */
FIXTURE(remap) {
	int devfd, lease_fd;
	int fd[3];		/* pinned (DAX), other DAX, plain */
	char *map;
	size_t len;
	bool mounted;
	__u64 pin;
};

FIXTURE_SETUP(remap)
{
	const char *dev = getenv("LL_SCRATCH");
	char cmd[512], path[64];
	int i;

	ps = sysconf(_SC_PAGESIZE);
	self->len = NPAGES * ps;
	self->map = MAP_FAILED;
	self->lease_fd = self->fd[0] = self->fd[1] = self->fd[2] = -1;
	if (!dev)
		SKIP(return, "no scratch pmem device (LL_SCRATCH)");
	mkdir(SCRATCH, 0755);
	snprintf(cmd, sizeof(cmd), "mkfs.xfs -q -f -m reflink=1 %1$s && "
		 "mount -t xfs -o dax=inode %1$s " SCRATCH " 2>/dev/null", dev);
	if (system(cmd))
		SKIP(return, "XFS with reflink cannot be mounted with DAX here");
	self->mounted = true;
	self->devfd = ll_dev_open();
	ASSERT_LE(0, self->devfd);
	for (i = 0; i < 3; i++) {
		struct fsxattr fa;

		snprintf(path, sizeof(path), SCRATCH "/f%d", i);
		/* DAX by the inode flag, set while the file is empty. */
		self->fd[i] = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		ASSERT_LE(0, self->fd[i]);
		if (i < 2) {
			ASSERT_EQ(0, ioctl(self->fd[i], FS_IOC_FSGETXATTR, &fa));
			fa.fsx_xflags |= FS_XFLAG_DAX;
			ASSERT_EQ(0, ioctl(self->fd[i], FS_IOC_FSSETXATTR, &fa));
		}
		close(self->fd[i]);
		/* Same bytes in all: dedupe shares only equal ranges. */
		self->fd[i] = open_filled(path, 0x5a, self->len);
		ASSERT_LE(0, self->fd[i]);
	}
	self->map = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd[0], 0);
	ASSERT_NE(MAP_FAILED, self->map);
	if (lease_excl(self->devfd, self->fd[0], self->len, &self->lease_fd))
		SKIP(return, "f0 is not DAX (%s)", strerror(errno));
	test_cmd_pin(self->lease_fd, self->map, self->len, &self->pin);
}

FIXTURE_TEARDOWN(remap)
{
	int i;

	if (!self->mounted)
		return;
	if (self->map != MAP_FAILED)
		munmap(self->map, self->len);
	close(self->lease_fd);
	for (i = 0; i < 3; i++)
		close(self->fd[i]);
	close(self->devfd);
	if (system("umount " SCRATCH))
		TH_LOG("umount " SCRATCH " failed");
}

/* Mirrors struct xfs_exchange_range (6.10+), which xfsprogs may lack. */
struct ll_xfs_exchange_range {
	__s32 file1_fd;
	__u32 pad;
	__u64 file1_offset;
	__u64 file2_offset;
	__u64 length;
	__u64 flags;
};

#define LL_XFS_IOC_EXCHANGE_RANGE _IOW('X', 129, struct ll_xfs_exchange_range)

TEST_F(remap, refused)
{
	struct state before, after;
	int i;

	ASSERT_EQ(0, state_get(self->fd[0], &before));
	for (i = 0; i < 8; i++) {
		/* 0-3: clone, dedupe onto and from f0; 4-7: exchange. */
		int other = self->fd[i < 4 ? 1 : 1 + (i & 1)];
		int src = i & 2 ? self->fd[0] : other;
		int dst = i & 2 ? other : self->fd[0];
		const char *what;
		int ret;

		if (i < 4 && !(i & 1)) {
			what = "FICLONE";
			ret = ioctl(dst, FICLONE, src);
		} else if (i < 4) {
			struct {
				struct file_dedupe_range r;
				struct file_dedupe_range_info i;
			} a = {
				.r = { .src_offset = 0, .src_length = self->len,
				       .dest_count = 1 },
				.i = { .dest_fd = dst, .dest_offset = 0 },
			};

			what = "FIDEDUPERANGE";
			ret = ioctl(src, FIDEDUPERANGE, &a);
			if (!ret && a.i.status < 0) {
				ret = -1;
				errno = -a.i.status;
			}
		} else {
			struct ll_xfs_exchange_range xr = {
				.file1_fd = src, .length = self->len,
			};

			if (!ll_kernel_at_least(6, 10))
				continue;
			what = "XFS_IOC_EXCHANGE_RANGE";
			ret = ioctl(dst, LL_XFS_IOC_EXCHANGE_RANGE, &xr);
		}
		TH_LOG("%s %s f0 (%s partner): %s", what, i & 2 ? "from" : "onto",
		       other == self->fd[2] ? "plain" : "DAX", ret ? strerror(errno) : "done");
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(ETXTBSY, errno);
		ASSERT_EQ(0, state_get(self->fd[0], &after));
		EXPECT_STREQ("", state_diff(&before, &after));
		free(after.data);
		EXPECT_TRUE(no_event(self->lease_fd));
	}
	free(before.data);
}

TEST_HARNESS_MAIN
