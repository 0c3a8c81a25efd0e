// SPDX-License-Identifier: GPL-2.0
/*
 * A race stress of layoutlease: processes and threads sharing leases, pins,
 * dma-buf exports and importer attachments, truncaters breaking the files
 * under them, and a killer.
 *
 *   race_stress [-s SEED] [-t SECONDS] [-p PROCS] [-T THREADS] [-f FILES]
 *               [-m TIMEOUT_MS] [-v]
 *
 * FILES files of 64 pages, alternately on the XFS and the ext4 DAX mount, and
 * a shared one that all use; every lease has a break timeout of TIMEOUT_MS.
 * PROCS pinner processes run THREADS threads each on the process's table of
 * leases (each with one mapping), pins and exports (each with an importer
 * device, /dev/ll_importer), so that one thread unpins, unmaps, moves or
 * closes what another pins or exports.  An object is taken out of the table,
 * or its lease fd referenced, under the table's lock: the test never uses a
 * closed fd or a stale mapping, and a mapping's generation goes up before it
 * is unmapped or moved, so that a PIN tells a lost race from a bug.  Threads
 * fork children that inherit all and exit at once, make a few calls (a
 * parent's pin is EPERM to them) or sleep until killed.  One truncater per
 * file truncates it to 0, punches, collapses or zeroes a range and restores
 * the size every 0-50 ms; each call must end within TIMEOUT_MS + 5000 ms.
 * The main process SIGKILLs a pinner or a child of one every 100-500 ms and
 * forks a replacement.  At the end all are killed; within 10 s no lease may
 * be left, every FOLL_PIN must be released and the module's refcount be back.
 *
 * An errno that a valid call can get from a lost race is counted (the counts
 * are printed at the end); any other fails the run at once, which prints
 * "# FAIL: " with the call and errno, "# replay: race_stress -s SEED ..." and
 * "not ok 1", and exits 1.  The seed fixes every choice of every thread, not
 * how they interleave: a replay retries the same mix, not the same run.
 * Runs as root in the test VMs (scripts/vm-run); prints TAP.
 */
#define _GNU_SOURCE
#include <err.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <linux/falloc.h>

/* The helpers only: the harness's test runner stays unused here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "layoutlease_utils.h"
#include "importer_utils.h"
#pragma GCC diagnostic pop

#define FPG	64	/* pages of every file */
#define MAXP	32	/* pinner processes */
#define MAXT	16	/* threads of each */
#define MAXF	16	/* files, the shared one included */
#define NLEASE	6	/* a pinner's table */
#define NPIN	24
#define NEXP	6
#define NKID	4	/* children of a pinner at a time */
#define EMAX	134
#define ERR(x)	((x) ? errno : 0)
#define ULL(x)	((unsigned long long)(x))
#define ADD(x)	__atomic_fetch_add(&(x), 1, __ATOMIC_RELAXED)
#define LOCK()	pthread_mutex_lock(&tl)
#define UNLOCK() pthread_mutex_unlock(&tl)
#define LEASE_OK(L) ((L)->used && (L)->fd >= 0 && !(L)->closing)
/* Not in the main process: record, and exit 3, which says "recorded". */
#define fail(...) do { record(__VA_ARGS__); _exit(3); } while (0)
/* Count the outcome of a call; fail if it is an errno that @ok does not allow. */
#define CHECK(call, e, ok, ...) do {						\
	if ((e) && !(ok))							\
		fail(__VA_ARGS__);						\
	ADD(sh->tally[call][(e) < EMAX ? (e) : EMAX - 1]);			\
} while (0)
/* A random index < @n whose element *X satisfies @cond, or -1. */
#define PICK(arr, n, cond) ({							\
	int _s = rn(n), _i, _r = -1;						\
	for (_i = 0; _i < (n) && _r < 0; _i++) {				\
		__typeof__(&(arr)[0]) X = &(arr)[(_s + _i) % (n)];		\
		if (cond)							\
			_r = (_s + _i) % (n);					\
	}									\
	_r; })
/* @expr once it is @want, or after 10 s. */
#define SETTLE(expr, want) ({							\
	long _v = (expr);							\
	for (int _i = 0; _i < 100 && _v != (want); _i++, _v = (expr))		\
		usleep(100 * 1000);						\
	_v; })

enum {
	C_LEASE, C_PIN, C_UNPIN, C_EXPORT, C_ATTACH, C_MAP, C_WRITE, C_READ, C_FALLOC, C_KID, NCALL
};
static const char *const cname[NCALL] = {
	"LEASE_CREATE", "PIN", "UNPIN", "EXPORT", "LLI_IOC_ATTACH", "LLI_IOC_MAP",
	"LLI_IOC_WRITE", "read", "truncate/fallocate", "a child's UNPIN or EXPORT of a parent's pin",
};
static const char *const tname[] = { "truncate to 0", "punch hole", "collapse range",
				     "zero range", "restore size" };

/* What all processes see. */
struct shared {
	int claimed, failed, stop, worst_op, top[MAXF];
	char msg[512];
	long long deadline, tstart[MAXF];	/* a truncater's call began (ms); 0: none */
	long worst_ms;
	unsigned long ops, truncs, kills, forked, tally[NCALL][EMAX];
	unsigned int shrink[MAXF];	/* odd while a truncater's call and restore run */
	pid_t pinner[MAXP], kid[MAXP][NKID], trunc[MAXF];
};

/* A lease and its mapping, of pages [moff, moff + mpages) of the file. */
struct lslot {
	bool used, closing, mbusy;	/* mbusy: a thread took the mapping */
	int fd, refs, file;		/* refs: users of fd; the last closes a closing one */
	long off, pages, moff, mpages;	/* the leased range; the mapped one */
	char *addr;
	__u64 id;			/* from its records; 0: none yet */
	unsigned int mgen, gen;		/* up before the mapping changes; at reuse */
};

struct pslot {
	bool used, exported;
	int l;
	unsigned int lgen;
	long pages;
	__u64 id;
};

struct eslot {
	bool used, busy, attached, delayed;
	int dmabuf, imp;
	long pages;
};

static unsigned long long seed;
static int seconds = 30, nprocs = 6, nthreads = 3, nfiles = 3, timeout_ms = 100, bound_ms;
static int devfd, me, fds[MAXF];
static char paths[MAXF][256], wd_msg[256];
/* Where the main process is, for the watchdog's report. */
static const char *volatile phase = "setup";
static bool verbose, have_imp;
static long ps;
static pid_t mainpid;
static struct shared *sh;
static struct lslot ls[NLEASE];
static struct pslot pns[NPIN];
static struct eslot es[NEXP];
static pthread_mutex_t tl = PTHREAD_MUTEX_INITIALIZER;	/* the table's lock */
static __thread sigjmp_buf fault_jmp;
static __thread volatile sig_atomic_t fault_armed;

/* --------------------------------------------------------------- helpers */

/* xorshift64*, seeded through splitmix64 with the seed and who draws. */
/* Each thread's stream of layoutlease_utils.h's PRNG: the seed and @who. */
static void rnd_seed(__u64 who)
{
	ll_rnd_seed(seed ^ (who * 0x9e3779b97f4a7c15ULL));
}

#define rnd ll_rnd
#define rn ll_rn

static const char *en(int e)
{
	const char *s = e ? strerrorname_np(e) : "ok";

	return s ? s : "other errno";
}

/* The first failure is the run's; later ones are printed only. */
static void __attribute__((format(printf, 1, 2))) record(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (__atomic_exchange_n(&sh->claimed, 1, __ATOMIC_SEQ_CST)) {
		dprintf(1, "# also: %s\n", buf);
		return;
	}
	memcpy(sh->msg, buf, sizeof(buf));
	__atomic_store_n(&sh->failed, 1, __ATOMIC_SEQ_CST);
}

static void on_fault(int sig)
{
	if (fault_armed)
		siglongjmp(fault_jmp, 1);
	signal(sig, SIG_DFL);	/* a real crash: the fault comes again */
}

/* Write to every page; a truncated file (SIGBUS) ends it early. */
static void touch(char *p, long pages)
{
	long i;

	if (sigsetjmp(fault_jmp, 1)) {
		fault_armed = 0;
		return;
	}
	fault_armed = 1;
	for (i = 0; i < pages; i++)
		((volatile char *)p)[i * ps] += 1;
	fault_armed = 0;
}

/* Was @file short at some time since its count was @s0? */
static bool shrunk(int file, unsigned int s0)
{
	return (s0 & 1) || __atomic_load_n(&sh->shrink[file], __ATOMIC_SEQ_CST) != s0;
}

static void check_status(pid_t pid, int st, const char *who)
{
	if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) &&
	    !(WIFEXITED(st) && (!WEXITSTATUS(st) || WEXITSTATUS(st) == 3)))
		record("%s %d ended with status %#x", who, pid, st);
}

/* ---------------------------------------------------------- the pinners */

/* Under tl: a lease slot with no fd, no mapping and no user is free. */
static void lfree_locked(struct lslot *L)
{
	if (L->used && L->fd < 0 && !L->addr && !L->mbusy && !L->refs) {
		L->used = false;
		L->gen++;
	}
}

/* A lease fd to use until lput(), with a copy of its slot; NULL if none. */
static struct lslot *lget(bool mapped, struct lslot *copy)
{
	int l;

	LOCK();
	l = PICK(ls, NLEASE, LEASE_OK(X) && (!mapped || (X->addr && !X->mbusy)));
	if (l >= 0) {
		ls[l].refs++;
		*copy = ls[l];
	}
	UNLOCK();
	return l >= 0 ? &ls[l] : NULL;
}

static void lput(struct lslot *L)
{
	int fd = -1;

	LOCK();
	if (!--L->refs && L->closing) {
		fd = L->fd;
		L->fd = -1;
		L->closing = false;
		lfree_locked(L);
	}
	UNLOCK();
	if (fd >= 0)
		close(fd);
}

/* A new lease, mapped; or a new mapping of a lease whose mapping went. */
static void op_create(int arg)
{
	__u32 flags = rn(3) ? 0 : LAYOUTLEASE_LEASE_NONBLOCK;
	int l, e = 0, lfd = -1, f = rn(2) ? nfiles : rn(nfiles);
	long off = rn(2) ? 0 : rn(FPG), pages = off ? 1 + rn(FPG - off) : FPG;
	bool fresh = false;
	struct lslot *L;
	char *a = NULL;

	LOCK();
	l = PICK(ls, NLEASE, LEASE_OK(X) && !X->addr && !X->mbusy);
	if (l < 0) {
		l = PICK(ls, NLEASE, !X->used);
		fresh = l >= 0;
	}
	if (fresh)
		ls[l] = (struct lslot){ .used = true, .fd = -1, .file = f, .off = off,
					.pages = pages, .gen = ls[l].gen, .mgen = ls[l].mgen };
	if (l >= 0)
		ls[l].mbusy = true;
	UNLOCK();
	if (l < 0)
		return;
	L = &ls[l];	/* file, off, pages stay while mbusy */
	if (fresh) {
		e = ERR(_test_cmd_lease_create(devfd, fds[f], off * ps, pages * ps, timeout_ms,
					       flags, &lfd));
		CHECK(C_LEASE, e, e == EINTR || (e == EAGAIN && flags),
		      "LEASE_CREATE of pages %ld+%ld of %s, flags %#x: %s", off, pages, paths[f],
		      flags, en(e));
		if (!e && fcntl(lfd, F_SETFL, O_NONBLOCK))
			fail("fcntl(F_SETFL) of a lease fd: %s", en(errno));
	}
	if (!e) {
		a = mmap(NULL, L->pages * ps, PROT_READ | PROT_WRITE, MAP_SHARED, fds[L->file],
			 L->off * ps);
		if (a == MAP_FAILED)
			fail("mmap of a leased range: %s", en(errno));
		touch(a, L->pages);
	}
	LOCK();
	if (lfd >= 0)
		L->fd = lfd;
	if (a) {
		L->addr = a;
		L->moff = L->off;
		L->mpages = L->pages;
		L->mgen++;
	}
	L->mbusy = false;
	lfree_locked(L);
	UNLOCK();
}

static void op_pin(int arg)
{
	__u32 flags = rn(3) ? 0 : LAYOUTLEASE_PIN_NONBLOCK;
	struct lslot C, *L = lget(true, &C);
	unsigned int s0;
	bool changed;
	int p, e;
	__u64 id = 0;
	long a, n;

	if (!L)
		return;
	a = rn(3) ? rn(C.mpages) : 0;
	n = a ? 1 + rn(C.mpages - a) : C.mpages;
	s0 = __atomic_load_n(&sh->shrink[C.file], __ATOMIC_SEQ_CST);
	e = ERR(_test_cmd_pin(C.fd, C.addr + a * ps, n * ps, flags, &id));
	LOCK();
	changed = L->mgen != C.mgen;
	p = e ? -1 : PICK(pns, NPIN, !X->used);
	if (p >= 0)
		pns[p] = (struct pslot){ .used = true, .l = L - ls, .lgen = C.gen, .pages = n,
					 .id = id };
	UNLOCK();
	CHECK(C_PIN, e, e == EINTR || (e == EAGAIN && flags) || (e == EINVAL && changed) ||
	      (e == EFAULT && (changed || shrunk(C.file, s0))),
	      "PIN of pages %ld+%ld of a %ld-page mapping (%s) of %s, flags %#x: %s", a, n,
	      C.mpages, changed ? "changed meanwhile" : "unchanged", paths[C.file], flags, en(e));
	if (!e && p < 0) {	/* the table is full */
		e = ERR(_test_cmd_unpin(C.fd, id));
		CHECK(C_UNPIN, e, e == ENOENT, "UNPIN of pin %llu: %s", ULL(id), en(e));
	}
	lput(L);
}

/* UNPIN a pin of the table (taken out) or EXPORT it (marked exported). */
static void op_pin_id(int export)
{
	int p, x = -1, e, dfd = -1;
	struct lslot *L = NULL;
	struct pslot P = {};

	LOCK();
	p = PICK(pns, NPIN, X->used && (!export || !X->exported));
	if (export)
		x = PICK(es, NEXP, !X->used);
	if (p >= 0 && (!export || x >= 0)) {
		P = pns[p];
		pns[p].used = export;
		pns[p].exported = true;	/* once: a second export would be EBUSY */
		/* A pin of a closed lease fd ends with its mapping. */
		if (ls[P.l].gen == P.lgen && LEASE_OK(&ls[P.l]))
			(L = &ls[P.l])->refs++;
		if (L && export)
			es[x] = (struct eslot){ .used = true, .busy = true, .dmabuf = -1,
						.imp = -1, .pages = P.pages };
	}
	UNLOCK();
	if (!L)
		return;
	e = ERR(export ? _test_cmd_export(L->fd, P.id, 0, &dfd) : _test_cmd_unpin(L->fd, P.id));
	lput(L);
	CHECK(export ? C_EXPORT : C_UNPIN, e, e == ENOENT, "%s of pin %llu: %s",
	      export ? "EXPORT" : "UNPIN", ULL(P.id), en(e));
	LOCK();
	if (export)
		es[x] = (struct eslot){ .used = !e, .dmabuf = dfd, .imp = -1, .pages = P.pages };
	UNLOCK();
}

/* The importer never found a page unpinned while it could reach it. */
static void imp_check(struct eslot *E, const char *when)
{
	struct lli_status st = lli_status(E->imp);

	if (st.unpinned_access || st.unpinned_unmap || st.late_access)
		fail("importer %s: %u accesses and %u unmaps found a page unpinned, %u accesses came after the unmap",
		     when, st.unpinned_access, st.unpinned_unmap, st.late_access);
}

/* Attach, map, write, detach, or close an export and its importer. */
static void op_importer(int arg)
{
	int x, v, e = 0, call = C_ATTACH;
	struct eslot *E;
	__u32 delay = 0;

	LOCK();
	x = PICK(es, NEXP, X->used && !X->busy);
	if (x >= 0)
		es[x].busy = true;
	UNLOCK();
	if (x < 0)
		return;
	E = &es[x];
	v = !have_imp ? 4 : !E->attached ? (rn(4) ? 0 : 4) : 1 + rn(5);
	if (v == 0) {
		if (E->imp < 0)
			E->imp = open(LL_IMPORTER_DEVICE, O_RDWR | O_CLOEXEC);
		if (E->imp < 0)
			fail("open %s: %s", LL_IMPORTER_DEVICE, en(errno));
		e = ERR(lli_attach(E->imp, E->dmabuf, LLI_DYNAMIC));
		E->attached = !e;
		E->delayed = false;
	} else if (v == 1) {
		call = C_MAP;
		e = ERR(ioctl(E->imp, LLI_IOC_MAP));
	} else if (v == 2) {
		__u64 off = rn(E->pages * ps / 8) * 8, len = 1 + rn(E->pages * ps - off);

		call = C_WRITE;
		delay = rn(4) ? 0 : 1 + rn(20);
		e = ERR(lli_write(E->imp, off, len > 8192 ? 8192 : len, rnd(), delay));
		E->delayed |= delay && !e;
	} else if (E->attached) {
		imp_check(E, v == 3 ? "at detach" : "at close");
		if (v == 3 && ioctl(E->imp, LLI_IOC_DETACH))
			fail("LLI_IOC_DETACH: %s", en(errno));
		E->attached = v != 3;
	}
	if (v < 3)
		CHECK(call, e, (e == ENOLINK && call != C_WRITE) ||
		      (e == ENXIO && call == C_WRITE) || (e == EBUSY && call == C_WRITE && E->delayed),
		      "%s of a %ld-page dma-buf (delay %u): %s", cname[call], E->pages, delay, en(e));
	if (v >= 4) {
		if (E->imp >= 0)
			close(E->imp);
		close(E->dmabuf);
	}
	LOCK();
	E->busy = false;
	E->used = v < 4;
	UNLOCK();
}

/* munmap all of a mapping, or its first or last pages; move it; touch it. */
static void op_vma(int arg)
{
	int l, v = rn(5);
	struct lslot *L;
	char *a, *to;
	long k, n;

	LOCK();
	l = PICK(ls, NLEASE, X->used && X->addr && !X->mbusy);
	if (l >= 0) {
		ls[l].mbusy = true;
		ls[l].mgen += v < 4;	/* a PIN in flight may lose its mapping */
	}
	UNLOCK();
	if (l < 0)
		return;
	L = &ls[l];
	a = L->addr;
	n = L->mpages;
	k = n > 1 && (v == 1 || v == 2) ? 1 + rn(n - 1) : n;
	if (v < 3 && munmap(a + (v == 2 ? n - k : 0) * ps, k * ps))
		fail("munmap: %s", en(errno));
	if (v == 3) {
		to = mmap(NULL, n * ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		a = to == MAP_FAILED ? to : mremap(a, n * ps, n * ps,
						   MREMAP_MAYMOVE | MREMAP_FIXED, to);
		if (a == MAP_FAILED)
			fail("mremap of %ld pages: %s", n, en(errno));
	}
	if (v == 4)
		touch(a, n);
	LOCK();
	if (v < 3) {
		L->moff += v == 1 ? k : 0;
		L->mpages -= k;
		a = L->mpages ? a + (v == 1 ? k : 0) * ps : NULL;
	}
	L->addr = a;
	L->mbusy = false;
	lfree_locked(L);
	UNLOCK();
}

/* Read and check the records of a lease fd (O_NONBLOCK). */
static void read_events(struct lslot *L, int fd)
{
	struct layoutlease_event ev[8];
	ssize_t n = read(fd, ev, sizeof(ev));
	int i, e = n < 0 ? errno : 0;

	CHECK(C_READ, e, e == EAGAIN || e == EINTR, "read of a lease fd: %s", en(e));
	if (!e && (n == 0 || n % sizeof(ev[0])))
		fail("read of a lease fd: %zd bytes", n);
	for (i = 0; !e && i < n / (ssize_t)sizeof(ev[0]); i++) {
		bool pinrec = ev[i].type == LAYOUTLEASE_EVENT_REVOKED ||
			      ev[i].type == LAYOUTLEASE_EVENT_UNMAPPED;

		if (ev[i].type == LAYOUTLEASE_EVENT_OVERFLOW)
			continue;
		if (ev[i].type < LAYOUTLEASE_EVENT_BREAK || ev[i].type > LAYOUTLEASE_EVENT_OVERFLOW ||
		    ev[i].__reserved || !ev[i].lease_id || (L->id && ev[i].lease_id != L->id) ||
		    pinrec != !!ev[i].pin_id)
			fail("record of lease %llu: type %u, lease %llu, pin %llu", ULL(L->id),
			     ev[i].type, ULL(ev[i].lease_id), ULL(ev[i].pin_id));
		L->id = ev[i].lease_id;	/* racy between threads, but one value */
	}
}

static void op_read(int arg)
{
	struct lslot C, *L = lget(false, &C);

	if (L) {
		read_events(L, C.fd);
		lput(L);
	}
}

/* Close a lease fd (its last user does): its pins stay until their mapping goes. */
static void op_close(int arg)
{
	struct lslot C, *L = lget(false, &C);

	if (L) {
		LOCK();
		L->closing = true;
		UNLOCK();
		lput(L);
	}
}

/* A child's calls on what it inherited: single-threaded, without tl. */
static void __attribute__((noreturn)) kid_main(int mode, pid_t parent)
{
	int i, l, p, e, dfd = -1, imp;
	struct lslot *L;
	unsigned int s0;
	__u64 id = 0;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent || !mode)
		_exit(0);
	while (mode == 2 && ll_now_ms() < sh->deadline + 30000)
		usleep(100 * 1000);	/* until killed */
	for (i = 1 + rn(4); i-- > 0;) {
		l = PICK(ls, NLEASE, LEASE_OK(X) && X->addr && !X->mbusy);
		p = PICK(pns, NPIN, X->used && ls[X->l].gen == X->lgen && LEASE_OK(&ls[X->l]));
		if (p >= 0 && (l < 0 || rn(2))) {	/* not its pin: EPERM, or gone */
			e = rn(2) ? ERR(_test_cmd_unpin(ls[pns[p].l].fd, pns[p].id)) :
				    ERR(_test_cmd_export(ls[pns[p].l].fd, pns[p].id, 0, &dfd));
			if (!e || (e != EPERM && e != ENOENT))
				fail("child: UNPIN or EXPORT of its parent's pin %llu: %s",
				     ULL(pns[p].id), en(e));
			ADD(sh->tally[C_KID][e]);
			continue;
		}
		if (l < 0)
			continue;
		L = &ls[l];	/* pin, export, attach, and exit with them or go on */
		s0 = __atomic_load_n(&sh->shrink[L->file], __ATOMIC_SEQ_CST);
		e = ERR(_test_cmd_pin(L->fd, L->addr, L->mpages * ps, LAYOUTLEASE_PIN_NONBLOCK, &id));
		CHECK(C_PIN, e, e == EINTR || e == EAGAIN || (e == EFAULT && shrunk(L->file, s0)),
		      "child: PIN of a %ld-page mapping: %s", L->mpages, en(e));
		if (e)
			continue;
		e = ERR(_test_cmd_export(L->fd, id, 0, &dfd));
		CHECK(C_EXPORT, e, e == ENOENT, "child: EXPORT of its pin: %s", en(e));
		if (e || !have_imp)
			continue;
		imp = open(LL_IMPORTER_DEVICE, O_RDWR | O_CLOEXEC);
		e = imp < 0 ? errno : ERR(lli_attach(imp, dfd, LLI_DYNAMIC));
		CHECK(C_ATTACH, e, e == ENOLINK, "child: open or LLI_IOC_ATTACH: %s", en(e));
		e = e ? 0 : ERR(lli_write(imp, 0, ps, 0x5a, 0));
		CHECK(C_WRITE, e, e == ENXIO, "child: LLI_IOC_WRITE: %s", en(e));
	}
	_exit(0);
}

static void op_fork(int arg)
{
	int k, mode = rn(3);
	pid_t pid, parent = getpid();

	LOCK();	/* the child's copy of the table is consistent */
	k = PICK(sh->kid[me], NKID, !*X);
	if (k >= 0) {
		pid = fork();
		if (!pid) {
			rnd_seed(rnd());
			kid_main(mode, parent);
		}
		if (pid < 0)
			fail("fork: %s", en(errno));
		sh->kid[me][k] = pid;
		ADD(sh->forked);
	}
	UNLOCK();
}

static const struct {
	void (*fn)(int arg);
	int weight, arg;
} ops[] = {
	{ op_create, 12 }, { op_pin, 20 }, { op_pin_id, 10, false }, { op_pin_id, 8, true },
	{ op_importer, 14 }, { op_vma, 11 }, { op_read, 6 }, { op_close, 3 }, { op_fork, 2 },
};

static void *worker(void *arg)
{
	int total = 0, i, w;

	rnd_seed((uintptr_t)arg);
	for (i = 0; i < (int)ARRAY_SIZE(ops); i++)
		total += ops[i].weight;
	while (ll_now_ms() < sh->deadline && !sh->stop && !sh->failed) {
		for (w = rn(total), i = 0; w >= ops[i].weight; i++)
			w -= ops[i].weight;
		ops[i].fn(ops[i].arg);
		ADD(sh->ops);
		if (!rn(16))
			usleep(rn(3000));
	}
	return NULL;
}

/* Reap this pinner's children, under tl, where op_fork() registers them. */
static void reap_kids(void)
{
	siginfo_t si;
	int k, st;

	LOCK();
	while ((si.si_pid = 0, !waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT)) && si.si_pid) {
		for (k = 0; k < NKID; k++)
			if (sh->kid[me][k] == si.si_pid)
				sh->kid[me][k] = 0;
		if (waitpid(si.si_pid, &st, 0) == si.si_pid)
			check_status(si.si_pid, st, "child of a pinner");
	}
	UNLOCK();
}

static void __attribute__((noreturn)) pinner_main(int p, unsigned long nth)
{
	pthread_t th[MAXT];
	int t;

	me = p;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != mainpid)
		_exit(0);
	for (t = 0; t < nthreads; t++)
		if (pthread_create(&th[t], NULL, worker, (void *)(uintptr_t)(nth << 8 | t)))
			fail("pthread_create failed");
	while (ll_now_ms() < sh->deadline && !sh->stop) {
		usleep(20 * 1000);
		reap_kids();
	}
	for (t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	reap_kids();
	_exit(0);
}

/* --------------------------------------------------------- truncaters */

static void __attribute__((noreturn)) truncater_main(int i)
{
	static const int mode[] = { 0, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				    FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_ZERO_RANGE };
	long off, len, ms;
	int op, e, j;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != mainpid)
		_exit(0);
	rnd_seed(0xf11e0000ULL + i);
	while (ll_now_ms() < sh->deadline && !sh->stop) {
		usleep(rn(51) * 1000);
		op = rn(4);
		off = rn(FPG - 1);
		len = 1 + rn(FPG - 1 - off);	/* a collapse must end before EOF */
		__atomic_fetch_add(&sh->shrink[i], 1, __ATOMIC_SEQ_CST);
		for (j = 0; j < 2; j++, op = 4) {	/* the call, then the restore */
			sh->top[i] = op;
			sh->tstart[i] = ll_now_ms();
			e = ERR(op == 0 ? ftruncate(fds[i], 0) :
				op == 4 ? ftruncate(fds[i], FPG * ps) :
				fallocate(fds[i], mode[op], off * ps, len * ps));
			ms = ll_now_ms() - sh->tstart[i];
			sh->tstart[i] = 0;
			CHECK(C_FALLOC, e, (op == 2 || op == 3) && (e == EOPNOTSUPP || e == EINVAL),
			      "%s of %s: %s", tname[op], paths[i], en(e));
			if (ms > sh->worst_ms) {	/* racy, for the report only */
				sh->worst_ms = ms;
				sh->worst_op = op;
			}
			if (ms > bound_ms)
				fail("%s of %s took %ld ms, over the bound of %d ms", tname[op],
				     paths[i], ms, bound_ms);
			if (verbose && ms > timeout_ms)
				dprintf(1, "# %s of file %d: %ld ms\n", tname[op], i, ms);
		}
		__atomic_fetch_add(&sh->shrink[i], 1, __ATOMIC_SEQ_CST);
		ADD(sh->truncs);
	}
	_exit(0);
}

/* ---------------------------------------------------------- main process */

static void kill_all(void)
{
	int p, k;

	for (p = 0; p < MAXP; p++) {
		for (k = 0; k < NKID; k++)
			if (sh->kid[p][k] > 0)
				kill(sh->kid[p][k], SIGKILL);
		if (sh->pinner[p] > 0)
			kill(sh->pinner[p], SIGKILL);
		if (p < MAXF && sh->trunc[p] > 0)
			kill(sh->trunc[p], SIGKILL);
	}
}

/* Copy a file of /proc to stdout with write(2) only: a signal handler's. */
static void wd_dump(const char *path)
{
	char buf[1024];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	(void)!write(1, "# ", 2);
	(void)!write(1, path, strlen(path));
	(void)!write(1, ":\n", 2);
	while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		(void)!write(1, buf, n);
	if (fd >= 0)
		close(fd);
}

/*
 * Before it gives up, the watchdog says where the main process was and
 * where every process still alive is in the kernel: a run that hangs is
 * a finding, and the stacks are what it is.
 */
static void watchdog(int sig)
{
	char path[64], line[128];
	int p, k;
	pid_t pid;

	snprintf(line, sizeof(line), "# watchdog: the main process is in: %s\n", phase);
	(void)!write(1, line, strlen(line));
	for (p = 0; p < MAXP; p++)
		for (k = -2; k < NKID; k++) {
			pid = k == -2 ? sh->pinner[p] : k == -1 ? (p < MAXF ? sh->trunc[p] : 0) :
			      sh->kid[p][k];
			if (pid <= 0 || kill(pid, 0))
				continue;
			snprintf(path, sizeof(path), "/proc/%d/stack", pid);
			wd_dump(path);
		}
	wd_dump("/proc/layoutleases");
	(void)!write(1, wd_msg, strlen(wd_msg));
	kill_all();
	_exit(1);
}

static pid_t spawn(bool truncater, int i, unsigned long nth)
{
	pid_t pid = fork();

	if (!pid && truncater)
		truncater_main(i);
	if (!pid)
		pinner_main(i, nth);
	if (pid < 0)
		record("fork: %s", en(errno));
	else
		ADD(sh->forked);
	return pid > 0 ? pid : 0;
}

/* Reap what ended; replace pinners if @nth.  -1 once there are no children. */
static int reap_main(unsigned long *nth)
{
	int st, p, n = 0;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		n++;
		for (p = 0; p < nprocs && sh->pinner[p] != pid; p++)
			;
		if (p < nprocs) {
			sh->pinner[p] = 0;
			memset(sh->kid[p], 0, sizeof(sh->kid[p]));	/* PDEATHSIG ends them */
			check_status(pid, st, "pinner");
			/*
			 * Not after the deadline: a pinner started then exits
			 * at once, and this loop would reap and replace them
			 * for ever (seen on debug under load: the watchdog).
			 */
			if (nth && !sh->failed && ll_now_ms() < sh->deadline)
				sh->pinner[p] = spawn(false, p, ++*nth);
			continue;
		}
		for (p = 0; p <= nfiles && sh->trunc[p] != pid; p++)
			;
		if (p <= nfiles)
			sh->trunc[p] = 0;
		check_status(pid, st, p <= nfiles ? "truncater" : "orphaned child of a pinner");
	}
	return pid < 0 && errno == ECHILD ? -1 : n;
}

/* Print a file of /proc, for a report. */
static void dump(const char *path)
{
	FILE *f = fopen(path, "r");
	char buf[512];

	printf("# %s:\n", path);
	while (f && fgets(buf, sizeof(buf), f))
		printf("#   %s", buf);
	if (f)
		fclose(f);
}

/* FOLL_PIN pins held system-wide, LONG_MIN if /proc/vmstat does not say. */
static long foll_pins_held(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);
	long v, acq = -1, rel = -1;
	char name[64];
	FILE *f;

	if (fd >= 0) {
		(void)!write(fd, "1", 1);	/* EINVAL if a counter is negative */
		close(fd);
	}
	f = fopen("/proc/vmstat", "r");
	while (f && fscanf(f, "%63s %ld", name, &v) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired"))
			acq = v;
		else if (!strcmp(name, "nr_foll_pin_released"))
			rel = v;
	}
	if (f)
		fclose(f);
	return acq < 0 || rel < 0 ? LONG_MIN : acq - rel;
}

/* The files, alternately on both mounts; a lease on each says it is DAX. */
static void make_files(void)
{
	const char *fs;
	int i, lfd;

	for (i = 0; i <= nfiles; i++) {
		fs = ll_mount(i % 2 ? "ext4" : "xfs");
		snprintf(paths[i], sizeof(paths[i]), "%s/race.%d.%d%s", fs, mainpid, i,
			 i == nfiles ? ".shared" : "");
		fds[i] = open(paths[i], O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fds[i] < 0 || ftruncate(fds[i], FPG * ps) ||
		    _test_cmd_lease_create(devfd, fds[i], 0, ps, 100, 0, &lfd))
			break;
		close(lfd);
	}
	if (i <= nfiles)
		printf("ok 1 race_stress # SKIP %s: %s\n", paths[i], en(errno));
	while (i <= nfiles && i >= 0)
		unlink(paths[i--]);
	if (i < 0)
		exit(0);
}

int main(int argc, char **argv)
{
	long long now, next_kill, t0 = ll_now_ms();
	int opt, i, c, e, p, k;
	unsigned long nth = 0;
	bool seeded = false;
	char line[1024];
	long refs0, v;
	pid_t victim;

	while ((opt = getopt(argc, argv, "s:t:p:T:f:m:v")) != -1) {
		if (opt == 's')
			seeded = (seed = strtoull(optarg, NULL, 0), true);
		else if (opt == 'v')
			verbose = true;
		else if (opt != '?')
			*(opt == 't' ? &seconds : opt == 'p' ? &nprocs : opt == 'T' ? &nthreads :
			  opt == 'f' ? &nfiles : &timeout_ms) = atoi(optarg);
		if (opt == '?' || seconds < 1 || nprocs < 1 || nprocs > MAXP || nthreads < 1 ||
		    nthreads > MAXT || nfiles < 1 || nfiles >= MAXF || timeout_ms < 1)
			errx(2, "usage: %s [-s SEED] [-t SECONDS] [-p PROCS (1-%d)] [-T THREADS (1-%d)] [-f FILES (1-%d)] [-m TIMEOUT_MS] [-v]",
			     argv[0], MAXP, MAXT, MAXF - 1);
	}
	if (!seeded)
		seed = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32);
	bound_ms = timeout_ms + 5000;
	setvbuf(stdout, NULL, _IOLBF, 0);
	mainpid = getpid();
	ps = sysconf(_SC_PAGESIZE);
	printf("TAP version 13\n1..1\n# seed %llu\n", seed);
	devfd = ll_dev_open();
	if (devfd < 0) {
		printf("ok 1 race_stress # SKIP no %s\n", LAYOUTLEASE_DEVICE);
		return 0;
	}
	refs0 = ll_module_refs();
	have_imp = !access(LL_IMPORTER_DEVICE, F_OK);
	if (!have_imp)
		printf("# no %s: the importer calls are left out\n", LL_IMPORTER_DEVICE);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		err(1, "mmap");
	make_files();
	printf("# %d s, %d pinners of %d threads, %d files and a shared one, break timeout %d ms, truncate bound %d ms\n",
	       seconds, nprocs, nthreads, nfiles, timeout_ms, bound_ms);
	prctl(PR_SET_CHILD_SUBREAPER, 1);	/* orphans come back here */
	signal(SIGBUS, on_fault);
	signal(SIGSEGV, on_fault);
	snprintf(wd_msg, sizeof(wd_msg),
		 "# FAIL: the run exceeded %d s (watchdog)\nnot ok 1 race_stress seed %llu\n",
		 seconds + 120, seed);
	signal(SIGALRM, watchdog);
	alarm(seconds + 120);
	rnd_seed(0x6b696c6cULL);
	sh->deadline = ll_now_ms() + seconds * 1000LL;
	for (i = 0; i <= nfiles; i++)
		sh->trunc[i] = spawn(true, i, 0);
	for (p = 0; p < nprocs; p++)
		sh->pinner[p] = spawn(false, p, ++nth);
	next_kill = ll_now_ms() + 100 + rn(401);
	phase = "the main loop";
	while ((now = ll_now_ms()) < sh->deadline && !sh->failed) {
		usleep(10 * 1000);
		reap_main(&nth);
		for (i = 0; i <= nfiles && !sh->failed; i++) {
			if (!sh->tstart[i] || now - sh->tstart[i] <= bound_ms + 1000)
				continue;
			snprintf(line, sizeof(line), "/proc/%d/stack", sh->trunc[i]);
			dump(line);
			dump("/proc/layoutleases");
			record("%s of %s in progress for %lld ms", tname[sh->top[i]], paths[i],
			       now - sh->tstart[i]);
		}
		if (now < next_kill)
			continue;
		next_kill = now + 100 + rn(401);
		p = rn(nprocs);
		k = rn(2) ? PICK(sh->kid[p], NKID, *X > 0) : -1;
		victim = k >= 0 ? sh->kid[p][k] : sh->pinner[p];
		if (victim > 0 && !kill(victim, SIGKILL)) {
			ADD(sh->kills);
			if (verbose)
				printf("# killed %s %d of pinner %d\n", k >= 0 ? "child" : "pinner",
				       victim, p);
		}
	}
	/* The end: kill all, wait for all (orphans included: the subreaper). */
	sh->stop = 1;
	phase = "killing and reaping at the end";
	for (i = 0; i < 300 && reap_main(NULL) >= 0; i++) {
		kill_all();
		usleep(100 * 1000);
	}
	if (i == 300)
		record("processes left 30 s after the end");
	phase = "waiting for the leases to go";
	v = sh->failed ? 0 : SETTLE(ll_proc_leases(), 0);
	if (v)
		record("%ld leases left in /proc/layoutleases 10 s after the end", v);
	phase = "waiting for the FOLL_PIN counters";
	v = sh->failed ? 0 : SETTLE(foll_pins_held(), 0);
	if (v == LONG_MIN)
		printf("# no nr_foll_pin_* in /proc/vmstat: not checked\n");
	else if (v)
		record("nr_foll_pin_acquired - nr_foll_pin_released is %ld 10 s after the end", v);
	phase = "waiting for the module's references";
	v = sh->failed ? refs0 : SETTLE(ll_module_refs(), refs0);
	if (v != refs0)
		record("module refcount %ld 10 s after the end, %ld at the start", v, refs0);
	for (i = 0; i <= nfiles; i++)
		unlink(paths[i]);
	printf("# ops %lu, truncates %lu, worst truncate %ld ms (%s, bound %d ms), kills %lu, procs forked %lu, %lld s\n",
	       sh->ops, sh->truncs, sh->worst_ms, tname[sh->worst_op], bound_ms, sh->kills,
	       sh->forked, (ll_now_ms() - t0) / 1000);
	for (c = 0; c < NCALL; c++) {
		for (e = 0, k = 0; e < EMAX && k < 900; e++)
			if (sh->tally[c][e])
				k += snprintf(line + k, sizeof(line) - k, ", %s %lu", en(e),
					      sh->tally[c][e]);
		if (k)
			printf("# %s: %s\n", cname[c], line + 2);
	}
	if (!sh->failed) {
		printf("ok 1 race_stress seed %llu\n", seed);
		return 0;
	}
	printf("# FAIL: %s\n", sh->msg);
	printf("# replay: race_stress -s %llu -t %d -p %d -T %d -f %d -m %d  (not exact: the same choices, not the same interleaving)\n",
	       seed, seconds, nprocs, nthreads, nfiles, timeout_ms);
	printf("not ok 1 race_stress seed %llu\n", seed);
	return 1;
}
