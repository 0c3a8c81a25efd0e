// SPDX-License-Identifier: GPL-2.0
/*
 * liblayoutlease-preload.so: verbs memory regions on DAX file memory for
 * programs that know nothing of layoutlease.
 *
 *   LD_PRELOAD=liblayoutlease-preload.so PROGRAM ...
 *
 * ibv_reg_mr(), ibv_reg_mr_iova() and ibv_reg_mr_iova2() (without
 * IBV_ACCESS_ON_DEMAND, which needs no pin) of memory that lies
 * in one shared mapping of a file on a DAX mount (which the kernel refuses:
 * fsdax pages cannot be pinned long-term, EOPNOTSUPP) become: a layout lease
 * on the file's range, a pin of the pages, a dma-buf export of the pin and
 * ibv_reg_dmabuf_mr() of it at the same iova, returned as an ordinary
 * struct ibv_mr.  ibv_dereg_mr() of it undoes all of that; ibv_rereg_mr() of
 * it is refused.  Every other registration passes through untouched.
 *
 * Environment (Documentation/rdma.rst, "Unmodified programs"):
 *   LAYOUTLEASE_PRELOAD_BREAK=unpin   at a break, unpin at once: the device
 *                                     loses the region (its accesses fail)
 *                                     and the filesystem goes on (default)
 *   LAYOUTLEASE_PRELOAD_BREAK=hold    keep the region until the deadline
 *   LAYOUTLEASE_PRELOAD_TIMEOUT_MS=N  the lease's deadline (default: the
 *                                     module's break_timeout_ms)
 *   LAYOUTLEASE_PRELOAD_LOG=1         log each step to stderr
 *
 * A provider without reg_dmabuf_mr (rxe's, in every rdma-core to date) gets
 * the kernel's UVERBS_METHOD_REG_DMABUF_MR issued here, as the provider
 * would issue it; a kernel driver without dma-buf regions still refuses.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include "../lib/layoutlease.h"
#include "../lib/llverbs.h"

/* The macros of verbs.h would rename our definitions. */
#undef ibv_reg_mr
#undef ibv_reg_mr_iova

/* Built with -fvisibility=hidden: only these are the library's. */
#define PUBLIC __attribute__((visibility("default")))

#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

/* The access flags of the kernel's REG_DMABUF_MR. */
#define DMABUF_ACCESS	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
			 IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC | \
			 IBV_ACCESS_RELAXED_ORDERING)

/*
 * One region made here.
 *
 * Locking: @regions and every field of every entry under @lock.  The
 * watcher thread takes it to act on a break and holds it across
 * ll_unpin(), so that ibv_dereg_mr(), which takes it to unlink an entry
 * before it frees it, never unpins or closes what the watcher is using;
 * ll_unpin() of an exported pin waits only for the device's move_notify
 * (a bounded wait: rxe's, or a real driver's invalidation), never for
 * the program, so a registration that waits for the lock meanwhile waits
 * that long at most.  Nothing the program calls is called with @lock
 * held except the provider's dereg_mr, which must not re-enter the
 * library.
 */
struct region {
	struct region *next;
	struct ibv_mr *mr;
	bool raw;		/* @mr is ours (raw REG_DMABUF_MR), not the provider's */
	int file_fd, lease_fd, dmabuf_fd;
	unsigned long long pin_id;
	unsigned long long id;	/* the watcher's name for it: fds are reused */
	bool pinned;		/* not yet unpinned, revoked or unmapped */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct region *regions;
static int devfd = -1, epfd = -1;
static unsigned long long next_id;
static int log_on = -1, hold_mode = -1;
static unsigned int timeout_ms;

static struct ibv_mr *(*real_reg_mr)(struct ibv_pd *, void *, size_t, int);
static struct ibv_mr *(*real_reg_mr_iova)(struct ibv_pd *, void *, size_t, uint64_t, int);
static struct ibv_mr *(*real_reg_mr_iova2)(struct ibv_pd *, void *, size_t, uint64_t,
					   unsigned int);
static struct ibv_mr *(*real_reg_dmabuf_mr)(struct ibv_pd *, uint64_t, size_t, uint64_t,
					    int, int);
static int (*real_dereg_mr)(struct ibv_mr *);
static int (*real_rereg_mr)(struct ibv_mr *, int, struct ibv_pd *, void *, size_t, int);

static void say(const char *fmt, ...)
{
	va_list ap;

	if (!log_on)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "layoutlease-preload[%d]: ", getpid());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/*
 * A forked child has no watcher thread, and the regions it inherited are
 * its parent's (their pins belong to the parent's address space): it
 * starts with none of its own and starts a watcher of its own if it
 * registers.  Its copies of the parent's lease and dma-buf fds stay open
 * until it closes or execs them (they are close-on-exec).
 */
static void atfork_child(void)
{
	pthread_mutex_init(&lock, NULL);
	regions = NULL;
	/* The parent's epoll set, shared with it: not the child's to change. */
	if (epfd >= 0)
		close(epfd);
	epfd = -1;
}

static void init_once(void)
{
	const char *b = getenv("LAYOUTLEASE_PRELOAD_BREAK");
	const char *t = getenv("LAYOUTLEASE_PRELOAD_TIMEOUT_MS");
	const char *l = getenv("LAYOUTLEASE_PRELOAD_LOG");

	log_on = l && *l && strcmp(l, "0");
	hold_mode = b && !strcmp(b, "hold");
	if (b && strcmp(b, "hold") && strcmp(b, "unpin"))
		fprintf(stderr, "layoutlease-preload: LAYOUTLEASE_PRELOAD_BREAK=%s: "
			"neither unpin nor hold, taking unpin\n", b);
	timeout_ms = t ? strtoul(t, NULL, 0) : 0;
	real_reg_mr = dlsym(RTLD_NEXT, "ibv_reg_mr");
	real_reg_mr_iova = dlsym(RTLD_NEXT, "ibv_reg_mr_iova");
	real_reg_mr_iova2 = dlsym(RTLD_NEXT, "ibv_reg_mr_iova2");
	real_reg_dmabuf_mr = dlsym(RTLD_NEXT, "ibv_reg_dmabuf_mr");
	real_dereg_mr = dlsym(RTLD_NEXT, "ibv_dereg_mr");
	real_rereg_mr = dlsym(RTLD_NEXT, "ibv_rereg_mr");
	pthread_atfork(NULL, NULL, atfork_child);
	say("loaded: at a break %s, deadline %s ms", hold_mode ? "hold" : "unpin",
	    timeout_ms ? t : "module default");
}

static void init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, init_once);
}

/*
 * The mapping that holds all of [@addr, +@len): a shared mapping of a file,
 * whose device and inode are returned with its path and the file offset of
 * @addr.  false if there is none.
 */
static bool find_mapping(uintptr_t addr, size_t len, char *path, size_t plen,
			 dev_t *dev, ino_t *ino, unsigned long long *off)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[4096 + 128];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long long start, end, pgoff, inode;
		unsigned int maj, min;
		char perms[8];
		int n = 0;

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms,
			   &pgoff, &maj, &min, &inode, &n) < 7 || !n)
			continue;
		if (addr < start || addr >= end)
			continue;
		/* The first mapping that holds @addr decides. */
		if (addr + len > end || perms[3] != 's' || !inode || line[n] != '/')
			break;
		line[strcspn(line, "\n")] = 0;
		snprintf(path, plen, "%s", line + n);
		*dev = makedev(maj, min);
		*ino = inode;
		*off = pgoff + (addr - start);
		found = true;
	}
	fclose(f);
	return found;
}

/* The mapped file, opened again, if it is the same inode and it is DAX. */
static int open_dax_file(const char *path, dev_t dev, ino_t ino)
{
	struct statx stx;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_INO, &stx) ||
	    makedev(stx.stx_dev_major, stx.stx_dev_minor) != dev || stx.stx_ino != ino ||
	    !(stx.stx_attributes_mask & STATX_ATTR_DAX) ||
	    !(stx.stx_attributes & STATX_ATTR_DAX)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The kernel's REG_DMABUF_MR, for a provider that lacks it (see the top). */
static struct ibv_mr *raw_reg_dmabuf_mr(struct ibv_pd *pd, uint64_t off, size_t len,
					uint64_t iova, int fd, int access)
{
	__u32 handle, lkey, rkey;
	struct ibv_mr *mr;
	int e;

	e = ll_verbs_reg_dmabuf_mr(pd, off, len, iova, fd, access, &handle, &lkey, &rkey);
	if (e) {
		/* Another driver: its provider would have had the verb. */
		errno = e == -EINVAL ? EOPNOTSUPP : -e;
		return NULL;
	}
	mr = calloc(1, sizeof(*mr));
	if (!mr) {
		ll_verbs_destroy_mr(pd->context, handle);
		errno = ENOMEM;
		return NULL;
	}
	mr->context = pd->context;
	mr->pd = pd;
	mr->addr = (void *)(uintptr_t)iova;
	mr->length = len;
	mr->handle = handle;
	mr->lkey = lkey;
	mr->rkey = rkey;
	return mr;
}

/* ibv_dereg_mr() of a region raw_reg_dmabuf_mr() made: 0 or an errno. */
static int raw_dereg(struct ibv_mr *mr)
{
	int e = ll_verbs_destroy_mr(mr->context, mr->handle);

	if (e)
		return -e;
	free(mr);
	return 0;
}

/*
 * The watcher: reads every lease's records, unpins at a break unless hold.
 *
 * It waits in epoll_wait() on @epfd, in which every region's lease fd is
 * registered under the region's @id.  epoll, unlike poll(), holds no
 * reference to the files it watches: once ibv_dereg_mr() has closed a
 * lease fd, the lease is gone at once (with poll() the last reference
 * would be the watcher's, dropped only when it next woke, a few ms later,
 * and a truncate meanwhile would still break a lease nobody held).  An
 * event of a region deregistered since is found on no region and dropped.
 */
static void *watch(void *arg)
{
	int ep = (int)(intptr_t)arg;

	for (;;) {
		struct epoll_event evs[16];
		int n, i;

		n = epoll_wait(ep, evs, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			say("watcher: epoll_wait: %s; breaks now wait for the deadline",
			    strerror(errno));
			return NULL;
		}
		pthread_mutex_lock(&lock);
		for (i = 0; i < n; i++) {
			struct layoutlease_event ev;
			struct region *r;
			int e;

			for (r = regions; r && r->id != evs[i].data.u64; r = r->next)
				;
			if (!r)
				continue;
			e = ll_read_event(r->lease_fd, &ev);
			if (e == -EAGAIN)
				continue;
			if (e) {
				/* Level-triggered: it would come back at once. */
				say("lease fd %d: %s; no longer watched", r->lease_fd,
				    strerror(-e));
				epoll_ctl(ep, EPOLL_CTL_DEL, r->lease_fd, NULL);
				continue;
			}
			say("lease fd %d: %s (pin %llu)", r->lease_fd, ll_event_name(ev.type),
			    (unsigned long long)ev.pin_id);
			if (ev.type == LAYOUTLEASE_EVENT_REVOKED ||
			    ev.type == LAYOUTLEASE_EVENT_UNMAPPED) {
				r->pinned = false;
			} else if (ev.type == LAYOUTLEASE_EVENT_BREAK && !hold_mode && r->pinned) {
				e = ll_unpin(r->lease_fd, r->pin_id);

				r->pinned = false;
				say("unpin pin %llu at the break: %s (lkey 0x%x: the device's "
				    "accesses fail from now on)", r->pin_id,
				    e ? strerror(-e) : "ok", r->mr->lkey);
			}
		}
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

/* The watcher and its epoll set, once per process.  Called with @lock held. */
static int start_watcher(void)
{
	pthread_attr_t a;
	pthread_t t;
	sigset_t all, old;
	int e, ep;

	if (epfd >= 0)
		return 0;
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -errno;
	/* The program's signals are the program's: none reaches the watcher. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	e = pthread_create(&t, &a, watch, (void *)(intptr_t)ep);
	pthread_attr_destroy(&a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		close(ep);
		return -e;
	}
	epfd = ep;
	return 0;
}

/*
 * The layoutlease path.  NULL with errno set if it failed (the program gets
 * the failure); *@tried false if the memory is not a DAX file mapping.
 */
static struct ibv_mr *reg_leased(struct ibv_pd *pd, void *addr, size_t length,
				 uint64_t iova, unsigned int access, bool *tried)
{
	long ps = sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)addr, start = a & ~(ps - 1);
	size_t plen = ((a + length + ps - 1) & ~(ps - 1)) - start;
	struct epoll_event ev;
	unsigned long long off;
	struct region *r;
	char path[4096];
	dev_t dev;
	ino_t ino;
	int e;

	*tried = false;
	/* On-demand paging needs no pin: the device faults, the kernel zaps. */
	if (access & IBV_ACCESS_ON_DEMAND)
		return NULL;
	if (!length || !find_mapping(a, length, path, sizeof(path), &dev, &ino, &off))
		return NULL;
	/*
	 * Optional flags may be dropped (verbs.h).  The rest must be what
	 * REG_DMABUF_MR takes, on every kernel (uverbs_std_types_mr.c): no
	 * memory windows (IBV_ACCESS_MW_BIND), zero-based or flush access.
	 * Such a registration is not one this library can make: it passes
	 * through, and the program gets libibverbs' own answer.
	 */
	access &= ~(IBV_ACCESS_OPTIONAL_RANGE & ~IBV_ACCESS_RELAXED_ORDERING);
	if (access & ~DMABUF_ACCESS) {
		say("ibv_reg_mr(%p, %zu) on %s: access 0x%x has 0x%x, which a dma-buf "
		    "region cannot have: passed through", addr, length, path, access,
		    access & ~DMABUF_ACCESS);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		errno = ENOMEM;
		return NULL;
	}
	r->lease_fd = r->dmabuf_fd = -1;
	r->file_fd = open_dax_file(path, dev, ino);
	if (r->file_fd < 0) {
		free(r);
		return NULL;
	}
	*tried = true;
	off -= a - start;
	say("ibv_reg_mr(%p, %zu) on %s offset %llu: a DAX file mapping", addr, length,
	    path, off);
	pthread_mutex_lock(&lock);
	if (devfd < 0)
		devfd = ll_open();
	e = devfd < 0 ? devfd : start_watcher();
	pthread_mutex_unlock(&lock);
	if (e)
		goto fail;
	r->lease_fd = ll_lease_create(devfd, r->file_fd, off, plen, timeout_ms, 0);
	if (r->lease_fd < 0) {
		e = r->lease_fd;
		say("lease: %s", strerror(-e));
		goto fail;
	}
	e = ll_pin(r->lease_fd, (void *)start, plen, 0, &r->pin_id);
	say("lease fd %d on [%llu, +%zu); pin %s %llu", r->lease_fd, off, plen,
	    e ? strerror(-e) : "ok", e ? 0 : r->pin_id);
	if (e)
		goto fail;
	r->pinned = true;
	r->dmabuf_fd = ll_export(r->lease_fd, r->pin_id);
	if (r->dmabuf_fd < 0) {
		e = r->dmabuf_fd;
		say("export: %s", strerror(-e));
		goto fail;
	}
	r->mr = real_reg_dmabuf_mr ?
		real_reg_dmabuf_mr(pd, a - start, length, iova, r->dmabuf_fd, access) : NULL;
	if (!r->mr && (!real_reg_dmabuf_mr || errno == EOPNOTSUPP)) {
		say("ibv_reg_dmabuf_mr: %s; the kernel's REG_DMABUF_MR instead",
		    strerror(errno));
		r->mr = raw_reg_dmabuf_mr(pd, a - start, length, iova, r->dmabuf_fd, access);
		r->raw = r->mr;
	}
	if (!r->mr) {
		e = -errno;
		say("dma-buf memory region: %s", strerror(-e));
		goto fail;
	}
	/* What the program asked for, as ibv_reg_mr() would report it. */
	r->mr->addr = addr;
	say("dma-buf fd %d registered: lkey 0x%x rkey 0x%x iova 0x%" PRIx64,
	    r->dmabuf_fd, r->mr->lkey, r->mr->rkey, iova);
	pthread_mutex_lock(&lock);
	r->id = ++next_id;
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = r->id };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, r->lease_fd, &ev)) {
		e = -errno;
		pthread_mutex_unlock(&lock);
		say("watch lease fd %d: %s", r->lease_fd, strerror(-e));
		if (r->raw ? raw_dereg(r->mr) : real_dereg_mr(r->mr))
			say("cannot deregister the region made: it stays the process's");
		goto fail;
	}
	r->next = regions;
	regions = r;
	pthread_mutex_unlock(&lock);
	return r->mr;
fail:
	if (r->dmabuf_fd >= 0)
		close(r->dmabuf_fd);
	if (r->pinned)
		ll_unpin(r->lease_fd, r->pin_id);
	if (r->lease_fd >= 0)
		close(r->lease_fd);
	close(r->file_fd);
	free(r);
	errno = -e;
	return NULL;
}

/* Which of libibverbs' registrations the program called. */
enum reg_call { REG_MR, REG_MR_IOVA, REG_MR_IOVA2 };

static struct ibv_mr *reg(enum reg_call call, struct ibv_pd *pd, void *addr,
			  size_t length, uint64_t iova, unsigned int access)
{
	struct ibv_mr *mr;
	bool tried;

	init();
	mr = reg_leased(pd, addr, length, iova, access, &tried);
	if (tried)
		return mr;
	switch (call) {
	case REG_MR:
		return real_reg_mr(pd, addr, length, access);
	case REG_MR_IOVA:
		return real_reg_mr_iova(pd, addr, length, iova, access);
	default:
		return real_reg_mr_iova2(pd, addr, length, iova, access);
	}
}

PUBLIC struct ibv_mr *ibv_reg_mr(struct ibv_pd *pd, void *addr, size_t length, int access)
{
	return reg(REG_MR, pd, addr, length, (uintptr_t)addr, access);
}

PUBLIC struct ibv_mr *ibv_reg_mr_iova(struct ibv_pd *pd, void *addr, size_t length,
				      uint64_t iova, int access)
{
	return reg(REG_MR_IOVA, pd, addr, length, iova, access);
}

PUBLIC struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t length,
				       uint64_t iova, unsigned int access)
{
	return reg(REG_MR_IOVA2, pd, addr, length, iova, access);
}

/* Unlinked from the list, or NULL if @mr is not ours.  @lock held. */
static struct region *take(struct ibv_mr *mr)
{
	struct region **p, *r;

	for (p = &regions; (r = *p); p = &r->next)
		if (r->mr == mr) {
			*p = r->next;
			return r;
		}
	return NULL;
}

PUBLIC int ibv_dereg_mr(struct ibv_mr *mr)
{
	struct region *r;
	int e;

	init();
	pthread_mutex_lock(&lock);
	r = take(mr);
	if (!r) {
		pthread_mutex_unlock(&lock);
		return real_dereg_mr(mr);
	}
	/* The device first: once deregistered it touches the memory no more. */
	e = r->raw ? raw_dereg(mr) : real_dereg_mr(mr);
	if (e) {
		/* Nothing changed: the region stays the program's. */
		r->next = regions;
		regions = r;
		pthread_mutex_unlock(&lock);
		say("ibv_dereg_mr(lkey 0x%x): %s", mr->lkey, strerror(e));
		return e;
	}
	close(r->dmabuf_fd);
	if (r->pinned) {
		e = ll_unpin(r->lease_fd, r->pin_id);
		say("unpin pin %llu: %s", r->pin_id, e ? strerror(-e) : "ok");
	}
	/*
	 * Out of the watcher's set first: epoll forgets a file only at its
	 * release, and a forked child's copy of the fd would keep it.  Then
	 * the last reference to the lease (a forked child's copies apart):
	 * it is gone when close() returns.
	 */
	epoll_ctl(epfd, EPOLL_CTL_DEL, r->lease_fd, NULL);
	close(r->lease_fd);
	close(r->file_fd);
	pthread_mutex_unlock(&lock);
	say("ibv_dereg_mr: region, export, pin and lease gone");
	free(r);
	return 0;
}

PUBLIC int ibv_rereg_mr(struct ibv_mr *mr, int flags, struct ibv_pd *pd, void *addr,
		 size_t length, int access)
{
	struct region *r;

	init();
	pthread_mutex_lock(&lock);
	for (r = regions; r && r->mr != mr; r = r->next)
		;
	pthread_mutex_unlock(&lock);
	if (r) {
		say("ibv_rereg_mr of a leased region: refused");
		errno = EOPNOTSUPP;
		return IBV_REREG_MR_ERR_INPUT;
	}
	return real_rereg_mr(mr, flags, pd, addr, length, access);
}
