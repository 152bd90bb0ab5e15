// SPDX-License-Identifier: MIT
/*
 * openhvd VM registry and worker supervision: spawning a sandboxed worker per
 * running VM with its descriptors, commands over the control connection,
 * exit classification (off / crashed with the reason), stop escalation and
 * reattaching to workers that outlived a previous openhvd.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "base/log.h"
#include "base/util.h"
#include "daemon/daemon.h"
#include "daemon/devices.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define CONSOLE_LOG_MAX (8ULL << 20)

_Static_assert(API_MAX_DISKS <= CTL_MAX_DISKS && API_MAX_NICS <= CTL_MAX_NICS,
	       "every configured disk and NIC fits the SETUP message");
_Static_assert(4 + API_MAX_DISKS + API_MAX_NICS <= CTL_MAX_FDS,
	       "kernel, initrd, /dev/kvm, console log, disks and TAPs fit one SCM_RIGHTS");
#define STOP_GRACE_NS (5ULL * 1000000000ULL)

struct vm *vm_find(const char *name)
{
	for (unsigned int i = 0; i < D.n_vms; i++)
		if (!strcmp(D.vms[i]->cfg.name, name))
			return D.vms[i];
	return NULL;
}

int vm_add(const struct api_vm_config *cfg, struct vm **ret)
{
	struct vm *vm;

	if (D.n_vms >= API_MAX_VMS)
		return -ENOSPC;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->cfg = *cfg;
	vm->st.state = VM_STATE_OFF;
	vm->ctl_fd = -1;
	vm->pidfd = -1;
	vm->ctl_tag = (struct ep_tag){ EP_VM_CTL, vm };
	vm->pid_tag = (struct ep_tag){ EP_VM_PID, vm };
	D.vms[D.n_vms++] = vm;
	if (ret)
		*ret = vm;
	return 0;
}

static struct vm *dead_vms;

static void fail_requests(struct vm *vm, int result, const char *msg);

void vm_remove(struct vm *vm)
{
	for (unsigned int i = 0; i < D.n_vms; i++) {
		if (D.vms[i] == vm) {
			D.vms[i] = D.vms[--D.n_vms];
			break;
		}
	}
	fail_requests(vm, -ECONNRESET, "the VM was deleted");
	/* Events of the current epoll batch may still name it. */
	vm->removed = true;
	vm->next_dead = dead_vms;
	dead_vms = vm;
}

void vms_reap(void)
{
	while (dead_vms) {
		struct vm *vm = dead_vms;

		dead_vms = vm->next_dead;
		free(vm);
	}
}

char *vm_status_json(const struct vm *vm)
{
	return api_vm_status_encode(&vm->cfg, &vm->st);
}

void vm_set_state(struct vm *vm, enum api_vm_state s, const char *reason)
{
	bool changed = vm->st.state != s || strcmp(vm->st.reason, reason ? reason : "");

	vm->st.state = s;
	snprintf(vm->st.reason, sizeof(vm->st.reason), "%s", reason ? reason : "");
	if (!changed)
		return;
	log_info("VM %s: %s%s%s", vm->cfg.name, api_state_name(s), vm->st.reason[0] ? " - " : "",
		 vm->st.reason);
	server_broadcast_event("state", vm, vm->st.reason);
	if (!api_state_has_worker(s))
		server_vm_gone(vm);
}

static void close_worker_fds(struct vm *vm)
{
	if (vm->ctl_fd >= 0)
		close(vm->ctl_fd);   /* also leaves the epoll set */
	if (vm->pidfd >= 0)
		close(vm->pidfd);
	vm->ctl_fd = -1;
	vm->pidfd = -1;
}

static void run_sock_path(const struct vm *vm, char *buf, size_t len)
{
	snprintf(buf, len, "%s.sock", vm->cfg.name);
}

static int watch(int fd, struct ep_tag *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(D.epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* Open a file the worker gets as a descriptor; e explains failures. */
static int open_input(const char *what, const char *path, int flags, struct api_error *e)
{
	struct stat st;
	int fd = open(path, flags | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		int r = -errno;

		api_fail(e, API_E_BAD_REQUEST, "cannot open %s '%s': %s; fix the path with "
			 "'openhv vm edit'", what, path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
		close(fd);
		return api_fail(e, API_E_BAD_REQUEST, "%s '%s' is not a regular file or block "
				"device", what, path);
	}
	return fd;
}

static int open_log(const char *name, const char *suffix, bool rotate)
{
	char file[API_NAME_MAX + 32], old[API_NAME_MAX + 40];
	struct stat st;

	snprintf(file, sizeof(file), "%s%s", name, suffix);
	if (rotate && !fstatat(D.log_dir_fd, file, &st, AT_SYMLINK_NOFOLLOW) &&
	    st.st_size > (off_t)(1 << 20)) {
		snprintf(old, sizeof(old), "%s.1", file);
		renameat(D.log_dir_fd, file, D.log_dir_fd, old);
	}
	return openat(D.log_dir_fd, file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
		      0640);
}

static int make_runtime_socket(const struct vm *vm)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char file[API_NAME_MAX + 8];
	int fd, r;

	run_sock_path(vm, file, sizeof(file));
	r = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/run/%s", D.state_dir, file);
	if (r < 0 || (size_t)r >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlinkat(D.run_dir_fd, file, 0);
	/*
	 * The worker calls listen() itself, so that SO_PEERCRED on connections
	 * names the worker's pid (credentials are taken at listen time).
	 */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || fchmodat(D.run_dir_fd, file, 0600, 0)) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* s carries the device details (disks, NICs); the rest is filled in here. */
static int send_setup(struct vm *vm, struct ctl_setup_wire *s, const int *fds,
		      const uint32_t *roles, unsigned int n)
{
	uint8_t pkt[CTL_MAX_PACKET];
	union {
		char buf[CMSG_SPACE(sizeof(int) * CTL_MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	int len;

	s->mem_bytes = vm->cfg.memory_bytes;
	s->cpus = vm->cfg.cpus;
	s->flags = (D.idle_engine ? CTL_SETUP_F_IDLE_ENGINE : 0) |
		   (D.no_sandbox ? CTL_SETUP_F_NO_SANDBOX : 0);
	s->uid = D.worker_uid;
	s->gid = D.worker_gid;
	s->service_uid = (uint32_t)geteuid();
	s->n_fds = n;
	s->console_log_max = CONSOLE_LOG_MAX;
	snprintf(s->name, sizeof(s->name), "%s", vm->cfg.name);
	memcpy(s->fd_roles, roles, n * sizeof(*roles));
	len = ctl_encode(CTL_SETUP, s, sizeof(*s), vm->cfg.cmdline, strlen(vm->cfg.cmdline), pkt,
			 sizeof(pkt));
	if (len < 0)
		return len;
	iov.iov_base = pkt;
	iov.iov_len = (size_t)len;
	memset(&cbuf, 0, sizeof(cbuf));
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	return sendmsg(vm->ctl_fd, &mh, MSG_NOSIGNAL) == len ? 0 : -errno;
}

int vm_spawn(struct vm *vm, struct api_error *e)
{
	static struct ctl_setup_wire sw;
	int fds[CTL_MAX_FDS];
	uint32_t roles[CTL_MAX_FDS];
	unsigned int n = 0;
	int sp[2] = { -1, -1 }, lfd = -1, wlog = -1, cg = -1, devnull = -1, r, fd;
	pid_t pid;

#define ADD_FD(f, role) do { fds[n] = (f); roles[n] = (role); n++; } while (0)
	for (unsigned int i = 0; i < API_MAX_DISKS; i++)
		vm->disk_lun[i] = (uint8_t)i;   /* configured disks are LUN 0, 1, ... in order */
	fd = open_input("kernel", vm->cfg.kernel, O_RDONLY, e);
	if (fd < 0)
		return fd;
	ADD_FD(fd, CTL_FD_KERNEL);
	if (vm->cfg.initrd[0]) {
		fd = open_input("initrd", vm->cfg.initrd, O_RDONLY, e);
		if (fd < 0) {
			r = fd;
			goto fail;
		}
		ADD_FD(fd, CTL_FD_INITRD);
	}
	memset(&sw, 0, sizeof(sw));
	for (unsigned int i = 0; i < vm->cfg.n_disks && i < CTL_MAX_DISKS; i++) {
		int parents[CTL_MAX_DISK_PARENTS];
		unsigned int n_parents = 0;

		fd = dev_open_disk(&vm->cfg.disks[i], i, &sw.disks[i], parents, &n_parents, e);
		if (fd < 0) {
			r = fd;
			goto fail;
		}
		/* Room for this chain and what is still to come (NICs, /dev/kvm, the log). */
		if (n + 1 + n_parents + (vm->cfg.n_disks - i - 1) + vm->cfg.n_nics + 2 > CTL_MAX_FDS) {
			close(fd);
			for (unsigned int k = 0; k < n_parents; k++)
				close(parents[k]);
			r = api_fail(e, API_E_BAD_REQUEST, "disks[%u] '%s': the VM's images and their "
				     "parents need more than %d descriptors; merge differencing chains "
				     "('openhv disk merge') or attach fewer disks", i,
				     vm->cfg.disks[i].path, CTL_MAX_FDS);
			goto fail;
		}
		ADD_FD(fd, CTL_FD_DISK);
		for (unsigned int k = 0; k < n_parents; k++)
			ADD_FD(parents[k], CTL_FD_DISK_PARENT);
		sw.n_disks++;
	}
	for (unsigned int i = 0; i < vm->cfg.n_nics && i < CTL_MAX_NICS; i++) {
		fd = dev_open_tap(&vm->cfg.nics[i], i, &sw.nics[i], e);
		if (fd < 0) {
			r = fd;
			goto fail;
		}
		ADD_FD(fd, CTL_FD_TAP);
		sw.n_nics++;
	}
	if (!D.idle_engine) {
		fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			api_fail(e, API_E_INTERNAL, "cannot open /dev/kvm: %s; is KVM available on "
				 "this host?", strerror(-r));
			goto fail;
		}
		ADD_FD(fd, CTL_FD_KVM);
	}
	fd = open_log(vm->cfg.name, ".console.log", true);
	if (fd < 0) {
		r = -errno;
		api_fail(e, API_E_INTERNAL, "cannot open the console log: %s", strerror(-r));
		goto fail;
	}
	ADD_FD(fd, CTL_FD_CONSOLE_LOG);
#undef ADD_FD
	wlog = open_log(vm->cfg.name, ".worker.log", true);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	lfd = make_runtime_socket(vm);
	if (lfd < 0 || wlog < 0 || devnull < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp)) {
		r = lfd < 0 ? lfd : -errno;
		api_fail(e, API_E_INTERNAL, "cannot prepare the worker's sockets and logs: %s",
			 strerror(-r));
		goto fail;
	}
	cg = cg_prepare(vm->cfg.name, vm->cfg.memory_bytes, vm->cfg.cpus);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		api_fail(e, API_E_INTERNAL, "fork: %s", strerror(-r));
		goto fail;
	}
	if (pid == 0) {
		sigset_t all;
		int hi_ctl = fcntl(sp[1], F_DUPFD, 100), hi_l = fcntl(lfd, F_DUPFD, 100);
		int hi_log = fcntl(wlog, F_DUPFD, 100), hi_null = fcntl(devnull, F_DUPFD, 100);

		if (cg >= 0)
			(void)!write(cg, "0\n", 2);
		if (hi_ctl < 0 || hi_l < 0 || hi_log < 0 || hi_null < 0 || dup2(hi_null, 0) < 0 ||
		    dup2(hi_null, 1) < 0 || dup2(hi_log, 2) < 0 || dup2(hi_ctl, 3) < 0 ||
		    dup2(hi_l, 4) < 0)
			_exit(127);
		syscall(SYS_close_range, 5U, ~0U, 0U);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		setsid();
		execl(D.worker_path, "openhv-worker", (char *)NULL);
		dprintf(2, "openhvd: cannot run %s: %s\n", D.worker_path, strerror(errno));
		_exit(127);
	}
	close(sp[1]);
	close(lfd);
	close(wlog);
	close(devnull);
	if (cg >= 0)
		close(cg);
	sp[1] = lfd = wlog = devnull = cg = -1;
	vm->ctl_fd = sp[0];
	vm->pidfd = pidfd_open(pid, 0);
	vm->is_child = true;
	vm->kill_requested = vm->got_exit = vm->reached_running = false;
	vm->exit_detail[0] = '\0';
	vm->bad_msgs = 0;
	vm->st.pid = pid;
	vm->st.caps = vm->st.sandbox = 0;
	vm->st.started_unix = 0;
	if (vm->pidfd < 0) {
		r = -errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(vm->ctl_fd);
		vm->ctl_fd = -1;
		api_fail(e, API_E_INTERNAL, "pidfd_open: %s", strerror(-r));
		goto fail;
	}
	r = send_setup(vm, &sw, fds, roles, n);
	for (unsigned int i = 0; i < n; i++)
		close(fds[i]);
	n = 0;
	if (r || watch(vm->ctl_fd, &vm->ctl_tag) || watch(vm->pidfd, &vm->pid_tag)) {
		/* The pidfd (if watched) reports the end; make sure it comes. */
		kill(pid, SIGKILL);
		waitid(P_PIDFD, (id_t)vm->pidfd, &(siginfo_t){ 0 }, WEXITED);
		close_worker_fds(vm);
		vm->st.pid = 0;
		return api_fail(e, API_E_INTERNAL, "cannot hand the VM to its worker: %s",
				strerror(r ? -r : errno));
	}
	vm->deadline_ns = now_ns() + (uint64_t)D.start_timeout_sec * 1000000000ULL;
	vm_set_state(vm, VM_STATE_STARTING, "");
	return 0;

fail:
	for (unsigned int i = 0; i < n; i++)
		close(fds[i]);
	if (sp[0] >= 0)
		close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	if (lfd >= 0) {
		char file[API_NAME_MAX + 8];

		close(lfd);
		run_sock_path(vm, file, sizeof(file));
		unlinkat(D.run_dir_fd, file, 0);
	}
	if (wlog >= 0)
		close(wlog);
	if (devnull >= 0)
		close(devnull);
	if (cg >= 0)
		close(cg);
	return r;
}

/* ---- commands in flight ---- */

static void finish_request(struct vm *vm, struct vm_req *q, int result, const char *msg)
{
	struct vm_req **pp;

	for (pp = &vm->reqs; *pp; pp = &(*pp)->next) {
		if (*pp == q) {
			*pp = q->next;
			vm->n_reqs--;
			break;
		}
	}
	if (q->fn)
		q->fn(q->opaque, vm, result, msg);
	free(q);
}

/* Answer every pending command of vm with result (the worker is gone or going). */
static void fail_requests(struct vm *vm, int result, const char *msg)
{
	while (vm->reqs)
		finish_request(vm, vm->reqs, result, msg);
}

void vm_cancel_requests(const void *opaque)
{
	for (unsigned int i = 0; i < D.n_vms; i++)
		for (struct vm_req *q = D.vms[i]->reqs; q; q = q->next)
			if (q->opaque == opaque)
				q->opaque = NULL;   /* fn still updates the VM's state */
}

int vm_command_async_fd(struct vm *vm, uint32_t cmd, uint32_t arg, const char *text, int fd,
			vm_reply_fn fn, void *opaque, char *msg, size_t msglen)
{
	struct ctl_cmd_wire c = { .seq = vm->seq + 1, .cmd = cmd, .arg = arg };
	struct vm_req *q, **pp;
	uint8_t pkt[CTL_MAX_PACKET];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = pkt };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int len = ctl_encode(CTL_CMD, &c, sizeof(c), text, text ? strlen(text) : 0, pkt,
			     sizeof(pkt));

	if (vm->ctl_fd < 0 || len < 0) {
		snprintf(msg, msglen, "the worker is not connected");
		return -ENOTCONN;
	}
	if (vm->n_reqs >= VM_MAX_PENDING) {
		snprintf(msg, msglen, "the worker has %u requests in flight and answers none; "
			 "try again later or kill the VM", vm->n_reqs);
		return -EBUSY;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	iov.iov_len = (size_t)len;
	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof(cbuf.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	/* Never block here: a worker that stopped reading fills its socket buffer. */
	if (sendmsg(vm->ctl_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) != len) {
		int r = -errno;

		free(q);
		snprintf(msg, msglen, r == -EAGAIN ? "the worker is not taking requests (its "
			 "control queue is full)" : "cannot reach the worker: %s", strerror(-r));
		return r == -EAGAIN ? -ETIMEDOUT : r;
	}
	vm->seq++;
	q->seq = c.seq;
	q->deadline_ns = now_ns() + (uint64_t)VM_CMD_TIMEOUT_MS * 1000000ULL;
	q->fn = fn;
	q->opaque = opaque;
	for (pp = &vm->reqs; *pp; pp = &(*pp)->next)
		;
	*pp = q;
	vm->n_reqs++;
	return 0;
}

int vm_command_async(struct vm *vm, uint32_t cmd, uint32_t timeout_ms, vm_reply_fn fn,
		     void *opaque, char *msg, size_t msglen)
{
	return vm_command_async_fd(vm, cmd, timeout_ms, NULL, -1, fn, opaque, msg, msglen);
}

static void on_reply(struct vm *vm, const struct ctl_msg *m)
{
	for (struct vm_req *q = vm->reqs; q; q = q->next) {
		if (q->seq == m->u.reply.seq) {
			finish_request(vm, q, m->u.reply.result, m->text);
			return;
		}
	}
	/* A late reply to a command that timed out, or a bogus one: ignored. */
}

static void expire_requests(struct vm *vm, uint64_t now)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "the worker did not answer within %u ms", VM_CMD_TIMEOUT_MS);
	while (vm->reqs && now >= vm->reqs->deadline_ns)
		finish_request(vm, vm->reqs, -ETIMEDOUT, msg);
}

static void handle_msg(struct vm *vm, const struct ctl_msg *m)
{
	switch (m->type) {
	case CTL_HELLO:
		if (strcmp(m->u.hello.name, vm->cfg.name)) {
			log_warn("VM %s: worker introduced itself as '%s'", vm->cfg.name,
				 m->u.hello.name);
			break;
		}
		vm->st.caps = m->u.hello.caps;
		vm->st.sandbox = m->u.hello.sandbox_flags;
		vm->st.started_unix = m->u.hello.started_unix;
		if ((m->u.hello.state == VM_STATE_RUNNING || m->u.hello.state == VM_STATE_PAUSED) &&
		    vm->st.state == VM_STATE_STARTING) {
			vm->reached_running = true;
			vm->deadline_ns = 0;
			vm_set_state(vm, (enum api_vm_state)m->u.hello.state, "");
		}
		break;
	case CTL_STATE:
		if (m->u.state.state == VM_STATE_RUNNING) {
			vm->reached_running = true;
			if (vm->st.state == VM_STATE_STARTING) {
				vm->deadline_ns = 0;
				vm_set_state(vm, VM_STATE_RUNNING, "");
			} else if (vm->st.state == VM_STATE_PAUSED) {
				vm_set_state(vm, VM_STATE_RUNNING, "");   /* resumed */
			}
		} else if (m->u.state.state == VM_STATE_PAUSED &&
			   vm->st.state == VM_STATE_RUNNING) {
			vm_set_state(vm, VM_STATE_PAUSED, "");
		}
		break;
	case CTL_EXITED:
		vm->got_exit = true;
		vm->exit_kind = (enum ctl_exit_kind)m->u.exited.kind;
		vm->reached_running = vm->reached_running || m->u.exited.was_running;
		snprintf(vm->exit_detail, sizeof(vm->exit_detail), "%.255s", m->text);
		break;
	case CTL_REPLY:
		on_reply(vm, m);
		break;
	default:
		vm->bad_msgs++;
	}
}

/* Read one packet; returns 1 if a message was decoded, 0 if none pending, <0 on EOF/error. */
static int recv_msg(struct vm *vm, struct ctl_msg *m)
{
	uint8_t pkt[CTL_MAX_PACKET];
	ssize_t n;

	if (vm->ctl_fd < 0)
		return -ENOTCONN;
	n = recv(vm->ctl_fd, pkt, sizeof(pkt), MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -ECONNRESET;
	if (ctl_decode(pkt, (size_t)n, m)) {
		vm->bad_msgs++;
		if (vm->bad_msgs == 1)
			log_warn("VM %s: malformed message from the worker ignored", vm->cfg.name);
		return 0;
	}
	return 1;
}

void vm_on_ctl(struct vm *vm)
{
	static struct ctl_msg m;
	int r;

	if (vm->removed || vm->ctl_fd < 0)
		return;   /* stale event from this epoll batch */
	for (int i = 0; i < 64; i++) {
		r = recv_msg(vm, &m);
		if (r == 1) {
			handle_msg(vm, &m);
			continue;
		}
		if (r < 0) {
			/* Worker closed the connection; its pidfd reports the end. */
			close(vm->ctl_fd);
			vm->ctl_fd = -1;
		}
		break;
	}
}

/*
 * Send a command and wait for its reply (at most VM_CMD_TIMEOUT_MS). Only for
 * workers found at startup, before the service answers requests.
 */
static int command_sync(struct vm *vm, uint32_t cmd, uint32_t timeout_ms, char *msg,
			size_t msglen)
{
	struct ctl_cmd_wire c = { .seq = ++vm->seq, .cmd = cmd, .arg = timeout_ms };
	uint8_t pkt[64];
	static struct ctl_msg m;
	uint64_t deadline = now_ns() + (uint64_t)VM_CMD_TIMEOUT_MS * 1000000ULL;
	int len = ctl_encode(CTL_CMD, &c, sizeof(c), NULL, 0, pkt, sizeof(pkt));

	snprintf(msg, msglen, "the worker is not connected");
	if (vm->ctl_fd < 0 || len < 0)
		return -ENOTCONN;
	if (send(vm->ctl_fd, pkt, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT) != len)
		return -errno;
	for (;;) {
		uint64_t now = now_ns();
		struct pollfd p = { .fd = vm->ctl_fd, .events = POLLIN };
		int r;

		if (now >= deadline) {
			snprintf(msg, msglen, "the worker did not answer within %u ms",
				 VM_CMD_TIMEOUT_MS);
			return -ETIMEDOUT;
		}
		if (poll(&p, 1, (int)((deadline - now) / 1000000 + 1)) < 0 && errno != EINTR)
			return -errno;
		while ((r = recv_msg(vm, &m)) == 1) {
			if (m.type == CTL_REPLY && m.u.reply.seq == c.seq) {
				snprintf(msg, msglen, "%s", m.text);
				return m.u.reply.result;
			}
			handle_msg(vm, &m);
		}
		if (r < 0) {
			snprintf(msg, msglen, "the worker closed its control connection");
			return -ECONNRESET;
		}
	}
}

int vm_kill(struct vm *vm, const char *why)
{
	vm->kill_requested = true;
	if (why)
		snprintf(vm->exit_detail, sizeof(vm->exit_detail), "%s", why);
	if (vm->pidfd >= 0 && syscall(SYS_pidfd_send_signal, vm->pidfd, SIGKILL, NULL, 0) &&
	    errno != ESRCH)
		return -errno;
	return 0;
}

static void describe_status(const siginfo_t *si, char *buf, size_t len)
{
	if (si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED)
		snprintf(buf, len, "worker process killed by signal %d (%s)%s", si->si_status,
			 strsignal(si->si_status), si->si_code == CLD_DUMPED ? ", core dumped" : "");
	else
		snprintf(buf, len, "worker process exited with status %d without reporting why",
			 si->si_status);
}

void vm_on_pidfd(struct vm *vm)
{
	siginfo_t si = { 0 };
	bool have_status = false;
	static struct ctl_msg m;
	char reason[320];
	enum api_vm_state next;
	char file[API_NAME_MAX + 8];

	if (vm->removed || vm->pidfd < 0)
		return;   /* stale event from this epoll batch, or already handled */
	if (vm->is_child) {
		if (waitid(P_PIDFD, (id_t)vm->pidfd, &si, WEXITED | WNOHANG))
			return;
		if (si.si_pid == 0)
			return;   /* not yet */
		have_status = true;
	}
	/* Collect an EXITED that is still queued. */
	while (vm->ctl_fd >= 0 && recv_msg(vm, &m) == 1)
		handle_msg(vm, &m);
	close_worker_fds(vm);
	run_sock_path(vm, file, sizeof(file));
	unlinkat(D.run_dir_fd, file, 0);
	cg_remove(vm->cfg.name);   /* empty now */

	if (vm->kill_requested) {
		next = VM_STATE_OFF;
		snprintf(reason, sizeof(reason), "%s", vm->exit_detail[0] ? vm->exit_detail
									 : "killed on request");
	} else if (vm->got_exit) {
		switch (vm->exit_kind) {
		case CTL_EXIT_POWEROFF:
		case CTL_EXIT_REBOOT:
		case CTL_EXIT_STOPPED:
			next = VM_STATE_OFF;
			snprintf(reason, sizeof(reason), "%s", vm->exit_detail);
			break;
		case CTL_EXIT_CRASH:
			next = VM_STATE_CRASHED;
			snprintf(reason, sizeof(reason), "%s", vm->exit_detail);
			break;
		default:
			next = vm->reached_running ? VM_STATE_CRASHED : VM_STATE_OFF;
			snprintf(reason, sizeof(reason), "%s%s",
				 vm->reached_running ? "" : "failed to start: ", vm->exit_detail);
		}
	} else if (have_status) {
		next = VM_STATE_CRASHED;
		describe_status(&si, reason, sizeof(reason));
	} else {
		next = VM_STATE_CRASHED;
		snprintf(reason, sizeof(reason), "worker process ended without reporting why");
	}
	vm->st.pid = 0;
	vm->st.started_unix = 0;
	vm->st.caps = vm->st.sandbox = 0;
	vm->deadline_ns = 0;
	vm->kill_requested = false;
	vm_set_state(vm, next, reason);
	fail_requests(vm, -ECONNRESET, "the worker ended before it answered");
	if (vm->restart_pending) {
		struct api_error e;

		vm->restart_pending = false;
		if (next == VM_STATE_OFF && vm_spawn(vm, &e))
			vm_set_state(vm, VM_STATE_OFF, e.message);
	}
}

void vm_reattach(struct vm *vm)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char file[API_NAME_MAX + 8];
	struct ucred cr;
	socklen_t len = sizeof(cr);
	struct stat st;
	static char msg[CTL_TEXT_MAX + 1];
	int fd;

	run_sock_path(vm, file, sizeof(file));
	if (fstatat(D.run_dir_fd, file, &st, AT_SYMLINK_NOFOLLOW))
		return;   /* was not running */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/run/%s", D.state_dir, file);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) || cr.pid <= 0) {
		if (fd >= 0)
			close(fd);
		unlinkat(D.run_dir_fd, file, 0);
		vm_set_state(vm, VM_STATE_CRASHED, "the worker ended while openhvd was not running");
		return;
	}
	vm->ctl_fd = fd;
	vm->pidfd = pidfd_open(cr.pid, 0);
	vm->is_child = false;
	vm->st.pid = cr.pid;
	vm->st.state = VM_STATE_STARTING;
	if (vm->pidfd < 0 || watch(vm->ctl_fd, &vm->ctl_tag) || watch(vm->pidfd, &vm->pid_tag)) {
		close_worker_fds(vm);
		vm->st.pid = 0;
		vm_set_state(vm, VM_STATE_CRASHED, "cannot watch the worker found at startup");
		return;
	}
	/* The worker greets every new connection with HELLO (handled in command_sync). */
	if (command_sync(vm, CTL_CMD_PING, 0, msg, sizeof(msg)) || vm->st.state == VM_STATE_STARTING) {
		vm_kill(vm, "the worker found at startup did not answer; it was stopped");
		return;
	}
	log_info("VM %s: reattached to worker %d (%s)", vm->cfg.name, (int)cr.pid,
		 api_state_name(vm->st.state));
}

void vms_tick(uint64_t now)
{
	for (unsigned int i = 0; i < D.n_vms; i++) {
		struct vm *vm = D.vms[i];

		expire_requests(vm, now);
		if (!vm->deadline_ns || now < vm->deadline_ns || vm->pidfd < 0)
			continue;
		vm->deadline_ns = 0;
		if (vm->st.state == VM_STATE_STARTING) {
			vm_kill(vm, "");
			vm->kill_requested = false;   /* report as a failed start, not a kill */
			vm->got_exit = true;
			vm->exit_kind = CTL_EXIT_ERROR;
			snprintf(vm->exit_detail, sizeof(vm->exit_detail),
				 "the worker did not start the VM within %u s", D.start_timeout_sec);
		} else if (vm->st.state == VM_STATE_STOPPING) {
			vm_kill(vm, "stopped (hard stop: the VM did not stop in time)");
		}
	}
}
