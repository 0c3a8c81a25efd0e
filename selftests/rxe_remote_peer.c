// SPDX-License-Identifier: GPL-2.0
/*
 * The RDMA peer of rxe_remote_holder, in a second VM on the wire of
 * vm-run -N (scripts/rxe-pair.sh): the holder's test tells it over TCP what
 * to do, and it does it with its own queue pair over the test-only rxe on
 * its NIC, so that the traffic crosses a network, not rxe's loopback.
 *
 *   rxe_remote_peer [-t SECONDS]    serves connections on TCP PORT until
 *                                   told QUIT or for SECONDS (default 900)
 *
 * Requests, one line each, answered with one line:
 *   QP <qpn> <gid>          a new queue pair towards the holder's: "QP <qpn> <gid>"
 *   WRITE <raddr> <rkey> <len> <off> <tag>
 *                           RDMA WRITE of the pattern (off, tag): "STATUS <wc status>"
 *   READ <raddr> <rkey> <len> <off> <tag>
 *                           RDMA READ, then the pattern checked:
 *                           "STATUS <wc status>", or "STATUS -2" if it differs
 *   QUIT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include "rxe_utils.h"

#define PORT	18700
#define BUF	(4U << 20)

static void gid_str(const union ibv_gid *g, char *s)
{
	for (int i = 0; i < 16; i++)
		sprintf(s + 2 * i, "%02x", g->raw[i]);
}

static int gid_parse(const char *s, union ibv_gid *g)
{
	for (int i = 0; i < 16; i++)
		if (sscanf(s + 2 * i, "%2hhx", &g->raw[i]) != 1)
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct ibv_context *ctx;
	struct rxe_end e = { 0 };
	union ibv_gid gid, hgid;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	struct ibv_pd *pd;
	struct ibv_mr *mr;
	int secs = 900, gidx, ls, one = 1, opt;
	bool quit = false;
	char *buf;

	while ((opt = getopt(argc, argv, "t:")) != -1)
		if (opt == 't')
			secs = atoi(optarg);
	alarm(secs);
	signal(SIGPIPE, SIG_IGN);
	if (rxe_use_ll_net()) {
		fprintf(stderr, "rxe_remote_peer: no test-only rxe on a NIC\n");
		return 1;
	}
	ctx = rxe_open(RXE_NET_DEV);
	pd = ctx ? ibv_alloc_pd(ctx) : NULL;
	buf = aligned_alloc(4096, BUF);
	mr = pd && buf ? ibv_reg_mr(pd, buf, BUF, IBV_ACCESS_LOCAL_WRITE) : NULL;
	gidx = ctx ? rxe_ipv4_gid(ctx, &gid) : -1;
	if (!mr || gidx < 0) {
		fprintf(stderr, "rxe_remote_peer: device, memory or GID missing\n");
		return 1;
	}
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 4)) {
		perror("rxe_remote_peer: listen");
		return 1;
	}
	printf("rxe_remote_peer: listening on port %d, GID index %d\n", PORT, gidx);
	fflush(stdout);
	while (!quit) {
		int c = accept(ls, NULL, NULL);
		FILE *in, *out;
		char line[512];

		if (c < 0)
			continue;
		in = fdopen(c, "r");
		out = fdopen(dup(c), "w");
		while (!quit && fgets(line, sizeof(line), in)) {
			unsigned long long raddr, len, off, tag;
			unsigned int qpn, rkey;
			char g[64], s[40];
			int st;

			if (sscanf(line, "QP %u %63s", &qpn, g) == 2 && !gid_parse(g, &hgid)) {
				rxe_end_destroy(&e);
				if (rxe_end_create(ctx, pd, &e) ||
				    rxe_end_connect(&e, qpn, &hgid, gidx)) {
					fprintf(out, "QP 0 -\n");
				} else {
					gid_str(&gid, s);
					fprintf(out, "QP %u %s\n", e.qp->qp_num, s);
				}
			} else if (sscanf(line, "WRITE %llx %x %llu %llu %llx", &raddr, &rkey,
					  &len, &off, &tag) == 5 && len <= BUF) {
				fill(buf, len, off, tag);
				st = rxe_rdma(&e, IBV_WR_RDMA_WRITE, buf, mr->lkey, len, raddr, rkey);
				fprintf(out, "STATUS %d\n", st);
			} else if (sscanf(line, "READ %llx %x %llu %llu %llx", &raddr, &rkey,
					  &len, &off, &tag) == 5 && len <= BUF) {
				memset(buf, 0, len);
				st = rxe_rdma(&e, IBV_WR_RDMA_READ, buf, mr->lkey, len, raddr, rkey);
				if (!st && !check(buf, len, off, tag))
					st = -2;
				fprintf(out, "STATUS %d\n", st);
			} else if (!strncmp(line, "QUIT", 4)) {
				quit = true;
				fprintf(out, "BYE\n");
			} else {
				fprintf(out, "ERROR\n");
			}
			fflush(out);
		}
		fclose(in);
		fclose(out);
	}
	rxe_end_destroy(&e);
	ibv_dereg_mr(mr);
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	printf("rxe_remote_peer: done\n");
	return 0;
}
