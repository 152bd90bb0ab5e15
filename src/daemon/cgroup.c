// SPDX-License-Identifier: MIT
/*
 * openhvd cgroup v2 placement: with --cgroup DIR every worker runs in its own
 * child cgroup DIR/NAME with memory.max (guest RAM plus worker room),
 * pids.max and cpu.max (one CPU more than the VM's virtual processors). A
 * controller the hierarchy does not offer is reported once and skipped: the
 * VM still runs, only without that limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "base/log.h"
#include "base/util.h"
#include "daemon/daemon.h"

static const char *const ctrl_names[] = { "memory", "pids", "cpu" };
_Static_assert(ARRAY_SIZE(ctrl_names) == CG__COUNT, "one name per controller");

static int write_at(int dfd, const char *file, const char *text)
{
	int fd = openat(dfd, file, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int r = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	if (n != (ssize_t)strlen(text))
		r = n < 0 ? -errno : -EIO;
	close(fd);
	return r;
}

/* Does the whitespace-separated list in file (of dfd) name word? */
static bool list_has(int dfd, const char *file, const char *word)
{
	char buf[512], *save = NULL;
	int fd = openat(dfd, file, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	for (char *t = strtok_r(buf, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
		if (!strcmp(t, word))
			return true;
	return false;
}

int cg_setup(const char *dir)
{
	D.cgroup_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (D.cgroup_fd < 0 || faccessat(D.cgroup_fd, "cgroup.procs", W_OK, 0) ||
	    faccessat(D.cgroup_fd, "cgroup.subtree_control", W_OK, 0)) {
		log_warn("--cgroup %s is not a writable cgroup v2 directory; workers run without "
			 "cgroup limits (mount cgroup2 and give openhvd a directory of its own)", dir);
		if (D.cgroup_fd >= 0)
			close(D.cgroup_fd);
		D.cgroup_fd = -1;
		return -ENOENT;
	}
	D.cg_ctrls = 0;
	for (unsigned int i = 0; i < CG__COUNT; i++) {
		char op[32];
		int r;

		if (!list_has(D.cgroup_fd, "cgroup.controllers", ctrl_names[i])) {
			log_warn("cgroup %s: the %s controller is not available (the parent cgroup "
				 "does not delegate it: add +%s to its cgroup.subtree_control); "
				 "workers run without %s limits", dir, ctrl_names[i], ctrl_names[i],
				 ctrl_names[i]);
			continue;
		}
		snprintf(op, sizeof(op), "+%s", ctrl_names[i]);
		r = write_at(D.cgroup_fd, "cgroup.subtree_control", op);
		if (r) {
			log_warn("cgroup %s: cannot enable the %s controller for workers: %s%s", dir,
				 ctrl_names[i], strerror(-r), r == -EBUSY ? " (the directory "
				 "itself holds processes; give openhvd an empty cgroup)" : "");
			continue;
		}
		D.cg_ctrls |= 1u << i;
	}
	log_info("cgroup %s: workers get their own cgroup with%s%s%s%s", dir,
		 D.cg_ctrls & (1u << CG_MEMORY) ? " memory.max" : "",
		 D.cg_ctrls & (1u << CG_PIDS) ? " pids.max" : "",
		 D.cg_ctrls & (1u << CG_CPU) ? " cpu.max" : "",
		 D.cg_ctrls ? "" : " no limits (no controller available)");
	return 0;
}

int cg_prepare(const char *name, uint64_t mem_bytes, unsigned int cpus)
{
	char buf[64];
	int dfd, fd, r;

	if (D.cgroup_fd < 0)
		return -1;
	if (mkdirat(D.cgroup_fd, name, 0755) && errno != EEXIST) {
		log_warn("VM %s: cannot create its cgroup: %s; it runs without cgroup limits", name,
			 strerror(errno));
		return -1;
	}
	dfd = openat(D.cgroup_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	if (D.cg_ctrls & (1u << CG_MEMORY)) {
		/* Guest RAM plus room for the worker's own allocations. */
		snprintf(buf, sizeof(buf), "%llu\n",
			 (unsigned long long)(mem_bytes + CG_WORKER_ROOM));
		r = write_at(dfd, "memory.max", buf);
		if (r)
			log_warn("VM %s: cannot set memory.max: %s", name, strerror(-r));
	}
	if (D.cg_ctrls & (1u << CG_PIDS)) {
		snprintf(buf, sizeof(buf), "%u\n", cpus + 32);
		r = write_at(dfd, "pids.max", buf);
		if (r)
			log_warn("VM %s: cannot set pids.max: %s", name, strerror(-r));
	}
	if (D.cg_ctrls & (1u << CG_CPU)) {
		snprintf(buf, sizeof(buf), "%llu 100000\n", (unsigned long long)(cpus + 1) * 100000);
		r = write_at(dfd, "cpu.max", buf);
		if (r)
			log_warn("VM %s: cannot set cpu.max: %s", name, strerror(-r));
	}
	fd = openat(dfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	close(dfd);
	return fd;
}

void cg_remove(const char *name)
{
	if (D.cgroup_fd >= 0)
		unlinkat(D.cgroup_fd, name, AT_REMOVEDIR);   /* only succeeds once it is empty */
}
