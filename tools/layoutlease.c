// SPDX-License-Identifier: GPL-2.0
/*
 * layoutlease: the command-line tool.
 *
 *   layoutlease info [-J] what the running module supports; -J: as JSON
 *   layoutlease list [-J] the leases of the system (/proc/layoutleases);
 *                        -J: as JSON (list.c)
 *   layoutlease watch [-J] [-c COUNT] [--fd N [--pid PID]]
 *                        print events as they happen: of a lease fd, or of
 *                        every lease from the tracepoints (watch.c)
 *   layoutlease hold [-t MS] [-i] [-e] [-x] FILE
 *                        lease FILE, map and pin all of it, and print what
 *                        happens; unpin at a break unless -i (ignore it);
 *                        -e: also export the pin as a dma-buf
 *   layoutlease truncate -s SIZE FILE
 *                        truncate FILE and time the call itself
 *
 * hold and truncate print CLOCK_MONOTONIC in ms (as the tracepoints and
 * the event records' time_ns do), so that their lines tell one story.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <layoutlease.h>

#include "cmd.h"

static int usage(FILE *f)
{
	fprintf(f, "usage: layoutlease info [-J] | list [-J] [-r] | watch [-J] [-c COUNT] [--fd N [--pid PID]]\n"
		   "                   | hold [-t MS] [-i] [-e] [-x] FILE | truncate -s SIZE FILE\n"
		   "  info   show the interface the loaded module offers; -J as JSON\n"
		   "  list   show every lease (/proc/layoutleases); -J as JSON, -r raw\n"
		   "  watch  print events as they happen: of lease fd N (of process PID),\n"
		   "         or of every lease from the tracepoints; -J as JSON lines\n"
		   "  hold   lease FILE, pin all of it, report events until the\n"
		   "         pin is gone; -t break timeout in ms, -i ignore breaks,\n"
		   "         -e export the pin as a dma-buf, -x an exclusive lease\n"
		   "  truncate  truncate FILE to SIZE bytes, timing the call itself\n"
		   "layoutlease COMMAND --help: that command's options and exit status\n");
	return f == stderr ? 2 : 0;
}

static int hold_usage(FILE *f)
{
	fprintf(f, "usage: layoutlease hold [-t MS] [-i] [-e] [-x] FILE\n"
		   "  lease all of FILE (a non-empty file on a DAX mount), map and pin\n"
		   "  it, and print every event until its break is done\n"
		   "  -t MS  the break timeout (0 or none: the module's default)\n"
		   "  -i     ignore breaks: keep the pin until the deadline revokes it\n"
		   "  -e     also export the pin as a dma-buf (closed at the break)\n"
		   "  -x     an exclusive lease: operations that would break it fail\n"
		   "         with ETXTBSY while it holds the pin (root, by default)\n"
		   "exit status: 0 once the break is done (BREAK_DONE), 1 if the file,\n"
		   "the lease, the pin or the export fails, 2 for a usage error\n");
	return f == stderr ? 2 : 0;
}

/* CLOCK_MONOTONIC in ms: one clock for every process's lines. */
static double stamp(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int truncate_usage(FILE *f)
{
	fprintf(f, "usage: layoutlease truncate -s SIZE FILE\n"
		   "  truncate(2) FILE to SIZE bytes and print when the call entered and\n"
		   "  returned (CLOCK_MONOTONIC, ms, the clock of hold's lines) and how\n"
		   "  long it took: the call alone, not this program's start\n"
		   "exit status: 0 done, 1 the call failed (its errno printed: ETXTBSY\n"
		   "under an exclusive lease), 2 for a usage error\n");
	return f == stderr ? 2 : 0;
}

static int cmd_truncate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	long long size = -1;
	double t0, t1;
	char *end;
	int opt, ret, err;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
		if (opt == 's') {
			errno = 0;
			size = strtoll(optarg, &end, 0);
			if (errno || *end || size < 0)
				return truncate_usage(stderr);
		} else if (opt == 'h') {
			return truncate_usage(stdout);
		} else {
			return truncate_usage(stderr);
		}
	}
	if (size < 0 || optind != argc - 1)
		return truncate_usage(stderr);
	t0 = stamp();
	ret = truncate(argv[optind], size);
	err = errno;
	t1 = stamp();
	printf("%12.1f ms  truncate %d: truncate(%s, %lld) entered\n", t0, getpid(),
	       argv[optind], size);
	if (ret)
		printf("%12.1f ms  truncate %d: failed after %.3f ms: %s (%s)\n", t1, getpid(),
		       t1 - t0, strerrorname_np(err) ? : "?", strerror(err));
	else
		printf("%12.1f ms  truncate %d: returned after %.3f ms\n", t1, getpid(),
		       t1 - t0);
	return ret ? 1 : 0;
}

static int cmd_hold(int argc, char **argv)
{
	unsigned int timeout = 0;
	int ignore = 0, export = 0, excl = 0, dmabuf_fd = -1, opt, fd, devfd, lease_fd, ret;
	unsigned long long id;
	struct stat st;
	char *map;

	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{}
	};

	optind = 1;
	while ((opt = getopt_long(argc, argv, "t:iexh", opts, NULL)) != -1) {
		if (opt == 't')
			timeout = atoi(optarg);
		else if (opt == 'i')
			ignore = 1;
		else if (opt == 'e')
			export = 1;
		else if (opt == 'x')
			excl = 1;
		else if (opt == 'h')
			return hold_usage(stdout);
		else
			return hold_usage(stderr);
	}
	if (optind != argc - 1)
		return hold_usage(stderr);
	fd = open(argv[optind], O_RDWR);
	if (fd < 0 || fstat(fd, &st) || !st.st_size) {
		fprintf(stderr, "layoutlease: %s: cannot open a non-empty file\n",
			argv[optind]);
		return 1;
	}
	map = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	devfd = ll_open();
	if (map == MAP_FAILED || devfd < 0) {
		perror("layoutlease: mmap or open");
		return 1;
	}
	lease_fd = ll_lease_create(devfd, fd, 0, st.st_size, timeout,
				   excl ? LAYOUTLEASE_LEASE_EXCLUSIVE : 0);
	if (lease_fd < 0) {
		fprintf(stderr, "layoutlease: lease: %s\n", strerror(-lease_fd));
		return 1;
	}
	ret = ll_pin(lease_fd, map, st.st_size, 0, &id);
	if (ret) {
		fprintf(stderr, "layoutlease: pin: %s\n", strerror(-ret));
		return 1;
	}
	if (export) {
		dmabuf_fd = ll_export(lease_fd, id);
		if (dmabuf_fd < 0) {
			fprintf(stderr, "layoutlease: export: %s\n",
				strerror(-dmabuf_fd));
			return 1;
		}
	}
	printf("%12.1f ms  holder %d: %slease fd %d on %s, pinned %lld KiB (pin %llu)%s%s\n",
	       stamp(), getpid(), excl ? "exclusive " : "", lease_fd, argv[optind],
	       (long long)st.st_size >> 10, id,
	       export ? ", exported as a dma-buf" : "",
	       ignore ? ", will ignore breaks" : "");
	fflush(stdout);
	for (;;) {
		struct pollfd p = { .fd = lease_fd, .events = POLLIN };
		struct layoutlease_event ev;

		if (poll(&p, 1, -1) != 1 || ll_read_event(lease_fd, &ev))
			continue;
		printf("%12.1f ms  holder: event %s", stamp(), ll_event_name(ev.type));
		if (ev.type == LAYOUTLEASE_EVENT_BREAK) {
			struct timespec now;

			clock_gettime(CLOCK_MONOTONIC, &now);
			printf(", deadline in %.0f ms",
			       (ev.deadline_ns - (now.tv_sec * 1000000000ULL + now.tv_nsec)) / 1e6);
		}
		if (ev.pin_id)
			printf(" (pin %llu)", (unsigned long long)ev.pin_id);
		printf(", queued at %.1f ms\n", ev.time_ns / 1e6);
		if (ev.type == LAYOUTLEASE_EVENT_BREAK && !ignore) {
			if (dmabuf_fd >= 0) {
				close(dmabuf_fd);
				dmabuf_fd = -1;
				printf("%12.1f ms  holder: closed the dma-buf\n",
				       stamp());
			}
			ret = ll_unpin(lease_fd, id);
			printf("%12.1f ms  holder: unpinned: %s\n", stamp(),
			       ret ? strerror(-ret) : "ok");
		}
		if (ev.type == LAYOUTLEASE_EVENT_REVOKED)
			printf("%12.1f ms  holder: its pin was revoked: nothing left to unpin\n",
			       stamp());
		fflush(stdout);
		if (ev.type == LAYOUTLEASE_EVENT_BREAK_DONE)
			return 0;
	}
}

static int info_usage(FILE *f)
{
	fprintf(f, "usage: layoutlease info [-J|--json]\n"
		   "  the interface of the loaded module (LAYOUTLEASE_IOC_GET_INFO): its\n"
		   "  API version, commands, the flags each accepts, the break timeouts\n"
		   "  -J, --json  as JSON (Documentation/layoutlease-info.schema.json)\n"
		   "exit status: 0, 1 if the device cannot be opened or GET_INFO fails,\n"
		   "2 for a usage error\n");
	return f == stderr ? 2 : 0;
}

static int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct layoutlease_get_info info;
	const char *sep = "";
	int fd, ret, opt, json = 0;
	unsigned int bit;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "Jh", opts, NULL)) != -1) {
		if (opt == 'J')
			json = 1;
		else if (opt == 'h')
			return info_usage(stdout);
		else
			return info_usage(stderr);
	}
	if (optind != argc)
		return info_usage(stderr);
	fd = ll_open();
	if (fd < 0) {
		fprintf(stderr, "layoutlease: %s: %s%s\n", LAYOUTLEASE_DEVICE,
			strerror(-fd), fd == -ENOENT ? " (is the module loaded?)" : "");
		return 1;
	}
	ret = ll_get_info(fd, &info);
	close(fd);
	if (ret) {
		fprintf(stderr, "layoutlease: GET_INFO: %s\n", strerror(-ret));
		return 1;
	}
	if (json) {
		printf("{\n   \"device\": \"%s\",\n   \"api_version\": %u,\n"
		       "   \"tool_api_version\": %u,\n   \"commands\": [",
		       LAYOUTLEASE_DEVICE, info.out_api_version, LAYOUTLEASE_API_VERSION);
	} else {
		printf("device:      %s\n", LAYOUTLEASE_DEVICE);
		printf("api version: %u (this tool: %u)\n", info.out_api_version,
		       LAYOUTLEASE_API_VERSION);
		printf("commands:   ");
	}
	for (bit = 0; bit < 64; bit++) {
		const char *name;

		if (!(info.out_commands & (1ULL << bit)))
			continue;
		name = ll_command_name(LAYOUTLEASE_CMD_BASE + bit);
		if (json && name)
			printf("%s\"%s\"", sep, name);
		else if (json)
			printf("%s\"0x%x\"", sep, LAYOUTLEASE_CMD_BASE + bit);
		else if (name)
			printf(" %s", name);
		else
			printf(" 0x%x", LAYOUTLEASE_CMD_BASE + bit);
		sep = ", ";
	}
	if (json) {
		printf("],\n   \"flags\": {\"GET_INFO\": %llu, \"LEASE_CREATE\": %llu, \"PIN\": %llu,"
		       " \"UNPIN\": %llu, \"OWNER\": %llu, \"EXPORT\": %llu},\n"
		       "   \"break_timeout_ms\": {\"default\": %u, \"max\": %u}\n}\n",
		       (unsigned long long)info.out_get_info_flags,
		       (unsigned long long)info.out_lease_create_flags,
		       (unsigned long long)info.out_pin_flags,
		       (unsigned long long)info.out_unpin_flags,
		       (unsigned long long)info.out_owner_flags,
		       (unsigned long long)info.out_export_flags,
		       info.out_default_break_timeout_ms, info.out_max_break_timeout_ms);
		return 0;
	}
	printf("\nflags: GET_INFO 0x%llx LEASE_CREATE 0x%llx PIN 0x%llx UNPIN 0x%llx OWNER 0x%llx EXPORT 0x%llx\n",
	       (unsigned long long)info.out_get_info_flags,
	       (unsigned long long)info.out_lease_create_flags,
	       (unsigned long long)info.out_pin_flags,
	       (unsigned long long)info.out_unpin_flags,
	       (unsigned long long)info.out_owner_flags,
	       (unsigned long long)info.out_export_flags);
	printf("break timeout: default %u ms, max %u ms\n",
	       info.out_default_break_timeout_ms, info.out_max_break_timeout_ms);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "info"))
		return cmd_info(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "list"))
		return cmd_list(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "watch"))
		return cmd_watch(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "hold"))
		return cmd_hold(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "truncate"))
		return cmd_truncate(argc - 1, argv + 1);
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return usage(stdout);
	return usage(stderr);
}
