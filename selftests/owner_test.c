// SPDX-License-Identifier: GPL-2.0
/*
 * Owners and processes: si_fd per process after fork and SCM_RIGHTS, no
 * signal after close, a signal taken by another thread or after the main
 * thread exited, O_ASYNC/F_SETSIG,
 * EAGAIN and EINTR during a break, SIGKILL of a holder, threads racing on
 * one lease fd, RLIMIT_MEMLOCK.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/capability.h>

#include "layoutlease_utils.h"

#define NPAGES 16

static volatile sig_atomic_t got_sig, got_fd, nsig;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	got_sig = sig;
	got_fd = si->si_fd;
	nsig++;
}

static void catch(int sig)
{
	struct sigaction sa = {
		.sa_sigaction = on_signal,
		.sa_flags = SA_SIGINFO | SA_RESTART,
	};

	sigaction(sig, &sa, NULL);
}

static int wait_event_type(int lease_fd, int ms)
{
	return ll_next_event(lease_fd, ms).type;
}

FIXTURE(own) {
	int devfd, fd, lease_fd;
	char path[256];
	char *map;
	size_t len;
};

FIXTURE_VARIANT(own) {
	const char *fs;
};

FIXTURE_VARIANT_ADD(own, xfs) { .fs = "xfs" };
FIXTURE_VARIANT_ADD(own, ext4) { .fs = "ext4" };

FIXTURE_SETUP(own)
{
	self->len = NPAGES * sysconf(_SC_PAGESIZE);
	self->devfd = ll_dev_open();
	ASSERT_LE(0, self->devfd);
	snprintf(self->path, sizeof(self->path), "%s/owner.%d",
		 ll_mount(variant->fs), getpid());
	self->fd = open(self->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ftruncate(self->fd, self->len));
	self->map = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	/* Every holder here unpins when told (some sleep 200 ms first). */
	test_cmd_lease_create(self->fd, 0, self->len, COOP_TIMEOUT_MS,
			      &self->lease_fd);
	got_sig = got_fd = nsig = 0;
}

FIXTURE_TEARDOWN(own)
{
	munmap(self->map, self->len);
	close(self->lease_fd);
	close(self->fd);
	unlink(self->path);
	close(self->devfd);
}

/*
 * A forked child that moved the lease fd to 100 and a process that got it
 * by SCM_RIGHTS each get their own si_fd; a child that closed its fd gets
 * nothing.
 */
TEST_F(own, si_fd_per_process)
{
	int sv[2], pipes[3][2], i, report[3];
	pid_t kids[3], trunc;
	__u64 id;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, pipe(pipes[i]));
	for (i = 0; i < 3; i++) {
		kids[i] = fork();
		if (kids[i])
			continue;
		int fd = self->lease_fd;
		sigset_t none;

		catch(SIGUSR2);
		if (i == 0) {		/* fork, fd moved */
			fd = dup2(self->lease_fd, 100);
			close(self->lease_fd);
		} else if (i == 1) {	/* SCM_RIGHTS into a fresh process */
			close(self->lease_fd);
			fd = ll_recv_fd(sv[1]);
		}
		if (_test_cmd_owner(fd, fd, SIGUSR2))
			_exit(1);
		if (i == 2)		/* registered, then closed */
			close(fd);
		if (write(pipes[i][1], &fd, sizeof(fd)) != sizeof(fd))
			_exit(2);
		sigemptyset(&none);
		for (int t = 0; t < 30 && !nsig; t++)
			usleep(100000);
		report[0] = nsig ? got_fd : -1;
		if (write(pipes[i][1], report, sizeof(int)) != sizeof(int))
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(0, ll_send_fd(sv[0], self->lease_fd));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(sizeof(int), read(pipes[i][0], &report[i], sizeof(int)));
	catch(SIGUSR1);
	test_cmd_owner(self->lease_fd, SIGUSR1);
	test_cmd_pin(self->lease_fd, self->map, self->len, &id);
	trunc = ll_truncate_child(self->path, 0);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, wait_event_type(self->lease_fd, 5000));
	ASSERT_EQ(SIGUSR1, got_sig);
	ASSERT_EQ(self->lease_fd, got_fd);
	test_cmd_unpin(self->lease_fd, id);
	for (i = 0; i < 3; i++) {
		int fd_seen;

		ASSERT_EQ(sizeof(int), read(pipes[i][0], &fd_seen, sizeof(int)));
		if (i < 2) {
			ASSERT_EQ(report[i], fd_seen);
		} else {
			ASSERT_EQ(-1, fd_seen);	/* closed: no signal */
		}
		ASSERT_EQ(kids[i], waitpid(kids[i], NULL, 0));
	}
	ASSERT_EQ(100, report[0]);
	ASSERT_EQ(0, ll_wait_child(trunc));
}

struct leader_gone {
	int fd, report;
};

static void *wait_for_signal(void *arg)
{
	struct leader_gone *l = arg;
	struct timespec ts = { .tv_sec = 10 };
	siginfo_t si;
	sigset_t set;
	int fd = -1;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	if (sigtimedwait(&set, &si, &ts) == SIGUSR2)
		fd = si.si_fd;
	_exit(write(l->report, &fd, sizeof(fd)) == sizeof(fd) ? 0 : 1);
}

static char proc_state(pid_t pid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] ? p[2] : 0;
}

/*
 * The signal is the process's, not one thread's: a thread that waits for it
 * with sigwaitinfo() while the others block it gets it, with its si_fd,
 * also after the main thread exited (a zombie thread-group leader).
 */
static void signal_thread(struct __test_metadata *_metadata,
			  FIXTURE_DATA(own) *self, bool leader_exits)
{
	int ready[2], report[2], fd_seen, t;
	struct leader_gone l;
	pid_t child, trunc;
	__u64 id;
	char c;

	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(report));
	child = fork();
	if (!child) {
		sigset_t set;
		pthread_t th;

		sigemptyset(&set);
		sigaddset(&set, SIGUSR2);
		sigprocmask(SIG_BLOCK, &set, NULL);	/* inherited by th */
		l = (struct leader_gone){ self->lease_fd, report[1] };
		if (_test_cmd_owner(self->lease_fd, self->lease_fd, SIGUSR2) ||
		    pthread_create(&th, NULL, wait_for_signal, &l) ||
		    write(ready[1], "r", 1) != 1)
			_exit(1);
		if (leader_exits)
			pthread_exit(NULL);
		pthread_join(th, NULL);
		_exit(1);	/* wait_for_signal() ends the process */
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	if (leader_exits) {
		for (t = 0; t < 500 && proc_state(child) != 'Z'; t++)
			usleep(10000);
		ASSERT_EQ('Z', proc_state(child));	/* the leader is gone */
	}
	test_cmd_pin(self->lease_fd, self->map, self->len, &id);
	trunc = ll_truncate_child(self->path, 0);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, wait_event_type(self->lease_fd, 5000));
	test_cmd_unpin(self->lease_fd, id);
	ASSERT_EQ(sizeof(int), read(report[0], &fd_seen, sizeof(int)));
	ASSERT_EQ(self->lease_fd, fd_seen);
	ASSERT_EQ(child, waitpid(child, NULL, 0));
	ASSERT_EQ(0, ll_wait_child(trunc));
}

TEST_F(own, signal_thread)
{
	signal_thread(_metadata, self, false);
}

TEST_F(own, leader_exited)
{
	signal_thread(_metadata, self, true);
}

/* The standard fcntl(F_SETOWN_EX, F_SETSIG, O_ASYNC) works too. */
TEST_F(own, fasync)
{
	struct f_owner_ex owner = { .type = F_OWNER_PID, .pid = getpid() };
	__u64 id;
	pid_t trunc;

	catch(SIGRTMIN + 1);
	ASSERT_EQ(0, fcntl(self->lease_fd, F_SETOWN_EX, &owner));
	ASSERT_EQ(0, fcntl(self->lease_fd, F_SETSIG, SIGRTMIN + 1));
	ASSERT_EQ(0, fcntl(self->lease_fd, F_SETFL,
			   fcntl(self->lease_fd, F_GETFL) | O_ASYNC));
	test_cmd_pin(self->lease_fd, self->map, self->len, &id);
	trunc = ll_truncate_child(self->path, 0);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, wait_event_type(self->lease_fd, 5000));
	ASSERT_EQ(SIGRTMIN + 1, got_sig);
	ASSERT_EQ(self->lease_fd, got_fd);
	test_cmd_unpin(self->lease_fd, id);
	ASSERT_EQ(0, ll_wait_child(trunc));
}

static void on_alarm(int sig)
{
}

/* During a break: EAGAIN when non-blocking, EINTR on a signal, pins intact. */
TEST_F(own, during_break)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	__u64 id, id2;
	pid_t trunc;

	test_cmd_pin(self->lease_fd, self->map, self->len / 2, &id);
	trunc = ll_truncate_child(self->path, 0);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, wait_event_type(self->lease_fd, 5000));
	test_err_pin(EAGAIN, self->lease_fd, self->map + self->len / 2,
		     self->len / 2, LAYOUTLEASE_PIN_NONBLOCK);
	test_err_lease_create(EAGAIN, self->fd, 0, self->len, 0,
			      LAYOUTLEASE_LEASE_NONBLOCK);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ualarm(200000, 0);
	test_err_pin(EINTR, self->lease_fd, self->map + self->len / 2,
		     self->len / 2, 0);
	/* The pin made before the break is intact: unpinning it ends the break. */
	test_cmd_unpin(self->lease_fd, id);
	ASSERT_EQ(0, ll_wait_child(trunc));
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK_DONE, wait_event_type(self->lease_fd, 1000));
	/* After the break, pins are granted again (the file is now empty). */
	ASSERT_EQ(0, ftruncate(self->fd, self->len));
	test_cmd_pin(self->lease_fd, self->map, self->len, &id2);
	test_cmd_unpin(self->lease_fd, id2);
}

struct repin {
	int lease_fd, fd;
	char *map;
	int ret;
	off_t size;
	volatile int done;
};

static void *repin_thread(void *arg)
{
	struct repin *r = arg;
	struct stat st;
	__u64 id;

	r->ret = _test_cmd_pin(r->lease_fd, r->map, sysconf(_SC_PAGESIZE), 0, &id);
	fstat(r->fd, &st);
	r->size = st.st_size;
	r->done = 1;
	return NULL;
}

/*
 * A pin asked for during a break waits for the break to end, and is only
 * made once the filesystem operation is done: a holder that pins again
 * right after unpinning cannot hold the truncate up.
 */
TEST_F(own, pin_waits_for_break)
{
	struct repin r = { self->lease_fd, self->fd, self->map, -1, 0, 0 };
	pthread_t t;
	pid_t trunc;
	__u64 id;

	test_cmd_pin(self->lease_fd, self->map, self->len, &id);
	trunc = ll_truncate_child(self->path, self->len / 2);
	ASSERT_EQ(LAYOUTLEASE_EVENT_BREAK, wait_event_type(self->lease_fd, 5000));
	ASSERT_EQ(0, pthread_create(&t, NULL, repin_thread, &r));
	usleep(200000);
	ASSERT_EQ(0, r.done);
	test_cmd_unpin(self->lease_fd, id);
	ASSERT_EQ(0, ll_wait_child(trunc));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, r.ret);
	ASSERT_EQ(self->len / 2, r.size);
}

/* A holder killed with SIGKILL leaves nothing; the waiting truncate goes on. */
TEST_F(own, sigkill_holder)
{
	int ready[2], lease_fd;
	long long t0;
	pid_t holder, trunc;
	char c;

	ASSERT_EQ(0, pipe(ready));
	holder = fork();
	if (!holder) {
		__u64 id;

		if (_test_cmd_lease_create(self->devfd, self->fd, 0, self->len,
					   30000, 0, &lease_fd) ||
		    _test_cmd_pin(lease_fd, self->map, self->len, 0, &id))
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	t0 = ll_now_ms();
	trunc = ll_truncate_child(self->path, 0);
	usleep(300000);
	ASSERT_EQ(0, kill(holder, SIGKILL));
	ASSERT_EQ(holder, waitpid(holder, NULL, 0));
	ASSERT_EQ(0, ll_wait_child(trunc));
	TH_LOG("truncate done %lld ms after start (holder killed at 300 ms, timeout 30 s)",
	       ll_now_ms() - t0);
	ASSERT_GT(5000, ll_now_ms() - t0);
}

struct hammer {
	int lease_fd;
	char *map;
	size_t len;
	int errors;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	long ps = sysconf(_SC_PAGESIZE);
	int i;

	for (i = 0; i < 200; i++) {
		__u64 id;
		char *addr = h->map + (i % 8) * ps;
		struct layoutlease_unpin bad = { .size = 3 };

		if (_test_cmd_pin(h->lease_fd, addr, ps, 0, &id)) {
			h->errors++;
			continue;
		}
		if (!ioctl(h->lease_fd, LAYOUTLEASE_IOC_UNPIN, &bad) ||
		    _test_cmd_pin(h->lease_fd, addr + 1, ps, 0, NULL) == 0 ||
		    _test_cmd_unpin(h->lease_fd, id + 1000000) == 0)
			h->errors++;
		if (_test_cmd_unpin(h->lease_fd, id))
			h->errors++;
	}
	return NULL;
}

/* Threads racing on one lease fd, with bad requests among good ones. */
TEST_F(own, threads)
{
	struct hammer h[4];
	pthread_t t[4];
	__u64 keep;
	int i;

	test_cmd_pin(self->lease_fd, self->map + 8 * sysconf(_SC_PAGESIZE),
		     sysconf(_SC_PAGESIZE), &keep);
	for (i = 0; i < 4; i++) {
		h[i] = (struct hammer){ self->lease_fd, self->map, self->len, 0 };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, hammer_thread, &h[i]));
	}
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, pthread_join(t[i], NULL));
		ASSERT_EQ(0, h[i].errors);
	}
	test_cmd_unpin(self->lease_fd, keep);
}

/* Pins are charged to RLIMIT_MEMLOCK unless CAP_IPC_LOCK. */
TEST_F(own, rlimit_memlock)
{
	pid_t pid = fork();
	int status;

	if (!pid) {
		struct __user_cap_header_struct hdr = {
			.version = _LINUX_CAPABILITY_VERSION_3,
		};
		struct __user_cap_data_struct data[2];
		long ps = sysconf(_SC_PAGESIZE);
		struct rlimit rl = { 4 * ps, 4 * ps };
		__u64 id;

		if (syscall(SYS_capget, &hdr, data))
			_exit(10);
		data[CAP_IPC_LOCK / 32].effective &= ~(1U << (CAP_IPC_LOCK % 32));
		if (syscall(SYS_capset, &hdr, data) || setrlimit(RLIMIT_MEMLOCK, &rl))
			_exit(11);
		if (_test_cmd_pin(self->lease_fd, self->map, 4 * ps, 0, &id))
			_exit(12);
		if (!_test_cmd_pin(self->lease_fd, self->map + 4 * ps, ps, 0, NULL) ||
		    errno != ENOMEM)
			_exit(13);
		if (_test_cmd_unpin(self->lease_fd, id) ||
		    _test_cmd_pin(self->lease_fd, self->map + 4 * ps, 4 * ps, 0, &id) ||
		    _test_cmd_unpin(self->lease_fd, id))
			_exit(14);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));
}

/* The module cannot be unloaded while a lease exists. */
TEST_F(own, unload_busy)
{
	ASSERT_NE(0, system("rmmod layoutlease 2>/dev/null"));
}

TEST_HARNESS_MAIN
