// SPDX-License-Identifier: GPL-2.0
/*
 * A seeded, stateful fuzzer of the layoutlease user interface, in the manner
 * of syzkaller: each call is picked at random, weighted, among what the
 * process holds, and a model of that state predicts its outcome.
 *
 * The model: 2-4 files on the DAX mounts; their mappings (MAP_SHARED, also
 * read-only and private ones); the leases, open or closed but kept by pins
 * and dma-bufs; the pins, of this process or of a child; the dma-buf exports
 * and the test importer's attachments; the records still owed (a pin ended
 * by a break or an unmapping owes a REVOKED or UNMAPPED record, a break a
 * BREAK and a BREAK_DONE).  After each call its errno is checked against
 * the ABI; a failed call changes nothing in the model.  Every 8 calls, after
 * the calls that may leave something behind and at the end, the model is
 * compared with the kernel's view: the leases of /proc/layoutleases on our
 * files with their pins and owners, VmPin of /proc/self/status and the
 * importer's status.  A pin leaves the model only by UNPIN or by its
 * REVOKED or UNMAPPED record (or silently, if its lease fd was closed).
 *
 *   fuzz [-s SEED] [-n CALLS] [-t SECONDS] [-f xfs|ext4] [-j JOBS] [-v]
 *
 * -j runs JOBS fuzzers side by side, each a process with files, leases and
 * a model of its own (their calls race in the module, their models do
 * not), each up to CALLS calls: worker I has seed SEED + I and, failing,
 * prints its own replay line
 * (which runs it alone).  Most of a fuzzer's time is spent waiting for
 * breaks and children, so workers multiply the calls made in a given time.
 *
 * Call K draws its numbers from a private PRNG seeded with (SEED, K), so a
 * seed replays the same calls: a failure prints "# FAIL seed N call K: ..."
 * and "# replay: fuzz -s N -n K", which runs them again and stops after call
 * K (add -v to see every call).  Outcomes that depend on timing (a break
 * racing a call) may differ between runs; the checker accepts every outcome
 * the ABI allows for them.  Runs in the test VMs as root: /dev/layoutlease,
 * $LL_XFS and $LL_EXT4 (or /mnt/xfs and /mnt/ext4) mounted with -o dax, and
 * $LL_TESTMODS/ll_importer.ko for the dma-buf importer.  Prints TAP.
 */
#define _GNU_SOURCE
#include <err.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/falloc.h>

/* The helpers only: the harness's test runner stays unused here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "layoutlease_utils.h"
#pragma GCC diagnostic pop
#include "kmod/ll_importer.h"

#define NPG		48	/* pages: files, leases, mappings stay below */
#define MAX_FILES	4
#define MAX_MAPS	24
#define MAX_LEASES	8
#define MAX_PINS	24
#define MAX_EXPORTS	6
#define MAX_IMPS	2
#define NDEAD		32
#define RETRIES		60	/* of 50 ms, for what ends asynchronously */
#define SIGFD_MAX	1024
#define EV(t)		(1u << LAYOUTLEASE_EVENT_##t)
#define ERR(x)		((x) ? errno : 0)
#define ULL(x)		((unsigned long long)(x))
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))

struct file_m {
	char path[256];
	const char *fs;
	int fd;
	long pages;		/* its size */
	dev_t dev;
	ino_t ino;
	bool sizeop;		/* a size change is in progress */
	bool murky;		/* a pin of it may still be ending unobserved */
	long long sizeop_end;	/* when the last one ended, ms */
};

enum { MK_RW, MK_RO, MK_PRIV };

struct map_m {
	bool used;
	int file, kind;
	char *addr;
	long pages, pgoff;
};

struct lease_m {
	bool used, in_break;
	bool excl;		/* LAYOUTLEASE_LEASE_EXCLUSIVE: pinned, it refuses */
	bool lossy, overflowed;	/* an OVERFLOW record came: lately, ever */
	int fd;			/* -1: closed, kept by pins or dma-bufs */
	int file, fl;		/* fl: O_NONBLOCK, O_ASYNC as set */
	__u64 id, reg_ns, deadline_ns;
	long off, pages;
	__u32 timeout;
	unsigned int gen, breaks, dones, want_breaks, want_dones;
	int reg_fd, reg_sig;	/* LAYOUTLEASE_IOC_OWNER; reg_sig 0: none */
	unsigned long sig_base;
};

enum { PS_FREE, PS_LIVE, PS_GONE };

struct pin_m {
	int state, lease;
	__u64 id;
	pid_t owner;		/* 0: this process */
	char *addr;
	long pages, off;
	int export;		/* its dma-buf, while that exists */
	bool cexp;		/* its maker (a child) exported it */
	unsigned int gen, want;	/* PS_GONE: the records that may end it */
};

struct export_m {
	bool used, uncertain;	/* uncertain: the pin ended unobserved */
	int fd, pin, lease;
	int nimp;		/* importers attached: each holds the dma-buf */
	long pages;
};

struct imp_m {
	int fd, exp;
	long long busy_until;
};

static unsigned long long seed;
static int step, ncalls = 3000, nfiles, nimps, ndead, nkids;
static bool verbose, allow_pinned;
static const char *fsopt;
static const char *tap = "";	/* "# wN " in a worker of -j: its TAP is not the run's */
static long ps, vm_base, max_pin_pages = 1L << 30;
static pid_t mypid, live_child = -1, dead_pids[8];	/* exited children */
static int devfd, memfd = -1, tmpfd = -1, dirfd_ = -1, pipefd[2] = { -1, -1 };
static char *none_page, *ro_page, *hole;
static struct layoutlease_get_info info;
static unsigned int gen;
static long long inflight_until;	/* a delayed importer write may land */
static __u64 dead_ids[NDEAD];

static struct file_m files[MAX_FILES];
static struct map_m maps[MAX_MAPS];
static struct lease_m leases[MAX_LEASES];
static struct pin_m pins[MAX_PINS];
static struct export_m exports[MAX_EXPORTS];
static struct imp_m imps[MAX_IMPS];

static volatile unsigned long owner_sigs[SIGFD_MAX];
static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;

/* --------------------------------------------------------------- helpers */

/* Each call reseeds the PRNG of layoutlease_utils.h. */
#define rnd_seed ll_rnd_seed
#define rnd ll_rnd
#define rn ll_rn

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static const char *en(int e)
{
	static const char *const names[] = {
		[0] = "0", [EPERM] = "EPERM", [ENOENT] = "ENOENT", [EINTR] = "EINTR",
		[ENXIO] = "ENXIO", [EBADF] = "EBADF", [EAGAIN] = "EAGAIN",
		[ENOMEM] = "ENOMEM", [EACCES] = "EACCES", [EFAULT] = "EFAULT",
		[EBUSY] = "EBUSY", [EINVAL] = "EINVAL", [EMFILE] = "EMFILE",
		[ENOTTY] = "ENOTTY", [ENOSPC] = "ENOSPC", [E2BIG] = "E2BIG",
		[ENOLINK] = "ENOLINK", [EOPNOTSUPP] = "EOPNOTSUPP",
	};
	static char buf[4][16];
	static int i;

	if (e >= 0 && e < (int)ARRAY_SIZE(names) && names[e])
		return names[e];
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "errno %d", e);
	return buf[i];
}

/*
 * The last RING_LINES lines of the verbose log are kept without -v, and a
 * failure prints them: an outcome that depends on timing may not come
 * again in the replay.
 */
#define RING_LINES	48
static char ring[RING_LINES][160];
static unsigned int ring_n;

static void __attribute__((format(printf, 1, 2))) vlog(const char *fmt, ...)
{
	char *line = ring[ring_n++ % RING_LINES];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(ring[0]), "%d: ", step);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(ring[0]) - n, fmt, ap);
	va_end(ap);
	if (verbose)
		printf("# %s\n", line);
}

/* A file of /proc, each line after "# @tag: ", for a failure's report. */
static void print_proc(const char *tag, const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		printf("# %s: %s", tag, line);
	if (f)
		fclose(f);
}

static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;
	int i;

	if (getpid() != mypid)
		_exit(125);
	printf("# FAIL seed %llu call %d: ", seed, step);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!verbose) {
		printf("# the last calls:\n");
		for (i = ring_n > RING_LINES ? ring_n - RING_LINES : 0; i < (int)ring_n; i++)
			printf("#   %s\n", ring[i % RING_LINES]);
	}
	printf("# replay: fuzz -s %llu -n %d%s%s\n", seed, step, fsopt ? " -f " : "",
	       fsopt ? fsopt : "");
	if (live_child > 0) {
		/* Where the size change is: the stack says what it waits for. */
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/stack", live_child);
		print_proc("child's stack", path);
		snprintf(path, sizeof(path), "/proc/%d/wchan", live_child);
		print_proc("child's wchan", path);
		printf("\n");
		print_proc("/proc/layoutleases", "/proc/layoutleases");
		kill(live_child, SIGKILL);
	}
	for (i = 0; i < nfiles; i++)
		unlink(files[i].path);
	printf("%snot ok 1 fuzz seed %llu\n", tap, seed);
	exit(1);
}

static void expect(const char *what, int got, int want)
{
	if (got != want)
		fail("%s: %s, expected %s", what, en(got), en(want));
}

/* The lowest free fd: a failed command must not have taken one. */
static int lowest_fd(void)
{
	int fd = fcntl(devfd, F_DUPFD_CLOEXEC, 0);

	if (fd >= 0)
		close(fd);
	return fd;
}

static int closed_fd(void)
{
	int fd = 1000 + rn(20);

	while (fcntl(fd, F_GETFD) >= 0)
		fd++;
	return fd;
}

static long vm_pin_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* @n bytes of @src in a read-only page: a command there is read, not answered. */
static void *ro_copy(const void *src, size_t n)
{
	mprotect(ro_page, ps, PROT_READ | PROT_WRITE);
	memcpy(ro_page, src, n);
	mprotect(ro_page, ps, PROT_READ);
	return ro_page;
}

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	if (si->si_code == POLL_MSG && si->si_fd >= 0 && si->si_fd < SIGFD_MAX)
		owner_sigs[si->si_fd]++;
}

static void on_bus(int sig)
{
	if (bus_armed)
		siglongjmp(bus_jmp, 1);
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

/* memcmp() that survives SIGBUS: 0 equal, 1 different, -1 SIGBUS. */
static int guarded_cmp(const char *addr, const void *want, size_t n)
{
	int r;

	if (sigsetjmp(bus_jmp, 1)) {
		bus_armed = 0;
		return -1;
	}
	bus_armed = 1;
	r = memcmp(addr, want, n) ? 1 : 0;
	bus_armed = 0;
	return r;
}

static void lease_cmd(struct layoutlease_lease_create *c, int fd, long off, long pages,
		      __u32 timeout, __u32 flags)
{
	*c = (struct layoutlease_lease_create){
		.size = sizeof(*c), .flags = flags, .fd = fd, .break_timeout_ms = timeout,
		.offset = off * ps, .length = pages * ps, .out_lease_fd = -1,
	};
}

static int do_lease(int fd, long off, long pages, __u32 timeout, __u32 flags,
		    struct layoutlease_lease_create *c)
{
	lease_cmd(c, fd, off, pages, timeout, flags);
	return ERR(ioctl(devfd, LAYOUTLEASE_IOC_LEASE_CREATE, c));
}

static int do_pin(int lfd, char *addr, long pages, __u32 flags, __u64 *id, __u64 *off)
{
	struct layoutlease_pin c = {
		.size = sizeof(c), .flags = flags, .addr = (uintptr_t)addr,
		.length = pages * ps,
	};
	int ret = ERR(ioctl(lfd, LAYOUTLEASE_IOC_PIN, &c));

	*id = c.out_pin_id;
	*off = c.out_offset;
	return ret;
}

/* ------------------------------------------------------------- the model */

static int pick(int n, bool (*ok)(int))
{
	int s = rn(n), i;

	for (i = 0; i < n; i++)
		if (ok((s + i) % n))
			return (s + i) % n;
	return -1;
}

static bool lease_open(int l)
{
	return leases[l].used && leases[l].fd >= 0;
}

static bool lease_unused(int l)
{
	return !leases[l].used;
}

static bool map_used(int m)
{
	return maps[m].used;
}

static bool map_shared(int m)
{
	return maps[m].used && maps[m].kind != MK_PRIV;
}

static bool pin_unused(int p)
{
	return pins[p].state == PS_FREE;
}

/* A pin of this process that no record or call has ended. */
static bool pin_mine(int p)
{
	return pins[p].state == PS_LIVE && !pins[p].owner;
}

static bool pin_mine_open(int p)
{
	return pin_mine(p) && leases[pins[p].lease].fd >= 0;
}

static bool export_open(int e)
{
	return exports[e].used && exports[e].fd >= 0;
}

static bool export_unused(int e)
{
	return !exports[e].used;
}

static int free_maps(void)
{
	int m, n = 0;

	for (m = 0; m < MAX_MAPS; m++)
		n += !maps[m].used;
	return n;
}

static int find_pin(__u64 id)
{
	int p;

	for (p = 0; p < MAX_PINS; p++)
		if (pins[p].state != PS_FREE && pins[p].id == id)
			return p;
	return -1;
}

static int find_lease(__u64 id)
{
	int l;

	for (l = 0; l < MAX_LEASES; l++)
		if (leases[l].used && leases[l].id == id)
			return l;
	return -1;
}

static bool is_dead(__u64 id)
{
	int i;

	for (i = 0; i < NDEAD; i++)
		if (id && id == dead_ids[i])
			return true;
	return false;
}

/* Lease and pin ids come from one counter: a new one was never seen. */
static void check_new_id(const char *what, __u64 id)
{
	if (!id || is_dead(id) || find_pin(id) >= 0 || find_lease(id) >= 0)
		fail("%s: id %llu is not new", what, ULL(id));
}

/* A closed lease that nothing holds any more is gone. */
static void lease_settle(int l)
{
	int i;

	if (!leases[l].used || leases[l].fd >= 0)
		return;
	for (i = 0; i < MAX_PINS; i++)
		if (pins[i].state != PS_FREE && pins[i].lease == l)
			return;
	for (i = 0; i < MAX_EXPORTS; i++)
		if (exports[i].used && exports[i].lease == l)
			return;
	leases[l].used = false;
}

/* The pin is gone; @seen: its end, importers included, was observed. */
static void pin_free(int p, bool seen)
{
	if (pins[p].export >= 0) {
		exports[pins[p].export].pin = -1;
		exports[pins[p].export].uncertain = !seen;
		files[leases[pins[p].lease].file].murky |= !seen;
	}
	pins[p].state = PS_FREE;
	pins[p].export = -1;
	dead_ids[ndead++ % NDEAD] = pins[p].id;
	lease_settle(pins[p].lease);
}

/* The pin ended: a record in @want is owed if this process has its lease. */
static void pin_end(int p, unsigned int want, bool done)
{
	if (leases[pins[p].lease].fd >= 0) {
		pins[p].state = PS_GONE;
		pins[p].want = want;
	} else {
		pin_free(p, done);
	}
}

static int pin_add(int l, pid_t owner, char *addr, long pages, long off, __u64 id)
{
	int p = pick(MAX_PINS, pin_unused);

	if (p < 0)
		fail("model: no pin slot left");
	check_new_id("PIN", id);
	pins[p] = (struct pin_m){
		.state = PS_LIVE, .id = id, .lease = l, .owner = owner, .addr = addr,
		.pages = pages, .off = off, .export = -1, .gen = gen,
	};
	return p;
}

static void export_settle(int e)
{
	struct export_m *E = &exports[e];

	if (!E->used || E->fd >= 0 || E->nimp)
		return;
	if (E->pin >= 0)
		pins[E->pin].export = -1;
	E->used = false;
	lease_settle(E->lease);
}

static void lease_close(int l)
{
	int p;

	close(leases[l].fd);
	leases[l].fd = -1;
	for (p = 0; p < MAX_PINS; p++)	/* their records will not come */
		if (pins[p].state == PS_GONE && pins[p].lease == l)
			pin_free(p, false);
	lease_settle(l);
}

static void map_add(int file, int kind, char *addr, long pages, long pgoff)
{
	int m;

	for (m = 0; m < MAX_MAPS && maps[m].used; m++)
		;
	if (m == MAX_MAPS)
		fail("model: no mapping slot left");
	maps[m] = (struct map_m){
		.used = true, .file = file, .kind = kind, .addr = addr, .pages = pages,
		.pgoff = pgoff,
	};
}

static char *map_end(int m)
{
	return maps[m].addr + maps[m].pages * ps;
}

static int map_at(char *a)
{
	int m;

	for (m = 0; m < MAX_MAPS; m++)
		if (maps[m].used && a >= maps[m].addr && a < map_end(m))
			return m;
	return -1;
}

/* Split the mapping that has @x inside it at @x. */
static void map_split_at(char *x)
{
	int m = map_at(x);
	long k;

	if (m < 0 || x == maps[m].addr)
		return;
	k = (x - maps[m].addr) / ps;
	map_add(maps[m].file, maps[m].kind, x, maps[m].pages - k, maps[m].pgoff + k);
	maps[m].pages = k;
}

/* munmap of [a, a + n pages): the mappings cut, the pins in it ended. */
static void model_unmap(char *a, long n)
{
	char *e = a + n * ps;
	int i;

	for (i = 0; i < MAX_PINS; i++)
		if (pin_mine(i) && pins[i].addr < e && pins[i].addr + pins[i].pages * ps > a)
			pin_end(i, EV(UNMAPPED), pins[i].export < 0);
	map_split_at(a);
	map_split_at(e);
	for (i = 0; i < MAX_MAPS; i++)
		if (maps[i].used && maps[i].addr >= a && map_end(i) <= e)
			maps[i].used = false;
}

/* The errno of a pin of pages [a, a + k) of mapping @m through lease @l. */
static int pin_expect(int l, int m, long a, long k)
{
	struct lease_m *L = &leases[l];
	long off = maps[m].pgoff + a;

	if (maps[m].kind != MK_RW || maps[m].file != L->file ||
	    off < L->off || off + k > L->off + L->pages)
		return EINVAL;
	return off + k > files[L->file].pages ? EFAULT : 0;
}

/* A range that lease @l can pin: its mapping, first page there, length. */
static bool find_valid(int l, int *mp, long *ap, long *kp)
{
	struct lease_m *L = &leases[l];
	int s = rn(MAX_MAPS), i;

	for (i = 0; i < MAX_MAPS; i++) {
		struct map_m *M = &maps[(s + i) % MAX_MAPS];
		long lo = MAX(M->pgoff, L->off), hi = MIN(M->pgoff + M->pages, L->off + L->pages);

		hi = MIN(hi, files[L->file].pages);
		if (!M->used || M->kind != MK_RW || M->file != L->file || lo >= hi)
			continue;
		lo += rn(hi - lo);
		*kp = 1 + rn(MIN(hi - lo, 8));
		*ap = lo - M->pgoff;
		*mp = (s + i) % MAX_MAPS;
		return true;
	}
	return false;
}

/* ---------------------------------------------------------------- events */

static void handle_event(int l, const struct layoutlease_event *ev)
{
	struct lease_m *L = &leases[l];
	struct file_m *F = &files[L->file];
	bool range = ev->offset == ULL(L->off * ps) && ev->length == ULL(L->pages * ps);
	int t = ev->type, p = find_pin(ev->pin_id);
	struct pin_m *P = p >= 0 ? &pins[p] : NULL;
	long long late = L->in_break ? (long long)(ev->time_ns - L->deadline_ns) : 0;

	vlog("lease %llu: record %d pin %llu", ULL(L->id), t, ULL(ev->pin_id));
	/* The OVERFLOW record, made up at read(), has no lease id here. */
	if ((ev->lease_id != L->id && (ev->lease_id || t != LAYOUTLEASE_EVENT_OVERFLOW)) ||
	    ev->__reserved)
		fail("lease %llu: record %d of lease %llu", ULL(L->id), t, ULL(ev->lease_id));
	/* An owner's signal comes before the record (a real-time one queues). */
	if (t != LAYOUTLEASE_EVENT_OVERFLOW && L->reg_sig >= SIGRTMIN &&
	    ev->time_ns > L->reg_ns && owner_sigs[L->reg_fd] == L->sig_base)
		fail("lease %llu: record %d but no signal %d", ULL(L->id), t, L->reg_sig);
	switch (t) {
	case LAYOUTLEASE_EVENT_BREAK:
		if (ev->pin_id || !range || (L->in_break && !L->lossy) ||
		    (!F->sizeop && ll_now_ms() - F->sizeop_end > 3000))
			fail("lease %llu: BREAK (pin %llu, range ok %d, in a break %d, size change %d)",
			     ULL(L->id), ULL(ev->pin_id), range, L->in_break, F->sizeop);
		if (ev->deadline_ns > ev->time_ns &&
		    ev->deadline_ns - ev->time_ns > L->timeout * 1000000ULL)
			fail("lease %llu: deadline %llu ns ahead, timeout %u ms", ULL(L->id),
			     ULL(ev->deadline_ns - ev->time_ns), L->timeout);
		L->in_break = true;
		L->deadline_ns = ev->deadline_ns;
		L->breaks++;
		break;
	case LAYOUTLEASE_EVENT_BREAK_DONE:
		if (ev->pin_id || !range || (!L->in_break && !L->lossy))
			fail("lease %llu: BREAK_DONE (pin %llu, range ok %d) without BREAK %d",
			     ULL(L->id), ULL(ev->pin_id), range, !L->in_break);
		L->in_break = false;
		L->dones++;
		break;
	case LAYOUTLEASE_EVENT_REVOKED:
	case LAYOUTLEASE_EVENT_UNMAPPED:
		if (!P && L->overflowed && is_dead(ev->pin_id))
			break;	/* given up for lost after an OVERFLOW */
		if (!P || P->lease != l || ev->offset != ULL(P->off * ps) ||
		    ev->length != ULL(P->pages * ps))
			fail("lease %llu: record %d of pin %llu at %llu+%llu: no such pin",
			     ULL(L->id), t, ULL(ev->pin_id), ULL(ev->offset), ULL(ev->length));
		/* UNMAPPED only after an unmapping, REVOKED only at a break's deadline. */
		if (t == LAYOUTLEASE_EVENT_UNMAPPED)
			late = P->state != PS_GONE || !(P->want & EV(UNMAPPED)) ? -1 : 0;
		else if ((!L->in_break && !L->lossy) ||
			 (P->state == PS_GONE ? !(P->want & EV(REVOKED)) : !F->sizeop))
			late = -1;
		if (late < 0)
			fail("pin %llu: record %d unexpected (state %d, in a break %d, %lld ns late)",
			     ULL(P->id), t, P->state, L->in_break, late);
		pin_free(p, true);
		break;
	case LAYOUTLEASE_EVENT_OVERFLOW:
		L->lossy = L->overflowed = true;
		L->want_breaks = L->want_dones = 0;
		break;
	default:
		fail("lease %llu: record of type %d", ULL(L->id), t);
	}
}

/* Read every record queued for this process, without blocking. */
static void drain_lease(int l)
{
	struct layoutlease_event ev[8];
	struct pollfd p;
	ssize_t n;
	int i;

	while (lease_open(l)) {
		p = (struct pollfd){ .fd = leases[l].fd, .events = POLLIN | POLLOUT };
		if (poll(&p, 1, 0) < 0 && errno == EINTR)
			continue;
		/* No EPOLLHUP, no EPOLLOUT: EPOLLIN when there are records. */
		if (p.revents & ~(POLLIN | POLLRDNORM))
			fail("poll of lease %llu: revents %#x", ULL(leases[l].id), p.revents);
		if (!(p.revents & POLLIN))
			return;
		n = read(p.fd, ev, sizeof(ev));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || n % sizeof(ev[0]))
			fail("read of lease %llu after POLLIN: %zd (%s)", ULL(leases[l].id), n,
			     en(errno));
		for (i = 0; i < n / (ssize_t)sizeof(ev[0]); i++)
			handle_event(l, &ev[i]);
	}
}

static void drain_all(void)
{
	int l;

	for (l = 0; l < MAX_LEASES; l++)
		drain_lease(l);
}

/* --------------------------------------------------------------- checker */

struct proc_lease {
	unsigned long long id, ino, start, end;
	char state[16];
	unsigned int maj, min, timeout;
	unsigned long npins, npages, seen_pins, seen_pages;
};

struct proc_pin {
	int lease;
	unsigned long long id, off;
	unsigned long pages;
	bool exported;
};

struct proc_owner {
	int lease, pid, fd, sig;
};

static struct proc_lease plv[64];
static struct proc_pin ppv[256];
static struct proc_owner pov[64];
static int npl, npp, npo;

static bool our_file(const struct proc_lease *P)
{
	int f;

	for (f = 0; f < nfiles; f++)
		if (P->maj == major(files[f].dev) && P->min == minor(files[f].dev) &&
		    P->ino == files[f].ino)
			return true;
	return false;
}

/* The leases on our files or of our ids, their pins and owners (kernel/proc.c). */
static bool read_proc(void)
{
	FILE *f = fopen("/proc/layoutleases", "r");
	struct proc_lease P;
	struct proc_pin pp;
	struct proc_owner po;
	char line[512];
	int cur = -1;
	bool ok = f;

	npl = npp = npo = 0;
	while (f && fgets(line, sizeof(line), f)) {
		memset(&P, 0, sizeof(P));
		if (sscanf(line, "lease %llu: %15s %x:%x:%llu %llu-%llu timeout %ums pins %lu pages %lu",
			   &P.id, P.state, &P.maj, &P.min, &P.ino, &P.start, &P.end, &P.timeout,
			   &P.npins, &P.npages) == 10) {
			cur = -1;
			if ((find_lease(P.id) >= 0 || our_file(&P)) && npl < 64) {
				plv[npl] = P;
				cur = npl++;
			}
		} else if (cur >= 0 && npp < 256 &&
			   sscanf(line, "  pin %llu: pinned offset %llu pages %lu", &pp.id,
				  &pp.off, &pp.pages) == 3) {
			pp.lease = cur;
			pp.exported = strstr(line, " exported");
			plv[cur].seen_pins++;
			plv[cur].seen_pages += pp.pages;
			ppv[npp++] = pp;
		} else if (cur >= 0 && npo < 64 &&
			   sscanf(line, "  owner %d: fd %d signal %d", &po.pid, &po.fd, &po.sig) == 3) {
			po.lease = cur;
			pov[npo++] = po;
		}
	}
	if (f)
		fclose(f);
	return ok;
}

#define DIFF(...) ({ snprintf(msg, sizeof(msg), __VA_ARGS__); msg; })

/* The first difference between the model and the kernel, or NULL. */
static const char *mismatch(void)
{
	static char msg[320];
	struct lli_status st;
	long kb, want_kb = 0;
	int i, j, k;

	if (!read_proc())
		return "cannot read /proc/layoutleases";
	for (i = 0; i < MAX_LEASES; i++) {
		struct lease_m *L = &leases[i];
		struct proc_lease *P;
		bool owner = false;
		int fd = L->reg_sig ? L->reg_fd : -1;

		if (!L->used)
			continue;
		for (j = 0; j < npl && plv[j].id != L->id; j++)
			;
		if (j == npl)
			return DIFF("lease %llu is not listed", ULL(L->id));
		P = &plv[j];
		if (!our_file(P) || P->ino != files[L->file].ino || P->start != ULL(L->off * ps) ||
		    P->end != ULL((L->off + L->pages) * ps - 1) || P->timeout != L->timeout)
			return DIFF("lease %llu: ino %llu %llu-%llu timeout %u, not ino %llu pages %ld+%ld timeout %u",
				    P->id, P->ino, P->start, P->end, P->timeout,
				    ULL(files[L->file].ino), L->off, L->pages, L->timeout);
		if (strcmp(P->state, "ACTIVE") && !files[L->file].sizeop)
			return DIFF("lease %llu is %s", P->id, P->state);
		if (P->npins != P->seen_pins || P->npages != P->seen_pages)
			return DIFF("lease %llu: pins %lu pages %lu, %lu pins of %lu pages listed",
				    P->id, P->npins, P->npages, P->seen_pins, P->seen_pages);
		for (k = 0; k < npo; k++) {
			if (pov[k].lease != j || pov[k].pid != mypid)
				continue;
			owner = true;
			if (pov[k].fd != fd || pov[k].sig != L->reg_sig)
				return DIFF("lease %llu: owner fd %d signal %d, not fd %d signal %d",
					    P->id, pov[k].fd, pov[k].sig, fd, L->reg_sig);
		}
		if (owner != (L->fd >= 0))
			return DIFF("lease %llu: this process %s owner", P->id,
				    owner ? "is still an" : "is no");
		if (L->fd >= 0 && !L->lossy && (L->breaks < L->want_breaks ||
		    L->dones < L->want_dones || (L->in_break && !files[L->file].sizeop)))
			return DIFF("lease %llu: %u BREAK, %u BREAK_DONE records, expected %u, %u%s",
				    P->id, L->breaks, L->dones, L->want_breaks, L->want_dones,
				    L->in_break ? ", in a break" : "");
	}
	for (j = 0; j < npl; j++)
		if (find_lease(plv[j].id) < 0)
			return DIFF("lease %llu on ino %llu should be gone", plv[j].id, plv[j].ino);
	for (k = 0; k < npp; k++) {
		int p = find_pin(ppv[k].id);
		struct pin_m *P = &pins[p < 0 ? 0 : p];

		if (p < 0 || P->state != PS_LIVE)
			return DIFF("pin %llu of lease %llu is listed, but %s", ppv[k].id,
				    plv[ppv[k].lease].id, p < 0 ? "unknown" : "it ended");
		if (leases[P->lease].id != plv[ppv[k].lease].id || ppv[k].off != ULL(P->off * ps) ||
		    ppv[k].pages != (unsigned long)P->pages ||
		    ppv[k].exported != (P->export >= 0 || P->cexp))
			return DIFF("pin %llu: lease %llu offset %llu pages %lu exported %d, expected %llu %ld %ld %d",
				    ppv[k].id, plv[ppv[k].lease].id, ppv[k].off, ppv[k].pages,
				    ppv[k].exported, ULL(leases[P->lease].id), P->off * ps,
				    P->pages, P->export >= 0 || P->cexp);
	}
	for (i = 0; i < MAX_PINS; i++) {
		if (pins[i].state == PS_GONE && leases[pins[i].lease].lossy)
			pin_free(i, false);	/* its record may be lost */
		if (pins[i].state == PS_GONE)
			return DIFF("pin %llu ended, but no %s record came", ULL(pins[i].id),
				    pins[i].want & EV(UNMAPPED) ? "UNMAPPED" : "REVOKED");
		if (pins[i].state != PS_LIVE)
			continue;
		for (k = 0; k < npp && ppv[k].id != pins[i].id; k++)
			;
		if (k == npp)
			return DIFF("pin %llu of lease %llu (pid %d) is not listed", ULL(pins[i].id),
				    ULL(leases[pins[i].lease].id), pins[i].owner ? : mypid);
		if (!pins[i].owner)
			want_kb += pins[i].pages * (ps / 1024);
	}
	for (k = 0; k < npo; k++)
		for (j = 0; j < MIN(nkids, 8); j++)
			if (pov[k].pid == dead_pids[j])
				return DIFF("exited child %d is an owner of lease %llu", pov[k].pid,
					    plv[pov[k].lease].id);
	kb = vm_pin_kb();
	if (kb - vm_base != want_kb)
		return DIFF("VmPin %ld kB, expected %ld kB", kb, vm_base + want_kb);
	for (i = 0; i < nimps; i++) {
		struct export_m *E = &exports[MAX(imps[i].exp, 0)];

		if (imps[i].exp >= 0 && !ioctl(imps[i].fd, LLI_IOC_STATUS, &st) &&
		    E->pin < 0 && !E->uncertain && st.mapped)
			return DIFF("importer %d still maps the dma-buf of an ended pin", i);
	}
	return NULL;
}

/* The importer never reached a page that was not pinned. */
static void check_imp(int i)
{
	struct lli_status st;

	if (ioctl(imps[i].fd, LLI_IOC_STATUS, &st))
		fail("LLI_IOC_STATUS: %s", en(errno));
	if (st.unpinned_access || st.unpinned_unmap || st.late_access)
		fail("importer %d reached unpinned pages: %u accesses, %u at unmap, %u late", i,
		     st.unpinned_access, st.unpinned_unmap, st.late_access);
}

/* Compare the model with the kernel, giving what ends late its time. */
static void check_state(const char *why)
{
	const char *msg;
	int i;

	for (i = 0;; i++) {
		drain_all();
		msg = mismatch();
		if (!msg)
			break;
		if (i == RETRIES)
			fail("%s: %s", why, msg);
		usleep(50000);
	}
	for (i = 0; i < nimps; i++)
		check_imp(i);
	for (i = 0; i < MAX_LEASES; i++) {
		leases[i].in_break &= !leases[i].lossy;
		leases[i].lossy = false;
	}
}

/* ------------------------------------------------------------ operations */

static void op_lease(void)
{
	static const __u32 tmo[] = { 50, 100, 150, 200, 300, 0, 0xffffffff };
	struct layoutlease_lease_create c;
	int f = rn(nfiles), l = pick(MAX_LEASES, lease_unused), fd, ret;
	long off = rn(NPG), pages = 1 + rn(NPG - off);
	__u32 t = tmo[rn(16) ? rn(5) : 5 + rn(2)], want;
	__u32 flags = (rn(3) ? 0 : LAYOUTLEASE_LEASE_NONBLOCK) |
		      (rn(4) ? 0 : LAYOUTLEASE_LEASE_EXCLUSIVE);

	if (l < 0)
		return;
	/* The lease keeps the file, not the caller's fd: sometimes a short-lived one. */
	fd = rn(4) ? files[f].fd : open(files[f].path, O_RDONLY | O_CLOEXEC);
	ret = do_lease(fd, off, pages, t, flags, &c);
	if (fd != files[f].fd)
		close(fd);
	vlog("LEASE_CREATE file %d %ld+%ld timeout %u flags %u: %s id %llu", f, off, pages, t,
	     flags, en(ret), ULL(c.out_lease_id));
	if (ret == EINTR || (ret == EAGAIN && flags))
		return;
	expect("LEASE_CREATE", ret, 0);
	want = t ? MIN(t, info.out_max_break_timeout_ms) : info.out_default_break_timeout_ms;
	if (c.out_break_timeout_ms != want || fcntl(c.out_lease_fd, F_GETFD) != FD_CLOEXEC)
		fail("LEASE_CREATE timeout %u: out_break_timeout_ms %u, expected %u; fd %d", t,
		     c.out_break_timeout_ms, want, c.out_lease_fd);
	check_new_id("LEASE_CREATE", c.out_lease_id);
	leases[l] = (struct lease_m){
		.used = true, .fd = c.out_lease_fd, .file = f, .id = c.out_lease_id,
		.off = off, .pages = pages, .timeout = want, .gen = gen,
		.excl = flags & LAYOUTLEASE_LEASE_EXCLUSIVE,
	};
	if (want > 300)		/* truncates would wait for it: only looked at */
		lease_close(l);
}

/* An fd of no regular file of a DAX mount. */
static int other_fd(void)
{
	int l = pick(MAX_LEASES, lease_open), e = pick(MAX_EXPORTS, export_open);
	int fds[] = { memfd, tmpfd, dirfd_, devfd, pipefd[0], l >= 0 ? leases[l].fd : -1,
		      e >= 0 ? exports[e].fd : -1 };
	int fd;

	do
		fd = fds[rn(7)];
	while (fd < 0);
	return fd;
}

static void op_lease_bad(void)
{
	static const char *const what[] = {
		"unaligned offset", "unaligned length", "empty range", "overflowing range",
		"range past LLONG_MAX", "bad fd", "no DAX file", "read-only struct", "zero tail",
	};
	static const int want[] = { EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EBADF, EOPNOTSUPP,
				    EFAULT, 0 };
	struct {
		struct layoutlease_lease_create c;
		__u8 tail[64];
	} b;
	int v = rn(9), fd0 = lowest_fd(), ret;
	void *arg = &b;

	memset(&b, 0, sizeof(b));
	lease_cmd(&b.c, files[rn(nfiles)].fd, rn(NPG), 1 + rn(8), 100, 0);
	if (v == 0)
		b.c.offset += 1 + rn(ps - 1);
	else if (v == 1)
		b.c.length += 1 + rn(ps - 1);
	else if (v == 2)
		b.c.length = 0;
	else if (v == 3)
		b.c.offset = -(__u64)ps * (1 + rn(4));
	else if (v == 4)
		b.c.offset = (1ULL << 63) - ps * rn(2);
	else if (v == 5)
		b.c.fd = rn(2) ? -1 - (int)rn(100) : closed_fd();
	else if (v == 6)
		b.c.fd = other_fd();
	else if (v == 7)
		arg = ro_copy(&b, sizeof(b));
	else
		b.c.size += 8 * (1 + rn(8));
	ret = ERR(ioctl(devfd, LAYOUTLEASE_IOC_LEASE_CREATE, arg));
	vlog("LEASE_CREATE with %s: %s", what[v], en(ret));
	if (ret == EINTR)
		return;
	if (ret != want[v])
		fail("LEASE_CREATE with %s: %s, expected %s", what[v], en(ret), en(want[v]));
	if (!ret)
		close(b.c.out_lease_fd);	/* without pins it is gone at once */
	else if (lowest_fd() != fd0)
		fail("LEASE_CREATE with %s failed but took fd %d", what[v], fd0);
	if (v >= 7 || !rn(4))
		check_state("after LEASE_CREATE with a bad struct");
}

static void op_pin(void)
{
	int l = pick(MAX_LEASES, lease_open), m = pick(MAX_MAPS, map_used), want, ret, p;
	__u32 flags = rn(4) ? 0 : LAYOUTLEASE_PIN_NONBLOCK;
	long a, k, n = 0;
	__u64 id, off;

	if (l < 0 || m < 0 || pick(MAX_PINS, pin_unused) < 0)
		return;
	if (!rn(4)) {		/* anywhere in a mapping */
		a = rn(maps[m].pages);
		k = 1 + rn(MIN(maps[m].pages - a, 8));
	} else if (!find_valid(l, &m, &a, &k)) {
		return;
	}
	want = pin_expect(l, m, a, k);
	for (p = 0; p < MAX_PINS; p++)
		n += pin_mine(p) ? pins[p].pages : 0;
	if (!want && n + k > max_pin_pages)
		return;
	ret = do_pin(leases[l].fd, maps[m].addr + a * ps, k, flags, &id, &off);
	vlog("PIN lease %llu map %d page %ld+%ld flags %u: %s id %llu", ULL(leases[l].id), m, a,
	     k, flags, en(ret), ULL(id));
	if (ret == EINTR || (ret == EAGAIN && flags))
		return;
	if (ret != want)
		fail("PIN of pages %ld+%ld of map %d (file %d pgoff %ld kind %d) on lease %llu (file %d %ld+%ld): %s, not %s",
		     a, k, m, maps[m].file, maps[m].pgoff, maps[m].kind, ULL(leases[l].id),
		     leases[l].file, leases[l].off, leases[l].pages, en(ret), en(want));
	if (!ret && off != ULL((maps[m].pgoff + a) * ps))
		fail("PIN: out_offset %llu, expected %ld", ULL(off), (maps[m].pgoff + a) * ps);
	if (!ret)
		pin_add(l, 0, maps[m].addr + a * ps, k, maps[m].pgoff + a, id);
}

/* Two adjacent mappings that cannot be one VMA: the first one. */
static int find_span(void)
{
	int i, j;

	for (i = 0; i < MAX_MAPS; i++)
		for (j = 0; j < MAX_MAPS; j++)
			if (maps[i].used && maps[j].used && map_end(i) == maps[j].addr &&
			    (maps[i].file != maps[j].file || maps[i].kind != maps[j].kind ||
			     maps[i].pgoff + maps[i].pages != maps[j].pgoff))
				return i;
	return -1;
}

/* A page of a mapping whose pin through lease @l fails with @want. */
static char *find_bad_page(int l, int want)
{
	int s = rn(MAX_MAPS), i, m;
	long a;

	for (i = 0; i < MAX_MAPS; i++)
		for (m = (s + i) % MAX_MAPS, a = 0; maps[m].used && a < maps[m].pages; a++)
			if (pin_expect(l, m, a, 1) == want && rn(2))
				return maps[m].addr + a * ps;
	return NULL;
}

static void op_pin_bad(void)
{
	static const char *const what[] = {
		"unaligned address", "unaligned length", "empty range", "overflowing range",
		"huge length", "no file mapping", "two mappings", "mapping not pinnable there",
		"pages past the end of file", "unknown flag", "read-only struct",
	};
	static const int want[] = { EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL,
				    EINVAL, EFAULT, EOPNOTSUPP, EFAULT };
	struct layoutlease_pin c = { .size = sizeof(c) };
	int l = pick(MAX_LEASES, lease_open), v = rn(11), m, ret;
	char *addr = none_page;
	long a, k = 1;
	void *arg = &c;

	if (l < 0)
		return;
	if (find_valid(l, &m, &a, &k))
		addr = maps[m].addr + a * ps;
	else if (v == 10)
		return;
	c.addr = (uintptr_t)addr;
	c.length = k * ps;
	if (v == 0) {
		c.addr += 1 + rn(ps - 1);
	} else if (v == 1) {
		c.length += 1 + rn(ps - 1);
	} else if (v == 2) {
		c.length = 0;
	} else if (v == 3) {
		c.addr = -(__u64)ps * (1 + rn(4));
		c.length = 16 * ps;
	} else if (v == 4) {	/* past TASK_SIZE: smaller ones may fail with ENOMEM */
		c.length = 1ULL << (47 + rn(16));
	} else if (v == 5) {
		addr = hole + rn(64) * ps;
		c.addr = (uintptr_t)(rn(2) && map_at(addr) < 0 ? addr : none_page);
		c.length = ps;
	} else if (v == 6) {
		m = find_span();
		if (m < 0)
			return;
		c.addr = (uintptr_t)(map_end(m) - ps);
		c.length = 2 * ps;
	} else if (v == 7 || v == 8) {
		/* Read-only, private, another file's, outside the lease; past EOF. */
		addr = find_bad_page(l, want[v]);
		if (!addr)
			return;
		c.addr = (uintptr_t)addr;
		c.length = ps;
	} else if (v == 9) {
		do
			c.flags = 1u << rn(32);
		while (c.flags & info.out_pin_flags);
	} else {
		arg = ro_copy(&c, sizeof(c));	/* pinned, then undone */
	}
	ret = ERR(ioctl(leases[l].fd, LAYOUTLEASE_IOC_PIN, arg));
	vlog("PIN with %s (%#llx+%#llx) on lease %llu: %s", what[v], ULL(c.addr),
	     ULL(c.length), ULL(leases[l].id), en(ret));
	if (ret != EINTR && ret != want[v])
		fail("PIN with %s (%#llx+%#llx): %s, expected %s", what[v], ULL(c.addr),
		     ULL(c.length), en(ret), en(want[v]));
	if (v == 10 || !rn(4))
		check_state("after a failed PIN");
}

static void op_unpin(void)
{
	int p = pick(MAX_PINS, pin_mine_open), v = rn(8), l, o, q, want = ENOENT;
	__u64 id;

	if (p < 0)
		return;
	l = pins[p].lease;
	id = pins[p].id;
	if (v == 5) {		/* another lease's pin is no pin of this one */
		o = pick(MAX_LEASES, lease_open);
		if (o == l)
			return;
		l = o;
	} else if (v == 6) {
		id = dead_ids[rn(NDEAD)];
	} else if (v == 7) {
		__u64 ids[] = { 0, ~0ULL, leases[l].id, rnd() };

		id = ids[rn(4)];
	} else {
		want = 0;
	}
	q = find_pin(id);
	if (want && q >= 0 && pins[q].lease == l && pins[q].state == PS_LIVE)
		return;
	vlog("UNPIN %llu on lease %llu", ULL(id), ULL(leases[l].id));
	expect("UNPIN", ERR(_test_cmd_unpin(leases[l].fd, id)), want);
	if (!want)
		pin_free(p, true);	/* its importers were stopped first */
}

static void op_export(void)
{
	int p = pick(MAX_PINS, pin_mine_open), e = pick(MAX_EXPORTS, export_unused);
	struct layoutlease_export c = { .size = sizeof(c), .out_dmabuf_fd = -1 };
	int v = rn(6), want, ret, l, o, fd0 = lowest_fd();
	void *arg = &c;
	struct stat st;

	if (p < 0)
		return;
	l = pins[p].lease;
	c.pin_id = pins[p].id;
	want = pins[p].export >= 0 ? EBUSY : 0;
	if (v == 3) {
		o = pick(MAX_LEASES, lease_open);
		if (rn(2) || o == l)
			c.pin_id = dead_ids[rn(NDEAD)];
		else
			l = o;
		want = ENOENT;
	} else if (v == 4) {
		c.__reserved = 1 + rn(100);
		want = EINVAL;
	} else if (v == 5 && !want) {
		arg = ro_copy(&c, sizeof(c));
		want = EFAULT;
	}
	if (!want && e < 0)
		return;
	ret = ERR(ioctl(leases[l].fd, LAYOUTLEASE_IOC_EXPORT, arg));
	vlog("EXPORT %llu on lease %llu, variant %d: %s fd %d", ULL(c.pin_id), ULL(leases[l].id),
	     v, en(ret), c.out_dmabuf_fd);
	expect("EXPORT", ret, want);
	if (ret) {
		if (lowest_fd() != fd0)
			fail("EXPORT failed (%s) but took fd %d", en(ret), fd0);
		if (v == 5 || !rn(4))
			check_state("after a failed EXPORT");
		return;
	}
	if (fcntl(c.out_dmabuf_fd, F_GETFD) != FD_CLOEXEC || fstat(c.out_dmabuf_fd, &st) ||
	    st.st_size != pins[p].pages * ps)
		fail("EXPORT: dma-buf fd %d not close-on-exec or not of %ld bytes",
		     c.out_dmabuf_fd, pins[p].pages * ps);
	if (mmap(NULL, ps, PROT_READ, MAP_SHARED, c.out_dmabuf_fd, 0) != MAP_FAILED ||
	    errno != EINVAL)
		fail("mmap of a dma-buf: not EINVAL");
	exports[e] = (struct export_m){
		.used = true, .fd = c.out_dmabuf_fd, .pin = p, .lease = l,
		.pages = pins[p].pages,
	};
	pins[p].export = e;
}

static void op_info(void)
{
	union {
		struct layoutlease_get_info i;
		__u8 b[160];
	} u;
	size_t n = sizeof(u.i), sz = rn(n + 24), i;
	int v = rn(5), fd = devfd, l = pick(MAX_LEASES, lease_open), want, ret;

	memset(u.b, 0xa5, sizeof(u.b));
	memset(u.b, 0, MAX(sz, 8));
	u.i.size = sz;
	want = sz < offsetof(struct layoutlease_get_info, out_lease_create_flags) ? EINVAL : 0;
	if (v == 0 && sz > n) {
		u.b[n + rn(sz - n)] = 1 + rn(255);
		want = E2BIG;
	} else if (v == 1 && !want) {
		u.i.flags = 1u << rn(32);
		want = EOPNOTSUPP;
	} else if (v == 2 && !want) {
		u.i.__reserved = 1 + rn(9);
		want = EINVAL;
	} else if (v == 3) {
		fd = l >= 0 && rn(2) ? leases[l].fd : files[0].fd;
		want = ENOTTY;
	}
	ret = ERR(ioctl(fd, LAYOUTLEASE_IOC_GET_INFO, &u));
	vlog("GET_INFO size %zu variant %d: %s", sz, v, en(ret));
	expect("GET_INFO", ret, want);
	/* Output truncated to the caller's size; past it nothing is touched. */
	for (i = 8; i < sizeof(u.b); i++)
		if (i >= sz ? u.b[i] != 0xa5 : !ret && i >= n && u.b[i])
			fail("GET_INFO of size %zu wrote byte %zu", sz, i);
	if (!ret && memcmp(u.b + 4, (char *)&info + 4, MIN(sz, n) - 4))
		fail("GET_INFO of size %zu: not what the first one said", sz);
}

static void op_owner(void)
{
	int sigs[] = { 0, SIGIO, SIGUSR1, SIGUSR2, SIGRTMIN, SIGRTMIN + 2 };
	int bad[] = { SIGKILL, SIGSTOP, 65, 100 + (int)rn(1000), INT32_MAX };
	int l = pick(MAX_LEASES, lease_open), o = pick(MAX_LEASES, lease_open);
	int v = rn(6), fd, sig = sigs[rn(6)], want = 0, ret;

	if (l < 0)
		return;
	fd = leases[l].fd;
	if (v == 3) {
		sig = bad[rn(5)];
		want = EINVAL;
	} else if (v >= 4) {	/* not this lease in this process */
		fd = v == 4 && o != l ? leases[o].fd : rn(2) ? devfd : closed_fd();
		want = EBADF;
	}
	ret = ERR(_test_cmd_owner(leases[l].fd, fd, sig));
	vlog("OWNER lease %llu fd %d signal %d: %s", ULL(leases[l].id), fd, sig, en(ret));
	expect("OWNER", ret, want);
	if (ret)
		return;
	leases[l].reg_fd = fd;
	leases[l].reg_sig = sig ? sig : SIGIO;
	leases[l].sig_base = owner_sigs[fd];
	leases[l].reg_ns = now_ns();
}

static void op_read(void)
{
	int l = pick(MAX_LEASES, lease_open), v = rn(4);
	struct pollfd p;
	char buf[sizeof(struct layoutlease_event)];
	ssize_t n;

	if (l < 0)
		return;
	p = (struct pollfd){ .fd = leases[l].fd, .events = POLLIN };
	if (poll(&p, 1, 0) < 0)
		return;
	vlog("read lease %llu variant %d: revents %#x", ULL(leases[l].id), v, p.revents);
	if (v == 0) {
		n = read(p.fd, buf, 1 + rn(sizeof(buf) - 1));
		if (n != -1 || errno != EINVAL)
			fail("read of a short buffer: %zd (%s), expected EINVAL", n, en(errno));
	} else if (v == 1 && (p.revents & POLLIN)) {
		/* A record that cannot be copied out stays queued. */
		n = read(p.fd, none_page, sizeof(buf));
		if (n != -1 || errno != EFAULT)
			fail("read into a bad buffer: %zd (%s), expected EFAULT", n, en(errno));
		if (poll(&p, 1, 0) != 1 || !(p.revents & POLLIN))
			fail("read into a bad buffer lost the record");
	} else if (v == 1 && (leases[l].fl & O_NONBLOCK)) {
		n = read(p.fd, none_page, sizeof(buf));
		if (n != -1 || (errno != EAGAIN && errno != EFAULT))
			fail("read of an empty queue: %zd (%s), expected EAGAIN", n, en(errno));
	}
	drain_lease(l);
}

static void op_fcntl(void)
{
	int l = pick(MAX_LEASES, lease_open), bit = rn(2) ? O_NONBLOCK : O_ASYNC, fl, fd;

	if (l < 0)
		return;
	fd = leases[l].fd;
	leases[l].fl ^= bit;
	if (leases[l].fl & O_ASYNC)
		fcntl(fd, F_SETOWN, mypid);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, (fl & ~(O_NONBLOCK | O_ASYNC)) | leases[l].fl))
		fail("F_SETFL of a lease fd: %s", en(errno));
	fl = fcntl(fd, F_GETFL);
	vlog("F_SETFL lease %llu: %#x", ULL(leases[l].id), fl);
	if ((fl & (O_NONBLOCK | O_ASYNC)) != leases[l].fl)
		fail("F_GETFL of a lease fd: %#x, expected %#x", fl, leases[l].fl);
}

static void op_mmap(void)
{
	int f = rn(nfiles), f2 = rn(nfiles), r = rn(10);
	int kind = r < 6 ? MK_RW : r == 6 ? MK_RO : MK_PRIV;
	long n = 1 + rn(12), off = rn(NPG - n + 1), n2 = 1 + rn(8), off2 = rn(NPG - n2 + 1);
	char *a, *b;

	if (free_maps() < 4)
		return;
	if (r < 8) {
		a = mmap(NULL, n * ps, kind == MK_RO ? PROT_READ : PROT_READ | PROT_WRITE,
			 kind == MK_PRIV ? MAP_PRIVATE : MAP_SHARED, files[f].fd, off * ps);
		vlog("mmap file %d %ld+%ld kind %d: %p", f, off, n, kind, a);
		if (a == MAP_FAILED)
			fail("mmap: %s", strerror(errno));
		map_add(f, kind, a, n, off);
		return;
	}
	/* Two adjacent mappings that the kernel cannot merge into one VMA. */
	if (f2 == f && off2 == off + n)
		off2 = (off2 + 1) % (NPG - n2 + 1);
	a = mmap(NULL, (n + n2) * ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b = a + n * ps;
	if (a == MAP_FAILED ||
	    mmap(a, n * ps, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, files[f].fd,
		 off * ps) != a ||
	    mmap(b, n2 * ps, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, files[f2].fd,
		 off2 * ps) != b)
		fail("mmap: %s", strerror(errno));
	map_add(f, MK_RW, a, n, off);
	map_add(f2, MK_RW, b, n2, off2);
	vlog("mmap file %d %ld+%ld and file %d %ld+%ld at %p", f, off, n, f2, off2, n2, a);
}

static void op_munmap(void)
{
	int m = pick(MAX_MAPS, map_used), p = pick(MAX_PINS, pin_mine), v = rn(3);
	char *a;
	long k;

	if (m < 0 || free_maps() < 2)
		return;
	if (v == 0) {
		a = maps[m].addr;
		k = maps[m].pages;
	} else if (v == 1 || p < 0) {
		a = maps[m].addr + rn(maps[m].pages) * ps;
		k = 1 + rn((map_end(m) - a) / ps);
	} else {		/* a page of a pin, or next to it */
		a = pins[p].addr + (rn(pins[p].pages + 2) - 1) * ps;
		a = map_at(a) >= 0 ? a : pins[p].addr;
		k = 1;
	}
	vlog("munmap %p %ld pages", a, k);
	if (munmap(a, k * ps))
		fail("munmap: %s", strerror(errno));
	model_unmap(a, k);
}

static void op_mremap(void)
{
	int m = pick(MAX_MAPS, map_used), v = rn(3);
	long n, k = 1 + rn(4);
	char *r, *dst, *old;

	if (m < 0 || free_maps() < 2)
		return;
	n = maps[m].pages;
	old = maps[m].addr;
	if (v == 0 && n > 1) {	/* the tail goes */
		k = 1 + rn(n - 1);
		r = mremap(old, n * ps, k * ps, 0);
		vlog("mremap %p from %ld to %ld pages: %p", old, n, k, r);
		if (r != old)
			fail("mremap: %s", strerror(errno));
		model_unmap(old + k * ps, n - k);
	} else if (v == 2) {	/* in place, if there is room: pins stay */
		if (maps[m].pgoff + n + k > NPG)
			return;
		r = mremap(old, n * ps, (n + k) * ps, 0);
		vlog("mremap %p from %ld to %ld pages: %p", old, n, n + k, r);
		if (r == old)
			maps[m].pages += k;
		else if (r != MAP_FAILED || (errno != ENOMEM && errno != EFAULT))
			fail("mremap grow: %s", strerror(errno));
	} else {		/* moved: its pins end */
		struct map_m M = maps[m];

		dst = mmap(NULL, n * ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		r = dst == MAP_FAILED ? dst : mremap(old, n * ps, n * ps,
						     MREMAP_MAYMOVE | MREMAP_FIXED, dst);
		vlog("mremap %p, %ld pages, to %p: %p", old, n, dst, r);
		if (r == MAP_FAILED || r != dst)
			fail("mremap move: %s", strerror(errno));
		model_unmap(old, n);
		map_add(M.file, M.kind, dst, n, M.pgoff);
	}
}

static void op_mprotect(void)
{
	int m = pick(MAX_MAPS, map_shared), kind, i;
	char *a, *e;

	if (m < 0 || free_maps() < 2)
		return;
	kind = maps[m].kind == MK_RW ? MK_RO : MK_RW;
	a = maps[m].addr + rn(maps[m].pages) * ps;
	e = a + (1 + rn((map_end(m) - a) / ps)) * ps;
	vlog("mprotect %p-%p %s", a, e, kind == MK_RW ? "rw" : "ro");
	if (mprotect(a, e - a, kind == MK_RW ? PROT_READ | PROT_WRITE : PROT_READ))
		fail("mprotect: %s", strerror(errno));
	map_split_at(a);	/* pins stay: only unmapping ends them */
	map_split_at(e);
	for (i = 0; i < MAX_MAPS; i++)
		if (maps[i].used && maps[i].addr >= a && map_end(i) <= e)
			maps[i].kind = kind;
}

static void op_close(void)
{
	int l = pick(MAX_LEASES, lease_open), e = pick(MAX_EXPORTS, export_open);

	if (rn(2) && e >= 0) {
		vlog("close dma-buf fd %d", exports[e].fd);
		close(exports[e].fd);
		exports[e].fd = -1;
		export_settle(e);
	} else if (l >= 0) {
		vlog("close lease %llu", ULL(leases[l].id));
		lease_close(l);	/* its pins stay, unheard of */
	}
	if (!rn(3))
		check_state("after a close");
}

/* The general errno contract of every command. */
static void op_struct(void)
{
	static const struct {
		const char *name;
		unsigned long cmd;
		size_t size, min;
		bool lease;
		const __aligned_u64 *flags;
	} cmds[] = {
		{ "GET_INFO", LAYOUTLEASE_IOC_GET_INFO, sizeof(struct layoutlease_get_info),
		  offsetof(struct layoutlease_get_info, out_lease_create_flags), false,
		  &info.out_get_info_flags },
		{ "LEASE_CREATE", LAYOUTLEASE_IOC_LEASE_CREATE,
		  sizeof(struct layoutlease_lease_create), sizeof(struct layoutlease_lease_create),
		  false, &info.out_lease_create_flags },
		{ "PIN", LAYOUTLEASE_IOC_PIN, sizeof(struct layoutlease_pin),
		  sizeof(struct layoutlease_pin), true, &info.out_pin_flags },
		{ "UNPIN", LAYOUTLEASE_IOC_UNPIN, sizeof(struct layoutlease_unpin),
		  sizeof(struct layoutlease_unpin), true, &info.out_unpin_flags },
		{ "OWNER", LAYOUTLEASE_IOC_OWNER, sizeof(struct layoutlease_owner),
		  sizeof(struct layoutlease_owner), true, &info.out_owner_flags },
		{ "EXPORT", LAYOUTLEASE_IOC_EXPORT, sizeof(struct layoutlease_export),
		  sizeof(struct layoutlease_export), true, &info.out_export_flags },
	};
	static const int want[] = { EINVAL, E2BIG, EOPNOTSUPP, ENOTTY, ENOTTY, EFAULT, ENOTTY };
	union {
		__u32 w[2];
		__u8 b[256];
	} u;
	int c = rn(6), v = rn(7), l = pick(MAX_LEASES, lease_open);
	int e = pick(MAX_EXPORTS, export_open), fd0 = lowest_fd(), fd, ret;
	unsigned long cmd = cmds[c].cmd;
	void *arg = &u;

	if (l < 0)
		return;
	fd = cmds[c].lease ? leases[l].fd : devfd;
	memset(&u, 0, sizeof(u));
	u.w[0] = cmds[c].size;
	if (v == 0) {
		u.w[0] = rn(cmds[c].min);
	} else if (v == 1) {
		u.w[0] = cmds[c].size + 1 + rn(128);
		u.b[cmds[c].size + rn(u.w[0] - cmds[c].size)] = 1 + rn(255);
	} else if (v == 2) {
		do
			u.w[1] = 1u << rn(32);
		while (u.w[1] & *cmds[c].flags);
	} else if (v == 3) {	/* the other kind of fd */
		fd = cmds[c].lease ? devfd : leases[l].fd;
	} else if (v == 4) {
		cmd = _IOC(_IOC_READ | _IOC_WRITE, LAYOUTLEASE_TYPE, _IOC_NR(cmd), cmds[c].size);
	} else if (v == 5) {
		arg = rn(2) ? NULL : none_page;
	} else if (rn(2)) {
		cmd = _IO(LAYOUTLEASE_TYPE + rn(2), rn(2) ? LAYOUTLEASE_CMD_BASE - 1 - rn(16) :
			  LAYOUTLEASE_CMD_EXPORT + 1 + rn(16));
	} else {		/* our command on a file of another kind */
		int fds[] = { files[rn(nfiles)].fd, memfd, pipefd[1],
			      e >= 0 ? exports[e].fd : memfd };

		fd = fds[rn(4)];
	}
	ret = ERR(ioctl(fd, cmd, arg));
	vlog("%s variant %d (size %u, cmd %#lx, fd %d): %s", cmds[c].name, v, u.w[0], cmd, fd,
	     en(ret));
	if (ret != want[v])
		fail("%s variant %d (size %u flags %#x cmd %#lx): %s, expected %s", cmds[c].name, v,
		     u.w[0], u.w[1], cmd, en(ret), en(want[v]));
	if (lowest_fd() != fd0)
		fail("failed %s took fd %d", cmds[c].name, fd0);
}

/* During a break: unpin what it asks for, as a good holder does. */
static void cooperate(int f, unsigned int mark)
{
	int p, ret;

	for (p = 0; p < MAX_PINS; p++) {
		struct lease_m *L = &leases[pins[p].lease];

		if (!pin_mine_open(p) || L->file != f || !L->in_break || pins[p].gen >= mark)
			continue;
		ret = ERR(_test_cmd_unpin(L->fd, pins[p].id));
		vlog("UNPIN %llu during the break: %s", ULL(pins[p].id), en(ret));
		if (!ret)
			pin_free(p, true);
		else if (ret == ENOENT)	/* its deadline came first */
			pin_end(p, EV(REVOKED), true);
		else
			fail("UNPIN during a break: %s", en(ret));
	}
}

static int lease_in_break(int f)
{
	int l;

	for (l = 0; l < MAX_LEASES; l++)
		if (lease_open(l) && leases[l].file == f && leases[l].in_break)
			return l;
	return -1;
}

/* A pin or a lease during the break: refused, unless the break just ended. */
static void racing_call(int l, bool pin)
{
	struct layoutlease_lease_create c;
	int s = pick(MAX_LEASES, lease_unused), m, f = leases[l].file, ret;
	long a, k;
	__u64 id, off;

	if (!pin && s >= 0) {
		ret = do_lease(files[f].fd, 0, NPG, 100, LAYOUTLEASE_LEASE_NONBLOCK, &c);
		vlog("LEASE_CREATE during a break: %s", en(ret));
		if (ret && ret != EAGAIN && ret != EINTR)
			fail("LEASE_CREATE during a break: %s", en(ret));
		if (!ret) {
			check_new_id("LEASE_CREATE", c.out_lease_id);
			leases[s] = (struct lease_m){
				.used = true, .fd = c.out_lease_fd, .file = f, .pages = NPG,
				.id = c.out_lease_id, .timeout = c.out_break_timeout_ms, .gen = gen,
			};
		}
	} else if (pin && pick(MAX_PINS, pin_unused) >= 0 && find_valid(l, &m, &a, &k)) {
		ret = do_pin(leases[l].fd, maps[m].addr + a * ps, k, LAYOUTLEASE_PIN_NONBLOCK,
			     &id, &off);
		vlog("PIN during a break: %s", en(ret));
		if (ret && ret != EAGAIN && ret != EINTR && ret != EFAULT)
			fail("PIN during a break: %s", en(ret));
		if (!ret)
			pin_add(l, 0, maps[m].addr + a * ps, k, maps[m].pgoff + a, id);
	}
}

/* Truncate, punch a hole in or grow a file, from a child: a break follows. */
static void op_size(void)
{
	static const char *const kinds[] = { "truncate", "punch hole", "ftruncate grow" };
	int f = rn(nfiles), kind = rn(3), l, p, st;
	struct file_m *F = &files[f];
	long target = rn(NPG + 1), poff = 0, plen = 0;
	unsigned int b0[MAX_LEASES], d0[MAX_LEASES], mark;
	bool had = false, coop = rn(2), try_pin = !rn(3), try_lease = !rn(4), murky;
	bool excl = false;
	long long t0, bound = 3000;
	struct stat sb;
	pid_t pid;

	if (kind == 1 && F->pages) {
		poff = rn(F->pages);
		plen = 1 + rn(F->pages - poff);
	} else if (kind == 2 && F->pages < NPG) {
		target = F->pages + 1 + rn(NPG - F->pages);
	} else {
		kind = 0;
		target = target == F->pages ? (target + 1) % (NPG + 1) : target;
	}
	check_state("before a size change");
	murky = F->murky;	/* then a break may come or not */
	F->murky = false;
	for (p = 0; p < MAX_PINS; p++)
		if (pins[p].state == PS_LIVE && leases[pins[p].lease].file == f) {
			had = true;
			excl |= leases[pins[p].lease].excl;
			bound = MAX(bound, 3000 + leases[pins[p].lease].timeout);
		}
	bound += MAX(inflight_until - ll_now_ms(), 0);
	for (l = 0; l < MAX_LEASES; l++) {
		b0[l] = leases[l].breaks;
		d0[l] = leases[l].dones;
	}
	mark = ++gen;
	F->sizeop = true;
	fflush(stdout);
	pid = fork();
	if (!pid)
		_exit(ERR(kind == 0 ? truncate(F->path, target * ps) :
			  kind == 1 ? fallocate(F->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
						poff * ps, plen * ps) :
			  ftruncate(F->fd, target * ps)) & 0xff);
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	live_child = pid;
	t0 = ll_now_ms();
	vlog("%s of file %d (%ld pages) to %ld or %ld+%ld, %s", kinds[kind], f, F->pages, target,
	     poff, plen, had ? "pinned" : "not pinned");
	while (waitpid(pid, &st, WNOHANG) != pid) {
		struct pollfd pf[MAX_LEASES];
		int n = 0;

		if (ll_now_ms() - t0 > bound)
			fail("%s of %s file %d: not done after %lld ms (%s)", kinds[kind], F->fs,
			     f, bound, had ? "pinned" : "not pinned");
		for (l = 0; l < MAX_LEASES; l++)
			if (lease_open(l))
				pf[n++] = (struct pollfd){ .fd = leases[l].fd, .events = POLLIN };
		poll(pf, n, 5);
		drain_all();
		if (coop)
			cooperate(f, mark);
		l = lease_in_break(f);
		if (l >= 0 && (try_pin || try_lease)) {
			racing_call(l, try_pin);
			try_lease &= try_pin;
			try_pin = false;
		}
	}
	live_child = -1;
	/*
	 * The records this size change queued before it returned, read while
	 * it still counts as in progress: a REVOKED queued just before the
	 * child's exit may be read only now (found by fuzz -j 4 on 6.12).
	 */
	drain_all();
	F->sizeop = false;
	F->sizeop_end = ll_now_ms();
	vlog("%s took %lld ms", kinds[kind], F->sizeop_end - t0);
	if (excl) {
		/*
		 * An exclusive lease of the file has pins the model holds (the
		 * kernel ends none but by this process's calls and a break, and
		 * a refusal starts none): ETXTBSY, nothing changed, no record.
		 */
		if (!WIFEXITED(st) || WEXITSTATUS(st) != ETXTBSY)
			fail("%s of %s file %d with an exclusive lease pinned: status %#x (%s)",
			     kinds[kind], F->fs, f, st, en(WEXITSTATUS(st)));
		if (fstat(F->fd, &sb) || sb.st_size != F->pages * ps)
			fail("refused %s: size %lld, was %ld pages", kinds[kind],
			     (long long)sb.st_size, F->pages);
		vlog("%s refused: an exclusive lease is pinned", kinds[kind]);
		F->murky = murky;
		for (l = 0; l < MAX_LEASES; l++)
			if (lease_open(l) && leases[l].file == f && !leases[l].lossy &&
			    (leases[l].breaks != b0[l] || leases[l].dones != d0[l]))
				fail("lease %llu: a record at a refused %s", ULL(leases[l].id),
				     kinds[kind]);
		check_state("after a refused size change");
		return;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fail("%s of %s file %d: status %#x (%s)", kinds[kind], F->fs, f, st,
		     en(WEXITSTATUS(st)));
	if (fstat(F->fd, &sb) || sb.st_size % ps || (kind != 1 && sb.st_size != target * ps))
		fail("%s to %ld pages: size %lld", kinds[kind], target, (long long)sb.st_size);
	F->pages = sb.st_size / ps;
	/* The filesystem went on: every earlier pin of the file is gone. */
	for (p = 0; p < MAX_PINS; p++)
		if (pins[p].state == PS_LIVE && leases[pins[p].lease].file == f &&
		    pins[p].gen < mark)
			pin_end(p, EV(REVOKED), true);
	if (!had) {		/* a lease without pins does not break */
		usleep(20000);
		drain_all();
	}
	for (l = 0; l < MAX_LEASES; l++) {
		if (!lease_open(l) || leases[l].file != f || leases[l].gen >= mark ||
		    leases[l].lossy || (murky && !had))
			continue;
		if (!had && leases[l].breaks != b0[l])
			fail("lease %llu: BREAK, though the file had no pin", ULL(leases[l].id));
		leases[l].want_breaks = b0[l] + had;
		leases[l].want_dones = d0[l] + had;
	}
	check_state("after a size change");
}

struct child_report {
	int bad, err;
	__u64 pin_id, off;
};

/* In a child: note the first check that failed. */
static void child_check(struct child_report *r, int bad, int err, int want)
{
	if (!r->bad && err != want) {
		r->bad = bad;
		r->err = err;
	}
}

static void __attribute__((noreturn)) child_main(int mode, int l, int m, long a, long k,
						 const int *ids, int n, int rep, int go, int sock)
{
	struct child_report r = { 0 };
	int lfd = leases[l].fd, i, fd, dfd;
	char c;

	if (mode == 3) {	/* the lease fd comes by SCM_RIGHTS */
		close(lfd);
		lfd = ll_recv_fd(sock);
		child_check(&r, 6, lfd < 0 ? EBADF : 0, 0);
	}
	/* The parent's pins are not this address space's. */
	for (i = 0; i < n && !r.bad; i++) {
		fd = pins[ids[i]].lease == l ? lfd : leases[pins[ids[i]].lease].fd;
		child_check(&r, 1, ERR(_test_cmd_unpin(fd, pins[ids[i]].id)), EPERM);
		child_check(&r, 2, ERR(_test_cmd_export(fd, pins[ids[i]].id, 0, &dfd)), EPERM);
	}
	if (!r.bad && dead_ids[0])
		child_check(&r, 7, ERR(_test_cmd_unpin(lfd, dead_ids[0])), ENOENT);
	if (!r.bad)
		child_check(&r, 4, ERR(_test_cmd_owner(lfd, lfd, SIGUSR2)), 0);
	if (!r.bad && mode)
		child_check(&r, 3, do_pin(lfd, maps[m].addr + a * ps, k, 0, &r.pin_id, &r.off), 0);
	if (!r.bad && (mode & 1))
		child_check(&r, 5, ERR(_test_cmd_export(lfd, r.pin_id, 0, &dfd)), 0);
	if (write(rep, &r, sizeof(r)) != sizeof(r) || read(go, &c, 1) < 0)
		_exit(1);
	_exit(0);
}

/*
 * A child that has the lease fd, by fork or SCM_RIGHTS: it can neither unpin
 * nor export our pins (EPERM), it registers, maybe pins and exports, then
 * exits or is killed: its pin ends with its address space, its owner entry
 * with its file table.
 */
static void op_child(void)
{
	static const char *const bad[] = {
		"", "UNPIN of a parent's pin", "EXPORT of a parent's pin", "its PIN", "OWNER",
		"EXPORT of its pin", "SCM_RIGHTS", "UNPIN of a dead pin",
	};
	int l = pick(MAX_LEASES, lease_open), mode = rn(4), kill_it = rn(2), n = 0;
	int rep[2], go[2], sv[2] = { -1, -1 }, ids[4], m = -1, p, st, cp = -1;
	struct child_report r;
	struct pollfd pf;
	long a = 0, k = 0;
	long long t0;
	pid_t pid;

	if (l < 0 || pick(MAX_PINS, pin_unused) < 0)
		return;
	for (p = 0; p < MAX_PINS && n < 4; p++)
		if (pin_mine_open(p))
			ids[n++] = p;
	if (mode && !find_valid(l, &m, &a, &k))
		mode = 0;
	if (pipe(rep) || pipe(go) || (mode == 3 && socketpair(AF_UNIX, SOCK_STREAM, 0, sv)))
		fail("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (!pid) {
		close(rep[0]);
		close(go[1]);
		child_main(mode, l, m, a, k, ids, n, rep[1], go[0], sv[1]);
	}
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	live_child = pid;
	close(rep[1]);
	close(go[0]);
	if (mode == 3 && ll_send_fd(sv[0], leases[l].fd))
		fail("SCM_RIGHTS: %s", strerror(errno));
	pf = (struct pollfd){ .fd = rep[0], .events = POLLIN };
	if (poll(&pf, 1, 10000) != 1 || read(rep[0], &r, sizeof(r)) != sizeof(r))
		fail("child, mode %d, sent no report", mode);
	vlog("child %d mode %d: %s %s, pin %llu", pid, mode, bad[r.bad], en(r.err),
	     ULL(r.pin_id));
	if (r.bad)
		fail("child, mode %d: %s: %s", mode, bad[r.bad], en(r.err));
	if (mode) {
		if (r.off != ULL((maps[m].pgoff + a) * ps))
			fail("child's PIN: out_offset %llu", ULL(r.off));
		cp = pin_add(l, pid, maps[m].addr + a * ps, k, maps[m].pgoff + a, r.pin_id);
		pins[cp].cexp = mode & 1;
		expect("UNPIN of a child's pin", ERR(_test_cmd_unpin(leases[l].fd, r.pin_id)),
		       EPERM);
		expect("EXPORT of a child's pin",
		       ERR(_test_cmd_export(leases[l].fd, r.pin_id, 0, &st)), EPERM);
		check_state("with a child's pin");
	}
	if (kill_it)
		kill(pid, SIGKILL);
	else if (write(go[1], "x", 1) != 1)
		fail("child gone: %s", strerror(errno));
	for (t0 = ll_now_ms(); waitpid(pid, &st, WNOHANG) != pid; usleep(2000))
		if (ll_now_ms() - t0 > 10000)
			fail("child %d does not exit", pid);
	live_child = -1;
	if (kill_it ? !WIFSIGNALED(st) : !WIFEXITED(st) || WEXITSTATUS(st))
		fail("child %d: status %#x", pid, st);
	close(rep[0]);
	close(go[1]);
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	dead_pids[nkids++ % 8] = pid;
	if (cp >= 0)
		pin_end(cp, EV(UNMAPPED), true);
	check_state("after a child exited");
}

/* The test importer: attach, access, map, detach an exported pin. */
static void op_importer(void)
{
	static const char *const names[] = { "attach", "attach", "write", "write delayed",
					     "read", "map", "detach" };
	int i = rn(MAX(nimps, 1)), v = rn(7), e, want, ret, cmp, mode = LLI_DYNAMIC;
	struct imp_m *I = &imps[i];
	struct lli_access op = { 0 };
	struct export_m *E;
	struct pin_m *P;
	bool live, maybe;
	char mem[64];

	e = I->exp >= 0 ? I->exp : pick(MAX_EXPORTS, export_open);
	if (!nimps || e < 0)
		return;
	E = &exports[e];
	P = &pins[MAX(E->pin, 0)];
	live = E->pin >= 0 && P->state == PS_LIVE;
	maybe = (E->pin >= 0 && !live) || (E->pin < 0 && E->uncertain);
	if (v < 2) {
		struct lli_attach at = { .dmabuf_fd = E->fd };

		if (!rn(4) && !allow_pinned && live)	/* importers that pin */
			mode = rn(2) ? LLI_PINNED : LLI_STATIC;
		at.mode = mode;
		want = I->exp >= 0 ? EBUSY : mode != LLI_DYNAMIC ? EOPNOTSUPP : live ? 0 : ENOLINK;
		ret = ERR(ioctl(I->fd, LLI_IOC_ATTACH, &at));
		if (!ret) {
			I->exp = e;
			E->nimp++;
		}
	} else if (v < 6) {
		op.offset = rn(E->pages * ps / 8) * 8;
		op.length = v == 4 ? 8 : 1 + rn(MIN(64, E->pages * ps - op.offset));
		op.value = rnd() & 0xff;
		op.delay_ms = v == 3 ? 20 + rn(40) : 0;
		/* Once the pin ended the device is stopped and cannot map again. */
		want = I->exp < 0 || !live ? v == 5 && I->exp >= 0 ? ENOLINK : ENXIO : 0;
		ret = ERR(ioctl(I->fd, v == 5 ? LLI_IOC_MAP : v == 4 ? LLI_IOC_READ : LLI_IOC_WRITE,
				&op));
		if ((ret == EBUSY && op.delay_ms && ll_now_ms() < I->busy_until) ||
		    (maybe && I->exp >= 0 && (!ret || ret == ENXIO || ret == ENOLINK)))
			want = ret;
		if (!ret && op.delay_ms) {
			/* The work item runs late on a loaded debug guest. */
			I->busy_until = ll_now_ms() + op.delay_ms + 1000;
			inflight_until = MAX(inflight_until, I->busy_until);
		}
		/* What the device wrote or read is in the file, as mapped. */
		memset(mem, op.value, sizeof(mem));
		cmp = !ret && live && v != 5 && !op.delay_ms && ll_now_ms() > inflight_until ?
		      guarded_cmp(P->addr + op.offset, v == 4 ? (void *)&op.value : mem,
				  op.length) : 0;
		if (cmp)
			fail("importer %s at %llu of pin %llu: %s", names[v], ULL(op.offset),
			     ULL(P->id), cmp < 0 ? "SIGBUS" : "not what the mapping has");
	} else {
		want = I->exp >= 0 ? 0 : ENXIO;
		ret = ERR(ioctl(I->fd, LLI_IOC_DETACH, NULL));
		if (!ret) {
			exports[I->exp].nimp--;
			export_settle(I->exp);
			I->exp = -1;
		}
	}
	vlog("importer %d %s mode %d, dma-buf %d: %s", i, names[v], mode, E->fd, en(ret));
	if (ret != want && !(maybe && v < 2 && !ret))
		fail("importer %s (mode %d, pin %s): %s, expected %s", names[v], mode,
		     live ? "live" : maybe ? "ending" : "ended", en(ret), en(want));
	check_imp(i);
}

#define OP(name, weight) { op_##name, weight, #name }

static const struct {
	void (*fn)(void);
	int weight;
	const char *name;
} ops[] = {
	OP(lease, 7), OP(lease_bad, 4), OP(pin, 14), OP(pin_bad, 6), OP(unpin, 7),
	OP(export, 5), OP(info, 2), OP(owner, 3), OP(struct, 4), OP(read, 5),
	OP(fcntl, 2), OP(mmap, 6), OP(munmap, 4), OP(mremap, 3), OP(mprotect, 2),
	OP(close, 3), OP(size, 3), OP(child, 2), OP(importer, 6),
};
static __u64 op_ns[ARRAY_SIZE(ops)], check_ns;
static unsigned int op_n[ARRAY_SIZE(ops)];

/* ------------------------------------------------------------ setup, end */

/* Is @fs mounted with DAX here?  A lease on a file there says. */
static bool fs_usable(const char *fs)
{
	struct layoutlease_lease_create c;
	char path[300];
	int fd, ret;

	snprintf(path, sizeof(path), "%s/fuzz.%d.probe", ll_mount(fs), mypid);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	unlink(path);
	ret = ftruncate(fd, ps) ? errno : do_lease(fd, 0, 1, 100, 0, &c);
	if (!ret)
		close(c.out_lease_fd);
	close(fd);
	printf("# %s: %s\n", fs, ret ? en(ret) : "DAX");
	return !ret;
}

static void setup(const char **fss, int nfs)
{
	struct sigaction sa = { .sa_sigaction = on_sig, .sa_flags = SA_SIGINFO | SA_RESTART };
	int sigs[] = { SIGIO, SIGUSR1, SIGUSR2, SIGRTMIN, SIGRTMIN + 2 }, i, ret = -1;
	const char *dir = getenv("LL_TESTMODS");
	struct layoutlease_lease_create c;
	char buf[512], y = 'N';
	struct stat st;

	for (i = 0; i < nfiles; i++) {
		struct file_m *F = &files[i];

		F->fs = fss[i % nfs];
		snprintf(F->path, sizeof(F->path), "%s/fuzz.%d.%d", ll_mount(F->fs), mypid, i);
		F->fd = open(F->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (F->fd < 0 || ftruncate(F->fd, 32 * ps) || fstat(F->fd, &st))
			fail("%s: %s", F->path, strerror(errno));
		F->pages = 32;
		F->dev = st.st_dev;
		F->ino = st.st_ino;
	}
	/* /tmp is not DAX in the VMs; if it were, it would not be used. */
	tmpfd = open("/tmp", O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
	if (tmpfd >= 0 && !ftruncate(tmpfd, ps))
		ret = do_lease(tmpfd, 0, 1, 0, 0, &c);
	if (!ret)
		close(c.out_lease_fd);
	if (tmpfd >= 0 && ret != EOPNOTSUPP) {
		close(tmpfd);
		tmpfd = -1;
	}
	memfd = memfd_create("fuzz", MFD_CLOEXEC);
	dirfd_ = open(ll_mount(fss[0]), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	none_page = mmap(NULL, ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro_page = mmap(NULL, ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	hole = mmap(NULL, 64 * ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (memfd < 0 || ftruncate(memfd, ps) || pipe2(pipefd, O_CLOEXEC) ||
	    none_page == MAP_FAILED || ro_page == MAP_FAILED || hole == MAP_FAILED)
		fail("memfd, pipe or mmap: %s", strerror(errno));
	munmap(hole, 64 * ps);
	/* The importer, as dmabuf_test loads it. */
	if (access(LL_IMPORTER_DEVICE, F_OK) && dir) {
		snprintf(buf, sizeof(buf), "insmod %s/ll_importer.ko 2>/dev/null", dir);
		if (system(buf))
			printf("# cannot load ll_importer.ko\n");
	}
	for (i = 0; i < MAX_IMPS; i++) {
		imps[i].exp = -1;
		imps[i].fd = open(LL_IMPORTER_DEVICE, O_RDWR | O_CLOEXEC);
		nimps += imps[i].fd >= 0;
	}
	i = open("/sys/module/layoutlease/parameters/allow_pinned_importers", O_RDONLY);
	if (i >= 0 && read(i, &y, 1) == 1)
		allow_pinned = y == 'Y';
	if (i >= 0)
		close(i);
	for (i = 0; i < 5; i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGBUS, on_bus);
	signal(SIGPIPE, SIG_IGN);
	vm_base = vm_pin_kb();
	printf("# %d files, %d importers%s, VmPin %ld kB\n", nfiles, nimps,
	       allow_pinned ? " (pinned allowed)" : "", vm_base);
}

/* Unmap and close everything: nothing of ours may be left in the kernel. */
static void finish(void)
{
	int i;

	check_state("at the end");
	for (i = 0; i < nimps; i++) {
		if (imps[i].exp < 0)
			continue;
		expect("importer detach", ERR(ioctl(imps[i].fd, LLI_IOC_DETACH, NULL)), 0);
		exports[imps[i].exp].nimp--;
		export_settle(imps[i].exp);
		imps[i].exp = -1;
	}
	for (i = 0; i < MAX_MAPS; i++)
		if (maps[i].used && !munmap(maps[i].addr, maps[i].pages * ps))
			model_unmap(maps[i].addr, maps[i].pages);
	check_state("after unmapping everything");
	for (i = 0; i < MAX_EXPORTS; i++)
		if (export_open(i)) {
			close(exports[i].fd);
			exports[i].fd = -1;
			export_settle(i);
		}
	for (i = 0; i < MAX_LEASES; i++)
		if (lease_open(i))
			lease_close(i);
	for (i = 0; i < MAX_LEASES; i++)
		if (leases[i].used)
			fail("model: lease %llu is left", ULL(leases[i].id));
	/* No lease on our files, VmPin as at the start. */
	check_state("after closing everything");
	for (i = 0; i < nfiles; i++) {
		close(files[i].fd);
		unlink(files[i].path);
	}
	for (i = 0; i < nimps; i++)
		close(imps[i].fd);
}

static int jobs = 1;
static int *job_calls;	/* a worker's calls, shared with the parent */

/*
 * -j: fork the workers, each of which goes on in main() as a fuzzer of its
 * own; the run passes if every worker does.
 */
static int run_jobs(int n, char **argv)
{
	int *calls = mmap(NULL, n * sizeof(int), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned long long base = seed;
	int i, st, failed = 0, total = 0;
	static char tags[64][16];
	pid_t pid;

	const char *dir = getenv("LL_TESTMODS");
	char buf[512];

	if (calls == MAP_FAILED || n > 64)
		errx(2, "-j: at most 64 workers");
	/* The importer, once: the workers' own insmods would race. */
	if (access(LL_IMPORTER_DEVICE, F_OK) && dir) {
		snprintf(buf, sizeof(buf), "insmod %s/ll_importer.ko 2>/dev/null", dir);
		if (system(buf))
			printf("# cannot load ll_importer.ko\n");
	}
	printf("TAP version 13\n1..1\n# seed %llu, %d workers (worker I: seed %llu + I)\n",
	       base, n, base);
	fflush(stdout);
	for (i = 0; i < n; i++) {
		pid = fork();
		if (pid < 0)
			err(2, "fork");
		if (!pid) {
			seed = base + i;
			snprintf(tags[i], sizeof(tags[i]), "# w%d ", i);
			tap = tags[i];
			job_calls = &calls[i];
			jobs = 1;
			return -1;	/* main() goes on as worker i */
		}
	}
	while ((pid = wait(&st)) > 0)
		failed += !WIFEXITED(st) || WEXITSTATUS(st);
	for (i = 0; i < n; i++)
		total += calls[i];
	if (failed)
		printf("not ok 1 fuzz seed %llu: %d of %d workers failed (%d calls)\n",
		       base, failed, n, total);
	else
		printf("ok 1 fuzz seed %llu workers %d calls %d\n", base, n, total);
	(void)argv;
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *fss[2], *all[] = { "xfs", "ext4" };
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	int opt, nfs = 0, total = 0, i, w, seconds = 0;
	bool seeded = false;
	long long t0;
	__u64 t1;

	while ((opt = getopt(argc, argv, "s:n:t:f:j:v")) != -1) {
		if (opt == 's')
			seeded = (seed = strtoull(optarg, NULL, 0), true);
		else if (opt == 'n')
			ncalls = atoi(optarg);
		else if (opt == 't')
			seconds = atoi(optarg);
		else if (opt == 'f' && (!strcmp(optarg, "xfs") || !strcmp(optarg, "ext4")))
			fsopt = optarg;
		else if (opt == 'v')
			verbose = true;
		else if (opt == 'j' && atoi(optarg) > 0)
			jobs = atoi(optarg);
		else
			errx(2, "usage: %s [-s SEED] [-n CALLS] [-t SECONDS] [-f xfs|ext4] [-j JOBS] [-v]",
			     argv[0]);
	}
	if (!seeded)
		seed = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32);
	setvbuf(stdout, NULL, _IOLBF, 0);
	mypid = getpid();
	ps = sysconf(_SC_PAGESIZE);
	if (jobs > 1) {
		i = run_jobs(jobs, argv);
		if (i >= 0)
			return i;
		mypid = getpid();	/* worker: a fuzzer of its own */
	}
	printf("%sTAP version 13\n%s1..1\n# seed %llu\n", tap, tap, seed);
	devfd = ll_dev_open();
	if (devfd < 0) {
		printf("%sok 1 fuzz # SKIP no %s\n", tap, LAYOUTLEASE_DEVICE);
		return 0;
	}
	info.size = sizeof(info);
	if (ioctl(devfd, LAYOUTLEASE_IOC_GET_INFO, &info) || info.out_api_version < 3 ||
	    (info.out_commands & 0x3f) != 0x3f)
		fail("GET_INFO: %s, api %u, commands %#llx", en(errno), info.out_api_version,
		     ULL(info.out_commands));
	for (i = 0; i < 2; i++)
		if ((!fsopt || !strcmp(fsopt, all[i])) && fs_usable(all[i]))
			fss[nfs++] = all[i];
	if (!nfs) {
		printf("%sok 1 fuzz # SKIP no DAX mount of %s\n", tap, fsopt ? fsopt : "xfs or ext4");
		return 0;
	}
	if (setrlimit(RLIMIT_MEMLOCK, &rl) && !getrlimit(RLIMIT_MEMLOCK, &rl))
		max_pin_pages = rl.rlim_cur / ps / 2;
	rnd_seed(seed);
	nfiles = 2 + rn(3);
	setup(fss, nfs);
	for (i = 0; i < (int)ARRAY_SIZE(ops); i++)
		total += ops[i].weight;
	t0 = ll_now_ms();
	for (step = 1; step <= ncalls; step++) {
		if (seconds && ll_now_ms() - t0 > seconds * 1000LL) {
			printf("# stopped after %d s\n", seconds);
			break;
		}
		rnd_seed(seed ^ (0x9e3779b97f4a7c15ULL * step));
		for (w = rn(total), i = 0; w >= ops[i].weight; i++)
			w -= ops[i].weight;
		vlog("%s", ops[i].name);
		t1 = now_ns();
		ops[i].fn();
		drain_all();
		op_ns[i] += now_ns() - t1;
		op_n[i]++;
		if (!(step % 8)) {
			t1 = now_ns();
			check_state("periodic check");
			check_ns += now_ns() - t1;
		}
	}
	step--;
	finish();
	/* Where the time went: it is what bounds the calls a run makes. */
	printf("%s# time: periodic checks %llu ms;", tap, ULL(check_ns / 1000000));
	for (i = 0; i < (int)ARRAY_SIZE(ops); i++)
		printf(" %s %u/%llu ms", ops[i].name, op_n[i], ULL(op_ns[i] / 1000000));
	printf("\n");
	if (job_calls)
		*job_calls = step;
	printf("%sok 1 fuzz seed %llu calls %d\n", tap, seed, step);
	return 0;
}
