// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection: every call that reaches the module, failed at each of
 * its failure points in turn.
 *
 * /proc/thread-self/fail-nth = N makes the N-th failure point this thread
 * reaches fail: the N-th allocation (failslab, fail_page_alloc) whose stack
 * holds the module's code (require-start/-end), or the N-th entry to one
 * of the module's own fallible helpers (fail_function on the functions
 * marked ALLOW_ERROR_INJECTION: a failed copy to user space, a limit, an
 * RLIMIT_MEMLOCK charge, a pin_user_pages() that finds a page missing, the
 * dma-buf callbacks).  Each operation runs with N = 1, 2, ... until it
 * reaches fewer than N points and succeeds.  After every injected failure:
 *
 *  - the call succeeded (a failure it recovered from) or returned one of
 *    the errnos its operation allows;
 *  - what the process holds is intact: its lease, its pin (listed, and
 *    unpinned at the end with 0) and its export (an importer maps it and
 *    writes through it);
 *  - once the operation's objects are closed nothing is left: no lease in
 *    /proc/layoutleases, VmPin and the kernel's foll-pin counters back to
 *    where they were, the module's reference count too.  kmemleak's scan at
 *    the end of the VM run and the module's check of its per-user charges
 *    at rmmod (a WARN) see the rest.
 *
 * The break and the revocation run partly in kernel workers, which fail-nth
 * cannot reach: break_revoke_all_allocations_fail fails every allocation
 * the module makes in any task while a lease breaks, revokes its pin and
 * its importer, and checks that the truncate still ends in time.  The
 * module's load is driven through every failure point of its init.
 *
 * Needs CONFIG_FAULT_INJECTION_DEBUG_FS, FAILSLAB, FAIL_PAGE_ALLOC,
 * FAULT_INJECTION_STACKTRACE_FILTER and FAIL_FUNCTION (the debug kernels,
 * scripts/debug-kernel.sh); skips elsewhere.  Prints the failure points of
 * each operation and their total.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "layoutlease_utils.h"
#include "importer_utils.h"

#define NPAGES 16
#define TIMEOUT_MS 300
/* An operation that reaches more failure points than this fails the test. */
#define MAX_NTH 400
#define DBG "/sys/kernel/debug"

static const char *const fi_attrs[] = { "failslab", "fail_page_alloc", "fail_function" };

/* The module's fallible helpers, and what fail_function makes them return. */
static const struct {
	const char *name;
	long retval;
} fi_fns[] = {
	{ "ll_ucmd_respond", -EFAULT },		/* copy_to_user() failed */
	{ "ll_user_charge", -ENOSPC },		/* the user's limit */
	{ "ll_charge", -ENOMEM },		/* RLIMIT_MEMLOCK */
	{ "ll_pin_range", -EFAULT },		/* a page not present: retried */
	{ "ll_owner_current", -ENOSPC },	/* max_user_owners */
	{ "ll_file_get", 0 },			/* NULL: out of memory */
	{ "ll_dmabuf_attach", -ENOLINK },	/* revoked meanwhile */
	{ "ll_dmabuf_map", -ENOLINK },
};

static int wfile(const char *path, const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	int fd, n, ret = 0;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, n) != n)
		ret = -errno;
	close(fd);
	return ret;
}

static long long rfile(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtoll(buf, NULL, 0) : -1;
}

static int attr_set(const char *attr, const char *file, const char *fmt, long long v)
{
	char path[256];

	snprintf(path, sizeof(path), DBG "/%s/%s", attr, file);
	return wfile(path, fmt, v);
}

static int attr_set_str(const char *attr, const char *file, const char *v)
{
	char path[256];

	snprintf(path, sizeof(path), DBG "/%s/%s", attr, file);
	return wfile(path, "%s", v);
}

/* [start, end) of the text of @mod (NULL: above the kernel's image). */
static int text_range(const char *mod, unsigned long long *start,
		      unsigned long long *end)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[512], type, name[256], tag[128];
	unsigned long long a;
	int n;

	if (!f)
		return -1;
	*start = ~0ULL;
	*end = 0;
	while (fgets(line, sizeof(line), f)) {
		tag[0] = 0;
		n = sscanf(line, "%llx %c %255s %127s", &a, &type, name, tag);
		if (n < 3)
			continue;
		if (!mod) {
			if (n == 3 && !strcmp(name, "_end")) {
				/* Modules live above the image. */
				*start = a;
				*end = 0xffffffffff000000ULL;
			}
			continue;
		}
		if (strchr("tT", type) && n == 4 && !strncmp(tag + 1, mod, strlen(mod)) &&
		    tag[strlen(mod) + 1] == ']') {
			if (a < *start)
				*start = a;
			if (a > *end)
				*end = a;
		}
	}
	fclose(f);
	if (mod)
		*end += 4096;	/* the last function's body */
	return *start < *end && *start ? 0 : -1;
}

/*
 * Arm the three: nothing fails by chance (probability 0), only through
 * fail-nth; allocations count if the module's code is on their stack.
 */
static int fi_arm(const char *mod)
{
	const char *v = getenv("LL_FI_VERBOSE");	/* 1: a line, 2: a stack */
	unsigned long long start, end;
	char path[256];
	size_t i;
	int ret;

	if (access(DBG "/failslab", F_OK) || access(DBG "/fail_page_alloc", F_OK) ||
	    access(DBG "/fail_function", F_OK) ||
	    access(DBG "/failslab/require-start", F_OK))
		return -ENOENT;
	if (text_range(mod, &start, &end))
		return -ESRCH;
	for (i = 0; i < 2; i++) {
		ret = attr_set(fi_attrs[i], "probability", "%lld", 0) ?:
		      attr_set(fi_attrs[i], "interval", "%lld", 1) ?:
		      attr_set(fi_attrs[i], "times", "%lld", 1000000) ?:
		      attr_set(fi_attrs[i], "space", "%lld", 0) ?:
		      attr_set(fi_attrs[i], "verbose", "%lld", v ? atoll(v) : 0) ?:
		      attr_set_str(fi_attrs[i], "task-filter", "N") ?:
		      attr_set_str(fi_attrs[i], "ignore-gfp-wait", "N") ?:
		      attr_set(fi_attrs[i], "stacktrace-depth", "%lld", 32) ?:
		      attr_set(fi_attrs[i], "require-start", "%llu", start) ?:
		      attr_set(fi_attrs[i], "require-end", "%llu", end);
		if (ret)
			return ret;
	}
	ret = attr_set_str("fail_page_alloc", "ignore-gfp-highmem", "N") ?:
	      attr_set("fail_page_alloc", "min-order", "%lld", 0) ?:
	      attr_set("fail_function", "probability", "%lld", 0) ?:
	      attr_set("fail_function", "verbose", "%lld", 0) ?:
	      attr_set("fail_function", "times", "%lld", 1000000);
	if (ret)
		return ret;
	wfile(DBG "/fail_function/inject", "\n");	/* clears the list */
	if (!mod)
		return 0;
	for (i = 0; i < ARRAY_SIZE(fi_fns); i++) {
		ret = wfile(DBG "/fail_function/inject", "%s", fi_fns[i].name);
		if (ret)
			return ret;
		snprintf(path, sizeof(path), DBG "/fail_function/%s/retval", fi_fns[i].name);
		ret = wfile(path, "%#lx", (unsigned long)fi_fns[i].retval);
		if (ret)
			return ret;
	}
	return 0;
}

static void fi_disarm(void)
{
	size_t i;

	wfile("/proc/thread-self/fail-nth", "0");
	for (i = 0; i < 2; i++) {
		attr_set(fi_attrs[i], "probability", "%lld", 0);
		attr_set(fi_attrs[i], "require-start", "%llu", 0);
		attr_set(fi_attrs[i], "require-end", "%llu", ~0ULL);
	}
	wfile(DBG "/fail_function/inject", "\n");
}

static int nth_set(int n)
{
	return wfile("/proc/thread-self/fail-nth", "%d", n);
}

/* What is left of the count: 0 once the failure was injected. */
static long long nth_left(void)
{
	return rfile("/proc/thread-self/fail-nth");
}

static long long vm_pin_kb(void)
{
	char line[256];
	long long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %lld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Pages pinned with FOLL_PIN and not yet released, in the whole kernel. */
static long long foll_pins(void)
{
	long long acq = -1, rel = -1, v;
	char name[64];
	FILE *f;

	wfile("/proc/sys/vm/stat_refresh", "1");	/* fold the per-cpu counts */
	f = fopen("/proc/vmstat", "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", name, &v) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired"))
			acq = v;
		else if (!strcmp(name, "nr_foll_pin_released"))
			rel = v;
	}
	fclose(f);
	return acq < 0 || rel < 0 ? -1 : acq - rel;
}

/* Whether /proc/layoutleases lists @what (a line's start, after spaces). */
static int proc_lists(const char *what)
{
	char line[512], *p;
	FILE *f = fopen("/proc/layoutleases", "r");
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		for (p = line; *p == ' '; p++)
			;
		found = !strncmp(p, what, strlen(what));
	}
	fclose(f);
	return found;
}

static int read_all(const char *path)
{
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

/* The module's load, first: no lease may exist then (the test is last). */
FIXTURE(init) {
	int unused;
};

FIXTURE_SETUP(init)
{
}

FIXTURE_TEARDOWN(init)
{
}

FIXTURE(fi) {
	int devfd;
	/* What the process holds throughout: a lease, a pin, its export. */
	int fd, lease_fd, dmabuf_fd;
	__u64 lease_id, pin_id;
	char path[256];
	char *map;
	size_t len;
	long ps;
	/* A second file, for the operations' own objects. */
	int fdb;
	char pathb[256];
	/* The objects of the operation under test. */
	int s_fd, s_lease, s_dmabuf, s_imp;
	__u64 s_pin;
	char *s_map;
	long long s_left;	/* a child's fail-nth after the call */
	long long s_ms;		/* how long the call took */
	/* The baseline, with the held objects. */
	long long vmpin, pins;
	int leases, refs;
	int total;
};

FIXTURE_VARIANT(fi) {
	const char *fs;
};

FIXTURE_VARIANT_ADD(fi, xfs) { .fs = "xfs" };
FIXTURE_VARIANT_ADD(fi, ext4) { .fs = "ext4" };

typedef FIXTURE_DATA(fi) fi_t;

static int open_filled(const char *path, size_t len)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	char *buf;

	if (fd < 0)
		return -1;
	buf = calloc(1, len);
	if (!buf || pwrite(fd, buf, len, 0) != (ssize_t)len) {
		free(buf);
		close(fd);
		return -1;
	}
	free(buf);
	fsync(fd);
	return fd;
}

static void s_reset(fi_t *self)
{
	self->s_fd = self->s_lease = self->s_dmabuf = self->s_imp = -1;
	self->s_pin = 0;
	self->s_map = MAP_FAILED;
	self->s_left = -1;
	self->s_ms = 0;
}

/* Close whatever the operation left open; 0, or the first UNPIN error. */
static int s_close(fi_t *self)
{
	int ret = 0;

	if (self->s_imp >= 0) {
		ioctl(self->s_imp, LLI_IOC_DETACH, NULL);
		close(self->s_imp);
	}
	if (self->s_dmabuf >= 0)
		close(self->s_dmabuf);
	if (self->s_pin && _test_cmd_unpin(self->s_lease >= 0 ? self->s_lease :
					   self->lease_fd, self->s_pin))
		ret = -errno;
	if (self->s_lease >= 0)
		close(self->s_lease);
	if (self->s_map != MAP_FAILED)
		munmap(self->s_map, self->len);
	if (self->s_fd >= 0)
		close(self->s_fd);
	s_reset(self);
	return ret;
}

FIXTURE_SETUP(fi)
{
	int ret;

	/* A failed module_init_every_failure_point may have left it out. */
	if (access("/sys/module/layoutlease", F_OK) && getenv("LL_KO")) {
		int fd = open(getenv("LL_KO"), O_RDONLY | O_CLOEXEC);

		ASSERT_EQ(0, syscall(SYS_finit_module, fd, "", 0)) TH_LOG("reloading the module: %s", strerror(errno));
		close(fd);
	}
	ret = fi_arm("layoutlease");
	if (ret == -ENOENT)
		SKIP(return, "no fault injection in this kernel (CONFIG_FAILSLAB, FAIL_PAGE_ALLOC, FAIL_FUNCTION, FAULT_INJECTION_STACKTRACE_FILTER)");
	ASSERT_EQ(0, ret) TH_LOG("arming fault injection: %s", strerror(-ret));
	fi_disarm();
	self->ps = sysconf(_SC_PAGESIZE);
	self->len = NPAGES * self->ps;
	s_reset(self);
	self->devfd = ll_dev_open();
	ASSERT_LE(0, self->devfd);
	snprintf(self->path, sizeof(self->path), "%s/fi.%d", ll_mount(variant->fs), getpid());
	snprintf(self->pathb, sizeof(self->pathb), "%s/fib.%d", ll_mount(variant->fs), getpid());
	self->fd = open_filled(self->path, self->len);
	ASSERT_LE(0, self->fd);
	self->fdb = open_filled(self->pathb, self->len);
	ASSERT_LE(0, self->fdb);
	self->map = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	memset(self->map, 0, self->len);
	{
		struct layoutlease_lease_create c = {
			.size = sizeof(c), .fd = self->fd, .length = self->len,
			.break_timeout_ms = TIMEOUT_MS,
		};

		ASSERT_EQ(0, ioctl(self->devfd, LAYOUTLEASE_IOC_LEASE_CREATE, &c));
		self->lease_fd = c.out_lease_fd;
		self->lease_id = c.out_lease_id;
	}
	/* The first half pinned and exported; the operations use the second. */
	test_cmd_pin(self->lease_fd, self->map, self->len / 2, &self->pin_id);
	test_cmd_export(self->lease_fd, self->pin_id, &self->dmabuf_fd);
	/* Registered, so that OWNER replaces its signal file (a reference). */
	test_cmd_owner(self->lease_fd, SIGURG);
	self->vmpin = vm_pin_kb();
	self->pins = foll_pins();
	self->leases = ll_proc_leases();
	self->refs = ll_module_refs();
	ASSERT_LT(0, self->vmpin);
	ASSERT_LE(NPAGES / 2, self->pins);
	ASSERT_EQ(0, fi_arm("layoutlease"));
}

FIXTURE_TEARDOWN(fi)
{
	fi_disarm();
	if (!self->len)
		return;
	s_close(self);
	/* What was held is still there: the pin ends with 0, not ENOENT. */
	EXPECT_EQ(0, _test_cmd_unpin(self->lease_fd, self->pin_id)) TH_LOG("the held pin: %s", strerror(errno));
	close(self->dmabuf_fd);
	close(self->lease_fd);
	munmap(self->map, self->len);
	close(self->fd);
	close(self->fdb);
	unlink(self->path);
	unlink(self->pathb);
	close(self->devfd);
}

/* The held lease, pin and export, each usable. */
static void check_held(struct __test_metadata *_metadata, fi_t *self,
		       const char *op, int n, int full)
{
	char what[64];
	struct lli_status st;
	__u64 v = 0;
	int imp;

	snprintf(what, sizeof(what), "lease %llu: ACTIVE", (unsigned long long)self->lease_id);
	EXPECT_TRUE(proc_lists(what)) TH_LOG("%s, failure %d: the held lease is gone", op, n);
	snprintf(what, sizeof(what), "pin %llu: pinned", (unsigned long long)self->pin_id);
	EXPECT_TRUE(proc_lists(what)) TH_LOG("%s, failure %d: the held pin is gone", op, n);
	if (!full)
		return;
	/* The export still maps and takes a device write. */
	imp = open(LL_IMPORTER_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, imp) TH_LOG("ll_importer.ko is not loaded");
	EXPECT_EQ(0, lli_attach(imp, self->dmabuf_fd, LLI_DYNAMIC)) TH_LOG("%s: attach the held export: %s", op, strerror(errno));
	EXPECT_EQ(0, ioctl(imp, LLI_IOC_MAP, NULL));
	EXPECT_EQ(0, lli_write(imp, 0, 8, 0x5a, 0));
	EXPECT_EQ(0, lli_read(imp, 0, &v));
	EXPECT_EQ(0x5a5a5a5a5a5a5a5aULL, v);
	st = lli_status(imp);
	EXPECT_EQ(0, st.unpinned_access);
	EXPECT_EQ(0, ioctl(imp, LLI_IOC_DETACH, NULL));
	close(imp);
	EXPECT_EQ(0x5a, (unsigned char)self->map[0]);
	self->map[0] = 0;
}

/* Nothing of the operation is left, within 3 s (some ends in workers). */
static void check_clean(struct __test_metadata *_metadata, fi_t *self,
			const char *op, int n)
{
	long long vmpin = 0, pins = 0;
	int leases = 0, refs = 0, i;

	for (i = 0; i < 300; i++) {
		vmpin = vm_pin_kb();
		pins = foll_pins();
		leases = ll_proc_leases();
		refs = ll_module_refs();
		if (vmpin == self->vmpin && pins == self->pins &&
		    leases == self->leases && refs == self->refs)
			return;
		usleep(10000);
	}
	EXPECT_EQ(self->vmpin, vmpin) TH_LOG("%s, failure %d: VmPin", op, n);
	EXPECT_EQ(self->pins, pins) TH_LOG("%s, failure %d: foll pins not released", op, n);
	EXPECT_EQ(self->leases, leases) TH_LOG("%s, failure %d: leases listed", op, n);
	EXPECT_EQ(self->refs, refs) TH_LOG("%s, failure %d: module references", op, n);
}

#define ERR(x) ((x) < 0 ? -errno : 0)

/* --- The operations: prepare (not injected), the call, its errnos. ------ */

static int prep_mapb(fi_t *self)
{
	self->s_map = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED, self->fdb, 0);
	if (self->s_map == MAP_FAILED)
		return -errno;
	memset(self->s_map, 0, self->len);
	return 0;
}

/* A lease on the second file, all of it pinned. */
static int prep_leaseb_pin(fi_t *self)
{
	return prep_mapb(self) ?:
	       ERR(_test_cmd_lease_create(self->devfd, self->fdb, 0, self->len,
					  TIMEOUT_MS, 0, &self->s_lease)) ?:
	       ERR(_test_cmd_pin(self->s_lease, self->s_map, self->len, 0, &self->s_pin));
}

static int prep_leaseb_export(fi_t *self)
{
	return prep_leaseb_pin(self) ?:
	       ERR(_test_cmd_export(self->s_lease, self->s_pin, 0, &self->s_dmabuf));
}

/* The second half of the held lease's mapping, pinned. */
static int prep_pin(fi_t *self)
{
	return ERR(_test_cmd_pin(self->lease_fd, self->map + self->len / 2,
				 self->len / 2, 0, &self->s_pin));
}

static int prep_export(fi_t *self)
{
	return prep_pin(self) ?:
	       ERR(_test_cmd_export(self->lease_fd, self->s_pin, 0, &self->s_dmabuf));
}

static int prep_importer(fi_t *self)
{
	int ret = prep_export(self);

	if (ret)
		return ret;
	self->s_imp = open(LL_IMPORTER_DEVICE, O_RDWR | O_CLOEXEC);
	return self->s_imp < 0 ? -errno : 0;
}

static int run_open(fi_t *self)
{
	self->s_fd = open(LAYOUTLEASE_DEVICE, O_RDWR | O_CLOEXEC);
	return self->s_fd < 0 ? -errno : 0;
}

static int run_get_info(fi_t *self)
{
	struct layoutlease_get_info info = { .size = sizeof(info) };

	return ERR(ioctl(self->devfd, LAYOUTLEASE_IOC_GET_INFO, &info));
}

static int run_lease_create(fi_t *self)
{
	return ERR(_test_cmd_lease_create(self->devfd, self->fd, 0, self->len,
					  TIMEOUT_MS, 0, &self->s_lease));
}

static int run_lease_create_file(fi_t *self)
{
	return ERR(_test_cmd_lease_create(self->devfd, self->fdb, 0, self->len,
					  TIMEOUT_MS, 0, &self->s_lease));
}

static int run_pin(fi_t *self)
{
	return prep_pin(self);
}

static int run_unpin(fi_t *self)
{
	int ret = ERR(_test_cmd_unpin(self->lease_fd, self->s_pin));

	if (!ret)
		self->s_pin = 0;
	return ret;
}

static int run_export(fi_t *self)
{
	return ERR(_test_cmd_export(self->lease_fd, self->s_pin, 0, &self->s_dmabuf));
}

static int run_attach_map(fi_t *self)
{
	return ERR(lli_attach(self->s_imp, self->s_dmabuf, LLI_DYNAMIC)) ?:
	       ERR(ioctl(self->s_imp, LLI_IOC_MAP, NULL)) ?:
	       ERR(lli_write(self->s_imp, 0, 8, 1, 0));
}

static int run_owner(fi_t *self)
{
	return ERR(_test_cmd_owner(self->lease_fd, self->lease_fd, SIGURG));
}

static int run_read(fi_t *self)
{
	struct layoutlease_event ev;
	int fl = fcntl(self->lease_fd, F_GETFL);
	ssize_t n;
	int ret;

	fcntl(self->lease_fd, F_SETFL, fl | O_NONBLOCK);
	n = read(self->lease_fd, &ev, sizeof(ev));
	ret = n < 0 ? -errno : 0;
	fcntl(self->lease_fd, F_SETFL, fl);
	return ret == -EAGAIN ? 0 : ret;
}

static int run_poll(fi_t *self)
{
	struct pollfd p = { .fd = self->lease_fd, .events = POLLIN };

	return ERR(poll(&p, 1, 0));
}

static int run_proc(fi_t *self)
{
	return read_all("/proc/layoutleases");
}

static int run_fdinfo(fi_t *self)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", self->lease_fd);
	return read_all(path);
}

static int run_close(fi_t *self)
{
	int ret = ERR(close(self->s_dmabuf)) ?: ERR(close(self->s_lease));

	self->s_dmabuf = self->s_lease = -1;
	self->s_pin = 0;	/* ended with its lease */
	return ret;
}

static int run_munmap(fi_t *self)
{
	int ret = ERR(munmap(self->s_map, self->len));

	self->s_map = MAP_FAILED;
	if (!ret)
		self->s_pin = 0;	/* ended by the unmapping */
	return ret;
}

/* The file's own truncate breaks the lease and waits for the revocation. */
static int run_truncate(fi_t *self)
{
	long long t0 = ll_now_ms();
	int ret = ERR(ftruncate(self->fdb, 0));

	self->s_ms = ll_now_ms() - t0;
	self->s_pin = 0;	/* revoked */
	return ret;
}

/*
 * A child's first call on the lease (it makes the child's owner entry), or
 * its exit with a pin and an export of its own (its fds closed, its mm
 * dropped).
 */
static int run_child(fi_t *self, int n, int exit_only)
{
	long long res[2] = { -EPIPE, -1 };
	char path[64];
	siginfo_t si;
	int p[2];
	pid_t pid;

	if (pipe(p))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		int dmabuf_fd = -1;
		__u64 pin_id;

		close(p[0]);
		if (exit_only) {
			if (_test_cmd_pin(self->lease_fd, self->map + self->len / 2,
					  self->len / 2, 0, &pin_id) ||
			    _test_cmd_export(self->lease_fd, pin_id, 0, &dmabuf_fd))
				_exit(3);
			nth_set(n);
			_exit(0);
		}
		nth_set(n);
		res[0] = ERR(_test_cmd_pin(self->lease_fd, self->map + self->len / 2,
					   self->len / 2, 0, NULL));
		res[1] = nth_left();
		nth_set(0);
		if (write(p[1], res, sizeof(res)) != sizeof(res))
			_exit(2);
		_exit(0);	/* the pin ends with the child's mm */
	}
	close(p[1]);
	if (!exit_only && read(p[0], res, sizeof(res)) != sizeof(res))
		res[0] = -EPIPE;
	close(p[0]);
	if (exit_only) {
		/* The zombie keeps its count: read it before reaping. */
		waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
		snprintf(path, sizeof(path), "/proc/%d/task/%d/fail-nth", pid, pid);
		res[1] = rfile(path);
		res[0] = si.si_code == CLD_EXITED && si.si_status == 0 ? 0 : -ECHILD;
	}
	waitpid(pid, NULL, 0);
	self->s_left = res[1];
	return res[0];
}

static int run_child_pin(fi_t *self, int n)
{
	return run_child(self, n, 0);
}

static int run_child_exit(fi_t *self, int n)
{
	return run_child(self, n, 1);
}

struct fi_op {
	const char *name;
	int (*prep)(fi_t *self);
	int (*run)(fi_t *self);
	int (*run_child)(fi_t *self, int n);
	const int errnos[4];	/* besides ENOMEM, EFAULT */
	int restore_b;		/* refill the second file afterwards */
};

static const struct fi_op fi_ops[] = {
	{ "open", NULL, run_open },
	{ "GET_INFO", NULL, run_get_info },
	{ "LEASE_CREATE (a second lease of the file)", NULL, run_lease_create, .errnos = { ENOSPC } },
	{ "LEASE_CREATE (a new file)", prep_mapb, run_lease_create_file, .errnos = { ENOSPC } },
	{ "PIN", NULL, run_pin, .errnos = { ENOSPC } },
	{ "PIN of a new process (its owner entry)", NULL, NULL, run_child_pin, .errnos = { ENOSPC } },
	{ "UNPIN", prep_pin, run_unpin },
	{ "EXPORT", prep_pin, run_export, .errnos = { ENOSPC } },
	{ "importer attach, map, write", prep_importer, run_attach_map, .errnos = { ENOLINK } },
	{ "OWNER", NULL, run_owner, .errnos = { ENOSPC } },
	{ "read", NULL, run_read, .errnos = { ENOSPC } },
	{ "poll", NULL, run_poll },
	{ "/proc/layoutleases", NULL, run_proc },
	{ "fdinfo", NULL, run_fdinfo },
	{ "close of a lease with an exported pin", prep_leaseb_export, run_close },
	{ "munmap of a pinned range", prep_leaseb_pin, run_munmap },
	{ "munmap of an exported range", prep_leaseb_export, run_munmap },
	{ "truncate (break, revocation)", prep_leaseb_pin, run_truncate, .restore_b = 1 },
	{ "exit", NULL, NULL, run_child_exit },
};

static int errno_ok(const struct fi_op *op, int e)
{
	size_t i;

	if (e == ENOMEM || e == EFAULT)
		return 1;
	for (i = 0; i < ARRAY_SIZE(op->errnos); i++)
		if (op->errnos[i] && op->errnos[i] == e)
			return 1;
	return 0;
}

/* One operation at each of its failure points; returns how many it has. */
static int drive(struct __test_metadata *_metadata, fi_t *self,
		 const struct fi_op *op)
{
	long long left;
	int n, ret, points = 0;

	for (n = 1; n <= MAX_NTH; n++) {
		s_reset(self);
		if (op->prep) {
			ret = op->prep(self);
			ASSERT_EQ(0, ret) TH_LOG("%s: preparing: %s", op->name, strerror(-ret));
		}
		if (op->run_child) {
			ret = op->run_child(self, n);
			left = self->s_left;
		} else {
			ASSERT_EQ(0, nth_set(n));
			ret = op->run(self);
			left = nth_left();
			nth_set(0);
		}
		if (self->s_ms)
			EXPECT_GT(TIMEOUT_MS + 3000, self->s_ms) TH_LOG("%s, failure %d: took %lld ms", op->name, n, self->s_ms);
		if (left) {
			/* Fewer than n points: this time nothing was failed. */
			EXPECT_EQ(0, ret) TH_LOG("%s: %s with no failure injected", op->name, strerror(-ret));
		} else {
			points++;
			EXPECT_TRUE(!ret || errno_ok(op, -ret)) TH_LOG("%s, failure %d: errno %s", op->name, n, strerror(-ret));
		}
		ret = s_close(self);
		EXPECT_EQ(0, ret) TH_LOG("%s, failure %d: its pin, after: %s", op->name, n, strerror(-ret));
		if (op->restore_b) {
			char *z = calloc(1, self->len);

			ASSERT_EQ((ssize_t)self->len, pwrite(self->fdb, z, self->len, 0));
			free(z);
		}
		check_held(_metadata, self, op->name, n, !left || n == 1);
		check_clean(_metadata, self, op->name, n);
		if (left || _metadata->exit_code != KSFT_PASS)
			break;
	}
	EXPECT_GE(MAX_NTH, n) TH_LOG("%s: still failing after %d points", op->name, MAX_NTH);
	printf("# %s: %d failure points\n", op->name, points);
	return points;
}

TEST_F_TIMEOUT(fi, every_failure_point, 900)
{
	size_t i;
	int total = 0;

	for (i = 0; i < ARRAY_SIZE(fi_ops) && _metadata->exit_code == KSFT_PASS; i++)
		total += drive(_metadata, self, &fi_ops[i]);
	printf("# %s: %d failure points in %zu operations\n", variant->fs, total, i);
}

/*
 * Every allocation the module makes, in any task, fails while a lease
 * breaks: the truncate still ends within the timeout, the importer is
 * told and unmaps, the pin is gone and its pages released.
 */
TEST_F_TIMEOUT(fi, break_revoke_all_allocations_fail, 120)
{
	struct lli_status st;
	long long t0, ms, slab_left, page_left;
	pid_t pid;
	int i;

	s_reset(self);
	ASSERT_EQ(0, prep_leaseb_export(self));
	self->s_imp = open(LL_IMPORTER_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->s_imp);
	ASSERT_EQ(0, lli_attach(self->s_imp, self->s_dmabuf, LLI_DYNAMIC));
	ASSERT_EQ(0, ioctl(self->s_imp, LLI_IOC_MAP, NULL));
	ASSERT_EQ(0, lli_write(self->s_imp, 0, 8, 7, 0));

	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, attr_set_str(fi_attrs[i], "probability", "100"));
	t0 = ll_now_ms();
	pid = ll_truncate_child(self->pathb, 0);
	ASSERT_LT(0, pid);
	EXPECT_EQ(0, ll_wait_child(pid));
	ms = ll_now_ms() - t0;
	/* The importer unmaps from a work item: give it the time it takes. */
	for (i = 0; i < 300 && !lli_status(self->s_imp).unmap_ns; i++)
		usleep(10000);
	for (i = 0; i < 2; i++)
		attr_set_str(fi_attrs[i], "probability", "0");
	slab_left = rfile(DBG "/failslab/times");
	page_left = rfile(DBG "/fail_page_alloc/times");

	EXPECT_GT(TIMEOUT_MS + 3000, ms) TH_LOG("truncate took %lld ms", ms);
	st = lli_status(self->s_imp);
	EXPECT_LE(1, st.moves);
	EXPECT_EQ(0, st.mapped);
	EXPECT_EQ(0, st.unpinned_access);
	EXPECT_EQ(0, st.unpinned_unmap);
	printf("# truncate %lld ms; allocations failed in the break and revocation: %lld slab, %lld page\n",
	       ms, 1000000 - slab_left, 1000000 - page_left);
	self->s_pin = 0;	/* revoked */
	ASSERT_EQ(0, s_close(self));
	check_held(_metadata, self, "break", 0, 1);
	check_clean(_metadata, self, "break", 0);
}

/* The module's init at each of its failure points, then loaded again. */
TEST_F_TIMEOUT(init, module_init_every_failure_point, 900)
{
	const char *ko = getenv("LL_KO");
	int n, fd, ret, points = 0;
	long long left;

	if (!ko || !*ko)
		SKIP(return, "no $LL_KO (vm-run -n)");
	/*
	 * About 160 reloads of a second or more each under KASAN and TCG:
	 * make check drives them on debug (6.12) only, make stress
	 * (LL_FAULTINJ_ALL=1) on every debug kernel.  The init is the same
	 * code on 6.12 and 7.2 but for one more redirection in the same loop;
	 * debug-sid, the longest VM run of make check, would take three
	 * minutes more (Documentation/testing.rst, "Time").
	 */
	if (getenv("LL_KERNEL") && strcmp(getenv("LL_KERNEL"), "debug") &&
	    !getenv("LL_FAULTINJ_ALL"))
		SKIP(return, "the init's failure points: on debug in make check, every debug kernel in make stress (LL_FAULTINJ_ALL=1)");
	ret = fi_arm(NULL);
	if (ret == -ENOENT)
		SKIP(return, "no fault injection in this kernel");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, ll_proc_leases()) TH_LOG("leases exist: the module cannot go");
	ASSERT_EQ(0, syscall(SYS_delete_module, "layoutlease", O_NONBLOCK)) TH_LOG("rmmod: %s", strerror(errno));
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	for (n = 1; n <= MAX_NTH; n++) {
		ASSERT_EQ(0, nth_set(n));
		ret = ERR(syscall(SYS_finit_module, fd, "", 0));
		left = nth_left();
		nth_set(0);
		if (left) {
			EXPECT_EQ(0, ret) TH_LOG("load: %s with no failure injected", strerror(-ret));
			break;
		}
		points++;
		if (!ret) {
			/* A failure the init recovered from: unload, go on. */
			ASSERT_EQ(0, syscall(SYS_delete_module, "layoutlease", O_NONBLOCK));
			continue;
		}
		EXPECT_TRUE(-ret == ENOMEM || -ret == EBUSY || -ret == EFAULT) TH_LOG("failure %d: %s", n, strerror(-ret));
		EXPECT_NE(0, access("/sys/module/layoutlease", F_OK));
		EXPECT_NE(0, access("/proc/layoutleases", F_OK)) TH_LOG("failure %d left /proc/layoutleases", n);
		EXPECT_NE(0, access(LAYOUTLEASE_DEVICE, F_OK)) TH_LOG("failure %d left the device", n);
	}
	fi_disarm();
	if (access("/sys/module/layoutlease", F_OK))
		EXPECT_EQ(0, syscall(SYS_finit_module, fd, "", 0));
	close(fd);
	EXPECT_GE(MAX_NTH, n);
	printf("# module init: %d failure points\n", points);
	/* The module works: a lease, a pin, a truncate that breaks it. */
	{
		char path[256], *map;
		int devfd = ll_dev_open(), f, lease_fd = -1;
		size_t len = 4 * sysconf(_SC_PAGESIZE);

		ASSERT_LE(0, devfd);
		snprintf(path, sizeof(path), "%s/fi-init.%d", ll_mount("xfs"), getpid());
		f = open_filled(path, len);
		ASSERT_LE(0, f);
		map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
		ASSERT_NE(MAP_FAILED, map);
		memset(map, 1, len);
		ASSERT_EQ(0, _test_cmd_lease_create(devfd, f, 0, len, TIMEOUT_MS, 0, &lease_fd));
		ASSERT_EQ(0, _test_cmd_pin(lease_fd, map, len, 0, NULL));
		ASSERT_EQ(0, ll_wait_child(ll_truncate_child(path, 0)));
		ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, ll_next_event(lease_fd, 2000).type);
		munmap(map, len);
		close(lease_fd);
		close(f);
		unlink(path);
		close(devfd);
	}
}

TEST_HARNESS_MAIN
