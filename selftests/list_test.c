// SPDX-License-Identifier: GPL-2.0
/*
 * `layoutlease list` and `layoutlease list --json` against a known set of
 * leases: two leases of one file, one with two pins of which one is
 * exported and a signal owner, and a second process that holds an fd of
 * it; then the same lease while it breaks.  The JSON must pass
 * Documentation/layoutlease-list.schema.json and carry the known values
 * (selftests/list_check.py, python3-jsonschema); the table must show them.
 */
#define _GNU_SOURCE
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "layoutlease_utils.h"

#define NPAGES 16
/*
 * The first lease's break timeout: long enough that the breaking lease is
 * still breaking when the listing runs on a loaded KASAN guest (its
 * deadline passing would revoke it), short of the module's 30 s cap.
 */
#define TIMEOUT_MS 20000

FIXTURE(list) {
	char path[256], tool[PATH_MAX + 64], dir[PATH_MAX + 64], out[300], want[300];
	int devfd, fd, lease_fd, lease2_fd, dmabuf_fd;
	unsigned long long id, id2;
	size_t len;
	char *map;
	pid_t kid;
};

FIXTURE_VARIANT(list) {
	const char *fs;
};

FIXTURE_VARIANT_ADD(list, xfs) { .fs = "xfs" };
FIXTURE_VARIANT_ADD(list, ext4) { .fs = "ext4" };

/* The lease id of @lease_fd, from its fdinfo. */
static unsigned long long lease_id(int lease_fd)
{
	char p[64], line[256];
	unsigned long long id = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", lease_fd);
	f = fopen(p, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "lease %llu:", &id) == 1)
			break;
	if (f)
		fclose(f);
	return id;
}

/* Run the command with @args, its output into @out; its exit code. */
static int run_tool(FIXTURE_DATA(list) *self, const char *args, const char *out)
{
	char cmd[PATH_MAX * 3];

	snprintf(cmd, sizeof(cmd), "%s %s > %s 2>&1", self->tool, args, out);
	return WEXITSTATUS(system(cmd));
}

/* `@what --json` checked against @want (JSON) by list_check.py. */
static int check_json_of(FIXTURE_DATA(list) *self, const char *what, const char *want)
{
	char cmd[PATH_MAX * 4], args[64];
	FILE *f = fopen(self->want, "w");

	if (!f)
		return -1;
	fputs(want, f);
	fclose(f);
	snprintf(args, sizeof(args), "%s --json", what);
	if (run_tool(self, args, self->out))
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 %s/list_check.py %s/../Documentation/layoutlease-%s.schema.json %s %s >&2 || { cat %s >&2; exit 1; }",
		 self->dir, self->dir, what, self->out, self->want, self->out);
	return WEXITSTATUS(system(cmd));
}

static int check_json(FIXTURE_DATA(list) *self, const char *want)
{
	return check_json_of(self, "list", want);
}

static bool file_has(const char *path, const char *what)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(path, "r");

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, what);
	if (f)
		fclose(f);
	return found;
}

FIXTURE_SETUP(list)
{
	char self_exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	char *exe_dir;
	long ps = sysconf(_SC_PAGESIZE);
	__u64 pin1, pin2;
	char line[64];
	int i;

	self_exe[n > 0 ? n : 0] = 0;
	exe_dir = dirname(self_exe);
	snprintf(self->tool, sizeof(self->tool), "%s/../tools/layoutlease", exe_dir);
	/* The checker lives beside the sources: build/selftests -> selftests. */
	snprintf(self->dir, sizeof(self->dir), "%s/../../selftests", exe_dir);
	if (access("/usr/bin/python3", X_OK) ||
	    system("/usr/bin/python3 -c 'import jsonschema' 2>/dev/null"))
		SKIP(return, "no python3-jsonschema");
	ASSERT_EQ(0, access(self->tool, X_OK)) TH_LOG("%s: make -C tools", self->tool);
	self->len = NPAGES * ps;
	self->devfd = ll_dev_open();
	ASSERT_LE(0, self->devfd);
	snprintf(self->path, sizeof(self->path), "%s/list.%d", ll_mount(variant->fs), getpid());
	snprintf(self->out, sizeof(self->out), "/tmp/list_test.%d.json", getpid());
	snprintf(self->want, sizeof(self->want), "/tmp/list_test.%d.want", getpid());
	self->fd = open(self->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ftruncate(self->fd, self->len));
	self->map = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	memset(self->map, 1, self->len);
	ASSERT_EQ(0, _test_cmd_lease_create(self->devfd, self->fd, 0, self->len, TIMEOUT_MS, 0,
					    &self->lease_fd));
	ASSERT_EQ(0, _test_cmd_lease_create(self->devfd, self->fd, ps, 2 * ps, 0, 0,
					    &self->lease2_fd));
	self->id = lease_id(self->lease_fd);
	self->id2 = lease_id(self->lease2_fd);
	ASSERT_NE(0, self->id);
	ASSERT_NE(0, self->id2);
	ASSERT_EQ(0, _test_cmd_pin(self->lease_fd, self->map, 4 * ps, 0, &pin1));
	ASSERT_EQ(0, _test_cmd_pin(self->lease_fd, self->map + 8 * ps, 2 * ps, 0, &pin2));
	ASSERT_EQ(0, _test_cmd_export(self->lease_fd, pin2, 0, &self->dmabuf_fd));
	ASSERT_EQ(0, _test_cmd_owner(self->lease_fd, self->lease_fd, SIGUSR1));
	signal(SIGUSR1, SIG_IGN);
	/* A second process with the lease fd, an owner once it polls it. */
	self->kid = fork();
	ASSERT_LE(0, self->kid);
	if (!self->kid) {
		struct pollfd p = { .fd = self->lease_fd, .events = POLLIN };

		prctl(PR_SET_NAME, "list-kid");
		poll(&p, 1, 0);
		pause();
		_exit(0);
	}
	snprintf(line, sizeof(line), "owner %d:", self->kid);
	for (i = 0; i < 300 && !file_has("/proc/layoutleases", line); i++)
		usleep(10000);
	ASSERT_TRUE(file_has("/proc/layoutleases", line));
}

FIXTURE_TEARDOWN(list)
{
	if (self->kid > 0) {
		kill(self->kid, SIGKILL);
		waitpid(self->kid, NULL, 0);
	}
	if (self->dmabuf_fd > 0)
		close(self->dmabuf_fd);
	close(self->lease2_fd);
	close(self->lease_fd);
	if (self->map && self->map != MAP_FAILED)
		munmap(self->map, self->len);
	close(self->fd);
	unlink(self->path);
	unlink(self->out);
	unlink(self->want);
	close(self->devfd);
}

/* python3 and jsonschema start in seconds on a KASAN guest under TCG. */
TEST_F_TIMEOUT(list, json_known_leases, 120)
{
	long ps = sysconf(_SC_PAGESIZE);
	char want[2048], line[256];
	struct stat st;

	ASSERT_EQ(0, fstat(self->fd, &st));
	snprintf(want, sizeof(want),
		 "{\"leases\": [{\"id\": %llu, \"state\": \"active\", \"dev\": \"%u:%u\","
		 " \"inode\": %llu, \"path\": \"%s\", \"start\": 0, \"end\": %zu,"
		 " \"timeout_ms\": %d, \"deadline_ms\": null, \"npins\": 2,"
		 " \"pinned_pages\": 6, \"exports\": 1,"
		 " \"pins\": [{\"offset\": 0, \"pages\": 4, \"exported\": false},"
		 "            {\"offset\": %ld, \"pages\": 2, \"exported\": true}],"
		 " \"owners\": [{\"pid\": %d, \"fd\": %d, \"signal\": %d},"
		 "              {\"pid\": %d, \"command\": \"list-kid\", \"signal\": 0}]},"
		 " {\"id\": %llu, \"start\": %ld, \"end\": %ld, \"npins\": 0, \"pins\": [],"
		 "  \"exports\": 0, \"path\": \"%s\"}]}",
		 self->id, major(st.st_dev), minor(st.st_dev), (unsigned long long)st.st_ino,
		 self->path, self->len - 1, TIMEOUT_MS, 8 * ps, getpid(), self->lease_fd, SIGUSR1,
		 self->kid, self->id2, ps, 3 * ps - 1, self->path);
	EXPECT_EQ(0, check_json(self, want));

	/* The table: a header, the path, the state, the owners. */
	ASSERT_EQ(0, run_tool(self, "list", self->out));
	EXPECT_TRUE(file_has(self->out, "ID     STATE"));
	snprintf(line, sizeof(line), "%d/list-kid", self->kid);
	EXPECT_TRUE(file_has(self->out, line));
	EXPECT_TRUE(file_has(self->out, self->path));
	EXPECT_TRUE(file_has(self->out, "ACTIVE"));
	EXPECT_EQ(2, run_tool(self, "list --bogus", self->out));
}

/* While the lease breaks: state breaking, a deadline; gone after close. */
TEST_F_TIMEOUT(list, json_breaking_then_gone, 120)
{
	char want[512];
	pid_t trunc;
	int i;

	trunc = ll_truncate_child(self->path, 0);
	ASSERT_LT(0, trunc);
	for (i = 0; i < 200; i++) {
		if (!run_tool(self, "list --raw", self->out) && file_has(self->out, "BREAKING"))
			break;
		usleep(10000);
	}
	snprintf(want, sizeof(want),
		 "{\"leases\": [{\"id\": %llu, \"state\": \"breaking\", \"npins\": 2,"
		 " \"deadline_ms\": {\"$type\": \"int\"}}]}", self->id);
	EXPECT_EQ(0, check_json(self, want));
	/* The holder gives everything back; the truncate goes on. */
	close(self->dmabuf_fd);
	self->dmabuf_fd = -1;
	kill(self->kid, SIGKILL);
	waitpid(self->kid, NULL, 0);
	self->kid = 0;
	close(self->lease_fd);
	close(self->lease2_fd);
	munmap(self->map, self->len);
	self->map = NULL;
	self->lease_fd = self->lease2_fd = -1;
	EXPECT_EQ(0, ll_wait_child(trunc));
	for (i = 0; i < 300 && ll_proc_leases(); i++)
		usleep(10000);
	snprintf(want, sizeof(want), "{\"leases\": [], \"absent\": [%llu, %llu]}",
		 self->id, self->id2);
	EXPECT_EQ(0, check_json(self, want));
}

/* info --json: the schema, this header's API version, the commands. */
TEST_F_TIMEOUT(list, info_json, 120)
{
	char want[256];

	snprintf(want, sizeof(want),
		 "{\"match\": {\"device\": \"%s\", \"api_version\": %d, \"tool_api_version\": %d,"
		 " \"commands\": [\"GET_INFO\", \"LEASE_CREATE\", \"PIN\", \"UNPIN\", \"OWNER\", \"EXPORT\"]}}",
		 LAYOUTLEASE_DEVICE, LAYOUTLEASE_API_VERSION, LAYOUTLEASE_API_VERSION);
	EXPECT_EQ(0, check_json_of(self, "info", want));
	EXPECT_EQ(2, run_tool(self, "info --bogus", self->out));
	EXPECT_EQ(0, run_tool(self, "info --help", self->out));
	EXPECT_TRUE(file_has(self->out, "exit status"));
}

TEST_HARNESS_MAIN
