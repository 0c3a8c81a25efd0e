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
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <infiniband/verbs.h>
#include <rdma/ib_user_ioctl_cmds.h>
#include <rdma/rdma_user_ioctl.h>

#include "../lib/layoutlease.h"

/* The macros of verbs.h would rename our definitions. */
#undef ibv_reg_mr
#undef ibv_reg_mr_iova

/* Built with -fvisibility=hidden: only these are the library's. */
#define PUBLIC __attribute__((visibility("default")))

#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

/*
 * One region made here.  Locking: @regions and every field of every entry
 * under @lock; the watcher thread takes it to act on a break, and
 * ibv_dereg_mr() takes it to unlink an entry before it frees it.
 */
struct region {
	struct region *next;
	struct ibv_mr *mr;
	bool raw;		/* @mr is ours (raw REG_DMABUF_MR), not the provider's */
	int file_fd, lease_fd, dmabuf_fd;
	unsigned long long pin_id;
	bool pinned;		/* not yet unpinned, revoked or unmapped */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct region *regions;
static int devfd = -1, wake_fd = -1;
static bool watcher_started;
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
	if (wake_fd >= 0)
		close(wake_fd);
	wake_fd = -1;
	watcher_started = false;
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

/* UVERBS_METHOD_REG_DMABUF_MR for a provider that lacks it (see the top). */
static struct ibv_mr *raw_reg_dmabuf_mr(struct ibv_pd *pd, uint64_t off, size_t len,
					uint64_t iova, int fd, int access)
{
	struct {
		struct ib_uverbs_ioctl_hdr hdr;
		struct ib_uverbs_attr attrs[9];
	} c = { 0 };
	__u32 lkey = 0, rkey = 0;
	struct ibv_mr *mr;
	int n = 0;

#define ATTR(id, l, d) \
	(c.attrs[n++] = (struct ib_uverbs_attr){ .attr_id = (id), .len = (l), \
		.flags = UVERBS_ATTR_F_MANDATORY, .data = (d) })
	ATTR(UVERBS_ATTR_REG_DMABUF_MR_HANDLE, 0, 0);
	ATTR(UVERBS_ATTR_REG_DMABUF_MR_PD_HANDLE, 0, pd->handle);
	ATTR(UVERBS_ATTR_REG_DMABUF_MR_OFFSET, 8, off);
	ATTR(UVERBS_ATTR_REG_DMABUF_MR_LENGTH, 8, len);
	ATTR(UVERBS_ATTR_REG_DMABUF_MR_IOVA, 8, iova);
	ATTR(UVERBS_ATTR_REG_DMABUF_MR_FD, 4, (__u32)fd);
	ATTR(UVERBS_ATTR_REG_DMABUF_MR_ACCESS_FLAGS, 8, (__u32)access);
	ATTR(UVERBS_ATTR_REG_DMABUF_MR_RESP_LKEY, 4, (uintptr_t)&lkey);
	ATTR(UVERBS_ATTR_REG_DMABUF_MR_RESP_RKEY, 4, (uintptr_t)&rkey);
#undef ATTR
	c.hdr.length = sizeof(c.hdr) + n * sizeof(c.attrs[0]);
	c.hdr.object_id = UVERBS_OBJECT_MR;
	c.hdr.method_id = UVERBS_METHOD_REG_DMABUF_MR;
	c.hdr.num_attrs = n;
	/* The kernel checks it; rxe is the only device without the provider op. */
	c.hdr.driver_id = RDMA_DRIVER_RXE;
	if (ioctl(pd->context->cmd_fd, RDMA_VERBS_IOCTL, &c)) {
		if (errno == EINVAL)	/* another driver */
			errno = EOPNOTSUPP;
		return NULL;
	}
	mr = calloc(1, sizeof(*mr));
	if (!mr) {
		int e = ENOMEM;
		struct {
			struct ib_uverbs_ioctl_hdr hdr;
			struct ib_uverbs_attr attrs[1];
		} d = { .hdr = { .length = sizeof(d), .object_id = UVERBS_OBJECT_MR,
				 .method_id = UVERBS_METHOD_MR_DESTROY, .num_attrs = 1,
				 .driver_id = RDMA_DRIVER_RXE },
			.attrs = { { .attr_id = UVERBS_ATTR_DESTROY_MR_HANDLE,
				     .flags = UVERBS_ATTR_F_MANDATORY,
				     .data = c.attrs[0].data } } };

		ioctl(pd->context->cmd_fd, RDMA_VERBS_IOCTL, &d);
		errno = e;
		return NULL;
	}
	mr->context = pd->context;
	mr->pd = pd;
	mr->addr = (void *)(uintptr_t)iova;
	mr->length = len;
	mr->handle = c.attrs[0].data;
	mr->lkey = lkey;
	mr->rkey = rkey;
	return mr;
}

static int raw_dereg(struct ibv_mr *mr)
{
	struct {
		struct ib_uverbs_ioctl_hdr hdr;
		struct ib_uverbs_attr attrs[1];
	} d = { .hdr = { .length = sizeof(d), .object_id = UVERBS_OBJECT_MR,
			 .method_id = UVERBS_METHOD_MR_DESTROY, .num_attrs = 1,
			 .driver_id = RDMA_DRIVER_RXE },
		.attrs = { { .attr_id = UVERBS_ATTR_DESTROY_MR_HANDLE,
			     .flags = UVERBS_ATTR_F_MANDATORY, .data = mr->handle } } };

	if (ioctl(mr->context->cmd_fd, RDMA_VERBS_IOCTL, &d))
		return errno;
	free(mr);
	return 0;
}

/* The watcher: reads every lease's records, unpins at a break unless hold. */
static void *watch(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[256];
		struct region *r;
		int n = 1, i;

		p[0] = (struct pollfd){ .fd = wake_fd, .events = POLLIN };
		pthread_mutex_lock(&lock);
		for (r = regions; r && n < 256; r = r->next)
			p[n++] = (struct pollfd){ .fd = r->lease_fd, .events = POLLIN };
		pthread_mutex_unlock(&lock);
		if (poll(p, n, -1) < 0) {
			if (errno != EINTR)
				return NULL;
			continue;
		}
		if (p[0].revents & POLLIN) {
			uint64_t v;

			if (read(wake_fd, &v, sizeof(v)) < 0)
				continue;
		}
		pthread_mutex_lock(&lock);
		for (i = 1; i < n; i++) {
			struct layoutlease_event ev;

			if (!(p[i].revents & POLLIN))
				continue;
			for (r = regions; r && r->lease_fd != p[i].fd; r = r->next)
				;
			/* Deregistered meanwhile (the fd may be another's now). */
			if (!r || ll_read_event(r->lease_fd, &ev))
				continue;
			say("lease fd %d: %s (pin %llu)", r->lease_fd, ll_event_name(ev.type),
			    (unsigned long long)ev.pin_id);
			if (ev.type == LAYOUTLEASE_EVENT_REVOKED ||
			    ev.type == LAYOUTLEASE_EVENT_UNMAPPED) {
				r->pinned = false;
			} else if (ev.type == LAYOUTLEASE_EVENT_BREAK && !hold_mode && r->pinned) {
				int e = ll_unpin(r->lease_fd, r->pin_id);

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

/* Called with @lock held. */
static int start_watcher(void)
{
	pthread_attr_t a;
	pthread_t t;
	sigset_t all, old;
	int e;

	if (watcher_started)
		return 0;
	wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wake_fd < 0)
		return -errno;
	/* The program's signals are the program's: none reaches the watcher. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	e = pthread_create(&t, &a, watch, NULL);
	pthread_attr_destroy(&a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		close(wake_fd);
		wake_fd = -1;
		return -e;
	}
	watcher_started = true;
	return 0;
}

static void wake_watcher(void)
{
	uint64_t one = 1;

	if (wake_fd >= 0 && write(wake_fd, &one, sizeof(one)) < 0)
		say("cannot wake the watcher: %s", strerror(errno));
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
	r->next = regions;
	regions = r;
	pthread_mutex_unlock(&lock);
	wake_watcher();
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

PUBLIC struct ibv_mr *ibv_reg_mr(struct ibv_pd *pd, void *addr, size_t length, int access)
{
	struct ibv_mr *mr;
	bool tried;

	init();
	mr = reg_leased(pd, addr, length, (uintptr_t)addr, access, &tried);
	if (tried)
		return mr;
	return real_reg_mr(pd, addr, length, access);
}

PUBLIC struct ibv_mr *ibv_reg_mr_iova(struct ibv_pd *pd, void *addr, size_t length,
			       uint64_t iova, int access)
{
	struct ibv_mr *mr;
	bool tried;

	init();
	mr = reg_leased(pd, addr, length, iova, access, &tried);
	if (tried)
		return mr;
	return real_reg_mr_iova(pd, addr, length, iova, access);
}

PUBLIC struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t length,
				uint64_t iova, unsigned int access)
{
	struct ibv_mr *mr;
	bool tried;

	init();
	mr = reg_leased(pd, addr, length, iova, access, &tried);
	if (tried)
		return mr;
	return real_reg_mr_iova2(pd, addr, length, iova, access);
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
	close(r->lease_fd);
	close(r->file_fd);
	pthread_mutex_unlock(&lock);
	say("ibv_dereg_mr: region, export, pin and lease gone");
	free(r);
	wake_watcher();
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
