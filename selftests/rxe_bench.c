// SPDX-License-Identifier: GPL-2.0
/*
 * make bench: a DAX file range as an on-demand-paging (ODP) memory region
 * and as a layoutlease dma-buf memory region, side by side in one run, on
 * the test-only rxe (7.2's rxe has ODP), with anonymous DRAM as the
 * baseline of every ratio.  Numbers, never a pass/fail.
 *
 *   rxe_bench DIR [MiB]    a file of MiB (256) in DIR, on a DAX mount
 *
 * Registration: median and min of 5, in ms and as a ratio to ibv_reg_mr()
 * of the same size of DRAM.  RDMA WRITE of 64 KiB messages, 16 in flight,
 * from the peer's DRAM into the region over loopback RC queue pairs: MB/s
 * of a first pass over the range's first 32 MiB and of a second, as a
 * ratio to the same into DRAM.  Then a truncate of the file while the region is registered:
 * how long it took and what the peer's next WRITE got.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/stat.h>

/* The helpers come with the kselftest harness, which is not used here. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "layoutlease_utils.h"
#include "rxe_utils.h"

#define MSG		65536
#define DEPTH		16
#define REPS		5
/* rxe under TCG writes about 10 MB/s: the throughput passes cover this much. */
#define BW_LEN		(32U << 20)
#define ACCESS		(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
			 IBV_ACCESS_REMOTE_READ)

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static struct rxe_end a, b;
static char *src;
static struct ibv_mr *src_mr;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *x, const void *y)
{
	double p = *(const double *)x, q = *(const double *)y;

	return p < q ? -1 : p > q;
}

/* A region of one kind over [m, +len): 0, or -errno. */
enum kind { DRAM, ODP, DMABUF };
static const char *const kind_name[] = { "DRAM (ibv_reg_mr)", "ODP", "layoutlease dma-buf" };

struct region {
	struct ibv_mr *mr;	/* DRAM, ODP */
	int lease_fd, dmabuf_fd;
	__u32 handle, lkey, rkey;
};

static int reg(enum kind k, int devfd, int fd, char *m, size_t len, unsigned int timeout_ms,
	       struct region *r)
{
	__u64 pin_id;
	int ret;

	memset(r, 0, sizeof(*r));
	r->lease_fd = r->dmabuf_fd = -1;
	if (k != DMABUF) {
		r->mr = ibv_reg_mr(pd, m, len, ACCESS | (k == ODP ? IBV_ACCESS_ON_DEMAND : 0));
		if (!r->mr)
			return -errno;
		r->rkey = r->mr->rkey;
		return 0;
	}
	if (_test_cmd_lease_create(devfd, fd, 0, len, timeout_ms, 0, &r->lease_fd))
		return -errno;
	if (_test_cmd_pin(r->lease_fd, m, len, 0, &pin_id) ||
	    _test_cmd_export(r->lease_fd, pin_id, 0, &r->dmabuf_fd)) {
		ret = -errno;
		close(r->lease_fd);
		return ret;
	}
	ret = ll_verbs_reg_dmabuf_mr(pd, 0, len, (uintptr_t)m, r->dmabuf_fd, ACCESS, &r->handle,
				&r->lkey, &r->rkey);
	if (ret) {
		close(r->dmabuf_fd);
		close(r->lease_fd);
	}
	return ret;
}

static void dereg(struct region *r)
{
	if (r->mr)
		ibv_dereg_mr(r->mr);
	if (r->handle)
		ll_verbs_destroy_mr(ctx, r->handle);
	if (r->dmabuf_fd >= 0)
		close(r->dmabuf_fd);
	if (r->lease_fd >= 0)
		close(r->lease_fd);
	memset(r, 0, sizeof(*r));
}

/* WRITEs of MSG from the peer over [m, +len), DEPTH in flight: MB/s, or -status. */
static double write_pass(char *m, size_t len, __u32 rkey)
{
	size_t posted = 0, done = 0, n = len / MSG;
	double t0 = now();

	while (done < n) {
		struct ibv_wc wc[DEPTH];
		int got;

		while (posted < n && posted - done < DEPTH) {
			struct ibv_sge sge = { .addr = (uintptr_t)src, .length = MSG,
					       .lkey = src_mr->lkey };
			struct ibv_send_wr wr = {
				.wr_id = posted, .sg_list = &sge, .num_sge = 1,
				.opcode = IBV_WR_RDMA_WRITE, .send_flags = IBV_SEND_SIGNALED,
				.wr.rdma = { .remote_addr = (uintptr_t)m + posted * MSG,
					     .rkey = rkey },
			}, *bad;

			if (ibv_post_send(b.qp, &wr, &bad))
				return -1000;
			posted++;
		}
		got = ibv_poll_cq(b.cq, DEPTH, wc);
		if (got < 0)
			return -1000;
		for (int i = 0; i < got; i++)
			if (wc[i].status != IBV_WC_SUCCESS)
				return -(double)wc[i].status;
		done += got;
		if (now() - t0 > 120000)
			return -1001;
	}
	return len / 1e6 / ((now() - t0) / 1e3);
}

static int fresh_pair(void)
{
	rxe_end_destroy(&a);
	rxe_end_destroy(&b);
	return rxe_pair(ctx, pd, &a, &b);
}

int main(int argc, char **argv)
{
	double treg[3][REPS], bw1[3], bw2[3], med[3];
	size_t len = (argc > 2 ? strtoull(argv[2], NULL, 0) : 256) << 20;
	struct ibv_device_attr_ex dx = { 0 };
	bool odp_ok;
	char path[256], *m, *dram;
	int devfd, fd, r;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR [MiB]\n", argv[0]);
		return 2;
	}
	r = rxe_use_ll();
	if (r) {
		printf("rxe_bench: %s\n", r == 1 ? "no test-only rxe for this kernel: skipped"
						 : "cannot set up the test-only rxe");
		return r == 1 ? 0 : 1;
	}
	ctx = rxe_open(RXE_LL_DEV);
	pd = ctx ? ibv_alloc_pd(ctx) : NULL;
	src = aligned_alloc(4096, MSG);
	if (!pd || !src || fresh_pair())
		return printf("rxe_bench: no device, memory or queue pairs\n"), 1;
	memset(src, 0x3c, MSG);
	src_mr = ibv_reg_mr(pd, src, MSG, ACCESS);
	odp_ok = !ibv_query_device_ex(ctx, NULL, &dx) &&
		 (dx.odp_caps.general_caps & IBV_ODP_SUPPORT) &&
		 (dx.odp_caps.per_transport_caps.rc_odp_caps & IBV_ODP_SUPPORT_WRITE);
	devfd = ll_dev_open();
	snprintf(path, sizeof(path), "%s/rxe_bench.%d", argv[1], getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (!src_mr || devfd < 0 || fd < 0 || fallocate(fd, 0, 0, len))
		return printf("rxe_bench: setup failed: %s\n", strerror(errno)), 1;
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	dram = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || dram == MAP_FAILED)
		return printf("rxe_bench: mmap failed\n"), 1;
	/* Written, so that every block is allocated and mapped, like the DRAM. */
	memset(m, 0, len);
	memset(dram, 0, len);
	printf("rxe_bench on %s, %s: %zu MiB, %s\n", argv[1], RXE_LL_DEV, len >> 20,
	       odp_ok ? "rxe has ODP (RC WRITE)" : "rxe has no ODP: its column is empty");

	for (int k = DRAM; k <= DMABUF; k++) {
		bw1[k] = bw2[k] = med[k] = 0;
		if (k == ODP && !odp_ok)
			continue;
		for (int i = 0; i < REPS; i++) {
			struct region reg_;
			double t0 = now();

			r = reg(k, devfd, fd, k == DRAM ? dram : m, len, COOP_TIMEOUT_MS, &reg_);
			treg[k][i] = now() - t0;
			if (r) {
				printf("  %s: registration failed: %s\n", kind_name[k], strerror(-r));
				treg[k][0] = -1;
				break;
			}
			if (i == REPS - 1) {
				/* Throughput on the last one: a first pass, then a second. */
				size_t bl = len < BW_LEN ? len : BW_LEN;

				bw1[k] = write_pass(k == DRAM ? dram : m, bl, reg_.rkey);
				bw2[k] = bw1[k] > 0 ? write_pass(k == DRAM ? dram : m, bl, reg_.rkey) : 0;
				if (bw1[k] <= 0)
					fresh_pair();
			}
			dereg(&reg_);
		}
		if (treg[k][0] < 0)
			continue;
		qsort(treg[k], REPS, sizeof(double), cmp_d);
		med[k] = treg[k][REPS / 2];
	}

	printf("\n  %-22s %12s %10s %10s %14s %14s %10s\n", "region (256 MiB)", "reg median",
	       "reg min", "reg ratio", "WRITE 1st MB/s", "WRITE 2nd MB/s", "2nd ratio");
	for (int k = DRAM; k <= DMABUF; k++) {
		if (!med[k]) {
			printf("  %-22s %12s\n", kind_name[k], "-");
			continue;
		}
		printf("  %-22s %9.2f ms %7.2f ms %9.2fx %14.1f %14.1f %9.2fx\n", kind_name[k],
		       med[k], treg[k][0], med[k] / med[DRAM], bw1[k], bw2[k],
		       bw2[DRAM] > 0 ? bw2[k] / bw2[DRAM] : 0);
	}

	/* A truncate of the registered file: how long, and the next WRITE. */
	printf("\n  truncate of the registered file while the peer writes:\n");
	for (int k = DRAM; k <= DMABUF; k++) {
		struct region reg_ = { .lease_fd = -1, .dmabuf_fd = -1 };
		double t0, tt;
		pid_t c;
		int st;

		if (k == ODP && !odp_ok)
			continue;
		if (ftruncate(fd, 0) || fallocate(fd, 0, 0, len)) {
			printf("  cannot grow the file again: %s\n", strerror(errno));
			break;
		}
		munmap(m, len);
		m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		memset(m, 0, len);
		fresh_pair();
		if (k == DRAM) {	/* the baseline: no region on the file */
			t0 = now();
			c = ll_truncate_child(path, 0);
			ll_wait_child(c);
			printf("  %-22s truncate %8.1f ms\n", "no region", now() - t0);
			continue;
		}
		if (reg(k, devfd, fd, m, len, 1000, &reg_)) {
			printf("  %-22s registration failed\n", kind_name[k]);
			continue;
		}
		st = rxe_rdma(&b, IBV_WR_RDMA_WRITE, src, src_mr->lkey, MSG, (uintptr_t)m,
			      reg_.rkey);
		t0 = now();
		c = ll_truncate_child(path, 0);
		ll_wait_child(c);
		tt = now() - t0;
		st = rxe_rdma(&b, IBV_WR_RDMA_WRITE, src, src_mr->lkey, MSG, (uintptr_t)m,
			      reg_.rkey);
		printf("  %-22s truncate %8.1f ms (lease deadline %s); the next WRITE: %s\n",
		       kind_name[k], tt, k == DMABUF ? "1000 ms, holder ignores it" : "none",
		       st >= 0 ? ibv_wc_status_str(st) : "no completion");
		dereg(&reg_);
	}
	munmap(m, len);
	close(fd);
	unlink(path);
	rxe_end_destroy(&a);
	rxe_end_destroy(&b);
	ibv_dereg_mr(src_mr);
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	return 0;
}
