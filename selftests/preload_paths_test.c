// SPDX-License-Identifier: GPL-2.0
/*
 * The paths of liblayoutlease-preload.so that perftest does not take
 * (preload_test runs perftest), by a verbs program of ours that runs
 * itself under the library (main() executes itself again with LD_PRELOAD),
 * over the test-only rxe on loopback:
 *
 *   reg_unaligned             ibv_reg_mr() of a DAX mapping at an address
 *                             that is not page aligned: the region is the
 *                             program's bytes, not the pages' (a WRITE at
 *                             its start lands at that file offset); once
 *                             ibv_dereg_mr() returns, the lease is gone
 *   reg_iova                  ibv_reg_mr_iova() at an iova of the program's
 *   rereg_refused             ibv_rereg_mr() of a leased region: refused
 *                             (EOPNOTSUPP), the region still the program's
 *   mw_bind_passes_through    IBV_ACCESS_MW_BIND, which no dma-buf region
 *                             can have: passed through (EOPNOTSUPP, no
 *                             lease); an optional flag is dropped instead
 *   fork_child_registers_its_own  a forked child's registration of the
 *                             inherited mapping is its own lease and pin;
 *                             the parent's stays through the child's dereg
 *                             and exit
 *   not_one_shared_dax_mapping  memory across two files' mappings, or a
 *                             private mapping of a DAX file: passed through
 *                             untouched (libibverbs' own EOPNOTSUPP, no
 *                             lease)
 *   on_demand_passes_through  IBV_ACCESS_ON_DEMAND: no lease
 *   refused_pin_reaches_program  over RLIMIT_MEMLOCK: ibv_reg_mr() fails
 *                             with the pin's ENOMEM and leaves no lease
 *   two_threads               two threads registering and deregistering
 *                             at once, on the same pages
 *   break_unpins_then_dereg   a truncate: the library unpins at the break,
 *                             the peer's WRITEs fail, and ibv_dereg_mr()
 *                             afterwards still succeeds and leaves nothing
 */
#define _GNU_SOURCE
#include <libgen.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>

#include "layoutlease_utils.h"
#include "rxe_utils.h"

#define PRELOAD		"liblayoutlease-preload.so"
#define LEN		(1U << 20)
#define CHUNK		4096
#define ACCESS		(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
			 IBV_ACCESS_REMOTE_READ)

/* Lines of /proc/layoutleases that start with @prefix. */
static int proc_count(const char *prefix)
{
	FILE *f = fopen("/proc/layoutleases", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += !strncmp(line, prefix, strlen(prefix));
	fclose(f);
	return n;
}

/* Until /proc/layoutleases lists @n leases, for up to 5 s (a late fput). */
static int wait_leases(int n)
{
	for (int i = 0; i < 500 && ll_proc_leases() != n; i++)
		usleep(10000);
	return ll_proc_leases();
}

static int zero_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		return -1;
	/* Zeroes written, not a hole: the pin needs blocks. */
	for (unsigned int off = 0; off < LEN; off += CHUNK)
		if (pwrite(fd, (char[CHUNK]){ 0 }, CHUNK, off) != CHUNK) {
			close(fd);
			return -1;
		}
	return fd;
}

FIXTURE(paths) {
	bool ready;
	char path[256];
	int fd;
	char *map;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	char *buf;		/* DRAM: the WRITEs' source */
	struct ibv_mr *buf_mr;
	struct rxe_end a, b;	/* a is the region's side, b the peer */
};

FIXTURE_VARIANT(paths) {
	const char *fs;
};

FIXTURE_VARIANT_ADD(paths, xfs) { .fs = "xfs" };
FIXTURE_VARIANT_ADD(paths, ext4) { .fs = "ext4" };

FIXTURE_SETUP(paths)
{
	int r = rxe_use_ll();

	if (r == 1)
		SKIP(return, "no test-only rxe with dma-buf regions for this kernel");
	ASSERT_EQ(0, r);
	ASSERT_EQ(0, wait_leases(0));
	self->ctx = rxe_open(RXE_LL_DEV);
	ASSERT_NE(NULL, self->ctx);
	self->pd = ibv_alloc_pd(self->ctx);
	ASSERT_NE(NULL, self->pd);
	snprintf(self->path, sizeof(self->path), "%s/paths.%d", ll_mount(variant->fs),
		 getpid());
	self->fd = zero_file(self->path);
	ASSERT_LE(0, self->fd);
	self->map = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	/* Anonymous memory: the library passes it through. */
	self->buf = aligned_alloc(CHUNK, LEN);
	ASSERT_NE(NULL, self->buf);
	memset(self->buf, 0, LEN);
	self->buf_mr = ibv_reg_mr(self->pd, self->buf, LEN, ACCESS);
	ASSERT_NE(NULL, self->buf_mr);
	ASSERT_EQ(0, ll_proc_leases());
	ASSERT_EQ(0, rxe_pair(self->ctx, self->pd, &self->a, &self->b));
	self->ready = true;
}

FIXTURE_TEARDOWN(paths)
{
	if (!self->ready)
		return;
	rxe_end_destroy(&self->a);
	rxe_end_destroy(&self->b);
	ibv_dereg_mr(self->buf_mr);
	free(self->buf);
	ibv_dealloc_pd(self->pd);
	ibv_close_device(self->ctx);
	munmap(self->map, LEN);
	close(self->fd);
	unlink(self->path);
}

/* The peer (@e) WRITEs CHUNK bytes of @tag's pattern to @iova: its status. */
static int write_tag(FIXTURE_DATA(paths) *self, struct rxe_end *e, __u64 iova,
		     __u32 rkey, __u64 tag)
{
	fill(self->buf, CHUNK, 0, tag);
	return rxe_rdma(e, IBV_WR_RDMA_WRITE, self->buf, self->buf_mr->lkey, CHUNK,
			iova, rkey);
}

/* Whether the file holds @tag's pattern at @off, as write_tag() wrote it. */
static bool file_has(FIXTURE_DATA(paths) *self, off_t off, __u64 tag)
{
	char got[CHUNK];

	return pread(self->fd, got, CHUNK, off) == CHUNK && check(got, CHUNK, 0, tag);
}

/*
 * 120 s a test, not the harness's 30: the setup of the first loads
 * rdma_rxe_ll and ib_core, which took more than 30 s on debug-sid (KASAN)
 * with three VMs on two cores.
 */
TEST_F_TIMEOUT(paths, reg_unaligned, 120)
{
	char *addr = self->map + 100;
	size_t len = LEN - 200;
	struct ibv_mr *mr = ibv_reg_mr(self->pd, addr, len, ACCESS);

	ASSERT_NE(NULL, mr);
	EXPECT_EQ(addr, mr->addr);
	EXPECT_EQ(len, mr->length);
	EXPECT_EQ(1, ll_proc_leases());
	EXPECT_EQ(1, proc_count("  pin "));
	ASSERT_EQ(IBV_WC_SUCCESS, write_tag(self, &self->b, (uintptr_t)addr, mr->rkey, 1));
	EXPECT_TRUE(file_has(self, 100, 1));
	ASSERT_EQ(IBV_WC_SUCCESS, write_tag(self, &self->b, (uintptr_t)addr + 8192, mr->rkey, 2));
	EXPECT_TRUE(file_has(self, 8292, 2));
	ASSERT_EQ(0, ibv_dereg_mr(mr));
	EXPECT_EQ(0, ll_proc_leases());
}

TEST_F_TIMEOUT(paths, reg_iova, 120)
{
	const __u64 iova = 0x7e5700000000ULL;
	struct ibv_mr *mr = ibv_reg_mr_iova(self->pd, self->map, LEN, iova, ACCESS);

	ASSERT_NE(NULL, mr);
	EXPECT_EQ(1, ll_proc_leases());
	ASSERT_EQ(IBV_WC_SUCCESS, write_tag(self, &self->b, iova + 3 * CHUNK, mr->rkey, 3));
	EXPECT_TRUE(file_has(self, 3 * CHUNK, 3));
	ASSERT_EQ(0, ibv_dereg_mr(mr));
	EXPECT_EQ(0, ll_proc_leases());
}

TEST_F_TIMEOUT(paths, rereg_refused, 120)
{
	struct ibv_mr *mr = ibv_reg_mr(self->pd, self->map, LEN, ACCESS);

	ASSERT_NE(NULL, mr);
	errno = 0;
	EXPECT_EQ(IBV_REREG_MR_ERR_INPUT,
		  ibv_rereg_mr(mr, IBV_REREG_MR_CHANGE_ACCESS, NULL, NULL, 0,
			       IBV_ACCESS_LOCAL_WRITE));
	EXPECT_EQ(EOPNOTSUPP, errno);
	/* Still the program's, still writable from the peer. */
	EXPECT_EQ(1, ll_proc_leases());
	EXPECT_EQ(1, proc_count("  pin "));
	ASSERT_EQ(IBV_WC_SUCCESS, write_tag(self, &self->b, (uintptr_t)self->map, mr->rkey, 4));
	EXPECT_TRUE(file_has(self, 0, 4));
	ASSERT_EQ(0, ibv_dereg_mr(mr));
	EXPECT_EQ(0, ll_proc_leases());
}

TEST_F_TIMEOUT(paths, mw_bind_passes_through, 120)
{
	struct ibv_mr *mr;

	/* REG_DMABUF_MR takes no IBV_ACCESS_MW_BIND, on any kernel. */
	errno = 0;
	mr = ibv_reg_mr(self->pd, self->map, LEN, ACCESS | IBV_ACCESS_MW_BIND);
	EXPECT_EQ(NULL, mr);
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(0, ll_proc_leases());
	if (mr)
		ibv_dereg_mr(mr);
	/* An optional flag is dropped, not refused. */
	mr = ibv_reg_mr(self->pd, self->map, LEN, ACCESS | IBV_ACCESS_RELAXED_ORDERING);
	ASSERT_NE(NULL, mr);
	EXPECT_EQ(1, ll_proc_leases());
	ASSERT_EQ(0, ibv_dereg_mr(mr));
	EXPECT_EQ(0, ll_proc_leases());
}

TEST_F_TIMEOUT(paths, fork_child_registers_its_own, 120)
{
	struct ibv_mr *mr = ibv_reg_mr(self->pd, self->map, LEN, ACCESS);
	int status;
	pid_t pid;

	ASSERT_NE(NULL, mr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct ibv_context *ctx = rxe_open(RXE_LL_DEV);
		struct ibv_pd *pd = ctx ? ibv_alloc_pd(ctx) : NULL;
		struct ibv_mr *m;

		if (!pd)
			_exit(10);
		m = ibv_reg_mr(pd, self->map, LEN, ACCESS);
		if (!m)
			_exit(11);
		if (ll_proc_leases() != 2 || proc_count("  pin ") != 2)
			_exit(12);
		if (ibv_dereg_mr(m) || ll_proc_leases() != 1)
			_exit(13);
		/* And one it leaves to its exit. */
		m = ibv_reg_mr(pd, self->map, LEN, ACCESS);
		_exit(m && ll_proc_leases() == 2 ? 0 : 14);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	/* The child's last lease ends with its files. */
	EXPECT_EQ(1, wait_leases(1));
	EXPECT_EQ(1, proc_count("  pin "));
	ASSERT_EQ(IBV_WC_SUCCESS, write_tag(self, &self->b, (uintptr_t)self->map, mr->rkey, 7));
	EXPECT_TRUE(file_has(self, 0, 7));
	ASSERT_EQ(0, ibv_dereg_mr(mr));
	EXPECT_EQ(0, ll_proc_leases());
}

TEST_F_TIMEOUT(paths, not_one_shared_dax_mapping, 120)
{
	char other[300];
	struct ibv_mr *mr;
	char *two, *priv;
	int fd2;

	snprintf(other, sizeof(other), "%s.2", self->path);
	fd2 = zero_file(other);
	ASSERT_LE(0, fd2);
	/* Two files' mappings side by side: no one mapping holds the range. */
	two = mmap(NULL, 2 * LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, two);
	ASSERT_EQ(two, mmap(two, LEN, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			    self->fd, 0));
	ASSERT_EQ(two + LEN, mmap(two + LEN, LEN, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_FIXED, fd2, 0));
	errno = 0;
	mr = ibv_reg_mr(self->pd, two + LEN - CHUNK, 2 * CHUNK, ACCESS);
	EXPECT_EQ(NULL, mr);
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(0, ll_proc_leases());
	/* Each half alone is one shared DAX mapping. */
	mr = ibv_reg_mr(self->pd, two + LEN, CHUNK, ACCESS);
	ASSERT_NE(NULL, mr);
	EXPECT_EQ(1, ll_proc_leases());
	ASSERT_EQ(0, ibv_dereg_mr(mr));
	munmap(two, 2 * LEN);
	close(fd2);
	unlink(other);

	/* A private mapping: copied on write, not the file's blocks. */
	priv = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->fd, 0);
	ASSERT_NE(MAP_FAILED, priv);
	errno = 0;
	mr = ibv_reg_mr(self->pd, priv, LEN, ACCESS);
	EXPECT_EQ(NULL, mr);
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(0, ll_proc_leases());
	if (mr)
		ibv_dereg_mr(mr);
	munmap(priv, LEN);
}

TEST_F_TIMEOUT(paths, on_demand_passes_through, 120)
{
	struct ibv_mr *mr = ibv_reg_mr(self->pd, self->map, LEN,
				       ACCESS | IBV_ACCESS_ON_DEMAND);

	/* rxe has on-demand paging from 6.14 on; either way no lease. */
	TH_LOG("ODP registration: %s", mr ? "made" : strerror(errno));
	EXPECT_EQ(0, ll_proc_leases());
	if (mr)
		ASSERT_EQ(0, ibv_dereg_mr(mr));
}

/* Drop CAP_IPC_LOCK, which lifts RLIMIT_MEMLOCK, from this process. */
static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	d[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	d[CAP_TO_INDEX(CAP_IPC_LOCK)].permitted &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	return syscall(SYS_capset, &h, d);
}

TEST_F_TIMEOUT(paths, refused_pin_reaches_program, 120)
{
	/* What is pinned already (the fixture's 1 MiB of DRAM) and 64 KiB. */
	struct rlimit rl = { .rlim_cur = LEN + 65536, .rlim_max = LEN + 65536 };
	struct ibv_mr *mr;

	ASSERT_EQ(0, drop_ipc_lock());
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &rl));
	errno = 0;
	mr = ibv_reg_mr(self->pd, self->map, LEN, ACCESS);
	EXPECT_EQ(NULL, mr);
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(0, ll_proc_leases());
	/* Within the limit, the same call succeeds. */
	mr = ibv_reg_mr(self->pd, self->map, 65536, ACCESS);
	ASSERT_NE(NULL, mr);
	EXPECT_EQ(1, ll_proc_leases());
	ASSERT_EQ(0, ibv_dereg_mr(mr));
	EXPECT_EQ(0, ll_proc_leases());
}

struct churn {
	FIXTURE_DATA(paths) *self;
	int failed;
};

#define ROUNDS 25

static void *churn(void *arg)
{
	struct churn *c = arg;

	for (int i = 0; i < ROUNDS; i++) {
		struct ibv_mr *mr = ibv_reg_mr(c->self->pd, c->self->map, LEN, ACCESS);

		if (!mr || ibv_dereg_mr(mr))
			c->failed++;
	}
	return NULL;
}

TEST_F_TIMEOUT(paths, two_threads, 120)
{
	struct churn c[2] = { { .self = self }, { .self = self } };
	pthread_t t[2];
	struct ibv_mr *keep = ibv_reg_mr(self->pd, self->map, CHUNK, ACCESS);

	ASSERT_NE(NULL, keep);
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, churn, &c[i]));
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));
	EXPECT_EQ(0, c[0].failed);
	EXPECT_EQ(0, c[1].failed);
	/* The region that lived through it all is still whole. */
	EXPECT_EQ(1, ll_proc_leases());
	ASSERT_EQ(IBV_WC_SUCCESS, write_tag(self, &self->b, (uintptr_t)self->map, keep->rkey, 8));
	EXPECT_TRUE(file_has(self, 0, 8));
	ASSERT_EQ(0, ibv_dereg_mr(keep));
	EXPECT_EQ(0, ll_proc_leases());
}

TEST_F_TIMEOUT(paths, break_unpins_then_dereg, 120)
{
	struct ibv_mr *mr = ibv_reg_mr(self->pd, self->map, LEN, ACCESS);
	long long t0, ms;

	ASSERT_NE(NULL, mr);
	ASSERT_EQ(IBV_WC_SUCCESS, write_tag(self, &self->b, (uintptr_t)self->map, mr->rkey, 9));

	/* The deadline is 20 s (main()); the library unpins at once. */
	t0 = ll_now_ms();
	ASSERT_EQ(0, ll_wait_child(ll_truncate_child(self->path, 0)));
	ms = ll_now_ms() - t0;
	TH_LOG("truncate: %lld ms", ms);
	EXPECT_LT(ms, 10000);
	EXPECT_EQ(1, ll_proc_leases());
	EXPECT_EQ(0, proc_count("  pin "));
	/* The region reaches the memory no more. */
	EXPECT_EQ(IBV_WC_REM_ACCESS_ERR,
		  write_tag(self, &self->b, (uintptr_t)self->map, mr->rkey, 10));
	ASSERT_EQ(0, ibv_dereg_mr(mr));
	EXPECT_EQ(0, ll_proc_leases());
}

/*
 * Run under the library: execute this program again with LD_PRELOAD set
 * (build/tools/ next to build/selftests/), a 20 s lease deadline and, if
 * LAYOUTLEASE_PRELOAD_LOG is set, the library's log.
 */
int main(int argc, char **argv)
{
	const char *pre = getenv("LD_PRELOAD");
	char exe[PATH_MAX], lib[PATH_MAX + 64];
	ssize_t n;

	if (pre && strstr(pre, PRELOAD))
		return test_harness_run(argc, argv);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0) {
		perror("/proc/self/exe");
		return 1;
	}
	exe[n] = 0;
	snprintf(lib, sizeof(lib), "%s/../tools/" PRELOAD, dirname(exe));
	if (access(lib, R_OK)) {
		perror(lib);
		return 1;
	}
	setenv("LD_PRELOAD", lib, 1);
	setenv("LAYOUTLEASE_PRELOAD_TIMEOUT_MS", "20000", 1);
	setenv("LAYOUTLEASE_PRELOAD_BREAK", "unpin", 1);
	execv("/proc/self/exe", argv);
	perror("execv");
	return 1;
}
