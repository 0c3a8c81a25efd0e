// SPDX-License-Identifier: GPL-2.0
/*
 * rxe_dmabuf_test's chain with the peer in another VM: the region is
 * registered on the test-only rxe of the NIC that vm-run -N gave this
 * guest, and rxe_remote_peer, in a second VM on the same wire (QEMU dgram
 * netdevs over the host's loopback, scripts/rxe-pair.sh), does the RDMA
 * when told over TCP.  The traffic crosses a network path (virtio-net,
 * UDP 4791), not rxe's local shortcut.
 *
 *   write_read               the peer's WRITE and READ land in the file
 *   deadline_revokes_region  the holder ignores a truncate's break; the
 *                            peer's next WRITE after the deadline fails with
 *                            a remote access error, and a new file on the
 *                            freed blocks is never changed by the peer
 *
 * $LL_RXE_PEER is the peer's address; without it the tests skip.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/vfs.h>

#include "layoutlease_utils.h"
#include "rxe_revoke.h"

#define LEN		(1U << 20)
#define TIMEOUT_MS	1000
#define SLACK_MS	5000
#define PEER_PORT	18700
#define ACCESS		(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
			 IBV_ACCESS_REMOTE_READ)

FIXTURE(remote) {
	bool ready;
	struct rxe_file f;
	int sock;
	FILE *in, *out;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct rxe_end e;
	union ibv_gid gid;
	int gidx;
};

FIXTURE_VARIANT(remote) {
	const char *fs;
};

FIXTURE_VARIANT_ADD(remote, xfs) { .fs = "xfs" };
FIXTURE_VARIANT_ADD(remote, ext4) { .fs = "ext4" };

/* One request to the peer; its answer's first number, or -100. */
static long long peer(FIXTURE_DATA(remote) *self, char *reply, size_t rlen,
		      const char *fmt, ...)
{
	char buf[512], *line = reply ?: buf, *p;
	va_list ap;

	va_start(ap, fmt);
	vfprintf(self->out, fmt, ap);
	va_end(ap);
	fflush(self->out);
	if (!fgets(line, reply ? rlen : sizeof(buf), self->in))
		return -100;
	p = strchr(line, ' ');
	return p ? strtoll(p + 1, NULL, 0) : -100;
}

static void gid_str(const union ibv_gid *g, char *s)
{
	for (int i = 0; i < 16; i++)
		sprintf(s + 2 * i, "%02x", g->raw[i]);
}

/* A new connection: our end and the peer's, each towards the other. */
static int connect_qps(FIXTURE_DATA(remote) *self)
{
	char g[40], reply[512], pg[64];
	union ibv_gid peer_gid;
	unsigned int qpn;

	rxe_end_destroy(&self->e);
	if (rxe_end_create(self->ctx, self->pd, &self->e))
		return -1;
	gid_str(&self->gid, g);
	if (peer(self, reply, sizeof(reply), "QP %u %s\n", self->e.qp->qp_num, g) <= 0 ||
	    sscanf(reply, "QP %u %63s", &qpn, pg) != 2)
		return -1;
	for (int i = 0; i < 16; i++)
		if (sscanf(pg + 2 * i, "%2hhx", &peer_gid.raw[i]) != 1)
			return -1;
	return rxe_end_connect(&self->e, qpn, &peer_gid, self->gidx);
}

FIXTURE_SETUP(remote)
{
	const char *addr = getenv("LL_RXE_PEER");
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PEER_PORT) };
	int r;

	if (!addr)
		SKIP(return, "no peer VM ($LL_RXE_PEER: scripts/rxe-pair.sh)");
	r = rxe_use_ll_net();
	if (r == 1)
		SKIP(return, "no NIC or no test-only rxe for this kernel");
	ASSERT_EQ(0, r);
	self->ctx = rxe_open(RXE_NET_DEV);
	ASSERT_NE(NULL, self->ctx);
	self->pd = ibv_alloc_pd(self->ctx);
	ASSERT_NE(NULL, self->pd);
	self->gidx = rxe_ipv4_gid(self->ctx, &self->gid);
	ASSERT_LE(0, self->gidx);

	/* The peer's VM boots beside this one: up to 3 minutes. */
	ASSERT_EQ(1, inet_pton(AF_INET, addr, &sa.sin_addr));
	for (int i = 0; i < 900; i++) {
		self->sock = socket(AF_INET, SOCK_STREAM, 0);
		ASSERT_LE(0, self->sock);
		if (!connect(self->sock, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		close(self->sock);
		self->sock = -1;
		usleep(200000);
	}
	ASSERT_LE(0, self->sock);
	self->in = fdopen(self->sock, "r");
	self->out = fdopen(dup(self->sock), "w");
	ASSERT_EQ(0, connect_qps(self));

	if (rxe_file_setup(_metadata, &self->f, variant->fs, "remote", LEN))
		SKIP(return, "no scratch pmem device (LL_SCRATCH)");
	rxe_file_hold(_metadata, &self->f, self->pd, TIMEOUT_MS, ACCESS);
	self->ready = true;
}

FIXTURE_TEARDOWN(remote)
{
	rxe_file_teardown(&self->f, self->ctx);
	if (!self->ready)
		return;
	fclose(self->in);
	fclose(self->out);
	rxe_end_destroy(&self->e);
	ibv_dealloc_pd(self->pd);
	ibv_close_device(self->ctx);
}

static int peer_write(FIXTURE_DATA(remote) *self, __u64 off, __u64 len, __u64 tag)
{
	return peer(self, NULL, 0, "WRITE %llx %x %llu %llu %llx\n",
		    (unsigned long long)(uintptr_t)self->f.map + off, self->f.rkey,
		    (unsigned long long)len, (unsigned long long)off,
		    (unsigned long long)tag);
}

static int peer_read(FIXTURE_DATA(remote) *self, __u64 off, __u64 len, __u64 tag)
{
	return peer(self, NULL, 0, "READ %llx %x %llu %llu %llx\n",
		    (unsigned long long)(uintptr_t)self->f.map + off, self->f.rkey,
		    (unsigned long long)len, (unsigned long long)off,
		    (unsigned long long)tag);
}

/* Bytes through the NIC so far, in direction @dir ("rx" or "tx"). */
static long long nic_bytes(const char *dir)
{
	char p[128];
	long long v = -1;
	FILE *f;

	snprintf(p, sizeof(p), "/sys/class/net/%s/statistics/%s_bytes",
		 getenv("LL_NET_DEV") ?: "-", dir);
	f = fopen(p, "r");
	if (f && fscanf(f, "%lld", &v) != 1)
		v = -1;
	if (f)
		fclose(f);
	return v;
}

TEST_F_TIMEOUT(remote, write_read, 300)
{
	const __u64 tag = 0x7e7e000000000000ULL;
	long long rx = nic_bytes("rx"), tx = nic_bytes("tx");
	char *file = malloc(LEN);

	ASSERT_NE(NULL, file);
	for (__u64 off = 0; off < LEN; off += LEN / 2) {
		ASSERT_EQ(IBV_WC_SUCCESS, peer_write(self, off, LEN / 2, tag));
		ASSERT_EQ(IBV_WC_SUCCESS, peer_read(self, off, LEN / 2, tag));
	}
	/* The WRITEs came in through the NIC, the READ responses went out. */
	rx = nic_bytes("rx") - rx;
	tx = nic_bytes("tx") - tx;
	TH_LOG("%s: %lld bytes in, %lld out for 1 MiB written and read", getenv("LL_NET_DEV"),
	       rx, tx);
	EXPECT_LE(LEN, rx);
	EXPECT_LE(LEN, tx);
	ASSERT_EQ(LEN, pread(self->f.fd, file, LEN, 0));
	EXPECT_TRUE(check(file, LEN, 0, tag));
	free(file);
}

static int rm_write(void *arg, __u64 off, __u32 len, __u64 tag)
{
	return peer_write(arg, off, len, tag);
}

static int rm_reconnect(void *arg)
{
	return connect_qps(arg);
}

TEST_F_TIMEOUT(remote, deadline_revokes_region, 600)
{
	static struct extent old[MAX_EXTENTS];
	const struct rxe_peer_ops peer = { rm_write, rm_reconnect, self };
	struct rxe_revoke_result res;
	int nold;

	ASSERT_EQ(IBV_WC_SUCCESS, peer_write(self, 0, LEN, 0x1111000000000000ULL));
	nold = extents(self->f.fd, old, MAX_EXTENTS);
	ASSERT_LT(0, nold);

	rxe_revoke_run(_metadata, self->f.path, &peer, TIMEOUT_MS, SLACK_MS, &res);
	ASSERT_EQ(IBV_WC_REM_ACCESS_ERR, res.status);
	EXPECT_LE(TIMEOUT_MS, res.fail_ms);
	EXPECT_LT(res.truncate_ms, TIMEOUT_MS + SLACK_MS);

	rxe_freed_blocks_stay_clean(_metadata, self->f.fd, self->f.path2, old, nold, LEN, &peer);
}

/* The harness's own process, at its exit: the peer may go. */
static pid_t main_pid;

static void __attribute__((constructor)) remember_main(void)
{
	main_pid = getpid();
}

static void __attribute__((destructor)) release_peer(void)
{
	const char *addr = getenv("LL_RXE_PEER");
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PEER_PORT) };
	int s;

	if (getpid() != main_pid || !addr || inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return;
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s >= 0 && !connect(s, (struct sockaddr *)&sa, sizeof(sa)) &&
	    write(s, "QUIT\n", 5) == 5) {
		char b[8];

		if (read(s, b, sizeof(b)) < 0)
			b[0] = 0;
	}
	if (s >= 0)
		close(s);
}

TEST_HARNESS_MAIN
