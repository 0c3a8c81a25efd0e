/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Soft-RoCE for the selftests: which rxe is loaded (the stock rdma_rxe or
 * the test-only rdma_rxe_ll with dma-buf memory regions, built from
 * selftests/rxe/ by scripts/build.sh) and RC queue pairs on loopback.
 *
 * The two modules cannot be loaded together: both bind RoCE's UDP port
 * and register the "rxe" link type.  rxe_use_stock() and rxe_use_ll()
 * unload the other one first.
 */
#ifndef _RXE_UTILS_H
#define _RXE_UTILS_H

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/fiemap.h>
#include <linux/fs.h>

#include <infiniband/verbs.h>

/* ll_verbs_reg_dmabuf_mr(): the kernel's REG_DMABUF_MR (tools/lib). */
#include "../tools/lib/llverbs.h"

#define RXE_STOCK_DEV	"llrxe0"	/* rdma_rxe on lldummy0 */
#define RXE_LL_DEV	"llrxed0"	/* rdma_rxe_ll on lldmabuf0 */
#define RXE_LL_NETDEV	"lldmabuf0"
#define RXE_LL_ADDR	"10.77.0.1"

/* The test-only rxe of the running kernel's build, or NULL. */
static inline const char *rxe_ll_module(void)
{
	static char path[PATH_MAX];
	const char *dir = getenv("LL_TESTMODS");

	if (!dir)
		return NULL;
	snprintf(path, sizeof(path), "%s/../../rxe/rdma_rxe_ll.ko", dir);
	return access(path, R_OK) ? NULL : path;
}

static inline bool rxe_loaded(const char *mod)
{
	char p[128];

	snprintf(p, sizeof(p), "/sys/module/%s", mod);
	return !access(p, F_OK);
}

/* rdma_rxe's own dependencies, which insmod of rdma_rxe_ll does not load. */
#define RXE_DEPS "for m in crc32_generic $(modinfo -F depends rdma_rxe | tr , ' '); " \
		 "do modprobe -q $m 2>/dev/null; done; "

/* The stock rdma_rxe with RXE_STOCK_DEV on a dummy netdev. */
static inline int rxe_use_stock(void)
{
	if (rxe_loaded("rdma_rxe_ll") &&
	    system("rdma link delete " RXE_LL_DEV " 2>/dev/null; rmmod rdma_rxe_ll"))
		return -1;
	if (!access("/sys/class/infiniband/" RXE_STOCK_DEV, F_OK))
		return 0;
	return system(RXE_DEPS "modprobe rdma_rxe && modprobe dummy &&"
		      "{ ip link show lldummy0 >/dev/null 2>&1 ||"
		      "  ip link add lldummy0 type dummy; } &&"
		      "ip link set lldummy0 up &&"
		      "rdma link add " RXE_STOCK_DEV " type rxe netdev lldummy0");
}

/*
 * rdma_rxe_ll with RXE_LL_DEV on a dummy netdev that has an IPv4 address
 * (its GID is the IPv4-mapped one, there at once, where an IPv6 link-local
 * address waits for duplicate address detection).  1 if this kernel has
 * no test-only rxe, -1 on failure.
 */
static inline int rxe_use_ll(void)
{
	const char *ko = rxe_ll_module();
	char cmd[PATH_MAX + 512];

	if (!ko)
		return 1;
	if (rxe_loaded("rdma_rxe") &&
	    system("rdma link delete " RXE_STOCK_DEV " 2>/dev/null; rmmod rdma_rxe"))
		return -1;
	if (!access("/sys/class/infiniband/" RXE_LL_DEV, F_OK))
		return 0;
	snprintf(cmd, sizeof(cmd), RXE_DEPS
		 "{ [ -d /sys/module/rdma_rxe_ll ] || insmod %s; } && modprobe dummy &&"
		 "{ ip link show " RXE_LL_NETDEV " >/dev/null 2>&1 ||"
		 "  ip link add " RXE_LL_NETDEV " type dummy; } &&"
		 "{ ip addr show dev " RXE_LL_NETDEV " | grep -q " RXE_LL_ADDR " ||"
		 "  ip addr add " RXE_LL_ADDR "/24 dev " RXE_LL_NETDEV "; } &&"
		 "ip link set " RXE_LL_NETDEV " up && ip link set lo up &&"
		 "rdma link add " RXE_LL_DEV " type rxe netdev " RXE_LL_NETDEV, ko);
	return system(cmd) ? -1 : 0;
}

/*
 * A second test-only rxe device, RXE_NET_DEV, on the NIC that vm-run -N
 * gave the guest ($LL_NET_DEV): the wire to another VM.  1 if there is no
 * such NIC or no test-only rxe, -1 on failure.
 */
#define RXE_NET_DEV	"llrxen0"
static inline int rxe_use_ll_net(void)
{
	const char *nic = getenv("LL_NET_DEV");
	char cmd[256];
	int r;

	if (!nic)
		return 1;
	r = rxe_use_ll();
	if (r)
		return r;
	if (!access("/sys/class/infiniband/" RXE_NET_DEV, F_OK))
		return 0;
	snprintf(cmd, sizeof(cmd), "rdma link add " RXE_NET_DEV " type rxe netdev %s", nic);
	return system(cmd) ? -1 : 0;
}

static inline struct ibv_context *rxe_open(const char *name)
{
	struct ibv_device **list = ibv_get_device_list(NULL);
	struct ibv_context *ctx = NULL;
	int i;

	for (i = 0; list && list[i]; i++)
		if (!strcmp(ibv_get_device_name(list[i]), name))
			ctx = ibv_open_device(list[i]);
	if (list)
		ibv_free_device_list(list);
	return ctx;
}

/* The index of port 1's IPv4-mapped GID (::ffff:a.b.c.d), or -1. */
static inline int rxe_ipv4_gid(struct ibv_context *ctx, union ibv_gid *gid)
{
	static const __u8 mapped[12] = { [10] = 0xff, [11] = 0xff };
	int i;

	/* The GID appears asynchronously after the address and the link. */
	for (int tries = 0; tries < 200; tries++) {
		for (i = 0; i < 16; i++)
			if (!ibv_query_gid(ctx, 1, i, gid) &&
			    !memcmp(gid->raw, mapped, sizeof(mapped)))
				return i;
		usleep(50000);
	}
	return -1;
}

/* One end of an RC connection: its queue pair and completion queue. */
struct rxe_end {
	struct ibv_cq *cq;
	struct ibv_qp *qp;
};

static inline int rxe_end_create(struct ibv_context *ctx, struct ibv_pd *pd,
				 struct rxe_end *e)
{
	struct ibv_qp_init_attr a = {
		.cap = { .max_send_wr = 16, .max_recv_wr = 16,
			 .max_send_sge = 1, .max_recv_sge = 1 },
		.qp_type = IBV_QPT_RC,
	};

	e->cq = ibv_create_cq(ctx, 64, NULL, NULL, 0);
	if (!e->cq)
		return -1;
	a.send_cq = a.recv_cq = e->cq;
	e->qp = ibv_create_qp(pd, &a);
	return e->qp ? 0 : -1;
}

static inline void rxe_end_destroy(struct rxe_end *e)
{
	if (e->qp)
		ibv_destroy_qp(e->qp);
	if (e->cq)
		ibv_destroy_cq(e->cq);
	e->qp = NULL;
	e->cq = NULL;
}

/* INIT, RTR and RTS towards @dqpn at @gid (loopback: our own GID). */
static inline int rxe_end_connect(struct rxe_end *e, __u32 dqpn,
				  const union ibv_gid *gid, int gidx)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT,
		.port_num = 1,
		.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_REMOTE_READ,
	};

	if (ibv_modify_qp(e->qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
			  IBV_QP_PORT | IBV_QP_ACCESS_FLAGS))
		return -1;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = IBV_MTU_1024;
	a.dest_qp_num = dqpn;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 12;
	a.ah_attr.is_global = 1;
	a.ah_attr.grh.dgid = *gid;
	a.ah_attr.grh.sgid_index = gidx;
	a.ah_attr.grh.hop_limit = 1;
	a.ah_attr.port_num = 1;
	if (ibv_modify_qp(e->qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
			  IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
			  IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER))
		return -1;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.max_rd_atomic = 1;
	return ibv_modify_qp(e->qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
			     IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
			     IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
}

/* A connected pair on one device: @a's peer is @b and the other way round. */
static inline int rxe_pair(struct ibv_context *ctx, struct ibv_pd *pd,
			   struct rxe_end *a, struct rxe_end *b)
{
	union ibv_gid gid;
	int gidx = rxe_ipv4_gid(ctx, &gid);

	if (gidx < 0 || rxe_end_create(ctx, pd, a) || rxe_end_create(ctx, pd, b))
		return -1;
	if (rxe_end_connect(a, b->qp->qp_num, &gid, gidx) ||
	    rxe_end_connect(b, a->qp->qp_num, &gid, gidx))
		return -1;
	return 0;
}

/*
 * One signalled RDMA WRITE or READ of [@laddr, +@len) (@lkey) to or from
 * @raddr (@rkey); the completion's status, or -1 if none came in 10 s.
 */
static inline int rxe_rdma(struct rxe_end *e, enum ibv_wr_opcode op,
			   void *laddr, __u32 lkey, __u32 len,
			   __u64 raddr, __u32 rkey)
{
	struct ibv_sge sge = { .addr = (uintptr_t)laddr, .length = len, .lkey = lkey };
	struct ibv_send_wr wr = {
		.wr_id = 1, .sg_list = &sge, .num_sge = 1, .opcode = op,
		.send_flags = IBV_SEND_SIGNALED,
		.wr.rdma = { .remote_addr = raddr, .rkey = rkey },
	}, *bad;
	struct timespec t0, t;
	struct ibv_wc wc;
	int n;

	if (ibv_post_send(e->qp, &wr, &bad))
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		n = ibv_poll_cq(e->cq, 1, &wc);
		if (n)
			return n < 0 ? -1 : (int)wc.status;
		usleep(100);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < 10);
	return -1;
}

/* Patterns, and where a file's blocks are: the tests' proof of no stray write. */
#define MAX_EXTENTS	1024

/* Word i of a pattern: its byte offset in the file, mixed with @tag. */
static inline void fill(void *p, size_t len, __u64 off, __u64 tag)
{
	__u64 *w = p;

	for (size_t i = 0; i < len / 8; i++)
		w[i] = (off + i * 8) ^ tag;
}

static inline bool check(const void *p, size_t len, __u64 off, __u64 tag)
{
	const __u64 *w = p;

	for (size_t i = 0; i < len / 8; i++)
		if (w[i] != ((off + i * 8) ^ tag))
			return false;
	return true;
}

struct extent {
	__u64 phys, len;
};

/* The physical extents of @fd, or -1. */
static inline int extents(int fd, struct extent *e, int max)
{
	struct fiemap *f = calloc(1, sizeof(*f) + max * sizeof(f->fm_extents[0]));
	int i, n = -1;

	if (!f)
		return -1;
	f->fm_length = FIEMAP_MAX_OFFSET;
	f->fm_flags = FIEMAP_FLAG_SYNC;
	f->fm_extent_count = max;
	/* All of them, or none: a full array may have left some out. */
	if (!ioctl(fd, FS_IOC_FIEMAP, f) && (int)f->fm_mapped_extents < max) {
		n = f->fm_mapped_extents;
		for (i = 0; i < n; i++) {
			e[i].phys = f->fm_extents[i].fe_physical;
			e[i].len = f->fm_extents[i].fe_length;
		}
	}
	free(f);
	return n;
}

static inline __u64 extents_len(const struct extent *e, int n)
{
	__u64 sum = 0;

	for (int i = 0; i < n; i++)
		sum += e[i].len;
	return sum;
}

/*
 * How many 4 KiB blocks of @old lie in one of @new's extents.  Not always
 * all of them: XFS gives small freed extents to its AG free lists
 * (metadata) rather than to the next file.
 */
static inline __u64 covered_blocks(const struct extent *old, int nold,
				   const struct extent *new, int nnew)
{
	__u64 n = 0;

	for (int i = 0; i < nold; i++)
		for (__u64 b = old[i].phys; b < old[i].phys + old[i].len; b += 4096) {
			bool in = false;

			for (int j = 0; j < nnew && !in; j++)
				in = b >= new[j].phys && b < new[j].phys + new[j].len;
			n += in;
		}
	return n;
}

/* What a new file must take of the old one's blocks: all but 64 KiB. */
#define REUSED_ENOUGH(old_len)	((old_len) / 4096 - 16)

/*
 * A new filesystem of type @fs ("xfs" or "ext4") on the scratch pmem
 * device ($LL_SCRATCH), mounted with DAX at RXE_SCRATCH: every test starts
 * from the same layout, so where the allocator puts a new file is the same
 * each run.  0, 1 if there is no scratch device, -1 on failure.
 */
#define RXE_SCRATCH	"/mnt/llrxe"
static inline int rxe_scratch_mount(const char *fs)
{
	const char *dev = getenv("LL_SCRATCH");
	char cmd[512];

	if (!dev)
		return 1;
	mkdir(RXE_SCRATCH, 0755);
	snprintf(cmd, sizeof(cmd), "umount " RXE_SCRATCH " 2>/dev/null; %s %s >/dev/null 2>&1 && "
		 "mount -t %s -o dax=always %s " RXE_SCRATCH " && chmod 1777 " RXE_SCRATCH,
		 strcmp(fs, "xfs") ? "mkfs.ext4 -q -F -b 4096" : "mkfs.xfs -q -f -m reflink=0",
		 dev, fs, dev);
	return system(cmd) ? -1 : 0;
}

static inline void rxe_scratch_umount(void)
{
	if (system("umount " RXE_SCRATCH))
		fprintf(stderr, "# cannot unmount " RXE_SCRATCH "\n");
}

/*
 * The scratch device's bytes at extents @e (@n of them), read past every
 * cache (O_DIRECT), into @buf (4 KiB aligned, as long as all of them).
 * What a device's stray write would change, whoever owns the blocks now.
 */
static inline int raw_blocks(const struct extent *e, int n, char *buf)
{
	const char *dev = getenv("LL_SCRATCH");
	int fd = dev ? open(dev, O_RDONLY | O_DIRECT) : -1;
	size_t pos = 0;

	if (fd < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (pread(fd, buf + pos, e[i].len, e[i].phys) != (ssize_t)e[i].len) {
			close(fd);
			return -1;
		}
		pos += e[i].len;
	}
	close(fd);
	return 0;
}

#endif /* _RXE_UTILS_H */
