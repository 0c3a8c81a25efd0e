// SPDX-License-Identifier: GPL-2.0
/*
 * liblayoutlease's fcntl-style calls: a layout lease of a whole file,
 * named by the file's own fd as fcntl(F_SETLEASE) names a file lease.
 * Documentation/uapi.rst ("fcntl-style calls") has the table of what is
 * the same as fcntl and what differs.
 *
 * The table.  One entry per file fd that has a lease taken here or a
 * signal chosen with ll_setsig(): the fd with the device and inode it had,
 * and the lease fd with the lease's id.  ll_fl_lock covers the table and
 * every call from its first look at it to its last change, ioctls
 * included, so two threads never take two leases for one fd or close one
 * lease fd twice; it is taken around fork() (pthread_atfork) so that a
 * child never starts with it held.
 *
 * Every call first drops the entries whose fd was closed or now names
 * another file, releasing their lease: fcntl's lease ends with the file's
 * last fd, and here with the first call after.  An fd is closed only once
 * it is known to be the lease fd made here: /proc/self/fdinfo names the
 * same lease id (without /proc, the same anonymous inode must do).  A
 * program that closed the lease fd itself and got the number back for
 * another file keeps that file; the library forgets the lease.
 *
 * None of these calls is async-signal-safe: they lock, and they open the
 * device and fdinfo.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layoutlease.h"

struct ll_fl {
	int fd;			/* the file's fd, and what it was */
	dev_t dev;
	ino_t ino;
	int lease_fd;		/* -1: no lease, only a signal */
	dev_t lease_dev;	/* what the lease fd was */
	ino_t lease_ino;
	unsigned long long lease_id;
	int sig;		/* ll_setsig()'s; 0 is SIGIO */
};

static pthread_mutex_t ll_fl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t ll_fl_once = PTHREAD_ONCE_INIT;
static struct ll_fl *ll_fl;	/* ll_fl_n entries of ll_fl_cap */
static size_t ll_fl_n, ll_fl_cap;

enum { LL_FL_GONE, LL_FL_ACTIVE, LL_FL_BREAKING };

static void ll_fl_prepare(void)
{
	pthread_mutex_lock(&ll_fl_lock);
}

static void ll_fl_release(void)
{
	pthread_mutex_unlock(&ll_fl_lock);
}

static void ll_fl_init(void)
{
	pthread_atfork(ll_fl_prepare, ll_fl_release, ll_fl_release);
}

static void ll_fl_enter(void)
{
	pthread_once(&ll_fl_once, ll_fl_init);
	pthread_mutex_lock(&ll_fl_lock);
}

/* Leave with -1 and errno @err, or with @ret if @err is 0. */
static int ll_fl_leave(int ret, int err)
{
	pthread_mutex_unlock(&ll_fl_lock);
	if (err) {
		errno = err;
		return -1;
	}
	return ret;
}

/* What the lease fd of @e is now. */
static int ll_fl_state(const struct ll_fl *e)
{
	char path[64], buf[4096], state[16], *line;
	unsigned long long id;
	struct stat st;
	ssize_t n;
	int fd;

	if (e->lease_fd < 0 || fstat(e->lease_fd, &st) ||
	    st.st_dev != e->lease_dev || st.st_ino != e->lease_ino)
		return LL_FL_GONE;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", e->lease_fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)	/* no /proc: the inode must do */
		return LL_FL_ACTIVE;
	/* The lease's line follows the four of the VFS: well within 4 KiB. */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return LL_FL_GONE;
	buf[n] = 0;
	for (line = buf; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if (sscanf(line, "lease %llu: %15s", &id, state) == 2)
			break;
	if (!line || id != e->lease_id)
		return LL_FL_GONE;
	return strcmp(state, "BREAKING") ? LL_FL_ACTIVE : LL_FL_BREAKING;
}

/* Release the lease of @e, if its fd still is the lease's. */
static void ll_fl_unlock_lease(struct ll_fl *e)
{
	if (ll_fl_state(e) != LL_FL_GONE)
		close(e->lease_fd);
	e->lease_fd = -1;
}

static void ll_fl_remove(struct ll_fl *e)
{
	*e = ll_fl[--ll_fl_n];
}

/* Drop the entries whose fd was closed or names another file now. */
static void ll_fl_sweep(void)
{
	struct stat st;
	size_t i = 0;

	while (i < ll_fl_n) {
		struct ll_fl *e = &ll_fl[i];

		if (!fstat(e->fd, &st) && st.st_dev == e->dev && st.st_ino == e->ino) {
			i++;
			continue;
		}
		ll_fl_unlock_lease(e);
		ll_fl_remove(e);
	}
}

/*
 * Enter for a call on @fd: the lock held, the table swept (also when @fd
 * is not open); @st is what @fd is.  Returns @fd's entry, with a lease fd that still is the lease's (or
 * -1), or NULL.  Returns NULL with *err set if @fd is not open.
 */
static struct ll_fl *ll_fl_get(int fd, struct stat *st, int *err)
{
	size_t i;

	*err = 0;
	ll_fl_enter();
	ll_fl_sweep();
	if (fstat(fd, st)) {
		*err = errno;
		return NULL;
	}
	for (i = 0; i < ll_fl_n; i++) {
		struct ll_fl *e = &ll_fl[i];

		if (e->fd != fd)
			continue;
		if (e->lease_fd >= 0 && ll_fl_state(e) == LL_FL_GONE)
			e->lease_fd = -1;
		return e;
	}
	return NULL;
}

/* The entry of @fd when there is none yet; NULL for ENOMEM. */
static struct ll_fl *ll_fl_add(int fd, const struct stat *st)
{
	struct ll_fl *e;

	if (ll_fl_n == ll_fl_cap) {
		size_t cap = ll_fl_cap ? 2 * ll_fl_cap : 8;

		e = realloc(ll_fl, cap * sizeof(*e));
		if (!e)
			return NULL;
		ll_fl = e;
		ll_fl_cap = cap;
	}
	e = &ll_fl[ll_fl_n++];
	*e = (struct ll_fl){ .fd = fd, .dev = st->st_dev, .ino = st->st_ino, .lease_fd = -1 };
	return e;
}

/* An entry with neither a lease nor a signal says nothing: it goes. */
static void ll_fl_tidy(struct ll_fl *e)
{
	if (e->lease_fd < 0 && !e->sig)
		ll_fl_remove(e);
}

/* Take the lease of @e's file: the whole of it, as far as it can grow. */
static int ll_fl_take(struct ll_fl *e)
{
	unsigned long long ps = sysconf(_SC_PAGESIZE);
	struct layoutlease_lease_create cmd = {
		.size = sizeof(cmd),
		.flags = LAYOUTLEASE_LEASE_NONBLOCK,
		.fd = e->fd,
		.length = LLONG_MAX & ~(ps - 1),
	};
	struct stat st;
	int devfd, err;

	devfd = ll_open();
	if (devfd < 0)
		return -devfd;
	err = ioctl(devfd, LAYOUTLEASE_IOC_LEASE_CREATE, &cmd) ? errno : 0;
	close(devfd);
	/* A file without layout leases: fcntl's EINVAL. */
	if (err)
		return err == EOPNOTSUPP ? EINVAL : err;
	err = -ll_owner(cmd.out_lease_fd, e->sig);
	if (!err && fstat(cmd.out_lease_fd, &st))
		err = errno;
	if (err) {
		close(cmd.out_lease_fd);
		return err;
	}
	e->lease_fd = cmd.out_lease_fd;
	e->lease_dev = st.st_dev;
	e->lease_ino = st.st_ino;
	e->lease_id = cmd.out_lease_id;
	return 0;
}

int ll_setlease(int fd, int type)
{
	struct ll_fl *e;
	struct stat st;
	int err;

	e = ll_fl_get(fd, &st, &err);
	if (err)
		return ll_fl_leave(-1, err);
	if (type == F_UNLCK) {
		/* No lease: fcntl(F_SETLEASE, F_UNLCK)'s EAGAIN. */
		if (!e || e->lease_fd < 0)
			return ll_fl_leave(-1, EAGAIN);
		ll_fl_unlock_lease(e);
		ll_fl_tidy(e);
		return ll_fl_leave(0, 0);
	}
	/* There is no exclusive layout lease: F_WRLCK is not a type here. */
	if (type != F_RDLCK)
		return ll_fl_leave(-1, EINVAL);
	if (e && e->lease_fd >= 0)	/* held: (re)join as an owner */
		return ll_fl_leave(0, -ll_owner(e->lease_fd, e->sig));
	if (!e) {
		e = ll_fl_add(fd, &st);
		if (!e)
			return ll_fl_leave(-1, ENOMEM);
	}
	err = ll_fl_take(e);
	if (err)
		ll_fl_tidy(e);
	return ll_fl_leave(0, err);
}

int ll_getlease(int fd)
{
	struct ll_fl *e;
	struct stat st;
	int err;

	e = ll_fl_get(fd, &st, &err);
	if (err)
		return ll_fl_leave(-1, err);
	/* While it breaks: what fcntl(F_GETLEASE) says of a lease breaking to F_UNLCK. */
	if (e && ll_fl_state(e) == LL_FL_ACTIVE)
		return ll_fl_leave(F_RDLCK, 0);
	return ll_fl_leave(F_UNLCK, 0);
}

int ll_setsig(int fd, int sig)
{
	struct ll_fl *e;
	struct stat st;
	int err;

	e = ll_fl_get(fd, &st, &err);
	if (err)
		return ll_fl_leave(-1, err);
	/* The kernel's signals but the two that cannot be caught. */
	if (sig < 0 || sig > SIGRTMAX || sig == SIGKILL || sig == SIGSTOP)
		return ll_fl_leave(-1, EINVAL);
	if (!e) {
		if (!sig)
			return ll_fl_leave(0, 0);
		e = ll_fl_add(fd, &st);
		if (!e)
			return ll_fl_leave(-1, ENOMEM);
	}
	if (e->lease_fd >= 0) {
		err = -ll_owner(e->lease_fd, sig);
		if (err)
			return ll_fl_leave(-1, err);
	}
	e->sig = sig;
	ll_fl_tidy(e);
	return ll_fl_leave(0, 0);
}

int ll_getsig(int fd)
{
	struct ll_fl *e;
	struct stat st;
	int err;

	e = ll_fl_get(fd, &st, &err);
	if (err)
		return ll_fl_leave(-1, err);
	return ll_fl_leave(e ? e->sig : 0, 0);
}

int ll_lease_fd(int fd)
{
	struct ll_fl *e;
	struct stat st;
	int err;

	e = ll_fl_get(fd, &st, &err);
	if (err)
		return ll_fl_leave(-1, err);
	if (!e || e->lease_fd < 0)
		return ll_fl_leave(-1, ENOENT);
	return ll_fl_leave(e->lease_fd, 0);
}
