// SPDX-License-Identifier: GPL-2.0
/*
 * layoutlease list [-J|--json] [-r|--raw]: the leases of the system, from
 * /proc/layoutleases, with lslocks-like columns, or as JSON (the schema is
 * Documentation/layoutlease-list.schema.json, checked by a VM test).
 *
 * /proc/layoutleases gives a file as its device and inode; the path is
 * the one an owner sees: the first of its mappings (/proc/PID/maps) and
 * then its open files (/proc/PID/fd) that is that device and inode.  A
 * reader who cannot see them (another user's process, another mount
 * namespace) gets no path: "-" in the table, null in JSON.
 *
 * Copyright (C) 2026 The layoutlease authors
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cmd.h"

struct owner {
	int pid, fd, signal;
	unsigned int queued;
	int overflow;
	char comm[64];
};

struct pin {
	unsigned long long id, offset;
	unsigned long pages;
	int exported;
};

struct lease {
	unsigned long long id, ino, start, end;
	unsigned int major, minor, timeout_ms;
	unsigned long npins, pages;
	int breaking, has_deadline, exclusive;
	long long deadline_ms;
	struct pin *pins;		/* as listed */
	unsigned int nlisted, pcap;
	struct owner *owners;
	unsigned int nowners, ocap;
	char *path;
};

/* Room for one more element of *@arr (@cap of @size each); 0 or -ENOMEM. */
static int grow(void **arr, unsigned int n, unsigned int *cap, size_t size)
{
	void *a;

	if (n < *cap)
		return 0;
	a = realloc(*arr, (*cap ? *cap * 2 : 4) * size);
	if (!a)
		return -ENOMEM;
	*arr = a;
	*cap = *cap ? *cap * 2 : 4;
	return 0;
}

static void comm_of(int pid, char *buf, size_t len)
{
	char p[64];
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/comm", pid);
	f = fopen(p, "r");
	buf[0] = 0;
	if (f) {
		if (fgets(buf, len, f))
			buf[strcspn(buf, "\n")] = 0;
		fclose(f);
	}
}

/*
 * The files a process can name: its mappings (/proc/PID/maps), then its
 * open fds, each as device, inode and path, sorted, read once per process
 * however many leases it owns.
 */
struct fent {
	dev_t dev;
	unsigned long long ino;
	unsigned int seq;	/* maps first, then fds: the first one wins */
	char *path;
};

struct pfiles {
	int pid;
	unsigned int n, cap;
	struct fent *e;
};

static struct pfiles *pcache;
static unsigned int npcache, pcap;

static void add_file(struct pfiles *pf, dev_t dev, unsigned long long ino, const char *path)
{
	char *p;

	if (grow((void **)&pf->e, pf->n, &pf->cap, sizeof(*pf->e)))
		return;
	p = strdup(path);
	if (!p)
		return;
	pf->e[pf->n] = (struct fent){ .dev = dev, .ino = ino, .seq = pf->n, .path = p };
	pf->n++;
}

static int fent_cmp(const void *a, const void *b)
{
	const struct fent *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void read_files(struct pfiles *pf)
{
	char p[PATH_MAX + 64], line[PATH_MAX + 256];
	unsigned int maj, min;
	unsigned long long i;
	struct dirent *de;
	struct stat st;
	int n;
	FILE *f;
	DIR *d;

	snprintf(p, sizeof(p), "/proc/%d/maps", pf->pid);
	f = fopen(p, "r");
	while (f && fgets(line, sizeof(line), f)) {
		/* start-end perms offset MAJ:MIN inode path */
		if (sscanf(line, "%*s %*s %*s %x:%x %llu %n", &maj, &min, &i, &n) == 3 &&
		    line[n] == '/') {
			line[strcspn(line, "\n")] = 0;
			/* A deleted file's path says so, as in maps. */
			add_file(pf, makedev(maj, min), i, line + n);
		}
	}
	if (f)
		fclose(f);
	snprintf(p, sizeof(p), "/proc/%d/fd", pf->pid);
	d = opendir(p);
	while (d && (de = readdir(d))) {
		ssize_t r;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/%d/fd/%s", pf->pid, de->d_name);
		if (stat(p, &st))
			continue;
		r = readlink(p, line, sizeof(line) - 1);
		if (r > 0 && line[0] == '/') {
			line[r] = 0;
			add_file(pf, st.st_dev, st.st_ino, line);
		}
	}
	if (d)
		closedir(d);
	qsort(pf->e, pf->n, sizeof(*pf->e), fent_cmp);
}

/* A path of @pid's for device @dev, inode @ino: a mapping, then an fd. */
static char *path_of(int pid, dev_t dev, unsigned long long ino)
{
	struct fent key = { .dev = dev, .ino = ino, .seq = 0 };
	struct pfiles *pf = NULL;
	unsigned int i, lo, hi;

	for (i = 0; i < npcache && !pf; i++)
		if (pcache[i].pid == pid)
			pf = &pcache[i];
	if (!pf) {
		if (grow((void **)&pcache, npcache, &pcap, sizeof(*pcache)))
			return NULL;
		pf = &pcache[npcache++];
		*pf = (struct pfiles){ .pid = pid };
		read_files(pf);
	}
	/* The first entry not below (dev, ino, 0). */
	for (lo = 0, hi = pf->n; lo < hi;) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (fent_cmp(&pf->e[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < pf->n && pf->e[lo].dev == dev && pf->e[lo].ino == ino)
		return strdup(pf->e[lo].path);
	return NULL;
}

static void free_pcache(void)
{
	unsigned int i, k;

	for (i = 0; i < npcache; i++) {
		for (k = 0; k < pcache[i].n; k++)
			free(pcache[i].e[k].path);
		free(pcache[i].e);
	}
	free(pcache);
	pcache = NULL;
	npcache = pcap = 0;
}

static void free_leases(struct lease *ls, int n)
{
	int k;

	for (k = 0; k < n; k++) {
		free(ls[k].pins);
		free(ls[k].owners);
		free(ls[k].path);
	}
	free(ls);
}

/* Parse /proc/layoutleases; returns the number of leases or -errno. */
static int read_leases(struct lease **out)
{
	FILE *f = fopen("/proc/layoutleases", "r");
	struct lease *ls = NULL, *l = NULL, *nls;
	char line[512], state[16];
	int n = 0, cap = 0, k;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "lease ", 6)) {
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				nls = realloc(ls, cap * sizeof(*ls));
				if (!nls)
					goto nomem;
				ls = nls;
			}
			l = &ls[n];
			memset(l, 0, sizeof(*l));
			k = sscanf(line, "lease %llu: %15s %x:%x:%llu %llu-%llu timeout %ums pins %lu pages %lu deadline %lldms",
				   &l->id, state, &l->major, &l->minor, &l->ino, &l->start, &l->end,
				   &l->timeout_ms, &l->npins, &l->pages, &l->deadline_ms);
			if (k < 10) {
				l = NULL;
				continue;
			}
			l->breaking = !strcmp(state, "BREAKING");
			l->has_deadline = k == 11;
			l->exclusive = !!strstr(line, " exclusive");
			n++;
		} else if (l && !strncmp(line, "  pin ", 6)) {
			struct pin p = {};

			if (sscanf(line, "  pin %llu: pinned offset %llu pages %lu",
				   &p.id, &p.offset, &p.pages) != 3)
				continue;
			if (grow((void **)&l->pins, l->nlisted, &l->pcap, sizeof(p)))
				goto nomem;
			p.exported = !!strstr(line, " exported");
			l->pins[l->nlisted++] = p;
		} else if (l && !strncmp(line, "  owner ", 8)) {
			struct owner o = {};

			if (sscanf(line, "  owner %d: fd %d signal %d queued %u",
				   &o.pid, &o.fd, &o.signal, &o.queued) != 4)
				continue;
			if (grow((void **)&l->owners, l->nowners, &l->ocap, sizeof(o)))
				goto nomem;
			o.overflow = !!strstr(line, " overflow");
			comm_of(o.pid, o.comm, sizeof(o.comm));
			l->owners[l->nowners++] = o;
		}
	}
	fclose(f);
	for (k = 0; k < n; k++) {
		dev_t dev = makedev(ls[k].major, ls[k].minor);

		for (unsigned int i = 0; i < ls[k].nowners && !ls[k].path; i++)
			ls[k].path = path_of(ls[k].owners[i].pid, dev, ls[k].ino);
	}
	*out = ls;
	return n;
nomem:
	fclose(f);
	free_leases(ls, n);
	return -ENOMEM;
}

static unsigned int exports_of(const struct lease *l)
{
	unsigned int i, e = 0;

	for (i = 0; i < l->nlisted; i++)
		e += l->pins[i].exported;
	return e;
}

/* A JSON string, or null. */
static void json_str(const char *s)
{
	if (!s) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_json(const struct lease *ls, int n)
{
	int k;

	printf("{\n   \"leases\": [");
	for (k = 0; k < n; k++) {
		const struct lease *l = &ls[k];
		unsigned int i;

		printf("%s\n      {\n", k ? "," : "");
		printf("         \"id\": %llu,\n", l->id);
		printf("         \"state\": \"%s\",\n", l->breaking ? "breaking" : "active");
		printf("         \"exclusive\": %s,\n", l->exclusive ? "true" : "false");
		printf("         \"dev\": \"%u:%u\",\n", l->major, l->minor);
		printf("         \"inode\": %llu,\n", l->ino);
		printf("         \"path\": ");
		json_str(l->path);
		printf(",\n         \"start\": %llu,\n", l->start);
		printf("         \"end\": %llu,\n", l->end);
		printf("         \"timeout_ms\": %u,\n", l->timeout_ms);
		printf("         \"deadline_ms\": ");
		if (l->has_deadline)
			printf("%lld", l->deadline_ms);
		else
			printf("null");
		printf(",\n         \"npins\": %lu,\n", l->npins);
		printf("         \"pinned_pages\": %lu,\n", l->pages);
		printf("         \"exports\": %u,\n", exports_of(l));
		printf("         \"pins\": [");
		for (i = 0; i < l->nlisted; i++)
			printf("%s\n            {\"id\": %llu, \"offset\": %llu, \"pages\": %lu, \"exported\": %s}",
			       i ? "," : "", l->pins[i].id, l->pins[i].offset, l->pins[i].pages,
			       l->pins[i].exported ? "true" : "false");
		printf("%s],\n", l->nlisted ? "\n         " : "");
		printf("         \"owners\": [");
		for (i = 0; i < l->nowners; i++) {
			const struct owner *o = &l->owners[i];

			printf("%s\n            {\"pid\": %d, \"command\": ", i ? "," : "", o->pid);
			json_str(o->comm[0] ? o->comm : NULL);
			printf(", \"fd\": %d, \"signal\": %d, \"queued\": %u, \"overflow\": %s}",
			       o->fd, o->signal, o->queued, o->overflow ? "true" : "false");
		}
		printf("%s]\n      }", l->nowners ? "\n         " : "");
	}
	printf("%s]\n}\n", n ? "\n   " : "");
}

static void print_table(const struct lease *ls, int n, int raw)
{
	int k;

	if (!raw)
		printf("%-6s %-8s %-10s %-10s %-5s %-8s %-7s %-8s %-32s %s\n", "ID", "STATE",
		       "START", "END", "PINS", "PAGES", "EXPORTS", "DEADLINE", "PATH", "OWNERS");
	for (k = 0; k < n; k++) {
		const struct lease *l = &ls[k];
		char deadline[32];
		unsigned int i;

		if (l->has_deadline)
			snprintf(deadline, sizeof(deadline), "%lldms", l->deadline_ms);
		else
			snprintf(deadline, sizeof(deadline), "-");
		printf(raw ? "%llu %s %llu %llu %lu %lu %u %s %s " :
			     "%-6llu %-8s %-10llu %-10llu %-5lu %-8lu %-7u %-8s %-32s ",
		       l->id, l->breaking ? "BREAKING" : l->exclusive ? "EXCL" : "ACTIVE",
		       l->start, l->end, l->npins,
		       l->pages, exports_of(l), deadline, l->path ? l->path : "-");
		for (i = 0; i < l->nowners; i++)
			printf("%s%d/%s", i ? "," : "", l->owners[i].pid,
			       l->owners[i].comm[0] ? l->owners[i].comm : "?");
		printf("%s\n", l->nowners ? "" : "-");
	}
}

static int list_usage(FILE *f)
{
	fprintf(f, "usage: layoutlease list [-J|--json] [-r|--raw]\n"
		   "  every lease of the system (/proc/layoutleases): its id, state\n"
		   "  (ACTIVE, BREAKING), byte range, pins, pinned pages, exported pins,\n"
		   "  the time left to its break's deadline, the file's path as its\n"
		   "  owners' mappings or fds show it, and its owners (pid/command)\n"
		   "  -J, --json  JSON (Documentation/layoutlease-list.schema.json)\n"
		   "  -r, --raw   no header, columns separated by one space\n"
		   "exit status: 0, 1 if /proc/layoutleases cannot be read (the module\n"
		   "is not loaded), 2 for a usage error\n");
	return f == stderr ? 2 : 0;
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "raw", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int json = 0, raw = 0, opt, n;
	struct lease *ls = NULL;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "Jrh", opts, NULL)) != -1) {
		if (opt == 'J')
			json = 1;
		else if (opt == 'r')
			raw = 1;
		else if (opt == 'h')
			return list_usage(stdout);
		else
			return list_usage(stderr);
	}
	if (optind != argc)
		return list_usage(stderr);
	n = read_leases(&ls);
	if (n < 0) {
		fprintf(stderr, "layoutlease: /proc/layoutleases: %s%s\n", strerror(-n),
			n == -ENOENT ? " (is the module loaded?)" : "");
		return 1;
	}
	if (json)
		print_json(ls, n);
	else
		print_table(ls, n, raw);
	free_leases(ls, n);
	free_pcache();
	return 0;
}
