// SPDX-License-Identifier: MIT
/*
 * openhvd: the management service. Owns every VM's configuration (state
 * dir), serves the REST API on a Unix socket and runs one sandboxed
 * openhv-worker per running VM. Workers outlive the service: on start it
 * reconnects to the workers it finds, and reports the VMs whose workers have
 * gone as crashed. Stopping the service leaves running VMs running.
 *
 *   STATE_DIR/vms/NAME.json   configuration (atomic writes)
 *   STATE_DIR/run/NAME.sock   runtime socket of a running VM's worker
 *   STATE_DIR/logs/NAME.console.log, NAME.worker.log
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include "base/log.h"
#include "base/util.h"
#include "daemon/daemon.h"

struct daemon D = { .listen_fd = -1, .sig_fd = -1, .cgroup_fd = -1, .start_timeout_sec = 60 };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: openhvd [--socket PATH] [--state-dir DIR] [options]\n"
		"\n"
		"  --socket PATH        API socket (default /run/openhv/openhvd.sock)\n"
		"  --state-dir DIR      configurations, runtime sockets and logs\n"
		"                       (default /var/lib/openhv)\n"
		"  --group NAME         group allowed to use the socket (default: openhv if it\n"
		"                       exists, else the service's group)\n"
		"  --worker PATH        openhv-worker executable (default: next to openhvd,\n"
		"                       then " OPENHV_LIBEXECDIR "/openhv-worker)\n"
		"  --worker-user NAME   unprivileged user for workers when run as root\n"
		"                       (default: openhv if it exists, else nobody)\n"
		"  --cgroup DIR         cgroup v2 directory under which each worker gets\n"
		"                       memory.max, pids.max and cpu.max limits (default:\n"
		"                       none; a controller that is not delegated is skipped)\n"
		"  --start-timeout SEC  a VM not running after SEC seconds is stopped (60)\n"
		"  --test-engine        run the guest-less idle engine in every worker (tests)\n"
		"  --verbose            log debug messages\n");
}

static int open_subdir(const char *name, mode_t mode)
{
	int root = open(D.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;

	if (root < 0)
		return -errno;
	if (mkdirat(root, name, mode) && errno != EEXIST) {
		fd = -errno;
		close(root);
		return fd;
	}
	fd = openat(root, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		fd = -errno;
	close(root);
	return fd;
}

static void found_vm(void *ctx, const struct api_vm_config *c)
{
	if (vm_add(c, NULL))
		log_err("VM %s: cannot register (limit of %d VMs)", c->name, API_MAX_VMS);
}

static void bad_vm(void *ctx, const char *file, const char *message)
{
	log_err("ignoring configuration %s/vms/%s.json: %s", D.state_dir, file, message);
}

static char *default_worker_path(const char *argv0)
{
	static char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	char *slash;

	if (n > 0) {
		path[n] = '\0';
		slash = strrchr(path, '/');
		/* In the build tree: build/src/daemon/openhvd -> build/src/worker/openhv-worker */
		if (slash && (size_t)(slash - path) + 40 < sizeof(path)) {
			strcpy(slash, "/openhv-worker");
			if (!access(path, X_OK))
				return path;
			strcpy(slash, "/../worker/openhv-worker");
			if (!access(path, X_OK))
				return path;
		}
	}
	return (char *)OPENHV_LIBEXECDIR "/openhv-worker";
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "group", required_argument, NULL, 'g' },
		{ "worker", required_argument, NULL, 'w' },
		{ "worker-user", required_argument, NULL, 'u' },
		{ "cgroup", required_argument, NULL, 'c' },
		{ "start-timeout", required_argument, NULL, 't' },
		{ "test-engine", no_argument, NULL, 'T' },
		{ "no-sandbox", no_argument, NULL, 'N' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *group = NULL, *wuser = NULL, *cgroup = NULL;
	struct epoll_event evs[64];
	struct passwd *pw;
	struct group *gr;
	sigset_t mask;
	uint64_t u;
	int c, r, lock_fd;

	log_set_program("openhvd");
	D.socket_path = "/run/openhv/openhvd.sock";
	D.state_dir = "/var/lib/openhv";
	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (c) {
		case 's': D.socket_path = optarg; break;
		case 'd': D.state_dir = optarg; break;
		case 'g': group = optarg; break;
		case 'w': D.worker_path = optarg; break;
		case 'u': wuser = optarg; break;
		case 'c': cgroup = optarg; break;
		case 't':
			if (parse_u64(optarg, &u) || u < 1 || u > 3600) {
				log_err("--start-timeout takes 1 to 3600 seconds");
				return 2;
			}
			D.start_timeout_sec = (unsigned int)u;
			break;
		case 'T': D.idle_engine = true; break;
		case 'N': D.no_sandbox = true; break;
		case 'v': log_set_level(LOG_DEBUG); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!D.worker_path)
		D.worker_path = default_worker_path(argv[0]);
	if (access(D.worker_path, X_OK)) {
		log_err("cannot run the worker %s: %s; give its path with --worker",
			D.worker_path, strerror(errno));
		return 1;
	}

	/* Who the workers run as, and who may use the socket. */
	pw = getpwnam(wuser ? wuser : "openhv");
	if (!pw && !wuser)
		pw = getpwnam("nobody");
	if (!pw && wuser) {
		log_err("no user named '%s' for --worker-user", wuser);
		return 2;
	}
	D.worker_uid = pw ? pw->pw_uid : 65534;
	D.worker_gid = pw ? pw->pw_gid : 65534;
	gr = getgrnam(group ? group : "openhv");
	if (!gr && group) {
		log_err("no group named '%s' for --group", group);
		return 2;
	}
	D.sock_gid = gr ? gr->gr_gid : getegid();

	if (mkdir(D.state_dir, 0750) && errno != EEXIST) {
		log_err("cannot create the state directory %s: %s", D.state_dir, strerror(errno));
		return 1;
	}
	{
		char lock[4096];

		snprintf(lock, sizeof(lock), "%s/openhvd.lock", D.state_dir);
		lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB)) {
			log_err("another openhvd uses %s (or it is not writable: %s)", D.state_dir,
				strerror(errno));
			return 1;
		}
	}
	r = store_open(&D.store, D.state_dir);
	D.run_dir_fd = open_subdir("run", 0700);
	D.log_dir_fd = open_subdir("logs", 0750);
	if (r || D.run_dir_fd < 0 || D.log_dir_fd < 0) {
		log_err("cannot set up the state directory %s: %s", D.state_dir,
			strerror(r ? -r : (D.run_dir_fd < 0 ? -D.run_dir_fd : -D.log_dir_fd)));
		return 1;
	}
	if (cgroup)
		(void)cg_setup(cgroup);   /* not fatal: it says what is missing */

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	D.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	D.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (D.sig_fd < 0 || D.epfd < 0) {
		log_err("cannot set up the event loop: %s", strerror(errno));
		return 1;
	}

	r = store_list(&D.store, found_vm, bad_vm, NULL);
	if (r)
		log_err("cannot read the configurations: %s", strerror(-r));
	for (unsigned int i = 0; i < D.n_vms; i++)
		vm_reattach(D.vms[i]);

	if (server_listen())
		return 1;
	D.listen_tag = (struct ep_tag){ EP_LISTEN, NULL };
	D.sig_tag = (struct ep_tag){ EP_SIGNAL, NULL };
	if (epoll_ctl(D.epfd, EPOLL_CTL_ADD, D.listen_fd,
		      &(struct epoll_event){ .events = EPOLLIN, .data.ptr = &D.listen_tag }) ||
	    epoll_ctl(D.epfd, EPOLL_CTL_ADD, D.sig_fd,
		      &(struct epoll_event){ .events = EPOLLIN, .data.ptr = &D.sig_tag })) {
		log_err("epoll: %s", strerror(errno));
		return 1;
	}
	log_info("listening on %s (state in %s, %u VMs, %s engine)", D.socket_path, D.state_dir,
		 D.n_vms, D.idle_engine ? "idle test" : "KVM");

	while (!D.quit) {
		int n = epoll_wait(D.epfd, evs, ARRAY_SIZE(evs), 200);
		uint64_t now;

		if (n < 0 && errno != EINTR) {
			log_err("epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct ep_tag *t = evs[i].data.ptr;

			switch (t->kind) {
			case EP_LISTEN:
				server_on_accept();
				break;
			case EP_SIGNAL: {
				struct signalfd_siginfo si;

				while (read(D.sig_fd, &si, sizeof(si)) == sizeof(si)) {
					log_info("signal %u: shutting down; running VMs keep running",
						 si.ssi_signo);
					D.quit = true;
				}
				break;
			}
			case EP_CLIENT:
				server_on_client(t->ptr, evs[i].events);
				break;
			case EP_VM_CTL:
				vm_on_ctl(t->ptr);
				break;
			case EP_VM_PID:
				vm_on_pidfd(t->ptr);
				break;
			}
		}
		now = now_ns();
		vms_tick(now);
		server_tick(now);
		server_reap();
		vms_reap();
	}
	unlink(D.socket_path);
	return 0;
}
