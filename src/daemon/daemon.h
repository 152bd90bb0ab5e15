/* SPDX-License-Identifier: MIT */
/*
 * openhvd internals: the VM registry and worker supervision (vms.c) and the
 * HTTP/JSON front end with its clients (server.c), sharing one epoll loop
 * (openhvd.c). Single-threaded; nothing here blocks for long except the
 * bounded wait for a worker's reply to a command.
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
	struct store store;
	struct vm *vms[API_MAX_VMS];
	unsigned int n_vms;
	bool quit;
	struct ep_tag listen_tag, sig_tag;
};

extern struct daemon D;

/* vms.c */
struct vm *vm_find(const char *name);
int vm_add(const struct api_vm_config *cfg, struct vm **ret);
void vm_remove(struct vm *vm);
int vm_spawn(struct vm *vm, struct api_error *e);
int vm_command(struct vm *vm, uint32_t cmd, uint32_t timeout_ms, char *msg, size_t msglen);
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
