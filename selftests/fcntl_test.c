// SPDX-License-Identifier: GPL-2.0
/*
 * liblayoutlease's fcntl-style calls (ll_setlease, ll_getlease, ll_setsig,
 * ll_getsig, ll_lease_fd) on the real module: the lease they take, the
 * signal of a break and its si_fd, fcntl(F_SETLEASE)'s errno vocabulary,
 * bad input that changes nothing, an fd closed or reused behind the
 * library's back (the file's and the lease's), fork, and threads racing
 * through the library's table while another forks.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "layoutlease_utils.h"
#include "../tools/lib/layoutlease.h"

#define NPAGES 16

FIXTURE(fl) {
	char path[256];
	size_t len;
	char *map;
	int fd;
	dev_t dev;
	ino_t ino;
};

FIXTURE_VARIANT(fl) {
	const char *fs;
};

FIXTURE_VARIANT_ADD(fl, xfs) { .fs = "xfs" };
FIXTURE_VARIANT_ADD(fl, ext4) { .fs = "ext4" };

FIXTURE_SETUP(fl)
{
	struct stat st;

	self->len = NPAGES * sysconf(_SC_PAGESIZE);
	snprintf(self->path, sizeof(self->path), "%s/fcntl.%d", ll_mount(variant->fs), getpid());
	self->fd = open(self->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ftruncate(self->fd, self->len));
	ASSERT_EQ(0, fstat(self->fd, &st));
	self->dev = st.st_dev;
	self->ino = st.st_ino;
	self->map = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	memset(self->map, 1, self->len);
}

FIXTURE_TEARDOWN(fl)
{
	ll_setlease(self->fd, F_UNLCK);
	munmap(self->map, self->len);
	close(self->fd);
	unlink(self->path);
}

/* The leases of the fixture's file in /proc/layoutleases. */
static int leases_of(FIXTURE_DATA(fl) *self)
{
	unsigned int maj, min;
	unsigned long long id, ino;
	char line[512], state[16];
	FILE *f = fopen("/proc/layoutleases", "r");
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "lease %llu: %15s %x:%x:%llu", &id, state, &maj, &min, &ino) == 5 &&
		    ino == self->ino && maj == major(self->dev) && minor(self->dev) == min)
			n++;
	fclose(f);
	return n;
}

/* Whether the fdinfo of @lease_fd in process @pid (0: self) has @what. */
static bool fdinfo_has(pid_t pid, int lease_fd, const char *what)
{
	char p[64], line[512];
	bool found = false;
	FILE *f;

	if (pid)
		snprintf(p, sizeof(p), "/proc/%d/fdinfo/%d", pid, lease_fd);
	else
		snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", lease_fd);
	f = fopen(p, "r");
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, what);
	if (f)
		fclose(f);
	return found;
}

static bool owner_signal(int lease_fd, int sig)
{
	char want[64];

	snprintf(want, sizeof(want), "owner %d: fd %d signal %d ", getpid(), lease_fd, sig);
	return fdinfo_has(0, lease_fd, want);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

#define EXPECT_FAIL(_errno, call)                                              \
	do {                                                                   \
		errno = 0;                                                     \
		EXPECT_EQ(-1, call);                                           \
		EXPECT_EQ(_errno, errno);                                      \
	} while (0)

TEST_F(fl, set_get_unlock)
{
	long ps = sysconf(_SC_PAGESIZE);
	char range[64];
	int lfd;

	EXPECT_EQ(F_UNLCK, ll_getlease(self->fd));
	EXPECT_FAIL(ENOENT, ll_lease_fd(self->fd));
	EXPECT_EQ(0, ll_getsig(self->fd));
	ASSERT_EQ(0, ll_setlease(self->fd, F_RDLCK));
	EXPECT_EQ(F_RDLCK, ll_getlease(self->fd));
	lfd = ll_lease_fd(self->fd);
	ASSERT_LE(0, lfd);
	EXPECT_EQ(FD_CLOEXEC, fcntl(lfd, F_GETFD));
	EXPECT_EQ(1, leases_of(self));
	/* The whole file, as far as it can grow; this process is the owner. */
	snprintf(range, sizeof(range), " 0-%llu ", (LLONG_MAX & ~(ps - 1ULL)) - 1);
	EXPECT_TRUE(fdinfo_has(0, lfd, range)) TH_LOG("no range%s", range);
	EXPECT_TRUE(fdinfo_has(0, lfd, "ACTIVE"));
	EXPECT_TRUE(owner_signal(lfd, SIGIO));

	/* F_RDLCK again: the same lease, as fcntl(F_SETLEASE) keeps it. */
	ASSERT_EQ(0, ll_setlease(self->fd, F_RDLCK));
	EXPECT_EQ(lfd, ll_lease_fd(self->fd));
	EXPECT_EQ(1, leases_of(self));

	ASSERT_EQ(0, ll_setlease(self->fd, F_UNLCK));
	EXPECT_EQ(F_UNLCK, ll_getlease(self->fd));
	EXPECT_EQ(0, leases_of(self));
	EXPECT_FAIL(EBADF, fcntl(lfd, F_GETFD));
	/* No lease: fcntl(F_SETLEASE, F_UNLCK)'s EAGAIN. */
	EXPECT_FAIL(EAGAIN, ll_setlease(self->fd, F_UNLCK));
}

TEST_F(fl, bad_input_changes_nothing)
{
	int lfd, p[2], dir, mfd;

	ASSERT_EQ(0, ll_setlease(self->fd, F_RDLCK));
	lfd = ll_lease_fd(self->fd);
	ASSERT_LE(0, lfd);

	EXPECT_FAIL(EINVAL, ll_setlease(self->fd, F_WRLCK));
	EXPECT_FAIL(EINVAL, ll_setlease(self->fd, 42));
	EXPECT_FAIL(EINVAL, ll_setlease(self->fd, -1));
	EXPECT_FAIL(EINVAL, ll_setsig(self->fd, -1));
	EXPECT_FAIL(EINVAL, ll_setsig(self->fd, 65));
	EXPECT_FAIL(EINVAL, ll_setsig(self->fd, SIGKILL));
	EXPECT_FAIL(EINVAL, ll_setsig(self->fd, SIGSTOP));
	EXPECT_FAIL(EBADF, ll_setlease(-1, F_RDLCK));
	EXPECT_FAIL(EBADF, ll_setlease(9999, F_RDLCK));
	EXPECT_FAIL(EBADF, ll_setlease(-5, F_UNLCK));
	EXPECT_FAIL(EBADF, ll_getlease(-1));
	EXPECT_FAIL(EBADF, ll_setsig(-1, 0));
	EXPECT_FAIL(EBADF, ll_getsig(9999));
	EXPECT_FAIL(EBADF, ll_lease_fd(-1));
	/* Not a file of a DAX mount: EINVAL, as for a filesystem without leases. */
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	EXPECT_FAIL(EINVAL, ll_setlease(p[0], F_RDLCK));
	EXPECT_EQ(F_UNLCK, ll_getlease(p[0]));
	close(p[0]);
	close(p[1]);
	dir = open(ll_mount(variant->fs), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, dir);
	EXPECT_FAIL(EINVAL, ll_setlease(dir, F_RDLCK));
	close(dir);
	mfd = memfd_create("fcntl_test", MFD_CLOEXEC);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, self->len));
	EXPECT_FAIL(EINVAL, ll_setlease(mfd, F_RDLCK));
	close(mfd);

	/* The lease, its fd and its signal are as they were. */
	EXPECT_EQ(F_RDLCK, ll_getlease(self->fd));
	EXPECT_EQ(lfd, ll_lease_fd(self->fd));
	EXPECT_EQ(1, leases_of(self));
	EXPECT_EQ(0, ll_getsig(self->fd));
	EXPECT_TRUE(owner_signal(lfd, SIGIO));
}

/* Not the file's owner and no CAP_LEASE: fcntl(F_SETLEASE)'s EACCES. */
TEST_F(fl, not_owner)
{
	pid_t kid = fork();

	ASSERT_LE(0, kid);
	if (!kid) {
		int fd;

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(10);
		fd = open(self->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			_exit(11);
		errno = 0;
		if (ll_setlease(fd, F_RDLCK) != -1 || errno != EACCES)
			_exit(12);
		if (ll_getlease(fd) != F_UNLCK)
			_exit(13);
		_exit(0);
	}
	EXPECT_EQ(0, ll_wait_child(kid));
	EXPECT_EQ(0, leases_of(self));
}

/*
 * The signal chosen before the lease comes at a break with si_fd the
 * lease fd; ll_getlease() says F_UNLCK while the lease breaks (what
 * fcntl(F_GETLEASE) says of a lease being broken to F_UNLCK); unpinning
 * and F_UNLCK let the truncate finish.
 */
TEST_F(fl, break_signal)
{
	int sig = SIGRTMIN + 1, lfd;
	struct timespec ts = { .tv_sec = 30 };
	unsigned long long pin;
	siginfo_t si;
	sigset_t set;
	pid_t kid;

	sigemptyset(&set);
	sigaddset(&set, sig);
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &set, NULL));
	ASSERT_EQ(0, ll_setsig(self->fd, sig));
	EXPECT_EQ(sig, ll_getsig(self->fd));
	ASSERT_EQ(0, ll_setlease(self->fd, F_RDLCK));
	lfd = ll_lease_fd(self->fd);
	ASSERT_LE(0, lfd);
	EXPECT_TRUE(owner_signal(lfd, sig));
	ASSERT_EQ(0, ll_pin(lfd, self->map, self->len, 0, &pin));

	kid = ll_truncate_child(self->path, 0);
	ASSERT_LE(0, kid);
	ASSERT_EQ(sig, sigtimedwait(&set, &si, &ts));
	EXPECT_EQ(lfd, si.si_fd);
	EXPECT_EQ(POLL_MSG, si.si_code);
	EXPECT_EQ(F_UNLCK, ll_getlease(self->fd));
	EXPECT_TRUE(fdinfo_has(0, lfd, "BREAKING"));
	/* Still the lease's fd while it breaks. */
	EXPECT_EQ(lfd, ll_lease_fd(self->fd));
	ASSERT_EQ(0, ll_unpin(lfd, pin));
	ASSERT_EQ(0, ll_setlease(self->fd, F_UNLCK));
	EXPECT_EQ(0, ll_wait_child(kid));
	EXPECT_EQ(F_UNLCK, ll_getlease(self->fd));
	EXPECT_EQ(0, leases_of(self));
	/* The signal stays the file's, as F_SETSIG's does. */
	EXPECT_EQ(sig, ll_getsig(self->fd));
	/* BREAK_DONE's signal is pending: SIG_IGN discards it. */
	signal(sig, SIG_IGN);
	ASSERT_EQ(0, sigprocmask(SIG_UNBLOCK, &set, NULL));
	signal(sig, SIG_DFL);
}

/* F_SETSIG on a held lease changes the signal in force; 0 is SIGIO. */
TEST_F(fl, setsig_held)
{
	int lfd;

	ASSERT_EQ(0, ll_setlease(self->fd, F_RDLCK));
	lfd = ll_lease_fd(self->fd);
	ASSERT_EQ(0, ll_setsig(self->fd, SIGUSR2));
	EXPECT_EQ(SIGUSR2, ll_getsig(self->fd));
	EXPECT_TRUE(owner_signal(lfd, SIGUSR2));
	ASSERT_EQ(0, ll_setsig(self->fd, 0));
	EXPECT_EQ(0, ll_getsig(self->fd));
	EXPECT_TRUE(owner_signal(lfd, SIGIO));
}

/* A break in progress: EAGAIN, as fcntl(F_SETLEASE) says of a conflict. */
TEST_F(fl, eagain_during_break)
{
	struct layoutlease_event ev;
	int devfd, lfd, fd2, ret;
	unsigned long long pin;
	pid_t kid;

	devfd = ll_dev_open();
	ASSERT_LE(0, devfd);
	lfd = ll_lease_create(devfd, self->fd, 0, self->len, COOP_TIMEOUT_MS, 0);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, ll_pin(lfd, self->map, self->len, 0, &pin));
	kid = ll_truncate_child(self->path, 0);
	ASSERT_LE(0, kid);
	ev = ll_next_event(lfd, 20000);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, ev.type);

	fd2 = open(self->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	EXPECT_FAIL(EAGAIN, ll_setlease(fd2, F_RDLCK));
	EXPECT_EQ(F_UNLCK, ll_getlease(fd2));
	EXPECT_FAIL(ENOENT, ll_lease_fd(fd2));
	ASSERT_EQ(0, ll_unpin(lfd, pin));
	EXPECT_EQ(0, ll_wait_child(kid));
	/* The break is over: the lease is granted. */
	do
		ret = ll_setlease(fd2, F_RDLCK);
	while (ret && errno == EAGAIN && usleep(10000) == 0);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(F_RDLCK, ll_getlease(fd2));
	EXPECT_EQ(0, ll_setlease(fd2, F_UNLCK));
	close(fd2);
	close(lfd);
	close(devfd);
}

/*
 * The file's fd closed and its number reused for another file: the lease
 * taken through it is released (F_SETLEASE's lease ends with the file's
 * last fd); reused for the same file, the lease is kept.
 */
TEST_F(fl, file_fd_reused)
{
	int lfd, nul, fd2, fd3;

	ASSERT_EQ(0, ll_setlease(self->fd, F_RDLCK));
	lfd = ll_lease_fd(self->fd);
	ASSERT_LE(0, lfd);
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, nul);
	ASSERT_EQ(self->fd, dup3(nul, self->fd, O_CLOEXEC));
	close(nul);
	EXPECT_EQ(F_UNLCK, ll_getlease(self->fd));
	EXPECT_EQ(0, leases_of(self));
	EXPECT_FAIL(EBADF, fcntl(lfd, F_GETFD));

	fd2 = open(self->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, ll_setlease(fd2, F_RDLCK));
	close(fd2);
	/* Any call notices a closed fd: its lease goes. */
	EXPECT_FAIL(EBADF, ll_getlease(fd2));
	EXPECT_EQ(0, leases_of(self));

	fd2 = open(self->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, ll_setlease(fd2, F_RDLCK));
	close(fd2);
	fd3 = open(self->path, O_RDWR | O_CLOEXEC);
	ASSERT_EQ(fd2, fd3);
	EXPECT_EQ(F_RDLCK, ll_getlease(fd3));
	EXPECT_EQ(1, leases_of(self));
	EXPECT_EQ(0, ll_setlease(fd3, F_UNLCK));
	EXPECT_EQ(0, leases_of(self));
	close(fd3);
}

/*
 * The program closed the lease fd itself and the number went to another
 * file: the library forgets the lease and leaves that file alone.
 */
TEST_F(fl, lease_fd_closed_by_program)
{
	int lfd, nul;

	ASSERT_EQ(0, ll_setlease(self->fd, F_RDLCK));
	lfd = ll_lease_fd(self->fd);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, close(lfd));
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, nul);
	EXPECT_EQ(F_UNLCK, ll_getlease(self->fd));
	EXPECT_EQ(0, leases_of(self));
	EXPECT_FAIL(EAGAIN, ll_setlease(self->fd, F_UNLCK));
	EXPECT_NE(-1, fcntl(nul, F_GETFD));
	/* Another lease fd in the same number: still not the library's. */
	ASSERT_EQ(0, ll_setlease(self->fd, F_RDLCK));
	EXPECT_NE(nul, ll_lease_fd(self->fd));
	EXPECT_EQ(0, ll_setlease(self->fd, F_UNLCK));
	EXPECT_NE(-1, fcntl(nul, F_GETFD));
	close(nul);
}

/*
 * A child sees the lease it inherited, joins as an owner with F_RDLCK and
 * lets go of its own hold with F_UNLCK; the parent keeps the lease.
 */
TEST_F(fl, fork)
{
	char owner[64];
	int lfd;
	pid_t kid;

	ASSERT_EQ(0, ll_setlease(self->fd, F_RDLCK));
	lfd = ll_lease_fd(self->fd);
	ASSERT_LE(0, lfd);
	kid = fork();
	ASSERT_LE(0, kid);
	if (!kid) {
		snprintf(owner, sizeof(owner), "owner %d: fd %d ", getpid(), lfd);
		if (ll_getlease(self->fd) != F_RDLCK || ll_lease_fd(self->fd) != lfd)
			_exit(10);
		if (ll_setlease(self->fd, F_RDLCK) || !fdinfo_has(0, lfd, owner))
			_exit(11);
		if (ll_setlease(self->fd, F_UNLCK) || ll_getlease(self->fd) != F_UNLCK)
			_exit(12);
		_exit(0);
	}
	EXPECT_EQ(0, ll_wait_child(kid));
	EXPECT_EQ(F_RDLCK, ll_getlease(self->fd));
	EXPECT_EQ(lfd, ll_lease_fd(self->fd));
	EXPECT_EQ(1, leases_of(self));
	snprintf(owner, sizeof(owner), "owner %d:", kid);
	EXPECT_FALSE(fdinfo_has(0, lfd, owner));
	EXPECT_TRUE(owner_signal(lfd, SIGIO));
}

struct racer {
	int fd, iters, bad;
	unsigned int seed;
};

static void *race_calls(void *arg)
{
	struct racer *r = arg;
	int i, ret;

	for (i = 0; i < r->iters; i++) {
		switch (rand_r(&r->seed) % 4) {
		case 0:
			r->bad += ll_setlease(r->fd, F_RDLCK) != 0;
			break;
		case 1:
			ret = ll_setlease(r->fd, F_UNLCK);
			r->bad += ret && errno != EAGAIN;
			break;
		case 2:
			ret = ll_getlease(r->fd);
			r->bad += ret != F_RDLCK && ret != F_UNLCK;
			break;
		default:
			r->bad += ll_setsig(r->fd, rand_r(&r->seed) % 2 ? SIGUSR1 : 0) != 0;
			break;
		}
	}
	return NULL;
}

static void *race_forks(void *arg)
{
	struct racer *r = arg;
	int i;

	for (i = 0; i < r->iters; i++) {
		pid_t kid = fork();

		if (!kid) {
			int ret = ll_getlease(r->fd);

			_exit(ret == F_RDLCK || ret == F_UNLCK ? 0 : 1);
		}
		r->bad += kid < 0 || ll_wait_child(kid) != 0;
	}
	return NULL;
}

/*
 * Two threads through the library's table on one fd while a third forks
 * children that use it (a fork in the middle of a call must not leave the
 * child's table locked): every call returns what it may, and afterwards
 * no lease or fd is left.
 */
TEST_F_TIMEOUT(fl, threads, 300)
{
	struct racer r[3] = {
		{ .fd = self->fd, .iters = 3000, .seed = 1 },
		{ .fd = self->fd, .iters = 3000, .seed = 2 },
		{ .fd = self->fd, .iters = 100 },
	};
	pthread_t t[3];
	int i, fds = open_fds();

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, i < 2 ? race_calls : race_forks, &r[i]));
	for (i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, r[i].bad) TH_LOG("thread %d", i);
	}
	ll_setlease(self->fd, F_UNLCK);
	EXPECT_EQ(F_UNLCK, ll_getlease(self->fd));
	EXPECT_EQ(0, leases_of(self));
	EXPECT_EQ(fds, open_fds());
}

TEST_HARNESS_MAIN
