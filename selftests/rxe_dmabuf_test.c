// SPDX-License-Identifier: GPL-2.0
/*
 * RDMA over a layoutlease dma-buf, through the whole chain: a DAX file's
 * range is leased, pinned, exported and registered as a verbs memory region
 * of the test-only rxe (selftests/rxe/, scripts/build.sh), and a peer queue
 * pair on loopback RDMA-WRITEs and RDMA-READs it.  Then another process
 * truncates the file:
 *
 *   holder_deregisters_on_break  the holder deregisters, closes and unpins
 *                                when the break is queued; the truncate
 *                                goes on at once.
 *   deadline_revokes_region      the holder ignores the break; at the
 *                                deadline the region is revoked through
 *                                the importer's move_notify, the peer's next
 *                                WRITE completes with a remote access error,
 *                                and a new file that takes the freed blocks
 *                                is never changed by the peer's later
 *                                WRITEs (checked byte for byte).
 *
 * It skips on a kernel without a test-only rxe (Documentation/rdma.rst
 * says which have one).
 */
#define _GNU_SOURCE
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "layoutlease_utils.h"
#include "rxe_revoke.h"

#define LEN		(1U << 20)
#define TIMEOUT_MS	1000
/* A loaded KASAN guest under TCG: the slack of a deadline (testing.rst). */
#define SLACK_MS	5000
#define ACCESS		(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
			 IBV_ACCESS_REMOTE_READ)

FIXTURE(rxe) {
	bool ready;
	struct rxe_file f;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	char *buf;		/* the peer's memory */
	struct ibv_mr *buf_mr;
	struct rxe_end a, b;	/* the holder's end and the peer's */
};

FIXTURE_VARIANT(rxe) {
	const char *fs;
};

FIXTURE_VARIANT_ADD(rxe, xfs) { .fs = "xfs" };
FIXTURE_VARIANT_ADD(rxe, ext4) { .fs = "ext4" };

FIXTURE_SETUP(rxe)
{
	int r = rxe_use_ll();

	if (r == 1)
		SKIP(return, "no test-only rxe with dma-buf regions for this kernel");
	ASSERT_EQ(0, r);
	self->ctx = rxe_open(RXE_LL_DEV);
	ASSERT_NE(NULL, self->ctx);
	self->pd = ibv_alloc_pd(self->ctx);
	ASSERT_NE(NULL, self->pd);
	self->buf = aligned_alloc(4096, LEN);
	ASSERT_NE(NULL, self->buf);
	self->buf_mr = ibv_reg_mr(self->pd, self->buf, LEN, ACCESS);
	ASSERT_NE(NULL, self->buf_mr);
	ASSERT_EQ(0, rxe_pair(self->ctx, self->pd, &self->a, &self->b));

	if (rxe_file_setup(_metadata, &self->f, variant->fs, "rxe", LEN))
		SKIP(return, "no scratch pmem device (LL_SCRATCH)");
	self->ready = true;
}

FIXTURE_TEARDOWN(rxe)
{
	rxe_file_teardown(&self->f, self->ctx);
	if (!self->ready)
		return;
	rxe_end_destroy(&self->a);
	rxe_end_destroy(&self->b);
	ibv_dereg_mr(self->buf_mr);
	ibv_dealloc_pd(self->pd);
	ibv_close_device(self->ctx);
	free(self->buf);
}

/* The chain: lease, pin, export, memory region at the mapping's address. */
static void hold(struct __test_metadata *_metadata, FIXTURE_DATA(rxe) *self,
		 unsigned int timeout_ms)
{
	rxe_file_hold(_metadata, &self->f, self->pd, timeout_ms, ACCESS);
}

/*
 * The peer writes a pattern into the region, reads it back; read() of the
 * file sees it if @file_too.  Not during a break: the truncating process
 * holds the file's I/O lock (i_rwsem, XFS's IOLOCK) while it waits, so a
 * read() of the holder would wait for the break to end.
 */
static void write_read(struct __test_metadata *_metadata,
		       FIXTURE_DATA(rxe) *self, __u64 tag, bool file_too)
{
	char *back = self->buf + LEN / 2;
	char *file = malloc(LEN);

	ASSERT_NE(NULL, file);
	/* In halves: the lower half of the peer's buffer out, the upper in. */
	for (__u64 off = 0; off < LEN; off += LEN / 2) {
		fill(self->buf, LEN / 2, off, tag);
		ASSERT_EQ(IBV_WC_SUCCESS,
			  rxe_rdma(&self->b, IBV_WR_RDMA_WRITE, self->buf,
				   self->buf_mr->lkey, LEN / 2,
				   (uintptr_t)self->f.map + off, self->f.rkey));
		memset(back, 0, LEN / 2);
		ASSERT_EQ(IBV_WC_SUCCESS,
			  rxe_rdma(&self->b, IBV_WR_RDMA_READ, back,
				   self->buf_mr->lkey, LEN / 2,
				   (uintptr_t)self->f.map + off, self->f.rkey));
		ASSERT_TRUE(check(back, LEN / 2, off, tag));
	}
	if (file_too) {
		ASSERT_EQ(LEN, pread(self->f.fd, file, LEN, 0));
		ASSERT_TRUE(check(file, LEN, 0, tag));
	}
	free(file);
}

/* The loopback peer, for rxe_revoke.h. */
static int lo_write(void *arg, __u64 off, __u32 len, __u64 tag)
{
	FIXTURE_DATA(rxe) *self = arg;

	fill(self->buf, len, off, tag);
	return rxe_rdma(&self->b, IBV_WR_RDMA_WRITE, self->buf, self->buf_mr->lkey, len,
			(uintptr_t)self->f.map + off, self->f.rkey);
}

static int lo_reconnect(void *arg)
{
	FIXTURE_DATA(rxe) *self = arg;

	rxe_end_destroy(&self->a);
	rxe_end_destroy(&self->b);
	return rxe_pair(self->ctx, self->pd, &self->a, &self->b);
}

/* Data moves over the region in both directions; read() sees the WRITE. */
TEST_F_TIMEOUT(rxe, write_read, 300)
{
	hold(_metadata, self, COOP_TIMEOUT_MS);
	write_read(_metadata, self, 0x5a5a5a5a00000000ULL, true);
	write_read(_metadata, self, 0xa5a5a5a500000000ULL, true);
}

/* (a) The holder gives the memory back at the break: prompt truncate. */
TEST_F_TIMEOUT(rxe, holder_deregisters_on_break, 120)
{
	struct layoutlease_event ev;
	long long t0, tbreak, tdone;
	pid_t trunc;

	hold(_metadata, self, COOP_TIMEOUT_MS);
	write_read(_metadata, self, 0x1234000000000000ULL, true);

	t0 = ll_now_ms();
	trunc = ll_truncate_child(self->f.path, 0);
	ev = ll_next_event(self->f.lease_fd, COOP_TIMEOUT_MS);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, ev.type);
	tbreak = ll_now_ms();
	/* Until the holder lets go, the region still works (64 KiB: quickly). */
	fill(self->buf, 65536, 0, 0x4321000000000000ULL);
	ASSERT_EQ(IBV_WC_SUCCESS, rxe_rdma(&self->b, IBV_WR_RDMA_WRITE, self->buf,
					   self->buf_mr->lkey, 65536,
					   (uintptr_t)self->f.map, self->f.rkey));
	memset(self->buf + LEN / 2, 0, 65536);
	ASSERT_EQ(IBV_WC_SUCCESS, rxe_rdma(&self->b, IBV_WR_RDMA_READ, self->buf + LEN / 2,
					   self->buf_mr->lkey, 65536,
					   (uintptr_t)self->f.map, self->f.rkey));
	ASSERT_TRUE(check(self->buf + LEN / 2, 65536, 0, 0x4321000000000000ULL));
	ASSERT_EQ(0, ll_verbs_destroy_mr(self->ctx, self->f.handle));
	self->f.registered = false;
	close(self->f.dmabuf_fd);
	self->f.dmabuf_fd = -1;
	test_cmd_unpin(self->f.lease_fd, self->f.pin_id);
	ASSERT_EQ(0, ll_wait_child(trunc));
	tdone = ll_now_ms();
	ev = ll_next_event(self->f.lease_fd, COOP_TIMEOUT_MS);
	EXPECT_EQ(LAYOUTLEASE_EVENT_BREAK_DONE, ev.type);
	TH_LOG("truncate %lld ms (break queued after %lld ms, then %lld ms to let go and finish)",
	       tdone - t0, tbreak - t0, tdone - tbreak);
	/* Far from the deadline: the filesystem went on when the holder let go. */
	EXPECT_LT(tdone - t0, COOP_TIMEOUT_MS / 2);
	/* The key is gone with the region. */
	ASSERT_EQ(0, lo_reconnect(self));
	EXPECT_EQ(IBV_WC_REM_ACCESS_ERR, lo_write(self, 0, 4096, 0xeeee000000000000ULL));
}

/*
 * (b) The holder ignores the break: the deadline revokes the region, the
 * peer's WRITEs fail from then on, and the freed blocks, reused by a new
 * file, never see them.
 */
TEST_F_TIMEOUT(rxe, deadline_revokes_region, 300)
{
	static struct extent old[MAX_EXTENTS];
	const struct rxe_peer_ops peer = { lo_write, lo_reconnect, self };
	struct rxe_revoke_result res;
	struct layoutlease_event ev;
	int nold;

	hold(_metadata, self, TIMEOUT_MS);
	write_read(_metadata, self, 0x7777000000000000ULL, true);
	nold = extents(self->f.fd, old, MAX_EXTENTS);
	ASSERT_LT(0, nold);

	rxe_revoke_run(_metadata, self->f.path, &peer, TIMEOUT_MS, SLACK_MS, &res);
	ASSERT_EQ(IBV_WC_REM_ACCESS_ERR, res.status);
	EXPECT_LE(TIMEOUT_MS, res.fail_ms);
	EXPECT_LT(res.truncate_ms, TIMEOUT_MS + SLACK_MS);
	ev = ll_next_event(self->f.lease_fd, 1000);
	EXPECT_EQ(LAYOUTLEASE_EVENT_BREAK, ev.type);
	ev = ll_next_event(self->f.lease_fd, 1000);
	EXPECT_EQ(LAYOUTLEASE_EVENT_REVOKED, ev.type);
	EXPECT_EQ(self->f.pin_id, ev.pin_id);
	ev = ll_next_event(self->f.lease_fd, 1000);
	EXPECT_EQ(LAYOUTLEASE_EVENT_BREAK_DONE, ev.type);

	rxe_freed_blocks_stay_clean(_metadata, self->f.fd, self->f.path2, old, nold, LEN, &peer);
}

TEST_HARNESS_MAIN
