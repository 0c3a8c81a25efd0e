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
#include "rxe_utils.h"

#define LEN		(1U << 20)
#define TIMEOUT_MS	1000
/* A loaded KASAN guest under TCG: the slack of a deadline (testing.rst). */
#define SLACK_MS	5000
#define ACCESS		(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
			 IBV_ACCESS_REMOTE_READ)

FIXTURE(rxe) {
	bool ready;
	char path[256], path2[256];
	int fd, devfd, lease_fd, dmabuf_fd;
	char *map;
	__u64 pin_id;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	char *buf;		/* the peer's memory */
	struct ibv_mr *buf_mr;
	struct rxe_end a, b;	/* the holder's end and the peer's */
	__u32 handle, lkey, rkey;
	bool registered, mounted;
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

	r = rxe_scratch_mount(variant->fs);
	if (r == 1)
		SKIP(return, "no scratch pmem device (LL_SCRATCH)");
	ASSERT_EQ(0, r);
	self->mounted = true;
	snprintf(self->path, sizeof(self->path), "%s/rxe.%d",
		 RXE_SCRATCH, getpid());
	snprintf(self->path2, sizeof(self->path2), "%s/rxe-new.%d",
		 RXE_SCRATCH, getpid());
	self->fd = open(self->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ftruncate(self->fd, LEN));
	self->map = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	memset(self->map, 0x11, LEN);
	self->devfd = ll_open();
	ASSERT_LE(0, self->devfd);
	self->lease_fd = -1;
	self->dmabuf_fd = -1;
	self->ready = true;
}

FIXTURE_TEARDOWN(rxe)
{
	if (!self->ready) {
		if (self->mounted)
			rxe_scratch_umount();
		return;
	}
	if (self->registered)
		rxe_dereg_handle(self->ctx, self->handle);
	if (self->dmabuf_fd >= 0)
		close(self->dmabuf_fd);
	if (self->lease_fd >= 0)
		close(self->lease_fd);
	close(self->devfd);
	munmap(self->map, LEN);
	close(self->fd);
	unlink(self->path);
	unlink(self->path2);
	rxe_end_destroy(&self->a);
	rxe_end_destroy(&self->b);
	ibv_dereg_mr(self->buf_mr);
	ibv_dealloc_pd(self->pd);
	ibv_close_device(self->ctx);
	free(self->buf);
	if (self->mounted)
		rxe_scratch_umount();
}

/* The chain: lease, pin, export, memory region at the mapping's address. */
static void hold(struct __test_metadata *_metadata, FIXTURE_DATA(rxe) *self,
		 unsigned int timeout_ms)
{
	test_cmd_lease_create(self->fd, 0, LEN, timeout_ms, &self->lease_fd);
	test_cmd_pin(self->lease_fd, self->map, LEN, &self->pin_id);
	test_cmd_export(self->lease_fd, self->pin_id, &self->dmabuf_fd);
	ASSERT_EQ(0, rxe_reg_dmabuf_mr(self->pd, 0, LEN, (uintptr_t)self->map,
				       self->dmabuf_fd, ACCESS, &self->handle,
				       &self->lkey, &self->rkey));
	self->registered = true;
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
				   (uintptr_t)self->map + off, self->rkey));
		memset(back, 0, LEN / 2);
		ASSERT_EQ(IBV_WC_SUCCESS,
			  rxe_rdma(&self->b, IBV_WR_RDMA_READ, back,
				   self->buf_mr->lkey, LEN / 2,
				   (uintptr_t)self->map + off, self->rkey));
		ASSERT_TRUE(check(back, LEN / 2, off, tag));
	}
	if (file_too) {
		ASSERT_EQ(LEN, pread(self->fd, file, LEN, 0));
		ASSERT_TRUE(check(file, LEN, 0, tag));
	}
	free(file);
}

/* A WRITE of the peer with the region's old key, on a fresh connection. */
static int late_write(struct __test_metadata *_metadata,
		      FIXTURE_DATA(rxe) *self, __u64 raddr)
{
	memset(self->buf, 0xee, 4096);
	rxe_end_destroy(&self->a);
	rxe_end_destroy(&self->b);
	if (rxe_pair(self->ctx, self->pd, &self->a, &self->b))
		return -2;
	return rxe_rdma(&self->b, IBV_WR_RDMA_WRITE, self->buf,
			self->buf_mr->lkey, 4096, raddr, self->rkey);
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
	trunc = ll_truncate_child(self->path, 0);
	ev = ll_next_event(self->lease_fd, COOP_TIMEOUT_MS);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, ev.type);
	tbreak = ll_now_ms();
	/* Until the holder lets go, the region still works (64 KiB: quickly). */
	fill(self->buf, 65536, 0, 0x4321000000000000ULL);
	ASSERT_EQ(IBV_WC_SUCCESS, rxe_rdma(&self->b, IBV_WR_RDMA_WRITE, self->buf,
					   self->buf_mr->lkey, 65536,
					   (uintptr_t)self->map, self->rkey));
	memset(self->buf + LEN / 2, 0, 65536);
	ASSERT_EQ(IBV_WC_SUCCESS, rxe_rdma(&self->b, IBV_WR_RDMA_READ, self->buf + LEN / 2,
					   self->buf_mr->lkey, 65536,
					   (uintptr_t)self->map, self->rkey));
	ASSERT_TRUE(check(self->buf + LEN / 2, 65536, 0, 0x4321000000000000ULL));
	ASSERT_EQ(0, rxe_dereg_handle(self->ctx, self->handle));
	self->registered = false;
	close(self->dmabuf_fd);
	self->dmabuf_fd = -1;
	test_cmd_unpin(self->lease_fd, self->pin_id);
	ASSERT_EQ(0, ll_wait_child(trunc));
	tdone = ll_now_ms();
	ev = ll_next_event(self->lease_fd, COOP_TIMEOUT_MS);
	EXPECT_EQ(LAYOUTLEASE_EVENT_BREAK_DONE, ev.type);
	TH_LOG("truncate %lld ms (break queued after %lld ms, then %lld ms to let go and finish)",
	       tdone - t0, tbreak - t0, tdone - tbreak);
	/* Far from the deadline: the filesystem went on when the holder let go. */
	EXPECT_LT(tdone - t0, COOP_TIMEOUT_MS / 2);
	/* The key is gone with the region. */
	EXPECT_EQ(IBV_WC_REM_ACCESS_ERR, late_write(_metadata, self, (uintptr_t)self->map));
}

/*
 * (b) The holder ignores the break: the deadline revokes the region, the
 * peer's WRITEs fail from then on, and the freed blocks, reused by a new
 * file, never see them.
 */
TEST_F_TIMEOUT(rxe, deadline_revokes_region, 300)
{
	static struct extent old[MAX_EXTENTS], new[MAX_EXTENTS];
	char *raw = aligned_alloc(4096, LEN), *raw2 = aligned_alloc(4096, LEN);
	long long t0, tfail = -1, tdone = -1;
	int nold, nnew = 0, st = IBV_WC_SUCCESS, fd2, r;
	__u64 written = 0, writes = 0, reused;
	struct layoutlease_event ev;
	struct statfs sfs;
	char *chunk;
	pid_t trunc;

	hold(_metadata, self, TIMEOUT_MS);
	write_read(_metadata, self, 0x7777000000000000ULL, true);
	nold = extents(self->fd, old, MAX_EXTENTS);
	ASSERT_LT(0, nold);
	ASSERT_EQ(LEN, extents_len(old, nold));

	t0 = ll_now_ms();
	trunc = ll_truncate_child(self->path, 0);
	/* The peer keeps writing until a WRITE fails. */
	fill(self->buf, 4096, 0, 0x9999000000000000ULL);
	while (ll_now_ms() - t0 < TIMEOUT_MS + SLACK_MS) {
		st = rxe_rdma(&self->b, IBV_WR_RDMA_WRITE, self->buf,
			      self->buf_mr->lkey, 4096, (uintptr_t)self->map,
			      self->rkey);
		if (st != IBV_WC_SUCCESS) {
			tfail = ll_now_ms() - t0;
			break;
		}
		writes++;
		usleep(20000);
	}
	ASSERT_EQ(0, ll_wait_child(trunc));
	tdone = ll_now_ms() - t0;
	TH_LOG("%llu WRITEs landed, then status %d (%s) after %lld ms; truncate %lld ms (deadline %d)",
	       writes, st, ibv_wc_status_str(st), tfail, tdone, TIMEOUT_MS);
	ASSERT_EQ(IBV_WC_REM_ACCESS_ERR, st);
	EXPECT_LE(TIMEOUT_MS, tfail);
	EXPECT_LT(tdone, TIMEOUT_MS + SLACK_MS);
	ev = ll_next_event(self->lease_fd, 1000);
	EXPECT_EQ(LAYOUTLEASE_EVENT_BREAK, ev.type);
	ev = ll_next_event(self->lease_fd, 1000);
	EXPECT_EQ(LAYOUTLEASE_EVENT_REVOKED, ev.type);
	EXPECT_EQ(self->pin_id, ev.pin_id);
	ev = ll_next_event(self->lease_fd, 1000);
	EXPECT_EQ(LAYOUTLEASE_EVENT_BREAK_DONE, ev.type);

	/*
	 * A new file takes the freed blocks: written until FIEMAP shows all
	 * of the old file's blocks in it, or the filesystem is full.
	 */
	ASSERT_EQ(0, syncfs(self->fd));
	ASSERT_EQ(0, fstatfs(self->fd, &sfs));
	fd2 = open(self->path2, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd2);
	chunk = malloc(LEN);
	ASSERT_NE(NULL, chunk);
	for (;;) {
		fill(chunk, LEN, written, 0xc3c3000000000000ULL);
		r = pwrite(fd2, chunk, LEN, written);
		if (r <= 0)
			break;
		written += r & ~4095;
		if (written % (8 * LEN))
			continue;
		ASSERT_EQ(0, fsync(fd2));
		nnew = extents(fd2, new, MAX_EXTENTS);
		if (nnew > 0 && covered_blocks(old, nold, new, nnew) >= REUSED_ENOUGH(LEN))
			break;
	}
	ASSERT_EQ(0, fsync(fd2));
	nnew = extents(fd2, new, MAX_EXTENTS);
	TH_LOG("new file: %llu MiB of %llu free, %d extents", written >> 20,
	       (unsigned long long)sfs.f_bavail * sfs.f_bsize >> 20, nnew);
	ASSERT_LT(0, nnew);
	reused = covered_blocks(old, nold, new, nnew);
	TH_LOG("the new file holds %llu of the old file's %u blocks", reused, LEN / 4096);
	ASSERT_LE(REUSED_ENOUGH(LEN), reused);

	/*
	 * The peer's later WRITEs with the old key, each on a new connection;
	 * the old blocks read from the device before and after them.
	 */
	ASSERT_EQ(0, raw_blocks(old, nold, raw));
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(IBV_WC_REM_ACCESS_ERR,
			  late_write(_metadata, self, (uintptr_t)self->map + i * 4096));
	ASSERT_EQ(0, raw_blocks(old, nold, raw2));
	EXPECT_EQ(0, memcmp(raw, raw2, LEN));

	/* Byte for byte: nothing of the peer's reached the new file. */
	for (__u64 off = 0; off < written; off += LEN) {
		size_t n = written - off < LEN ? written - off : LEN;

		ASSERT_EQ((ssize_t)n, pread(fd2, chunk, n, off));
		ASSERT_TRUE(check(chunk, n, off, 0xc3c3000000000000ULL)) {
			TH_LOG("the new file changed near offset %llu", off);
		}
	}
	free(chunk);
	free(raw);
	free(raw2);
	close(fd2);
	unlink(self->path2);
}

TEST_HARNESS_MAIN
