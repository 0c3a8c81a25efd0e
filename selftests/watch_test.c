// SPDX-License-Identifier: GPL-2.0
/*
 * `layoutlease watch` and tools/layoutlease-break.bt on the real module:
 * the records of a lease fd the command inherited (the holder's own queue
 * keeps them too), of a copy taken from another process (pidfd_getfd; the
 * watch ends with that process), every lease from the tracepoints (who
 * broke, who unpinned; its tracefs instance is gone afterwards), the JSON
 * lines against Documentation/layoutlease-watch.schema.json, bad input;
 * and the bpftrace script's timeline of a cooperative and a forced break,
 * where bpftrace works on the kernel.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "layoutlease_utils.h"

#define NPAGES 16

FIXTURE(w) {
	char path[256], tool[PATH_MAX + 64], top[PATH_MAX];
	size_t len;
	char *map;
	int fd, devfd;
};

FIXTURE_VARIANT(w) {
	const char *fs;
};

FIXTURE_VARIANT_ADD(w, xfs) { .fs = "xfs" };
FIXTURE_VARIANT_ADD(w, ext4) { .fs = "ext4" };

FIXTURE_SETUP(w)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	exe[n > 0 ? n : 0] = 0;
	/* build/selftests/watch_test: the top of the tree is two up. */
	snprintf(self->top, sizeof(self->top), "%s/../..", dirname(exe));
	snprintf(self->tool, sizeof(self->tool), "%s/build/tools/layoutlease", self->top);
	ASSERT_EQ(0, access(self->tool, X_OK)) TH_LOG("%s: make -C tools", self->tool);
	self->len = NPAGES * sysconf(_SC_PAGESIZE);
	self->devfd = ll_dev_open();
	ASSERT_LE(0, self->devfd);
	snprintf(self->path, sizeof(self->path), "%s/watch.%d", ll_mount(variant->fs), getpid());
	self->fd = open(self->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ftruncate(self->fd, self->len));
	self->map = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	memset(self->map, 1, self->len);
}

FIXTURE_TEARDOWN(w)
{
	munmap(self->map, self->len);
	close(self->fd);
	close(self->devfd);
	unlink(self->path);
}

/* A command running with its stdout and stderr in pipes. */
struct cmd {
	pid_t pid;
	int out, err;
	char obuf[1 << 16], ebuf[8192];
	size_t olen, elen;
};

/* Run @argv; @keep_fd (>= 0) is inherited as it is. */
static int cmd_start(struct cmd *c, char *const argv[], int keep_fd)
{
	int o[2], e[2];

	if (pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC))
		return -1;
	c->olen = c->elen = 0;
	c->pid = fork();
	if (c->pid < 0)
		return -1;
	if (!c->pid) {
		/* Ended with the test, whatever way it ends. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(o[1], 1);
		dup2(e[1], 2);
		if (keep_fd >= 0)
			fcntl(keep_fd, F_SETFD, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	c->out = o[0];
	c->err = e[0];
	return 0;
}

/*
 * Read what is there, for up to @ms, until @what is in stdout from offset
 * @from on (or in stderr).
 */
static bool cmd_wait_from(struct cmd *c, bool in_err, size_t from, const char *what, int ms)
{
	long long end = ll_now_ms() + ms;

	for (;;) {
		struct pollfd p[2] = { { .fd = c->out, .events = POLLIN },
				       { .fd = c->err, .events = POLLIN } };
		long long left = end - ll_now_ms();
		ssize_t n;

		c->obuf[c->olen] = 0;
		c->ebuf[c->elen] = 0;
		if (strstr(in_err ? c->ebuf : c->obuf + from, what))
			return true;
		if (left <= 0 || poll(p, 2, left) <= 0)
			return false;
		if (p[0].revents) {
			n = read(c->out, c->obuf + c->olen, sizeof(c->obuf) - 1 - c->olen);
			if (n > 0)
				c->olen += n;
		}
		if (p[1].revents) {
			n = read(c->err, c->ebuf + c->elen, sizeof(c->ebuf) - 1 - c->elen);
			if (n > 0)
				c->elen += n;
		}
		if (!(p[0].revents & POLLIN) && !(p[1].revents & POLLIN) &&
		    (p[0].revents & POLLHUP) && (p[1].revents & POLLHUP))
			return false;	/* it exited, and all is read */
	}
}

static bool cmd_wait_for(struct cmd *c, bool in_err, const char *what, int ms)
{
	return cmd_wait_from(c, in_err, 0, what, ms);
}

/* Wait for the command to exit (SIGINT first if @interrupt); its status. */
static int cmd_end(struct cmd *c, bool interrupt, int ms)
{
	long long end = ll_now_ms() + ms;
	int status;

	if (interrupt)
		kill(c->pid, SIGINT);
	while (waitpid(c->pid, &status, WNOHANG) == 0) {
		if (ll_now_ms() > end) {
			kill(c->pid, SIGKILL);
			waitpid(c->pid, &status, 0);
			status = -1;
			break;
		}
		cmd_wait_for(c, false, "\x01never", 50);
	}
	cmd_wait_for(c, false, "\x01never", 100);	/* the rest of the output */
	close(c->out);
	close(c->err);
	return status < 0 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Whether @what occurs in @buf after @after (NULL: anywhere); where. */
static const char *after(const char *buf, const char *after, const char *what)
{
	return after ? strstr(after, what) : strstr(buf, what);
}

/*
 * The MS column of the first line of bpftrace's timeline holding both @a
 * and @b, or -1.  bpftrace prints each CPU's records in turn, so lines of
 * different CPUs may come out of order: order is judged by this column.
 */
static double step_ms(const char *buf, const char *a, const char *b)
{
	const char *l = buf;

	while (*l) {
		const char *e = strchrnul(l, '\n');
		char line[256];

		snprintf(line, sizeof(line), "%.*s", (int)(e - l), l);
		if (strstr(line, a) && strstr(line, b))
			return strtod(line, NULL);
		l = *e ? e + 1 : e;
	}
	return -1;
}

/* Whether the line of @buf that holds @at has @what. */
static bool in_line(const char *buf, const char *at, const char *what)
{
	const char *b = at, *e = strchr(at, '\n');
	const char *f;

	while (b > buf && b[-1] != '\n')
		b--;
	f = strstr(b, what);
	return f && (!e || f < e);
}

/* A truncating child named "ll-truncator", as the trace should show it. */
static pid_t truncator(const char *path)
{
	pid_t pid = fork();

	if (!pid) {
		prctl(PR_SET_NAME, "ll-truncator");
		_exit(truncate(path, 0) ? 1 : 0);
	}
	return pid;
}

/* The lease, its whole pin, a break by a child that the holder answers. */
static void cooperative_break(struct __test_metadata *_metadata, FIXTURE_DATA(w) *self,
			      int lease_fd, __u64 pin)
{
	pid_t pid = truncator(self->path);

	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, ll_next_event(lease_fd, 10000).type);
	test_cmd_unpin(lease_fd, pin);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK_DONE, ll_next_event(lease_fd, 10000).type);
	ASSERT_EQ(0, ll_wait_child(pid));
}

static int validate_json(FIXTURE_DATA(w) *self, const char *text)
{
	char file[64], cmd[PATH_MAX + 512];
	FILE *f;

	if (system("/usr/bin/python3 -c 'import jsonschema' 2>/dev/null"))
		return 0;	/* the lines are still checked by content */
	snprintf(file, sizeof(file), "/tmp/watch_test.%d.json", getpid());
	f = fopen(file, "w");
	if (!f)
		return -1;
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 -c 'import json, sys, jsonschema\n"
		 "s = json.load(open(sys.argv[1]))\n"
		 "n = 0\n"
		 "for l in open(sys.argv[2]):\n"
		 "    jsonschema.validate(json.loads(l), s); n += 1\n"
		 "sys.exit(0 if n else 1)' %s/Documentation/layoutlease-watch.schema.json %s >&2",
		 self->top, file);
	return system(cmd) ? -1 : (unlink(file), 0);
}

/*
 * Lease and pin the whole file, run `watch [@json] -c 2 --fd LEASE_FD` on
 * the inherited lease fd, break cooperatively (the holder's own queue gets
 * BREAK and BREAK_DONE too) and wait for the watch to exit 0.  Returns the
 * lease id; the output is in @c.
 */
static __u64 watch_one_break(struct __test_metadata *_metadata, FIXTURE_DATA(w) *self,
			     struct cmd *c, const char *json)
{
	struct layoutlease_lease_create lc = { .size = sizeof(lc), .fd = self->fd,
					       .length = self->len };
	char fdarg[16], id[64];
	char *argv[] = { self->tool, "watch", "-c", "2", "--fd", fdarg, NULL, NULL };
	__u64 pin;

	if (json) {
		argv[6] = argv[5];
		argv[5] = argv[4];
		argv[4] = argv[3];
		argv[3] = argv[2];
		argv[2] = (char *)json;
	}
	EXPECT_EQ(0, ioctl(self->devfd, LAYOUTLEASE_IOC_LEASE_CREATE, &lc));
	test_cmd_pin(lc.out_lease_fd, self->map, self->len, &pin);
	snprintf(fdarg, sizeof(fdarg), "%d", lc.out_lease_fd);
	snprintf(id, sizeof(id), "watching lease %llu", (unsigned long long)lc.out_lease_id);
	EXPECT_EQ(0, cmd_start(c, argv, lc.out_lease_fd));
	EXPECT_TRUE(cmd_wait_for(c, true, id, 20000)) TH_LOG("stderr: %s", c->ebuf);
	cooperative_break(_metadata, self, lc.out_lease_fd, pin);
	EXPECT_EQ(0, cmd_end(c, false, 20000)) TH_LOG("stderr: %s", c->ebuf);
	close(lc.out_lease_fd);
	return lc.out_lease_id;
}

/* The records of an inherited lease fd; the holder's queue keeps its own. */
TEST_F(w, fd_records)
{
	struct cmd *c = calloc(1, sizeof(*c));
	char want[128];
	const char *p;
	__u64 id;

	id = watch_one_break(_metadata, self, c, NULL);
	ASSERT_EQ(KSFT_PASS, _metadata->exit_code);
	snprintf(want, sizeof(want), " lease %llu BREAK range 0-%zu deadline in ",
		 (unsigned long long)id, self->len);
	p = after(c->obuf, NULL, want);
	ASSERT_NE(NULL, p) TH_LOG("output: %s", c->obuf);
	snprintf(want, sizeof(want), " lease %llu BREAK_DONE range 0-%zu\n",
		 (unsigned long long)id, self->len);
	ASSERT_NE(NULL, after(c->obuf, p, want)) TH_LOG("output: %s", c->obuf);
	free(c);
}

/* -J: one object per line, which the schema accepts. */
TEST_F(w, fd_json)
{
	struct cmd *c = calloc(1, sizeof(*c));
	char want[128];
	__u64 id;

	id = watch_one_break(_metadata, self, c, "-J");
	ASSERT_EQ(KSFT_PASS, _metadata->exit_code);
	snprintf(want, sizeof(want), "\"lease\": %llu, \"event\": \"BREAK\", \"pin\": 0, \"offset\": 0, \"length\": %zu,",
		 (unsigned long long)id, self->len);
	ASSERT_NE(NULL, strstr(c->obuf, want)) TH_LOG("output: %s", c->obuf);
	ASSERT_NE(NULL, strstr(c->obuf, "\"event\": \"BREAK_DONE\"")) TH_LOG("output: %s", c->obuf);
	ASSERT_EQ(0, validate_json(self, c->obuf)) TH_LOG("output: %s", c->obuf);
	free(c);
}

/* --pid: a copy of another process's lease fd; the watch ends with it. */
TEST_F(w, pid_copy)
{
	char fdarg[16], pidarg[16], id[64];
	char *argv[] = { self->tool, "watch", "--pid", pidarg, "--fd", fdarg, NULL };
	struct layoutlease_lease_create lc = { .size = sizeof(lc), .fd = self->fd,
					       .length = self->len };
	struct cmd *c = calloc(1, sizeof(*c));
	pid_t target;
	__u64 pin;

	ASSERT_EQ(0, ioctl(self->devfd, LAYOUTLEASE_IOC_LEASE_CREATE, &lc));
	test_cmd_pin(lc.out_lease_fd, self->map, self->len, &pin);
	/* Another process with the lease fd, which the watch copies it from. */
	target = fork();
	if (!target) {
		pause();
		_exit(0);
	}
	snprintf(fdarg, sizeof(fdarg), "%d", lc.out_lease_fd);
	snprintf(pidarg, sizeof(pidarg), "%d", target);
	snprintf(id, sizeof(id), "watching lease %llu", (unsigned long long)lc.out_lease_id);
	ASSERT_EQ(0, cmd_start(c, argv, -1));
	ASSERT_TRUE(cmd_wait_for(c, true, id, 20000)) TH_LOG("stderr: %s", c->ebuf);
	cooperative_break(_metadata, self, lc.out_lease_fd, pin);
	ASSERT_TRUE(cmd_wait_for(c, false, " BREAK_DONE ", 20000)) TH_LOG("output: %s", c->obuf);
	ASSERT_NE(NULL, strstr(c->obuf, " BREAK range ")) TH_LOG("output: %s", c->obuf);
	kill(target, SIGKILL);
	ASSERT_EQ(target, waitpid(target, NULL, 0));
	ASSERT_EQ(0, cmd_end(c, false, 20000)) TH_LOG("stderr: %s", c->ebuf);
	close(lc.out_lease_fd);
	free(c);
}

/* Bad input: a clear message and exit status; nothing the caller holds changes. */
TEST_F(w, bad_input)
{
	struct layoutlease_lease_create lc = { .size = sizeof(lc), .fd = self->fd,
					       .length = self->len };
	char fdarg[16];
	char *not_lease[] = { self->tool, "watch", "--fd", "1", NULL };
	char *no_fd[] = { self->tool, "watch", "--pid", "1", NULL };
	char *zero[] = { self->tool, "watch", "-c", "0", "--fd", "1", NULL };
	char *extra[] = { self->tool, "watch", "--fd", "1", "x", NULL };
	char *gone[] = { self->tool, "watch", "--pid", "999999999", "--fd", fdarg, NULL };
	char *badfd[] = { self->tool, "watch", "--pid", "1", "--fd", "999999", NULL };
	struct cmd *c = calloc(1, sizeof(*c));
	__u64 pin;

	ASSERT_EQ(0, ioctl(self->devfd, LAYOUTLEASE_IOC_LEASE_CREATE, &lc));
	test_cmd_pin(lc.out_lease_fd, self->map, self->len, &pin);
	snprintf(fdarg, sizeof(fdarg), "%d", lc.out_lease_fd);
	ASSERT_EQ(0, cmd_start(c, not_lease, -1));
	ASSERT_EQ(1, cmd_end(c, false, 20000));
	ASSERT_NE(NULL, strstr(c->ebuf, "not a lease fd")) TH_LOG("stderr: %s", c->ebuf);
	ASSERT_EQ(0, cmd_start(c, no_fd, -1));
	ASSERT_EQ(2, cmd_end(c, false, 20000));
	ASSERT_EQ(0, cmd_start(c, zero, -1));
	ASSERT_EQ(2, cmd_end(c, false, 20000));
	ASSERT_EQ(0, cmd_start(c, extra, -1));
	ASSERT_EQ(2, cmd_end(c, false, 20000));
	ASSERT_EQ(0, cmd_start(c, gone, -1));
	ASSERT_EQ(1, cmd_end(c, false, 20000));
	ASSERT_EQ(0, cmd_start(c, badfd, -1));
	ASSERT_EQ(1, cmd_end(c, false, 20000));
	/* The lease and its pin are as they were. */
	test_cmd_unpin(lc.out_lease_fd, pin);
	close(lc.out_lease_fd);
	free(c);
}

/* No instance of ours is left in tracefs. */
static int watch_instances(void)
{
	DIR *d = opendir("/sys/kernel/tracing/instances");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += !strncmp(e->d_name, "layoutlease-watch.", 18);
	if (d)
		closedir(d);
	return n;
}

/* Every lease, from the tracepoints: who broke, who unpinned, in order. */
TEST_F(w, tracepoints)
{
	char *argv[] = { self->tool, "watch", NULL };
	char *jargv[] = { self->tool, "watch", "-J", NULL };
	struct cmd *c = calloc(1, sizeof(*c));
	char want[128];
	const char *p;
	int lease_fd, json;
	pid_t pid;
	__u64 pin;

	if (access("/sys/kernel/tracing/instances", W_OK))
		SKIP(return, "no tracefs");
	/* What a watch killed by SIGKILL leaves: the next watch removes it. */
	pid = fork();
	if (!pid)
		_exit(0);
	ASSERT_EQ(0, ll_wait_child(pid));
	snprintf(want, sizeof(want), "/sys/kernel/tracing/instances/layoutlease-watch.%d", pid);
	ASSERT_EQ(0, mkdir(want, 0700));
	for (json = 0; json < 2; json++) {
		ASSERT_EQ(0, ftruncate(self->fd, self->len));
		ASSERT_EQ(0, cmd_start(c, json ? jargv : argv, -1));
		ASSERT_TRUE(cmd_wait_for(c, true, "watching the tracepoints", 20000))
			TH_LOG("stderr: %s", c->ebuf);
		test_cmd_lease_create(self->fd, 0, self->len, 0, &lease_fd);
		test_cmd_pin(lease_fd, self->map, self->len, &pin);
		pid = truncator(self->path);
		ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, ll_next_event(lease_fd, 10000).type);
		test_cmd_unpin(lease_fd, pin);
		ASSERT_EQ(0, ll_wait_child(pid));
		close(lease_fd);
		ASSERT_TRUE(cmd_wait_for(c, false, json ? "\"event\": \"lease_release\"" :
					 " lease_release ", 20000))
			TH_LOG("output: %s", c->obuf);
		ASSERT_EQ(0, cmd_end(c, true, 20000)) TH_LOG("stderr: %s", c->ebuf);
		if (json) {
			/*
			 * The pid, not the comm: tracefs names a task from its
			 * saved_cmdlines, which may still have the name the
			 * child had before its prctl() (seen on 7.2).
			 */
			p = after(c->obuf, NULL, "\"event\": \"break_start\"");
			ASSERT_NE(NULL, p) TH_LOG("output: %s", c->obuf);
			snprintf(want, sizeof(want), "\"pid\": %d, ", pid);
			ASSERT_TRUE(in_line(c->obuf, p, want)) TH_LOG("output: %s", c->obuf);
			snprintf(want, sizeof(want), "\"pid\": %d, \"comm\": ", getpid());
			p = after(c->obuf, p, want);
			ASSERT_NE(NULL, p) TH_LOG("output: %s", c->obuf);
			ASSERT_NE(NULL, after(c->obuf, p, "\"event\": \"unpin\""));
			ASSERT_NE(NULL, strstr(c->obuf, "\"type\": \"BREAK_DONE\""));
			ASSERT_EQ(0, validate_json(self, c->obuf)) TH_LOG("output: %s", c->obuf);
		} else {
			p = after(c->obuf, NULL, " lease_create lease=");
			ASSERT_NE(NULL, p) TH_LOG("output: %s", c->obuf);
			snprintf(want, sizeof(want), "[%d] break_start ", pid);
			p = after(c->obuf, p, want);
			ASSERT_NE(NULL, p) TH_LOG("output: %s", c->obuf);
			p = after(c->obuf, p, " event lease=");
			ASSERT_NE(NULL, p) TH_LOG("output: %s", c->obuf);
			snprintf(want, sizeof(want), "[%d] unpin lease=", getpid());
			p = after(c->obuf, p, want);
			ASSERT_NE(NULL, p) TH_LOG("output: %s", c->obuf);
			ASSERT_NE(NULL, after(c->obuf, p, " break_end "));
			ASSERT_NE(NULL, strstr(c->obuf, " type=BREAK_DONE "));
		}
		ASSERT_EQ(0, watch_instances());
	}
	free(c);
}

/* Whether bpftrace works on this kernel at all. */
static bool bpftrace_works(void)
{
	return !access("/usr/bin/bpftrace", X_OK) &&
	       !system("timeout 300 /usr/bin/bpftrace -e 'BEGIN { exit(); }' >/dev/null 2>&1");
}

/*
 * tools/layoutlease-break.bt: a cooperative break (start by the truncating
 * task, the BREAK event, the holder's unpin, BREAK_DONE, the end) and a
 * forced one (the revocation at the deadline).
 */
TEST_F_TIMEOUT(w, bpftrace_timeline, 900)
{
	char script[PATH_MAX + 64];
	char *argv[] = { "/usr/bin/bpftrace", "-B", "line", script, NULL };
	struct cmd *c = calloc(1, sizeof(*c));
	char want[128];
	double t[5];
	size_t from;
	int lease_fd, i;
	pid_t pid;
	__u64 pin;

	if (!bpftrace_works())
		SKIP(return, "bpftrace does not work on this kernel");
	snprintf(script, sizeof(script), "%s/tools/layoutlease-break.bt", self->top);
	ASSERT_EQ(0, cmd_start(c, argv, -1));
	/* Attaching compiles the script: minutes under TCG on a debug kernel. */
	ASSERT_TRUE(cmd_wait_for(c, false, "STEP\n", 300000)) TH_LOG("stderr: %s", c->ebuf);

	test_cmd_lease_create(self->fd, 0, self->len, 0, &lease_fd);
	test_cmd_pin(lease_fd, self->map, self->len, &pin);
	pid = truncator(self->path);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, ll_next_event(lease_fd, 10000).type);
	test_cmd_unpin(lease_fd, pin);
	ASSERT_EQ(0, ll_wait_child(pid));
	/* Each CPU's lines come in their turn: wait for all of them. */
	ASSERT_TRUE(cmd_wait_for(c, false, " end ", 20000)) TH_LOG("output: %s", c->obuf);
	ASSERT_TRUE(cmd_wait_for(c, false, " unpin  lease ", 20000)) TH_LOG("output: %s", c->obuf);
	ASSERT_TRUE(cmd_wait_for(c, false, " event  BREAK_DONE ", 20000))
		TH_LOG("output: %s", c->obuf);
	snprintf(want, sizeof(want), " %-7d %-16s start ", pid, "ll-truncator");
	t[0] = step_ms(c->obuf, want, " dev ");
	t[1] = step_ms(c->obuf, " event  BREAK lease ", " lease ");
	snprintf(want, sizeof(want), " %-7d ", getpid());
	t[2] = step_ms(c->obuf, want, " unpin  lease ");
	t[3] = step_ms(c->obuf, " event  BREAK_DONE ", " lease ");
	t[4] = step_ms(c->obuf, " end    dev ", " after ");
	for (i = 0; i < 5; i++)
		if (t[i] < 0)
			break;
	ASSERT_EQ(5, i) TH_LOG("step %d missing: %s", i, c->obuf);
	/* start, BREAK, the holder's unpin, then BREAK_DONE and the end. */
	ASSERT_TRUE(t[0] <= t[1] && t[1] <= t[2] && t[2] <= t[3] && t[2] <= t[4])
		TH_LOG("out of order: %s", c->obuf);
	close(lease_fd);

	/* Forced: a holder that ignores the break, revoked at 200 ms. */
	ASSERT_EQ(0, ftruncate(self->fd, self->len));
	test_cmd_lease_create(self->fd, 0, self->len, 200, &lease_fd);
	test_cmd_pin(lease_fd, self->map, self->len, &pin);
	from = c->olen;
	pid = truncator(self->path);
	ASSERT_EQ(0, ll_wait_child(pid));
	ASSERT_TRUE(cmd_wait_from(c, false, from, "(deadline)\n", 20000)) TH_LOG("output: %s", c->obuf);
	ASSERT_TRUE(cmd_wait_from(c, false, from, " after ", 20000)) TH_LOG("output: %s", c->obuf);
	ASSERT_TRUE(cmd_wait_from(c, false, from, " event  REVOKED ", 20000))
		TH_LOG("output: %s", c->obuf);
	ASSERT_TRUE(cmd_wait_from(c, false, from, " start ", 20000)) TH_LOG("output: %s", c->obuf);
	close(lease_fd);
	ASSERT_EQ(0, cmd_end(c, true, 60000)) TH_LOG("stderr: %s", c->ebuf);
	TH_LOG("the timeline:\n%s", c->obuf);
	free(c);
}

TEST_HARNESS_MAIN
