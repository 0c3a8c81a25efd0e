/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The revocation story of the RDMA tests, shared by rxe_dmabuf_test (the
 * peer on loopback) and rxe_remote_holder (the peer in another VM): the
 * peer writes while a truncate waits out the deadline, then a new file
 * takes the freed blocks and the peer's later WRITEs must change nothing.
 * How the peer writes is the test's (struct rxe_peer_ops).
 */
#ifndef _RXE_REVOKE_H
#define _RXE_REVOKE_H

#include <sys/mman.h>
#include <sys/vfs.h>

#include "layoutlease_utils.h"
#include "rxe_utils.h"

/*
 * The holder's side of the chain: a file on a new filesystem of the
 * scratch device, its shared mapping, and the lease, pin, export and
 * memory region over it.
 */
struct rxe_file {
	bool mounted, registered;
	char path[256], path2[256];
	int fd, devfd, lease_fd, dmabuf_fd;
	char *map;
	size_t len;
	__u64 pin_id;
	__u32 handle, lkey, rkey;
};

/* The file of @len bytes, written (blocks allocated) and mapped; 1 if no scratch device. */
static inline int rxe_file_setup(struct __test_metadata *_metadata, struct rxe_file *f,
				 const char *fs, const char *name, size_t len)
{
	int r = rxe_scratch_mount(fs);

	f->fd = f->devfd = f->lease_fd = f->dmabuf_fd = -1;
	f->map = MAP_FAILED;
	f->len = len;
	if (r == 1)
		return 1;
	ASSERT_EQ(0, r);
	f->mounted = true;
	snprintf(f->path, sizeof(f->path), RXE_SCRATCH "/%s.%d", name, getpid());
	snprintf(f->path2, sizeof(f->path2), RXE_SCRATCH "/%s-new.%d", name, getpid());
	f->fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, f->fd);
	ASSERT_EQ(0, ftruncate(f->fd, len));
	f->map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
	ASSERT_NE(MAP_FAILED, f->map);
	memset(f->map, 0x11, len);
	f->devfd = ll_dev_open();
	ASSERT_LE(0, f->devfd);
	return 0;
}

/* Lease, pin, export, and the memory region at the mapping's address. */
static inline void rxe_file_hold(struct __test_metadata *_metadata, struct rxe_file *f,
				 struct ibv_pd *pd, unsigned int timeout_ms, __u64 access)
{
	ASSERT_EQ(0, _test_cmd_lease_create(f->devfd, f->fd, 0, f->len, timeout_ms, 0,
					    &f->lease_fd));
	ASSERT_EQ(0, _test_cmd_pin(f->lease_fd, f->map, f->len, 0, &f->pin_id));
	ASSERT_EQ(0, _test_cmd_export(f->lease_fd, f->pin_id, 0, &f->dmabuf_fd));
	ASSERT_EQ(0, ll_verbs_reg_dmabuf_mr(pd, 0, f->len, (uintptr_t)f->map, f->dmabuf_fd, access,
				       &f->handle, &f->lkey, &f->rkey));
	f->registered = true;
}

static inline void rxe_file_teardown(struct rxe_file *f, struct ibv_context *ctx)
{
	if (!f->len)	/* rxe_file_setup() never ran */
		return;
	if (f->registered)
		ll_verbs_destroy_mr(ctx, f->handle);
	if (f->dmabuf_fd >= 0)
		close(f->dmabuf_fd);
	if (f->lease_fd >= 0)
		close(f->lease_fd);
	if (f->devfd >= 0)
		close(f->devfd);
	if (f->map != MAP_FAILED)
		munmap(f->map, f->len);
	if (f->fd >= 0) {
		close(f->fd);
		unlink(f->path);
		unlink(f->path2);
	}
	if (f->mounted)
		rxe_scratch_umount();
	f->mounted = f->registered = false;
}

struct rxe_peer_ops {
	/* A WRITE of @len bytes of pattern (@off, @tag) at region offset @off. */
	int (*write)(void *arg, __u64 off, __u32 len, __u64 tag);
	/* A new connection: an access error leaves the old one in error. */
	int (*reconnect)(void *arg);
	void *arg;
};

struct rxe_revoke_result {
	__u64 writes;		/* WRITEs that landed after the truncate began */
	int status;		/* the first failed WRITE's completion status */
	long long fail_ms;	/* when it failed, since the truncate began */
	long long truncate_ms;	/* when the truncate returned */
};

/*
 * Truncate @path to 0 in a child while the peer WRITEs every 20 ms, until
 * a WRITE fails or @timeout_ms + @slack_ms passed; the truncate must end.
 */
static inline void rxe_revoke_run(struct __test_metadata *_metadata, const char *path,
				  const struct rxe_peer_ops *peer, int timeout_ms,
				  int slack_ms, struct rxe_revoke_result *res)
{
	long long t0 = ll_now_ms();
	pid_t trunc = ll_truncate_child(path, 0);

	memset(res, 0, sizeof(*res));
	res->fail_ms = -1;
	while (ll_now_ms() - t0 < timeout_ms + slack_ms) {
		res->status = peer->write(peer->arg, 0, 4096, 0x9999000000000000ULL);
		if (res->status != IBV_WC_SUCCESS) {
			res->fail_ms = ll_now_ms() - t0;
			break;
		}
		res->writes++;
		usleep(20000);
	}
	ASSERT_EQ(0, ll_wait_child(trunc));
	res->truncate_ms = ll_now_ms() - t0;
	TH_LOG("%llu WRITEs landed, then status %d (%s) after %lld ms; truncate %lld ms (deadline %d)",
	       res->writes, res->status, res->status >= 0 ? ibv_wc_status_str(res->status) : "-",
	       res->fail_ms, res->truncate_ms, timeout_ms);
}

/*
 * After the revocation of a region over the @len bytes whose blocks were
 * @old: a new file at @path2 (on @fd's filesystem) is written until FIEMAP
 * shows it holds the old blocks (all but REUSED_ENOUGH's allowance), then
 * the peer WRITEs three times with the revoked key, each on a new
 * connection, and each must fail with a remote access error.  The old
 * blocks as the device holds them (O_DIRECT) and the new file, byte for
 * byte, must be what they were before those WRITEs.
 */
static inline void rxe_freed_blocks_stay_clean(struct __test_metadata *_metadata, int fd,
					       const char *path2, const struct extent *old,
					       int nold, size_t len,
					       const struct rxe_peer_ops *peer)
{
	static struct extent new[MAX_EXTENTS];
	char *raw = aligned_alloc(4096, len), *raw2 = aligned_alloc(4096, len);
	char *chunk = malloc(len);
	__u64 written = 0, reused;
	int nnew = 0, fd2, r;
	struct statfs sfs;

	ASSERT_TRUE(raw && raw2 && chunk);
	ASSERT_EQ(len, extents_len(old, nold));
	ASSERT_EQ(0, syncfs(fd));
	ASSERT_EQ(0, fstatfs(fd, &sfs));
	fd2 = open(path2, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd2);
	for (;;) {
		fill(chunk, len, written, 0xc3c3000000000000ULL);
		r = pwrite(fd2, chunk, len, written);
		if (r <= 0)
			break;
		written += r & ~4095;
		if (written % (8 * len))
			continue;
		ASSERT_EQ(0, fsync(fd2));
		nnew = extents(fd2, new, MAX_EXTENTS);
		if (nnew > 0 && covered_blocks(old, nold, new, nnew) >= REUSED_ENOUGH(len))
			break;
	}
	ASSERT_EQ(0, fsync(fd2));
	nnew = extents(fd2, new, MAX_EXTENTS);
	ASSERT_LT(0, nnew);
	reused = covered_blocks(old, nold, new, nnew);
	TH_LOG("new file: %llu MiB of %llu free, %d extents, %llu of the old file's %zu blocks",
	       written >> 20, (unsigned long long)sfs.f_bavail * sfs.f_bsize >> 20, nnew,
	       reused, len / 4096);
	ASSERT_LE(REUSED_ENOUGH(len), reused);

	ASSERT_EQ(0, raw_blocks(old, nold, raw));
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, peer->reconnect(peer->arg));
		EXPECT_EQ(IBV_WC_REM_ACCESS_ERR,
			  peer->write(peer->arg, i * 4096, 4096, 0xeeee000000000000ULL));
	}
	ASSERT_EQ(0, raw_blocks(old, nold, raw2));
	EXPECT_EQ(0, memcmp(raw, raw2, len));
	for (__u64 off = 0; off < written; off += len) {
		size_t n = written - off < len ? written - off : len;

		ASSERT_EQ((ssize_t)n, pread(fd2, chunk, n, off));
		ASSERT_TRUE(check(chunk, n, off, 0xc3c3000000000000ULL)) {
			TH_LOG("the new file changed near offset %llu", off);
		}
	}
	free(chunk);
	free(raw);
	free(raw2);
	close(fd2);
}

#endif /* _RXE_REVOKE_H */
