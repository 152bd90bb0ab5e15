/* SPDX-License-Identifier: MIT */
/*
 * openhvd internals: the VM registry and worker supervision (vms.c) and the
 * HTTP/JSON front end with its clients (server.c), sharing one epoll loop
 * (openhvd.c). Single-threaded and never waits on a worker while serving:
 * commands to workers are queued per VM and answered from the event loop
 * (a reply, a timeout or the worker's end), so a hung worker delays only
 * the requests addressed to it. The one bounded wait left is the PING to
 * workers found at startup, before the socket is served.
 */
#ifndef OPENHV_DAEMON_DAEMON_H
#define OPENHV_DAEMON_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "api/api.h"
#include "api/ctl_proto.h"
#include "daemon/store.h"

enum ep_kind { EP_LISTEN, EP_SIGNAL, EP_CLIENT, EP_VM_CTL, EP_VM_PID };

struct ep_tag {
	enum ep_kind kind;
	void *ptr;
};

/*
 * The answer to a queued worker command: result 0 or -errno (-ETIMEDOUT,
 * -ECONNRESET when the worker ended first) and a message (text, or JSON for
 * CTL_CMD_GUEST_INFO). Called from the event loop exactly once per request.
 */
struct vm;
typedef void (*vm_reply_fn)(void *opaque, struct vm *vm, int result, const char *msg);

struct vm_req {
	uint64_t seq;
	uint64_t deadline_ns;
	vm_reply_fn fn;
	void *opaque;               /* NULL once cancelled (the client left) */
	struct vm_req *next;
};

#define VM_MAX_PENDING 16           /* commands in flight per worker */
#define VM_CMD_TIMEOUT_MS 3000

struct vm {
	struct api_vm_config cfg;
	struct api_vm_status st;
	int ctl_fd;                 /* control connection to the worker, -1 if none */
	int pidfd;                  /* worker process, -1 if none */
	bool is_child;              /* spawned by this openhvd (exit status available) */
	bool kill_requested;        /* the worker's end is expected: VM goes off */
	bool restart_pending;       /* start again once the worker is gone */
	bool got_exit;              /* EXITED received */
	bool reached_running;
	enum ctl_exit_kind exit_kind;
	char exit_detail[256];
	uint64_t deadline_ns;       /* start timeout or stop escalation, 0 = none */
	uint64_t seq;
	unsigned int bad_msgs;
	bool removed;               /* deleted; freed after the current epoll batch */
	struct vm *next_dead;
	uint8_t disk_lun[API_MAX_DISKS]; /* while running: the LUN of each cfg.disks entry */
	bool disk_op;               /* a hot-add/remove is with the worker (one at a time) */
	struct api_disk disk_adding;  /* the disk of that hot-add */
	unsigned int disk_removing;   /* the LUN of that hot-remove */
	struct vm_req *reqs;        /* commands sent, awaiting their reply (oldest first) */
	unsigned int n_reqs;
	struct ep_tag ctl_tag, pid_tag;
};

struct daemon {
	const char *state_dir;
	const char *socket_path;
	const char *worker_path;
	bool idle_engine;           /* test engine in every worker */
	bool no_sandbox;            /* debugging only */
	uid_t worker_uid;
	gid_t worker_gid;
	gid_t sock_gid;
	unsigned int start_timeout_sec;
	int epfd;
	int listen_fd;
	int sig_fd;
	int run_dir_fd;             /* state/run: runtime sockets */
	int log_dir_fd;             /* state/logs: console and worker logs */
	int cgroup_fd;              /* parent cgroup for workers, -1 if unusable */
	unsigned int cg_ctrls;      /* 1 << enum cg_ctrl enabled for the workers' cgroups */
	struct store store;
	struct vm *vms[API_MAX_VMS];
	unsigned int n_vms;
	bool quit;
	struct ep_tag listen_tag, sig_tag;
};

extern struct daemon D;

/* cgroup.c */
enum cg_ctrl { CG_MEMORY, CG_PIDS, CG_CPU, CG__COUNT };
#define CG_WORKER_ROOM (256ULL << 20)   /* memory.max = guest RAM + this */
int cg_setup(const char *dir);             /* --cgroup DIR; warns about what is missing */
/* The VM's cgroup with its limits; returns an fd of its cgroup.procs, or -1 (runs unlimited). */
int cg_prepare(const char *name, uint64_t mem_bytes, unsigned int cpus);
void cg_remove(const char *name);

/* vms.c */
struct vm *vm_find(const char *name);
int vm_add(const struct api_vm_config *cfg, struct vm **ret);
void vm_remove(struct vm *vm);
int vm_spawn(struct vm *vm, struct api_error *e);
/*
 * Send a command without waiting; fn gets the answer later. Returns 0, or
 * -errno with msg filled when nothing was sent (then fn is never called).
 */
int vm_command_async(struct vm *vm, uint32_t cmd, uint32_t timeout_ms, vm_reply_fn fn,
		     void *opaque, char *msg, size_t msglen);
/* Same with a text tail and, when fd >= 0, that descriptor in SCM_RIGHTS (CMD_DISK_ADD). */
int vm_command_async_fd(struct vm *vm, uint32_t cmd, uint32_t arg, const char *text, int fd,
			vm_reply_fn fn, void *opaque, char *msg, size_t msglen);
/* Forget opaque (a client that went away): its answers still update the VM, with opaque NULL. */
void vm_cancel_requests(const void *opaque);
int vm_kill(struct vm *vm, const char *why);
void vm_set_state(struct vm *vm, enum api_vm_state s, const char *reason);
void vm_on_ctl(struct vm *vm);
void vm_on_pidfd(struct vm *vm);
void vm_reattach(struct vm *vm);
void vms_tick(uint64_t now);
void vms_reap(void);                        /* free VMs deleted during an epoll batch */
char *vm_status_json(const struct vm *vm);

/* server.c */
int server_listen(void);
void server_on_accept(void);
void server_on_client(void *client, uint32_t events);
void server_tick(uint64_t now);
void server_reap(void);                     /* free clients closed during an epoll batch */
void server_broadcast_event(const char *event, const struct vm *vm, const char *reason);
void server_vm_gone(const struct vm *vm);   /* detach consoles of a VM that stopped */
unsigned int server_client_count(void);

uint64_t unix_ms(void);

#endif
