// SPDX-License-Identifier: MIT
/*
 * The "idle" engine: a guest-less stand-in with the real engine's lifecycle,
 * for service tests on hosts that cannot run guests. Its one thread writes a
 * banner to the console, then echoes each console input line; the line
 * "poweroff" ends the run as a guest power-off and "crash" as a guest crash.
 * It runs inside the same sandbox as the real engine.
 *
 * Disks and TAPs the service passed are listed in the banner (size, access
 * mode) and kept like the real engine keeps them; the console line
 * "diskwrite" writes a marker into every writable disk through the kept
 * descriptor, so the service tests can check descriptor passing end to end
 * without a guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "worker/engine.h"

struct engine {
	int in_fd, out_fd;
	int wake[2];            /* pipe: wakes the thread for stop/pause changes */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	bool stop, paused;
	enum ctl_exit_kind exit_kind;
	char detail[128];
	char name[CTL_NAME_MAX];
	char line[256];
	size_t line_len;
	unsigned int n_disks, n_nics;
	int disk_fd[CTL_MAX_DISKS];
	int parent_fd[CTL_MAX_DISKS][CTL_MAX_DISK_PARENTS];   /* held like a VM holds them */
	unsigned int n_parents[CTL_MAX_DISKS];
	bool disk_ro[CTL_MAX_DISKS];
	int tap_fd[CTL_MAX_NICS];
};

#define IDLE_DISK_MARK_OFF 512

static void out(struct engine *e, const char *s);

/* One banner line per device: what arrived and whether it is what was configured. */
static void describe_devices(struct engine *e, const struct engine_params *p)
{
	char msg[256];

	for (unsigned int i = 0; i < e->n_disks; i++) {
		struct stat st;
		int fl = fcntl(e->disk_fd[i], F_GETFL);
		bool rw = fl >= 0 && (fl & O_ACCMODE) == O_RDWR;

		if (fstat(e->disk_fd[i], &st))
			st.st_size = -1;
		snprintf(msg, sizeof(msg), "idle engine: disk%u %s %lld bytes %s parents %u\r\n", i,
			 p->disks[i].label, (long long)st.st_size, rw ? "rw" : "ro",
			 e->n_parents[i]);
		out(e, msg);
	}
	for (unsigned int i = 0; i < e->n_nics; i++) {
		const uint8_t *m = p->nics[i].mac;

		if (p->nics[i].has_mac)
			snprintf(msg, sizeof(msg), "idle engine: nic%u tap=%s mac=%02x:%02x:%02x:%02x:"
				 "%02x:%02x\r\n", i, p->nics[i].ifname, m[0], m[1], m[2], m[3], m[4],
				 m[5]);
		else
			snprintf(msg, sizeof(msg), "idle engine: nic%u tap=%s\r\n", i,
				 p->nics[i].ifname);
		out(e, msg);
	}
}

/* "diskwrite": a marker naming the VM at IDLE_DISK_MARK_OFF of every writable disk. */
static void disk_write(struct engine *e)
{
	char mark[96], msg[160];

	snprintf(mark, sizeof(mark), "openhv-idle-diskwrite %s\n", e->name);
	for (unsigned int i = 0; i < e->n_disks; i++) {
		ssize_t n = -1;

		if (!e->disk_ro[i])
			n = pwrite(e->disk_fd[i], mark, strlen(mark), IDLE_DISK_MARK_OFF);
		if (n == (ssize_t)strlen(mark) && fdatasync(e->disk_fd[i]))
			n = -1;
		snprintf(msg, sizeof(msg), "idle engine: diskwrite disk%u %s\r\n", i,
			 e->disk_ro[i] ? "skipped (read-only)" :
			 n == (ssize_t)strlen(mark) ? "ok" : strerror(errno));
		out(e, msg);
	}
}

static void out(struct engine *e, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(e->out_fd, s, n);

		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

static int idle_create(const struct engine_params *p, struct engine **ret, char *err,
		       size_t errlen)
{
	struct engine *e;
	struct stat st;
	char banner[256];

	if (p->kernel_fd < 0 || fstat(p->kernel_fd, &st) || !S_ISREG(st.st_mode) || !st.st_size) {
		snprintf(err, errlen, "kernel is not a non-empty regular file");
		return -EINVAL;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (pipe2(e->wake, O_CLOEXEC)) {
		free(e);
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -errno;
	}
	pthread_mutex_init(&e->lock, NULL);
	e->in_fd = p->console_in_fd;
	e->out_fd = p->console_out_fd;
	snprintf(e->name, sizeof(e->name), "%s", p->name);
	/* Keep our own copies, as struct vm does. */
	for (unsigned int i = 0; i < p->n_disks && i < CTL_MAX_DISKS; i++) {
		e->disk_fd[i] = fcntl(p->disks[i].fd, F_DUPFD_CLOEXEC, 0);
		for (unsigned int k = 0; k < p->disks[i].n_parents && k < CTL_MAX_DISK_PARENTS; k++) {
			e->parent_fd[i][k] = fcntl(p->disks[i].parent_fds[k], F_DUPFD_CLOEXEC, 0);
			e->n_parents[i] = k + 1;
		}
		e->disk_ro[i] = p->disks[i].read_only;
		e->n_disks++;
	}
	for (unsigned int i = 0; i < p->n_nics && i < CTL_MAX_NICS; i++) {
		e->tap_fd[i] = fcntl(p->nics[i].fd, F_DUPFD_CLOEXEC, 0);
		e->n_nics++;
	}
	snprintf(banner, sizeof(banner),
		 "openhv idle test engine: VM %s, %u CPU(s), %llu MiB, %u disk(s), %u NIC(s), "
		 "no guest code runs\r\n", p->name, p->cpus,
		 (unsigned long long)(p->mem_bytes >> 20), e->n_disks, e->n_nics);
	out(e, banner);
	describe_devices(e, p);
	*ret = e;
	return 0;
}

static bool handle_line(struct engine *e)
{
	char msg[400];

	e->line[e->line_len] = '\0';
	if (!strcmp(e->line, "poweroff")) {
		out(e, "idle engine: powering off\r\n");
		e->exit_kind = CTL_EXIT_POWEROFF;
		snprintf(e->detail, sizeof(e->detail), "guest powered off");
		return true;
	}
	if (!strcmp(e->line, "crash")) {
		e->exit_kind = CTL_EXIT_CRASH;
		snprintf(e->detail, sizeof(e->detail), "guest crash (requested on the console of "
			 "the idle test engine)");
		return true;
	}
	if (!strcmp(e->line, "diskwrite")) {
		disk_write(e);
		return false;
	}
	snprintf(msg, sizeof(msg), "%s: %s\r\n", e->name, e->line);
	out(e, msg);
	return false;
}

static void *idle_thread(void *arg)
{
	struct engine *e = arg;

	out(e, "idle engine: running\r\n");
	for (;;) {
		struct pollfd pfd[2] = { { .fd = e->wake[0], .events = POLLIN },
					 { .fd = e->in_fd, .events = POLLIN } };
		bool paused;
		char buf[128];
		ssize_t n;

		pthread_mutex_lock(&e->lock);
		if (e->stop) {
			e->exit_kind = CTL_EXIT_STOPPED;
			snprintf(e->detail, sizeof(e->detail), "stopped by the host");
			pthread_mutex_unlock(&e->lock);
			break;
		}
		paused = e->paused;
		pthread_mutex_unlock(&e->lock);
		if (poll(pfd, paused || e->in_fd < 0 ? 1 : 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN)
			(void)!read(e->wake[0], buf, sizeof(buf));
		if (!paused && e->in_fd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP))) {
			n = read(e->in_fd, buf, sizeof(buf));
			if (n <= 0) {
				if (n < 0 && errno == EINTR)
					continue;
				e->in_fd = -1;   /* no more input; keep running */
				continue;
			}
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] == '\r' || buf[i] == '\n') {
					if (e->line_len && handle_line(e))
						return NULL;
					e->line_len = 0;
				} else if (e->line_len < sizeof(e->line) - 1) {
					e->line[e->line_len++] = buf[i];
				}
			}
		}
	}
	return NULL;
}

static int idle_start(struct engine *e)
{
	int r = pthread_create(&e->thread, NULL, idle_thread, e);

	if (r)
		return -r;
	e->started = true;
	return 0;
}

static void poke(struct engine *e)
{
	(void)!write(e->wake[1], "x", 1);
}

static void idle_request_stop(struct engine *e)
{
	pthread_mutex_lock(&e->lock);
	e->stop = true;
	pthread_mutex_unlock(&e->lock);
	poke(e);
}

static int idle_set_paused(struct engine *e, bool paused)
{
	pthread_mutex_lock(&e->lock);
	e->paused = paused;
	pthread_mutex_unlock(&e->lock);
	poke(e);
	return 0;
}

static int idle_pause(struct engine *e)
{
	return idle_set_paused(e, true);
}

static int idle_resume(struct engine *e)
{
	return idle_set_paused(e, false);
}

static enum ctl_exit_kind idle_wait(struct engine *e, char *detail, size_t len)
{
	if (!e->started) {
		snprintf(detail, len, "never started");
		return CTL_EXIT_ERROR;
	}
	pthread_join(e->thread, NULL);
	e->started = false;
	snprintf(detail, len, "%s", e->detail);
	return e->exit_kind;
}

static void idle_destroy(struct engine *e)
{
	if (!e)
		return;
	close(e->wake[0]);
	close(e->wake[1]);
	for (unsigned int i = 0; i < e->n_disks; i++) {
		if (e->disk_fd[i] >= 0)
			close(e->disk_fd[i]);
		for (unsigned int k = 0; k < e->n_parents[i]; k++)
			if (e->parent_fd[i][k] >= 0)
				close(e->parent_fd[i][k]);
	}
	for (unsigned int i = 0; i < e->n_nics; i++)
		if (e->tap_fd[i] >= 0)
			close(e->tap_fd[i]);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

const struct engine_ops engine_idle_ops = {
	.name = "idle",
	.caps = 0,
	.create = idle_create,
	.start = idle_start,
	.request_stop = idle_request_stop,
	.request_shutdown = NULL,
	.guest_info = NULL,
	.pause = idle_pause,
	.resume = idle_resume,
	.wait = idle_wait,
	.destroy = idle_destroy,
};
