// SPDX-License-Identifier: GPL-2.0
/*
 * Pins exported as dma-bufs (LAYOUTLEASE_IOC_EXPORT), driven through the
 * test-only importer ll_importer.ko, which behaves like a device driver:
 * it maps the buffer, reads and writes it as a device would, and records
 * whether the pages were still pinned at every access and at its unmap.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "layoutlease_utils.h"
#include "importer_utils.h"

#define NPAGES 16
#define TIMEOUT_MS 300

/*
 * The importer was told to stop once, let its one access finish, unmapped
 * after it, and never found a page unpinned while it could reach it.
 */
static void expect_revoked_in_order(struct __test_metadata *_metadata, int imp)
{
	struct lli_status st = lli_status(imp);

	EXPECT_EQ(1, st.moves);
	EXPECT_EQ(0, st.mapped);
	EXPECT_EQ(1, st.accesses);
	EXPECT_EQ(0, st.unpinned_access);
	EXPECT_EQ(0, st.unpinned_unmap);
	EXPECT_EQ(0, st.late_access);
	EXPECT_LE(st.last_access_ns, st.unmap_ns);
	EXPECT_LE(st.ack_ns, st.unmap_ns);
}

static int set_allow_pinned(int on)
{
	int fd = open("/sys/module/layoutlease/parameters/allow_pinned_importers",
		      O_WRONLY);
	int ret;

	if (fd < 0)
		return -1;
	ret = write(fd, on ? "Y" : "N", 1) == 1 ? 0 : -1;
	close(fd);
	return ret;
}

/*
 * Freeing a revoked pin of a closed lease is asynchronous: wait for it, up
 * to 10 s (a work item on a loaded debug guest).
 */
static int wait_leases(int want)
{
	int i, n = -1;

	for (i = 0; i < 1000 && (n = ll_proc_leases()) != want; i++)
		usleep(10 * 1000);
	return n;
}

static int wait_refs(int want)
{
	int i, n = -1;

	for (i = 0; i < 1000 && (n = ll_module_refs()) != want; i++)
		usleep(10 * 1000);
	return n;
}

FIXTURE(exp) {
	int devfd;
	int fd;
	int lease_fd;
	int imp;
	char path[256];
	char *map;
	size_t len;
	long ps;
	__u64 pin_id;
	int dmabuf_fd;
};

FIXTURE_VARIANT(exp) {
	const char *fs;
};

FIXTURE_VARIANT_ADD(exp, xfs) { .fs = "xfs" };
FIXTURE_VARIANT_ADD(exp, ext4) { .fs = "ext4" };

FIXTURE_SETUP(exp)
{
	self->ps = sysconf(_SC_PAGESIZE);
	self->len = NPAGES * self->ps;
	self->devfd = ll_dev_open();
	ASSERT_LE(0, self->devfd);
	self->imp = open(LL_IMPORTER_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->imp) TH_LOG("ll_importer.ko is not loaded");
	snprintf(self->path, sizeof(self->path), "%s/dmabuf.%d",
		 ll_mount(variant->fs), getpid());
	self->fd = open(self->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ftruncate(self->fd, self->len));
	self->map = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	memset(self->map, 0, self->len);
	test_cmd_lease_create(self->fd, 0, self->len, TIMEOUT_MS,
			      &self->lease_fd);
	test_cmd_pin(self->lease_fd, self->map, self->len, &self->pin_id);
	test_cmd_export(self->lease_fd, self->pin_id, &self->dmabuf_fd);
}

FIXTURE_TEARDOWN(exp)
{
	set_allow_pinned(0);
	close(self->imp);
	if (self->dmabuf_fd >= 0)
		close(self->dmabuf_fd);
	if (self->map != MAP_FAILED)
		munmap(self->map, self->len);
	close(self->lease_fd);
	close(self->fd);
	unlink(self->path);
	close(self->devfd);
	EXPECT_EQ(0, wait_leases(0));
}

/* The lease, pin and export again, with COOP_TIMEOUT_MS. */
static void coop_lease(struct __test_metadata *_metadata,
		       FIXTURE_DATA(exp) *self)
{
	/* A pin outlives its lease fd: unpinned first. */
	close(self->dmabuf_fd);
	test_cmd_unpin(self->lease_fd, self->pin_id);
	close(self->lease_fd);
	ASSERT_EQ(0, wait_leases(0));
	test_cmd_lease_create(self->fd, 0, self->len, COOP_TIMEOUT_MS,
			      &self->lease_fd);
	test_cmd_pin(self->lease_fd, self->map, self->len, &self->pin_id);
	test_cmd_export(self->lease_fd, self->pin_id, &self->dmabuf_fd);
}

/* The errno contract of LAYOUTLEASE_IOC_EXPORT. */
TEST_F(exp, export_errors)
{
	struct {
		struct layoutlease_export cmd;
		__u64 tail;
	} big = { .cmd = { .size = sizeof(big), .pin_id = self->pin_id } };
	struct layoutlease_export cmd = { .size = sizeof(cmd) };
	struct stat st;
	int fd2;

	/* Too short, unknown non-zero tail, unknown flag, reserved bits. */
	cmd.size = offsetof(struct layoutlease_export, out_dmabuf_fd);
	EXPECT_ERRNO(EINVAL, ioctl(self->lease_fd, LAYOUTLEASE_IOC_EXPORT, &cmd));
	big.tail = 1;
	EXPECT_ERRNO(E2BIG, ioctl(self->lease_fd, LAYOUTLEASE_IOC_EXPORT, &big));
	test_err_export(EOPNOTSUPP, self->lease_fd, self->pin_id, 1);
	cmd.size = sizeof(cmd);
	cmd.pin_id = self->pin_id;
	cmd.__reserved = 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->lease_fd, LAYOUTLEASE_IOC_EXPORT, &cmd));
	/* On the device fd: not a lease command there. */
	EXPECT_ERRNO(ENOTTY, ioctl(self->devfd, LAYOUTLEASE_IOC_EXPORT, &cmd));
	test_err_export(ENOENT, self->lease_fd, self->pin_id + 1000, 0);
	/* One dma-buf per pin at a time. */
	test_err_export(EBUSY, self->lease_fd, self->pin_id, 0);

	/* None of that touched the pin or its dma-buf; a bigger struct works. */
	ASSERT_EQ(0, lli_attach(self->imp, self->dmabuf_fd, LLI_DYNAMIC));
	ASSERT_EQ(0, ioctl(self->imp, LLI_IOC_DETACH));
	ASSERT_EQ(0, fstat(self->dmabuf_fd, &st));
	EXPECT_EQ(self->len, st.st_size);
	EXPECT_EQ(FD_CLOEXEC, fcntl(self->dmabuf_fd, F_GETFD));
	EXPECT_EQ(MAP_FAILED, mmap(NULL, self->len, PROT_READ, MAP_SHARED,
				   self->dmabuf_fd, 0));
	close(self->dmabuf_fd);
	big.tail = 0;
	ASSERT_EQ(0, ioctl(self->lease_fd, LAYOUTLEASE_IOC_EXPORT, &big));
	self->dmabuf_fd = big.cmd.out_dmabuf_fd;

	/* A revoked or unpinned pin. */
	test_cmd_unpin(self->lease_fd, self->pin_id);
	test_err_export(ENOENT, self->lease_fd, self->pin_id, 0);
	EXPECT_ERRNO(ENOLINK, lli_attach(self->imp, self->dmabuf_fd, LLI_DYNAMIC));
	fd2 = -1;
	EXPECT_ERRNO(ENOENT, _test_cmd_export(self->lease_fd, self->pin_id, 0, &fd2));
	EXPECT_EQ(-1, fd2);
}

/* What the "device" writes is in the file, and the reverse. */
TEST_F(exp, device_access)
{
	char buf[8];
	__u64 v;

	ASSERT_EQ(0, lli_attach(self->imp, self->dmabuf_fd, LLI_DYNAMIC));
	ASSERT_EQ(0, lli_write(self->imp, 3 * self->ps + 100, 16, 0xa5, 0));
	ASSERT_EQ(8, pread(self->fd, buf, 8, 3 * self->ps + 100));
	EXPECT_EQ((char)0xa5, buf[0]);
	EXPECT_EQ((char)0xa5, buf[7]);
	EXPECT_EQ((char)0xa5, self->map[3 * self->ps + 115]);
	EXPECT_EQ(0, self->map[3 * self->ps + 116]);

	memset(self->map + 5 * self->ps, 0x5a, 8);
	ASSERT_EQ(0, lli_read(self->imp, 5 * self->ps, &v));
	EXPECT_EQ(0x5a5a5a5a5a5a5a5aULL, v);

	/* An in-flight write lands too. */
	ASSERT_EQ(0, lli_write(self->imp, 7 * self->ps, self->ps, 0x77, 50));
	/* Up to 5 s: the importer's delayed work may run late. */
	for (int i = 0; i < 500 && (char)self->map[8 * self->ps - 1] != 0x77; i++)
		usleep(10 * 1000);
	EXPECT_EQ(0x77, self->map[8 * self->ps - 1]);

	EXPECT_EQ(0, lli_status(self->imp).unpinned_access);
	EXPECT_EQ(0, lli_status(self->imp).moves);
}

/* The holder deregisters and unpins when told: no revocation needed. */
TEST_F(exp, break_cooperative)
{
	struct layoutlease_event ev;
	struct lli_status st;
	pid_t child;

	coop_lease(_metadata, self);
	ASSERT_EQ(0, lli_attach(self->imp, self->dmabuf_fd, LLI_DYNAMIC));
	child = ll_truncate_child(self->path, 0);
	ev = ll_next_event(self->lease_fd, 5000);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, ev.type);
	/* Like ibv_dereg_mr(): the importer lets go first. */
	ASSERT_EQ(0, ioctl(self->imp, LLI_IOC_DETACH));
	test_cmd_unpin(self->lease_fd, self->pin_id);
	ASSERT_EQ(0, ll_wait_child(child));
	ev = ll_next_event(self->lease_fd, 2000);
	EXPECT_EQ(LAYOUTLEASE_EVENT_BREAK_DONE, ev.type);
	st = lli_status(self->imp);
	EXPECT_EQ(0, st.moves);
	EXPECT_EQ(0, st.unpinned_access);
	EXPECT_EQ(0, st.unpinned_unmap);
}

/*
 * Nobody cooperates: at the deadline the importer is told to stop, its
 * in-flight DMA completes, it unmaps, and only then are the pages
 * unpinned and the truncate goes on.
 */
TEST_F(exp, break_revokes_importer)
{
	struct layoutlease_event ev;
	long long t0, t1;
	pid_t child;

	ASSERT_EQ(0, lli_attach(self->imp, self->dmabuf_fd, LLI_DYNAMIC));
	/*
	 * A DMA still in flight past the deadline, started before the
	 * truncate: started on the BREAK event, it lost the race with the
	 * revocation whenever the event came late (a slow debug guest).
	 */
	t0 = ll_now_ms();
	ASSERT_EQ(0, lli_write(self->imp, 0, self->len, 0x33,
			       TIMEOUT_MS + 1000));
	child = ll_truncate_child(self->path, 0);
	ev = ll_next_event(self->lease_fd, 5000);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, ev.type);
	ASSERT_EQ(0, ll_wait_child(child));
	t1 = ll_now_ms();

	expect_revoked_in_order(_metadata, self->imp);
	/* The truncate waited for the in-flight access. */
	EXPECT_LE(t0 + TIMEOUT_MS + 1000, t1);
	TH_LOG("truncate took %lld ms (timeout %d ms, DMA in flight %d ms)",
	       t1 - t0, TIMEOUT_MS, TIMEOUT_MS + 1000);

	ev = ll_next_event(self->lease_fd, 2000);
	EXPECT_EQ(LAYOUTLEASE_EVENT_REVOKED, ev.type);
	EXPECT_EQ(self->pin_id, ev.pin_id);
	/* The device cannot get the memory back. */
	EXPECT_ERRNO(ENXIO, lli_write(self->imp, 0, 8, 1, 0));
	EXPECT_ERRNO(ENOLINK, ioctl(self->imp, LLI_IOC_MAP));
	test_err_unpin(ENOENT, self->lease_fd, self->pin_id);
}

/* Importers that pin cannot be revoked: refused, and the pin is intact. */
TEST_F(exp, pinned_importers_refused)
{
	int imp2 = open(LL_IMPORTER_DEVICE, O_RDWR | O_CLOEXEC), ret;

	ASSERT_LE(0, imp2);
	EXPECT_ERRNO(EOPNOTSUPP, lli_attach(self->imp, self->dmabuf_fd, LLI_PINNED));
	EXPECT_ERRNO(EOPNOTSUPP, lli_attach(self->imp, self->dmabuf_fd, LLI_STATIC));
	EXPECT_EQ(0, lli_status(self->imp).attached);
	/* A dynamic importer beside them is fine. */
	ASSERT_EQ(0, lli_attach(imp2, self->dmabuf_fd, LLI_DYNAMIC));
	ASSERT_EQ(0, lli_write(imp2, 0, 8, 0x11, 0));
	EXPECT_EQ(0x11, self->map[0]);
	/*
	 * ...but not once it pins after it mapped: refused on 6.x, where
	 * move_notify never undoes a pin; on 7.x a dynamic importer's pin is
	 * a revocable one (dma_buf_attach_revocable()), undone when told.
	 */
	ret = ioctl(imp2, LLI_IOC_PIN);
	if (!ll_kernel_at_least(7, 0)) {
		EXPECT_ERRNO(EOPNOTSUPP, ret);
		EXPECT_EQ(0, lli_status(imp2).pinned);
		ASSERT_EQ(0, lli_write(imp2, 0, 8, 0x12, 0));
		EXPECT_EQ(0x12, self->map[0]);
	} else {
		EXPECT_EQ(0, ret);
	}
	ASSERT_EQ(0, ioctl(imp2, LLI_IOC_DETACH));
	close(imp2);
	test_cmd_unpin(self->lease_fd, self->pin_id);
}

/* With the opt-in, a pinned importer holds the truncate up until it goes. */
TEST_F_TIMEOUT(exp, pinned_importer_opt_in, 120)
{
	int modes[] = { LLI_STATIC, LLI_PINNED };
	unsigned int i;

	ASSERT_EQ(0, set_allow_pinned(1));
	for (i = 0; i < 2; i++) {
		pid_t child;
		int status;

		if (i) {
			/* The first round revoked the pin and truncated. */
			ASSERT_EQ(0, ftruncate(self->fd, self->len));
			test_cmd_pin(self->lease_fd, self->map, self->len,
				     &self->pin_id);
			close(self->dmabuf_fd);
			test_cmd_export(self->lease_fd, self->pin_id,
					&self->dmabuf_fd);
		}
		ASSERT_EQ(0, lli_attach(self->imp, self->dmabuf_fd, modes[i]));
		child = ll_truncate_child(self->path, 0);
		ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK,
			  ll_next_event(self->lease_fd, 5000).type);
		/* Well past the deadline, still waiting for the importer. */
		usleep((TIMEOUT_MS + 500) * 1000);
		EXPECT_EQ(0, waitpid(child, &status, WNOHANG));
		ASSERT_EQ(0, ioctl(self->imp, LLI_IOC_DETACH));
		ASSERT_EQ(0, ll_wait_child(child));
		EXPECT_EQ(LAYOUTLEASE_EVENT_REVOKED,
			  ll_next_event(self->lease_fd, 2000).type);
		while (ll_next_event(self->lease_fd, 100).type)
			;
		test_err_unpin(ENOENT, self->lease_fd, self->pin_id);
	}
}

/*
 * An accepted importer that never unmaps after move_notify breaks the
 * dma-buf contract: the pages stay pinned (a device may still write them),
 * the truncate waits, and every 10 s the kernel log says for whom.
 */
/* Lines of the kernel log that match @pattern (grep -E). */
static int klog_count(const char *pattern)
{
	char cmd[256];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "dmesg | grep -cE '%s'", pattern);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (fscanf(p, "%d", &n) != 1)
		n = -1;
	pclose(p);
	return n;
}

/* A pinned (not exported) file's truncate ends at its 300 ms deadline. */
static void other_file_breaks_on_time(struct __test_metadata *_metadata,
				      const char *fs)
{
	int devfd = ll_dev_open(), fd, lease_fd, status;
	long ps = sysconf(_SC_PAGESIZE);
	long long t0, t;
	char path[256], *m;
	pid_t child;
	__u64 id;

	snprintf(path, sizeof(path), "%s/other.%d", ll_mount(fs), getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, devfd);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, ps));
	m = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, m);
	ASSERT_EQ(0, _test_cmd_lease_create(devfd, fd, 0, ps, TIMEOUT_MS, 0,
					    &lease_fd));
	ASSERT_EQ(0, _test_cmd_pin(lease_fd, m, ps, 0, &id));
	t0 = ll_now_ms();
	child = ll_truncate_child(path, 0);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	t = ll_now_ms() - t0;
	TH_LOG("another file's truncate: %lld ms (timeout %d ms)", t, TIMEOUT_MS);
	/* Bounded by the timeout; the slack is for a loaded debug guest. */
	EXPECT_GT(TIMEOUT_MS + 5000, t);
	EXPECT_EQ(LAYOUTLEASE_EVENT_BREAK, ll_next_event(lease_fd, 100).type);
	EXPECT_EQ(LAYOUTLEASE_EVENT_REVOKED, ll_next_event(lease_fd, 100).type);
	munmap(m, ps);
	close(lease_fd);
	close(fd);
	unlink(path);
	close(devfd);
}

TEST_F_TIMEOUT(exp, contract_breaker_reported, 120)
{
	const char *waited = "a revocation has waited 10 s: importers still map";
	const char *named = "importer .*ll_importer";
	int waited0 = klog_count(waited), named0 = klog_count(named);
	pid_t child;
	int status;

	/* 11 s a run: once, the report does not depend on the filesystem. */
	if (strcmp(variant->fs, "xfs"))
		SKIP(return, "run on XFS only");

	ASSERT_EQ(0, lli_attach(self->imp, self->dmabuf_fd, LLI_STUBBORN));
	child = ll_truncate_child(self->path, 0);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, ll_next_event(self->lease_fd, 5000).type);
	usleep((TIMEOUT_MS + 200) * 1000);
	/* Meanwhile another file's break is not held up by this one. */
	other_file_breaks_on_time(_metadata, variant->fs);
	usleep((11000 - 200) * 1000);
	EXPECT_EQ(0, waitpid(child, &status, WNOHANG));
	EXPECT_LT(waited0, klog_count(waited));
	EXPECT_LT(named0, klog_count(named));
	EXPECT_EQ(0, lli_status(self->imp).unpinned_access);
	ASSERT_EQ(0, ioctl(self->imp, LLI_IOC_DETACH));
	ASSERT_EQ(0, ll_wait_child(child));
	EXPECT_EQ(LAYOUTLEASE_EVENT_REVOKED,
		  ll_next_event(self->lease_fd, 2000).type);
	while (ll_next_event(self->lease_fd, 100).type)
		;
}

/* munmap of the pinned range revokes the importer first (notifier path). */
TEST_F(exp, munmap_revokes_importer)
{
	struct layoutlease_event ev;

	ASSERT_EQ(0, lli_attach(self->imp, self->dmabuf_fd, LLI_DYNAMIC));
	ASSERT_EQ(0, lli_write(self->imp, 0, self->ps, 0x44, 200));
	ASSERT_EQ(0, munmap(self->map, self->len));
	self->map = MAP_FAILED;
	ev = ll_next_event(self->lease_fd, 10000);
	EXPECT_EQ(LAYOUTLEASE_EVENT_UNMAPPED, ev.type);
	expect_revoked_in_order(_metadata, self->imp);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * munmap with a DMA in flight: the notifier does not wait for the importer
 * (a wait there would depend on the reservation lock, which ranks above
 * the mmu notifier); the revocation goes on in the background, and a
 * truncate of the file, which nobody maps any more, waits until the
 * device is done with the pages.
 */
TEST_F(exp, munmap_defers_truncate_waits)
{
	long long t0, t_unmapped, t_truncated;
	struct layoutlease_event ev;
	bool unmapped = false;
	struct lli_status st;

	ASSERT_EQ(0, lli_attach(self->imp, self->dmabuf_fd, LLI_DYNAMIC));
	/* A DMA of 4 s: a munmap that waited for it would show plainly. */
	ASSERT_EQ(0, lli_write(self->imp, 0, self->ps, 0x44, 4000));
	t0 = now_ns();
	ASSERT_EQ(0, munmap(self->map, self->len));
	t_unmapped = now_ns();
	self->map = MAP_FAILED;
	ASSERT_EQ(0, ftruncate(self->fd, 0));
	t_truncated = now_ns();
	/* The truncate found pages held: BREAK, UNMAPPED, BREAK_DONE. */
	do {
		ev = ll_next_event(self->lease_fd, 3000);
		unmapped |= ev.type == LAYOUTLEASE_EVENT_UNMAPPED;
	} while (ev.type && ev.type != LAYOUTLEASE_EVENT_BREAK_DONE);
	EXPECT_TRUE(unmapped);
	st = lli_status(self->imp);
	TH_LOG("munmap %lld ms, truncate done %lld ms after it, device done %lld ms after munmap",
	       (t_unmapped - t0) / 1000000, (t_truncated - t_unmapped) / 1000000,
	       ((long long)st.unmap_ns - t_unmapped) / 1000000);
	EXPECT_GT(2000, (t_unmapped - t0) / 1000000);
	expect_revoked_in_order(_metadata, self->imp);
	EXPECT_LE((long long)st.unmap_ns, t_truncated);
}

/*
 * Importer detach, dma-buf close, lease close and unpin in every order:
 * nothing is left behind and the module's references come back.
 */
TEST_F_TIMEOUT(exp, close_orders, 300)
{
	static const char *const name[] = { "detach", "close dma-buf",
					    "close lease", "unpin" };
	int refs0, perm[24][4], n = 0, a, b, c, d, i;

	for (a = 0; a < 4; a++)
		for (b = 0; b < 4; b++)
			for (c = 0; c < 4; c++)
				for (d = 0; d < 4; d++)
					if (a != b && a != c && a != d && b != c &&
					    b != d && c != d) {
						perm[n][0] = a; perm[n][1] = b;
						perm[n][2] = c; perm[n][3] = d;
						n++;
					}
	/* The fixture's own objects, then a baseline without them. */
	test_cmd_unpin(self->lease_fd, self->pin_id);
	close(self->dmabuf_fd);
	self->dmabuf_fd = -1;
	close(self->lease_fd);
	ASSERT_EQ(0, ll_proc_leases());
	refs0 = ll_module_refs();
	ASSERT_LT(0, refs0);

	for (i = 0; i < n; i++) {
		int lease_fd, dmabuf_fd, step, lease_closed = 0;
		__u64 pin_id;

		test_cmd_lease_create(self->fd, 0, self->len, TIMEOUT_MS, &lease_fd);
		test_cmd_pin(lease_fd, self->map, self->len, &pin_id);
		test_cmd_export(lease_fd, pin_id, &dmabuf_fd);
		ASSERT_EQ(0, lli_attach(self->imp, dmabuf_fd, LLI_DYNAMIC));
		for (step = 0; step < 4; step++) {
			switch (perm[i][step]) {
			case 0:
				ASSERT_EQ(0, ioctl(self->imp, LLI_IOC_DETACH));
				break;
			case 1:
				close(dmabuf_fd);
				break;
			case 2:
				close(lease_fd);
				lease_closed = 1;
				break;
			case 3:
				/* After the lease fd closed: munmap ends the pin. */
				if (!lease_closed) {
					test_cmd_unpin(lease_fd, pin_id);
				} else {
					ASSERT_EQ(0, munmap(self->map, self->len));
					self->map = mmap(NULL, self->len,
							 PROT_READ | PROT_WRITE,
							 MAP_SHARED, self->fd, 0);
					ASSERT_NE(MAP_FAILED, self->map);
				}
				break;
			}
		}
		EXPECT_EQ(0, wait_leases(0))
			TH_LOG("left behind after %s, %s, %s, %s",
			       name[perm[i][0]], name[perm[i][1]],
			       name[perm[i][2]], name[perm[i][3]]);
		EXPECT_EQ(refs0, wait_refs(refs0));
	}
	test_cmd_lease_create(self->fd, 0, self->len, TIMEOUT_MS, &self->lease_fd);
}

/* A process that dies, even by SIGKILL, with the importer attached. */
TEST_F_TIMEOUT(exp, exit_with_importer, 120)
{
	int refs0, sig;

	close(self->dmabuf_fd);
	self->dmabuf_fd = -1;
	test_cmd_unpin(self->lease_fd, self->pin_id);
	refs0 = ll_module_refs();

	for (sig = 0; sig <= SIGKILL; sig += SIGKILL) {
		int ready[2];
		pid_t pid;
		char c;

		ASSERT_EQ(0, pipe(ready));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			int imp = open(LL_IMPORTER_DEVICE, O_RDWR);
			__u64 id;
			int dfd;

			if (imp < 0 ||
			    _test_cmd_pin(self->lease_fd, self->map, self->len, 0, &id) ||
			    _test_cmd_export(self->lease_fd, id, 0, &dfd) ||
			    lli_attach(imp, dfd, LLI_DYNAMIC) ||
			    lli_write(imp, 0, self->len, 0x22, 100))
				_exit(1);
			if (write(ready[1], "r", 1) != 1)
				_exit(1);
			if (sig)
				pause();
			_exit(0);
		}
		close(ready[1]);
		ASSERT_EQ(1, read(ready[0], &c, 1));
		close(ready[0]);
		if (sig)
			kill(pid, sig);
		waitpid(pid, NULL, 0);
		/* The child's pin went with its mm; only our lease is left. */
		EXPECT_EQ(1, wait_leases(1));
		EXPECT_EQ(refs0, wait_refs(refs0));
		while (ll_next_event(self->lease_fd, 100).type)
			;
	}
}

TEST_HARNESS_MAIN
