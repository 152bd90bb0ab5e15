// SPDX-License-Identifier: MIT
/*
 * openhv-worker: one process per running VM, started by openhvd.
 *
 * Descriptors at exec: 3 = control connection to the service (SEQPACKET),
 * 4 = listening runtime socket (state-dir/run/NAME.sock) on which a restarted
 * service reconnects. The service sends SETUP with the VM's descriptors
 * (/dev/kvm, kernel, initrd, console log, disks, taps) in SCM_RIGHTS; the
 * worker assembles the machine, seals its sandbox, starts the guest and then
 * serves CMD/INPUT messages until the VM ends, reporting STATE and finally
 * EXITED. The worker outlives a service restart; it never opens files itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "api/api.h"
#include "api/ctl_proto.h"
#include "base/log.h"
#include "base/util.h"
#include "worker/engine.h"
#include "worker/sandbox.h"

#define CTL_FD 3
#define LISTEN_FD 4

struct worker {
	int ctl_fd;
	int listen_fd;
	uint32_t service_uid;
	const struct engine_ops *ops;
	struct engine *eng;
	enum api_vm_state state;
	uint32_t sandbox;
	uint64_t started_unix;
	char name[CTL_NAME_MAX];
	int log_fd;
	uint64_t log_size, log_max;
	int con_in_w, con_out_r;       /* our ends of the engine's console pipes */
	int exit_pipe[2];
	enum ctl_exit_kind exit_kind;
	char exit_detail[512];
	uint64_t shutdown_deadline_ns; /* graceful stop in progress: hard stop at this time */
};

static struct worker W = { .ctl_fd = -1, .listen_fd = -1, .log_fd = -1 };

static void send_msg(enum ctl_type type, const void *body, size_t blen, const void *tail,
		     size_t tlen)
{
	uint8_t pkt[CTL_MAX_PACKET];
	int n;

	if (W.ctl_fd < 0)
		return;
	n = ctl_encode(type, body, blen, tail, MIN(tlen, (size_t)CTL_TEXT_MAX), pkt, sizeof(pkt));
	if (n < 0)
		return;
	if (send(W.ctl_fd, pkt, (size_t)n, MSG_NOSIGNAL) < 0) {
		close(W.ctl_fd);
		W.ctl_fd = -1;   /* service gone; it reconnects on the runtime socket */
	}
}

static void send_hello(void)
{
	struct ctl_hello_wire h = {
		.version = CTL_PROTO_VERSION,
		.state = W.state,
		.caps = (W.ops ? W.ops->caps : 0) | (W.sandbox & CTL_SBX_SECCOMP ? CTL_CAP_SANDBOXED : 0),
		.sandbox_flags = W.sandbox,
		.started_unix = W.started_unix,
	};

	snprintf(h.name, sizeof(h.name), "%s", W.name);
	send_msg(CTL_HELLO, &h, sizeof(h), NULL, 0);
}

static void send_state(enum api_vm_state s, const char *reason)
{
	struct ctl_state_wire st = { .state = s };

	W.state = s;
	send_msg(CTL_STATE, &st, sizeof(st), reason, reason ? strlen(reason) : 0);
}

static void send_reply(uint64_t seq, int result, const char *msg)
{
	struct ctl_reply_wire r = { .seq = seq, .result = result };

	send_msg(CTL_REPLY, &r, sizeof(r), msg, msg ? strlen(msg) : 0);
}

static void __attribute__((noreturn)) exit_reported(enum ctl_exit_kind kind, bool was_running,
						     const char *detail)
{
	struct ctl_exited_wire x = { .kind = kind, .was_running = was_running };

	send_msg(CTL_EXITED, &x, sizeof(x), detail, strlen(detail));
	_exit(0);
}

/* Receive SETUP with its descriptors on the initial control connection. */
static int recv_setup(struct ctl_msg *m, int *fds, unsigned int *n_fds)
{
	uint8_t pkt[CTL_MAX_PACKET];
	union {
		char buf[CMSG_SPACE(sizeof(int) * CTL_MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = pkt, .iov_len = sizeof(pkt) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
			     .msg_controllen = sizeof(cbuf.buf) };
	ssize_t n;

	*n_fds = 0;
	do
		n = recvmsg(W.ctl_fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? -errno : -ECONNRESET;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < cnt && *n_fds < CTL_MAX_FDS; i++)
				memcpy(&fds[(*n_fds)++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		}
	}
	if (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC))
		return -EMSGSIZE;
	if (ctl_decode(pkt, (size_t)n, m) || m->type != CTL_SETUP)
		return -EBADMSG;
	if (m->u.setup.n_fds != *n_fds)
		return -EBADMSG;
	return 0;
}

static void *wait_thread(void *arg)
{
	W.exit_kind = W.ops->wait(W.eng, W.exit_detail, sizeof(W.exit_detail));
	(void)!write(W.exit_pipe[1], "x", 1);
	return NULL;
}

static void pump_console(void)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(W.con_out_r, buf, sizeof(buf))) > 0) {
		if (W.log_fd < 0)
			continue;
		if (W.log_max && W.log_size + (uint64_t)n > W.log_max) {
			/* A crude ring: start the log again rather than fill the disk. */
			static const char mark[] = "\r\n[openhv: console log reached its size "
						   "limit and was restarted]\r\n";
			if (ftruncate(W.log_fd, 0) == 0)
				W.log_size = 0;
			if (write(W.log_fd, mark, sizeof(mark) - 1) > 0)
				W.log_size += sizeof(mark) - 1;
		}
		if (write(W.log_fd, buf, (size_t)n) == n)
			W.log_size += (uint64_t)n;
	}
}

/* CMD_DISK_ADD / CMD_DISK_REMOVE: hot-plug on the engine's SCSI controller. */
static void handle_disk_cmd(const struct ctl_cmd_wire *c, const char *label, int *fd)
{
	char msg[256];
	unsigned int lun = 0;
	int r;

	if (!W.ops->disk_add || !W.ops->disk_remove) {
		send_reply(c->seq, -EOPNOTSUPP, "this VM engine cannot hot-plug disks");
		return;
	}
	if (W.state != VM_STATE_RUNNING && W.state != VM_STATE_PAUSED) {
		send_reply(c->seq, -EBUSY, "the VM is not running");
		return;
	}
	if (c->cmd == CTL_CMD_DISK_REMOVE) {
		r = W.ops->disk_remove(W.eng, c->arg, msg, sizeof(msg));
		send_reply(c->seq, r, r ? msg : "removed");
		return;
	}
	if (*fd < 0 || (c->arg & ~CTL_DISK_F__ALL) || !label[0]) {
		send_reply(c->seq, -EINVAL, "a disk to add needs its descriptor, a label and "
			   "known flags");
		return;
	}
	{
		struct engine_disk d = { .fd = *fd, .label = label,
					 .read_only = c->arg & CTL_DISK_F_RDONLY,
					 .dvd = c->arg & CTL_DISK_F_DVD };

		r = W.ops->disk_add(W.eng, &d, &lun, msg, sizeof(msg));
	}
	/* The engine dup()ed what it keeps. */
	close(*fd);
	*fd = -1;
	if (!r)
		snprintf(msg, sizeof(msg), "lun=%u", lun);
	send_reply(c->seq, r, msg);
}

static void handle_cmd(const struct ctl_cmd_wire *c)
{
	int r;

	switch (c->cmd) {
	case CTL_CMD_PING:
		send_reply(c->seq, 0, "pong");
		break;
	case CTL_CMD_PAUSE:
		if (W.state != VM_STATE_RUNNING) {
			send_reply(c->seq, -EBUSY, "not running");
			break;
		}
		r = W.ops->pause(W.eng);
		if (!r)
			send_state(VM_STATE_PAUSED, "");   /* also tells a service that gave up waiting */
		send_reply(c->seq, r, r ? "pause failed" : "paused");
		break;
	case CTL_CMD_RESUME:
		if (W.state != VM_STATE_PAUSED) {
			send_reply(c->seq, -EBUSY, "not paused");
			break;
		}
		r = W.ops->resume(W.eng);
		if (!r)
			send_state(VM_STATE_RUNNING, "");
		send_reply(c->seq, r, r ? "resume failed" : "running");
		break;
	case CTL_CMD_STOP: {
		const char *why = "hard stop (the guest shutdown integration service is not "
				  "available)";

		if (c->arg == 0) {
			why = "hard stop (no grace period requested)";
		} else if (W.ops->request_shutdown && W.state == VM_STATE_RUNNING) {
			r = W.ops->request_shutdown(W.eng);
			if (r == 0) {
				W.shutdown_deadline_ns = now_ns() +
							 (uint64_t)c->arg * 1000000ULL;
				W.state = VM_STATE_STOPPING;
				send_reply(c->seq, 0, "guest shutdown requested; hard stop if it has "
					   "not ended in time");
				break;
			}
			why = "hard stop (the guest did not take the shutdown request)";
		}
		W.state = VM_STATE_STOPPING;
		W.ops->request_stop(W.eng);
		send_reply(c->seq, 0, why);
		break;
	}
	case CTL_CMD_HARD_STOP:
		W.state = VM_STATE_STOPPING;
		W.ops->request_stop(W.eng);
		send_reply(c->seq, 0, "hard stop");
		break;
	case CTL_CMD_GUEST_INFO: {
		static char json[CTL_TEXT_MAX];

		if (!W.ops->guest_info) {
			send_reply(c->seq, -EOPNOTSUPP, "this VM engine has no integration services");
			break;
		}
		r = W.ops->guest_info(W.eng, json, sizeof(json));
		send_reply(c->seq, r, r ? "guest information unavailable (no Hyper-V "
			   "integration services in this VM)" : json);
		break;
	}
	default:
		send_reply(c->seq, -EINVAL, "unknown command");
	}
}

static void handle_ctl(void)
{
	uint8_t pkt[CTL_MAX_PACKET];
	static struct ctl_msg m;
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = pkt, .iov_len = sizeof(pkt) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
			     .msg_controllen = sizeof(cbuf.buf) };
	int fds[4], n_fds = 0;
	ssize_t n = recvmsg(W.ctl_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close(W.ctl_fd);
		W.ctl_fd = -1;
		return;
	}
	/* Only CMD_DISK_ADD carries a descriptor; every other one is closed unused. */
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t cnt = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < cnt && n_fds < 4; i++)
				memcpy(&fds[n_fds++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
		}
	}
	if (ctl_decode(pkt, (size_t)n, &m)) {
		log_warn("ignoring a malformed control message");
	} else if (m.type == CTL_CMD && (m.u.cmd.cmd == CTL_CMD_DISK_ADD ||
					   m.u.cmd.cmd == CTL_CMD_DISK_REMOVE)) {
		int fd = n_fds == 1 && m.u.cmd.cmd == CTL_CMD_DISK_ADD ? fds[0] : -1;

		if (fd >= 0)
			n_fds = 0;
		handle_disk_cmd(&m.u.cmd, m.text, &fd);
		if (fd >= 0)
			close(fd);
	} else {
		switch (m.type) {
		case CTL_CMD:
			handle_cmd(&m.u.cmd);
			break;
		case CTL_INPUT:
			if (m.text_len && W.con_in_w >= 0)
				(void)!write(W.con_in_w, m.text, m.text_len);
			break;
		default:
			log_warn("ignoring an unexpected control message (type %u)", (unsigned)m.type);
		}
	}
	for (int i = 0; i < n_fds; i++)
		close(fds[i]);
}

static void accept_service(void)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	int fd = accept4(W.listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) ||
	    (cr.uid != W.service_uid && cr.uid != 0)) {
		close(fd);
		return;
	}
	if (W.ctl_fd >= 0)
		close(W.ctl_fd);   /* a new service instance replaces the old one */
	W.ctl_fd = fd;
	send_hello();
}

static void usage(FILE *f)
{
	fprintf(f, "usage: openhv-worker                (started by openhvd; control on fd 3, "
		"runtime socket on fd 4)\n"
		"       openhv-worker --selftest [--user NAME]\n"
		"\nThe self-test seals the sandbox exactly as a worker does before running a guest,\n"
		"then checks that host files, execve, socket/connect, fork and ptrace are refused.\n");
}

static void resolve_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam(name ? name : "openhv");

	if (!pw && !name)
		pw = getpwnam("nobody");
	*uid = pw ? pw->pw_uid : 65534;
	*gid = pw ? pw->pw_gid : 65534;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "selftest", no_argument, NULL, 's' },
		{ "user", required_argument, NULL, 'u' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct ctl_msg m;
	int fds[CTL_MAX_FDS], c, r, in_pipe[2], out_pipe[2];
	unsigned int n_fds = 0, n_disk = 0, n_tap = 0;
	struct engine_params p = { .kvm_fd = -1, .kernel_fd = -1, .initrd_fd = -1 };
	bool selftest = false;
	const char *user = NULL;
	pthread_t th;
	char err[512];

	log_set_program("openhv-worker");
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			selftest = true;
			break;
		case 'u':
			user = optarg;
			break;
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (selftest) {
		uid_t uid;
		gid_t gid;

		resolve_user(user, &uid, &gid);
		return sandbox_selftest(geteuid() == 0 ? uid : geteuid(), geteuid() == 0 ? gid : getegid());
	}

	W.ctl_fd = CTL_FD;
	W.listen_fd = LISTEN_FD;
	if (fcntl(CTL_FD, F_GETFD) < 0 || fcntl(LISTEN_FD, F_GETFD) < 0) {
		log_err("openhv-worker is started by openhvd, not by hand (descriptors 3 and 4 "
			"are missing); try 'openhv-worker --selftest' to check the sandbox");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	fcntl(CTL_FD, F_SETFD, FD_CLOEXEC);
	fcntl(LISTEN_FD, F_SETFD, FD_CLOEXEC);
	/* The service bound the runtime socket; listening here makes SO_PEERCRED name us. */
	if (listen(LISTEN_FD, 4)) {
		log_err("cannot listen on the runtime socket: %s", strerror(errno));
		return 1;
	}

	r = recv_setup(&m, fds, &n_fds);
	if (r) {
		log_err("did not receive a valid SETUP message from openhvd: %s", strerror(-r));
		return 1;
	}
	snprintf(W.name, sizeof(W.name), "%s", m.u.setup.name);
	W.service_uid = m.u.setup.service_uid;
	W.log_max = m.u.setup.console_log_max;
	W.state = VM_STATE_STARTING;
	W.ops = &engine_idle_ops;
#ifdef HAVE_VMM_ENGINE
	if (!(m.u.setup.flags & CTL_SETUP_F_IDLE_ENGINE))
		W.ops = &engine_vm_ops;
#else
	if (!(m.u.setup.flags & CTL_SETUP_F_IDLE_ENGINE)) {
		send_hello();
		exit_reported(CTL_EXIT_ERROR, false, "this openhv-worker was built without the VM "
			      "engine (src/vmm); rebuild openhv with src/vmm/vm.c present");
	}
#endif
	for (unsigned int i = 0; i < n_fds; i++) {
		switch (m.u.setup.fd_roles[i]) {
		case CTL_FD_KVM: p.kvm_fd = fds[i]; break;
		case CTL_FD_KERNEL: p.kernel_fd = fds[i]; break;
		case CTL_FD_INITRD: p.initrd_fd = fds[i]; break;
		case CTL_FD_CONSOLE_LOG: W.log_fd = fds[i]; break;
		case CTL_FD_DISK: {
			const struct ctl_disk_wire *d = &m.u.setup.disks[n_disk];

			/* ctl_decode checked the counts, labels and flags. */
			p.disks[n_disk].fd = fds[i];
			p.disks[n_disk].label = d->label;
			p.disks[n_disk].read_only = d->flags & CTL_DISK_F_RDONLY;
			p.disks[n_disk].dvd = d->flags & CTL_DISK_F_DVD;
			n_disk++;
			break;
		}
		case CTL_FD_DISK_PARENT: {
			/* ctl_decode checked it follows its disk, within the limit. */
			struct engine_disk *d = &p.disks[n_disk - 1];

			d->parent_fds[d->n_parents++] = fds[i];
			break;
		}
		case CTL_FD_TAP: {
			const struct ctl_nic_wire *t = &m.u.setup.nics[n_tap];

			p.nics[n_tap].fd = fds[i];
			p.nics[n_tap].ifname = t->ifname;
			memcpy(p.nics[n_tap].mac, t->mac, sizeof(t->mac));
			p.nics[n_tap].has_mac = t->has_mac;
			n_tap++;
			break;
		}
		}
	}
	p.n_disks = n_disk;
	p.n_nics = n_tap;
	if (W.log_fd >= 0) {
		off_t end = lseek(W.log_fd, 0, SEEK_END);

		W.log_size = end > 0 ? (uint64_t)end : 0;
	}
	if (pipe2(in_pipe, O_CLOEXEC) || pipe2(out_pipe, O_CLOEXEC) || pipe2(W.exit_pipe, O_CLOEXEC)) {
		send_hello();
		exit_reported(CTL_EXIT_ERROR, false, "cannot create pipes");
	}
	W.con_in_w = in_pipe[1];
	W.con_out_r = out_pipe[0];
	fcntl(W.con_in_w, F_SETFL, O_NONBLOCK);
	fcntl(W.con_out_r, F_SETFL, O_NONBLOCK);
	p.name = W.name;
	p.cmdline = m.text;
	p.mem_bytes = m.u.setup.mem_bytes;
	p.cpus = m.u.setup.cpus;
	p.console_in_fd = in_pipe[0];
	p.console_out_fd = out_pipe[1];

	if (!(m.u.setup.flags & CTL_SETUP_F_NO_SANDBOX)) {
		r = sandbox_enter_namespaces(&W.sandbox);
		if (r)
			log_warn("VM %s: namespaces not available (%s); continuing with the other "
				 "restrictions", W.name, strerror(-r));
	}
	r = W.ops->create(&p, &W.eng, err, sizeof(err));
	if (r) {
		send_hello();
		exit_reported(CTL_EXIT_ERROR, false, err);
	}
	/* The engine holds its own copies of what it keeps. */
	if (p.kernel_fd >= 0)
		close(p.kernel_fd);
	if (p.initrd_fd >= 0)
		close(p.initrd_fd);
	for (unsigned int i = 0; i < p.n_disks; i++) {
		close(p.disks[i].fd);
		for (unsigned int k = 0; k < p.disks[i].n_parents; k++)
			close(p.disks[i].parent_fds[k]);
	}
	for (unsigned int i = 0; i < p.n_nics; i++)
		close(p.nics[i].fd);
	if (m.u.setup.flags & CTL_SETUP_F_NO_SANDBOX) {
		log_warn("VM %s runs WITHOUT a sandbox (debug option)", W.name);
	} else {
		r = sandbox_seal(m.u.setup.uid, m.u.setup.gid, &W.sandbox, err, sizeof(err));
		if (r) {
			char msg[600];

			snprintf(msg, sizeof(msg), "refusing to run the guest: sandbox: %s", err);
			send_hello();
			exit_reported(CTL_EXIT_ERROR, false, msg);
		}
	}
	r = W.ops->start(W.eng);
	if (r) {
		send_hello();
		exit_reported(CTL_EXIT_ERROR, false, "the VM engine failed to start the virtual "
			      "processors");
	}
	W.started_unix = (uint64_t)time(NULL);
	W.state = VM_STATE_RUNNING;
	send_hello();
	send_state(VM_STATE_RUNNING, "");
	r = pthread_create(&th, NULL, wait_thread, NULL);
	if (r) {
		W.ops->request_stop(W.eng);
		exit_reported(CTL_EXIT_ERROR, true, "cannot create the wait thread");
	}
	for (;;) {
		struct pollfd pfd[4] = {
			{ .fd = W.exit_pipe[0], .events = POLLIN },
			{ .fd = W.con_out_r, .events = POLLIN },
			{ .fd = W.listen_fd, .events = POLLIN },
			{ .fd = W.ctl_fd, .events = POLLIN },
		};
		int timeout = -1;

		if (W.shutdown_deadline_ns) {
			uint64_t now = now_ns();

			if (now >= W.shutdown_deadline_ns) {
				W.shutdown_deadline_ns = 0;
				W.ops->request_stop(W.eng);
			} else {
				timeout = (int)MIN((W.shutdown_deadline_ns - now) / 1000000 + 1,
						   (uint64_t)60000);
			}
		}
		if (poll(pfd, ARRAY_SIZE(pfd), timeout) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			pump_console();
		if (pfd[0].revents)
			break;
		if (pfd[2].revents & POLLIN)
			accept_service();
		if (W.ctl_fd >= 0 && pfd[3].revents)
			handle_ctl();
	}
	pthread_join(th, NULL);
	pump_console();
	W.ops->destroy(W.eng);
	exit_reported(W.exit_kind, true, W.exit_detail);
}
