// SPDX-License-Identifier: GPL-2.0
/*
 * layoutlease watch: print events as they happen, one line each (-J: one
 * JSON object per line, Documentation/layoutlease-watch.schema.json).
 *
 *   watch --fd N              the records of lease fd N, which the command
 *                             inherited from whoever started it
 *   watch --pid PID --fd N    the records of a copy of lease fd N of process
 *                             PID (pidfd_getfd(2): the caller needs ptrace
 *                             access to PID); ends when PID exits
 *   watch                     every lease of the system, from the module's
 *                             tracepoints, through a tracefs instance of its
 *                             own (root): who broke, who unpinned, what was
 *                             revoked
 *
 * A lease fd's records come from this process's own queue (one per process
 * that has the fd, made at its first poll): the command sees what happens
 * from then on, and reading takes nothing from the program's queue.  It
 * never sets flags on the fd, whose open file description it shares.
 *
 * Copyright (C) 2026 The layoutlease authors
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <layoutlease.h>

#include "cmd.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int watch_usage(FILE *f)
{
	fprintf(f, "usage: layoutlease watch [-J] [-c COUNT] [--fd N [--pid PID]]\n"
		   "  print events as they happen, one line each\n"
		   "  --fd N      the records of lease fd N, inherited by this command\n"
		   "  --pid PID   with --fd: of a copy of fd N of process PID (ptrace\n"
		   "              access to it); ends when PID exits\n"
		   "  (neither)   every lease of the system, from the module's\n"
		   "              tracepoints (root: a tracefs instance of its own)\n"
		   "  -c COUNT    exit after COUNT events\n"
		   "  -J, --json  one JSON object per line\n"
		   "              (Documentation/layoutlease-watch.schema.json)\n"
		   "exit status: 0 after COUNT events, at SIGINT or SIGTERM, or when PID\n"
		   "exited; 1 if the fd is not a lease fd, PID or tracefs cannot be\n"
		   "reached, or the module is not loaded; 2 for a usage error\n");
	return f == stderr ? 2 : 0;
}

/* Whether @fd of this process is a lease fd: its fdinfo names the lease. */
static int is_lease_fd(int fd, unsigned long long *id)
{
	char path[64], buf[4096], *line;
	ssize_t n;
	int pfd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	pfd = open(path, O_RDONLY | O_CLOEXEC);
	if (pfd < 0)
		return 0;
	n = read(pfd, buf, sizeof(buf) - 1);
	close(pfd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	for (line = buf; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if (sscanf(line, "lease %llu:", id) == 1)
			return 1;
	return 0;
}

/* @s as a JSON string. */
static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_record(const struct layoutlease_event *ev, int json)
{
	const char *name = ll_event_name(ev->type);
	struct timespec now;

	if (json) {
		printf("{\"source\": \"lease\", \"time_ns\": %llu, \"lease\": %llu, \"event\": ",
		       (unsigned long long)ev->time_ns, (unsigned long long)ev->lease_id);
		json_string(name);
		printf(", \"pin\": %llu, \"offset\": %llu, \"length\": %llu, \"deadline_ns\": %llu}\n",
		       (unsigned long long)ev->pin_id, (unsigned long long)ev->offset,
		       (unsigned long long)ev->length, (unsigned long long)ev->deadline_ns);
		return;
	}
	printf("%llu.%06llu lease %llu %s", (unsigned long long)ev->time_ns / 1000000000,
	       (unsigned long long)ev->time_ns % 1000000000 / 1000,
	       (unsigned long long)ev->lease_id, name);
	if (ev->pin_id)
		printf(" pin %llu", (unsigned long long)ev->pin_id);
	if (ev->type != LAYOUTLEASE_EVENT_OVERFLOW)
		printf(" range %llu-%llu", (unsigned long long)ev->offset,
		       (unsigned long long)(ev->offset + ev->length));
	if (ev->type == LAYOUTLEASE_EVENT_BREAK) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		printf(" deadline in %lld ms",
		       ((long long)ev->deadline_ns -
			(now.tv_sec * 1000000000LL + now.tv_nsec)) / 1000000);
	}
	putchar('\n');
}

/* Records of @fd (and, if @pidfd >= 0, until that process exits). */
static int watch_fd(int fd, int pidfd, long count, int json)
{
	struct pollfd p[2] = {
		{ .fd = fd, .events = POLLIN },
		{ .fd = pidfd, .events = POLLIN },
	};
	struct layoutlease_event ev;
	long seen = 0;
	int ret;

	while (!stop && (count < 0 || seen < count)) {
		if (poll(p, pidfd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("layoutlease: poll");
			return 1;
		}
		if (p[0].revents & POLLIN) {
			ret = ll_read_event(fd, &ev);
			if (ret == -EINTR || ret == -EAGAIN)
				continue;
			if (ret) {
				fprintf(stderr, "layoutlease: read: %s\n", strerror(-ret));
				return 1;
			}
			print_record(&ev, json);
			if (fflush(stdout))
				return 1;
			seen++;
			continue;
		}
		if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			fprintf(stderr, "layoutlease: the lease fd reports an error (no queue: too many owners?)\n");
			return 1;
		}
		if (pidfd >= 0 && p[1].revents)
			return 0;	/* the process exited */
	}
	return 0;
}

/* The tracefs mount, or NULL. */
static const char *tracefs(void)
{
	static const char *const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[128];
	unsigned int i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/instances", dirs[i]);
		if (!access(path, F_OK))
			return dirs[i];
	}
	return NULL;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

/* Whether @s is a decimal number JSON can carry as one. */
static int is_number(const char *s)
{
	const char *p = s;

	if (!*p || strlen(p) > 18)
		return 0;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return *s != '0' || !s[1];
}

/*
 * One line of trace_pipe: "COMM-PID [CPU] FLAGS SECONDS: ll_EVENT: k=v ...".
 * Returns 0 if it is not one of the module's.
 */
static int print_trace_line(char *line, int json)
{
	char *ev, *args, *open_br, *dash, *comm, *ts, *tok, *save;
	const char *sep = "";
	int pid;

	line[strcspn(line, "\n")] = 0;
	ev = strstr(line, ": ll_");
	if (!ev)
		return 0;
	*ev = 0;
	ev += 2;
	args = strstr(ev, ": ");
	if (args) {
		*args = 0;
		args += 2;
	} else {
		ev[strcspn(ev, ":")] = 0;
		args = "";
	}
	ts = strrchr(line, ' ');
	ts = ts ? ts + 1 : line;
	/* The task is before the last " [CPU]" that precedes the time. */
	open_br = NULL;
	for (tok = line; (tok = strstr(tok, " [")); tok++)
		open_br = tok;
	if (!open_br)
		return 0;
	*open_br = 0;
	for (comm = line; *comm == ' '; comm++)
		;
	dash = strrchr(comm, '-');
	if (!dash)
		return 0;
	*dash = 0;
	pid = atoi(dash + 1);
	if (!json) {
		printf("%s %s[%d] %s %s\n", ts, comm, pid, ev + 3, args);
		return 1;
	}
	printf("{\"source\": \"trace\", \"time\": \"%s\", \"pid\": %d, \"comm\": ", ts, pid);
	json_string(comm);
	printf(", \"event\": ");
	json_string(ev + 3);
	printf(", \"args\": {");
	for (tok = strtok_r(args, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq)
			continue;
		*eq = 0;
		printf("%s", sep);
		json_string(tok);
		printf(": ");
		if (is_number(eq + 1))
			printf("%s", eq + 1);
		else
			json_string(eq + 1);
		sep = ", ";
	}
	printf("}}\n");
	return 1;
}

/*
 * Remove the instances of watches that were killed before they could
 * (SIGKILL): a tracefs instance outlives its maker.  One still read is
 * busy, and rmdir() leaves it.
 */
static void remove_stale(const char *tr)
{
	char dir[160], path[512];
	struct dirent *e;
	DIR *d;
	int pid;

	snprintf(dir, sizeof(dir), "%s/instances", tr);
	d = opendir(dir);
	while (d && (e = readdir(d))) {
		if (sscanf(e->d_name, "layoutlease-watch.%d", &pid) != 1 || pid <= 0 ||
		    !kill(pid, 0) || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		rmdir(path);
	}
	if (d)
		closedir(d);
}

static int watch_trace(long count, int json)
{
	char inst[256], path[320], line[4096];
	const char *tr = tracefs();
	long seen = 0;
	FILE *pipe;
	int ret = 1, err;

	if (!tr) {
		fprintf(stderr, "layoutlease: no tracefs (mount -t tracefs nodev /sys/kernel/tracing)\n");
		return 1;
	}
	remove_stale(tr);
	snprintf(inst, sizeof(inst), "%s/instances/layoutlease-watch.%d", tr, getpid());
	if (mkdir(inst, 0700)) {
		fprintf(stderr, "layoutlease: %s: %s%s\n", inst, strerror(errno),
			errno == EACCES || errno == EPERM ?
			" (a system-wide watch needs root; --fd watches one lease)" : "");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/events/layoutlease/enable", inst);
	err = write_str(path, "1");
	if (err) {
		fprintf(stderr, "layoutlease: %s: %s%s\n", path, strerror(-err),
			err == -ENOENT ? " (is the module loaded?)" : "");
		goto out_rmdir;
	}
	snprintf(path, sizeof(path), "%s/trace_pipe", inst);
	pipe = fopen(path, "re");
	if (!pipe) {
		fprintf(stderr, "layoutlease: %s: %s\n", path, strerror(errno));
		goto out_disable;
	}
	/* Enabled and reading: tell whoever waits for us (a test, a script). */
	fprintf(stderr, "layoutlease: watching the tracepoints (%s)\n", inst);
	ret = 0;
	while (!stop && (count < 0 || seen < count)) {
		if (!fgets(line, sizeof(line), pipe)) {
			if (ferror(pipe) && errno == EINTR) {	/* a signal: stop? */
				clearerr(pipe);
				continue;
			}
			if (ferror(pipe)) {
				perror("layoutlease: trace_pipe");
				ret = 1;
			}
			break;
		}
		if (print_trace_line(line, json)) {
			seen++;
			if (fflush(stdout)) {
				ret = 1;
				break;
			}
		}
	}
	fclose(pipe);
out_disable:
	snprintf(path, sizeof(path), "%s/events/layoutlease/enable", inst);
	write_str(path, "0");
out_rmdir:
	if (rmdir(inst))
		fprintf(stderr, "layoutlease: %s: %s\n", inst, strerror(errno));
	return ret;
}

int cmd_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "fd", required_argument, NULL, 'f' },
		{ "pid", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int opt, json = 0, fd = -1, pid = 0, pidfd = -1;
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned long long id;
	long count = -1;
	char *end;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "Jc:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'J':
			json = 1;
			break;
		case 'f':
			fd = strtol(optarg, &end, 10);
			if (*end || fd < 0)
				return watch_usage(stderr);
			break;
		case 'p':
			pid = strtol(optarg, &end, 10);
			if (*end || pid <= 0)
				return watch_usage(stderr);
			break;
		case 'c':
			count = strtol(optarg, &end, 10);
			if (*end || count <= 0)
				return watch_usage(stderr);
			break;
		case 'h':
			return watch_usage(stdout);
		default:
			return watch_usage(stderr);
		}
	}
	if (optind != argc || (pid && fd < 0))
		return watch_usage(stderr);
	/* No SA_RESTART: a blocked read or poll returns, and we clean up. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (fd < 0)
		return watch_trace(count, json);
	if (pid) {
		int theirs = fd;

		pidfd = syscall(SYS_pidfd_open, pid, 0);
		if (pidfd < 0) {
			fprintf(stderr, "layoutlease: process %d: %s\n", pid, strerror(errno));
			return 1;
		}
		fd = syscall(SYS_pidfd_getfd, pidfd, theirs, 0);
		if (fd < 0) {
			fprintf(stderr, "layoutlease: fd %d of process %d: %s\n", theirs, pid,
				strerror(errno));
			return 1;
		}
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	if (!is_lease_fd(fd, &id)) {
		fprintf(stderr, "layoutlease: fd %d is not a lease fd\n", fd);
		return 1;
	}
	/* The first poll makes this process's queue: records from here on. */
	poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, 0);
	fprintf(stderr, "layoutlease: watching lease %llu\n", id);
	return watch_fd(fd, pidfd, count, json);
}
