// SPDX-License-Identifier: MIT
/*
 * openhvd front end: the Unix socket, peer-credential checks, HTTP/1.1
 * requests (one per connection), the REST handlers, the /v1/events feed and
 * console attachment (an upgraded connection relaying the serial console).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <json-c/json.h>

#include "api/http.h"
#include "base/log.h"
#include "base/util.h"
#include "daemon/daemon.h"
#include "daemon/devices.h"

#define CLIENT_IN_MAX (HTTP_MAX_HEAD + API_MAX_BODY)
#define CLIENT_OUT_MAX (1u << 20)
#define CLIENT_READ_TIMEOUT_NS (10ULL * 1000000000ULL)
#define MAX_CLIENTS 256
#define CONSOLE_BACKLOG 8192

/* C_WAIT: the request went to a worker; the answer comes from vm_reply_fn. */
enum client_mode { C_READ, C_WAIT, C_WRITE, C_EVENTS, C_CONSOLE };

struct client {
	struct ep_tag tag;
	struct client *next, *prev;
	int fd;
	enum client_mode mode;
	uint32_t ep_events;
	char *in;
	size_t in_len;
	char *out;
	size_t out_len, out_off, out_cap;
	bool close_after_write;
	bool lingering;             /* response sent and write side shut: draining the rest */
	bool sent_continue;
	bool forbidden;             /* peer failed the credential check: answer 403 */
	uid_t peer_uid;
	uint64_t deadline_ns;
	enum api_action wait_act;   /* C_WAIT: the action waiting for the worker */
	char console_vm[API_NAME_MAX + 1];
	int console_fd;
	off_t console_off;
};

static struct client *clients;
static struct client *dead_clients;   /* closed during this epoll batch, freed after it */
static unsigned int n_clients;

uint64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

unsigned int server_client_count(void)
{
	return n_clients;
}

static void client_close(struct client *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->mode == C_WAIT)
		vm_cancel_requests(c);
	close(c->fd);
	if (c->console_fd >= 0)
		close(c->console_fd);
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	c->fd = c->console_fd = -1;
	/*
	 * Other events of the current epoll batch may still point at this
	 * client (one handler can close another client, e.g. a console whose
	 * VM just stopped): free it only after the batch.
	 */
	c->next = dead_clients;
	dead_clients = c;
	n_clients--;
}

void server_reap(void)
{
	while (dead_clients) {
		struct client *c = dead_clients;

		dead_clients = c->next;
		free(c);
	}
}

static void set_events(struct client *c, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = &c->tag };

	if (c->ep_events != ev && !epoll_ctl(D.epfd, EPOLL_CTL_MOD, c->fd, &e))
		c->ep_events = ev;
}

/* Returns false if the client was closed. */
static bool flush(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			client_close(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		if (c->close_after_write) {
			/*
			 * Lingering close: a client may still be sending a request
			 * body we refused (e.g. 413). Closing now with unread input
			 * would make its send fail before it reads our answer, so
			 * shut our side, discard its input until EOF, and close then
			 * (or after 2 s).
			 */
			if (c->lingering || shutdown(c->fd, SHUT_WR) < 0) {
				client_close(c);
				return false;
			}
			c->lingering = true;
			c->deadline_ns = now_ns() + 2000000000ULL;
			set_events(c, EPOLLIN | EPOLLRDHUP);
			return true;
		}
		set_events(c, c->mode == C_WRITE ? EPOLLRDHUP : EPOLLIN | EPOLLRDHUP);
	} else {
		set_events(c, (c->mode == C_WRITE ? 0 : EPOLLIN) | EPOLLOUT | EPOLLRDHUP);
	}
	return true;
}

static bool queue(struct client *c, const void *data, size_t len)
{
	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len - c->out_off + len > CLIENT_OUT_MAX)
		return false;
	if (c->out_len + len > c->out_cap) {
		size_t cap = MAX(c->out_cap * 2, c->out_len + len + 256);
		char *n;

		if (c->out_off) {
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		n = realloc(c->out, cap);
		if (!n)
			return false;
		c->out = n;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	return true;
}

static void respond_raw(struct client *c, int status, const char *extra_headers,
			const char *body)
{
	char head[512];
	size_t blen = body ? strlen(body) : 0;
	int n;

	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nServer: openhvd\r\nContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
		     status, http_status_text(status), blen ? blen + 1 : 0,
		     extra_headers ? extra_headers : "");
	c->mode = C_WRITE;
	c->close_after_write = true;
	if (!queue(c, head, (size_t)n) || (blen && (!queue(c, body, blen) || !queue(c, "\n", 1)))) {
		client_close(c);
		return;
	}
	flush(c);
}

static void respond_err(struct client *c, const struct api_error *e)
{
	char *body = api_error_encode(e);

	respond_raw(c, api_err_http_status(e->code), NULL,
		    body ? body : "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}");
	free(body);
}

static void __attribute__((format(printf, 3, 4)))
respond_fail(struct client *c, enum api_err code, const char *fmt, ...)
{
	struct api_error e = { .code = code };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	respond_err(c, &e);
}

static void respond_vm(struct client *c, int status, const struct vm *vm)
{
	char *body = vm_status_json(vm);

	if (!body) {
		respond_fail(c, API_E_INTERNAL, "out of memory");
		return;
	}
	respond_raw(c, status, NULL, body);
	free(body);
}

/* ---- events and consoles ---- */

void server_broadcast_event(const char *event, const struct vm *vm, const char *reason)
{
	char *line = NULL;
	struct client *c, *next;

	for (c = clients; c; c = next) {
		next = c->next;
		if (c->mode != C_EVENTS)
			continue;
		if (!line) {
			line = api_event_encode(event, vm->cfg.name, vm->st.state, reason, unix_ms());
			if (!line)
				return;
		}
		if (!queue(c, line, strlen(line)) || !queue(c, "\n", 1)) {
			client_close(c);   /* too slow a reader */
			continue;
		}
		flush(c);
	}
	free(line);
}

/* Returns false if the client was closed. */
static bool console_pump(struct client *c)
{
	char buf[16384];
	struct stat st;
	ssize_t n;

	if (c->console_fd < 0 || fstat(c->console_fd, &st))
		return true;
	if (st.st_size < c->console_off)
		c->console_off = 0;   /* the worker restarted the log */
	while (c->console_off < st.st_size && c->out_len - c->out_off < CLIENT_OUT_MAX / 2) {
		n = pread(c->console_fd, buf, sizeof(buf), c->console_off);
		if (n <= 0)
			break;
		if (!queue(c, buf, (size_t)n))
			break;
		c->console_off += n;
	}
	return flush(c);
}

void server_vm_gone(const struct vm *vm)
{
	struct client *c, *next;
	char msg[128];

	for (c = clients; c; c = next) {
		next = c->next;
		if (c->mode != C_CONSOLE || strcmp(c->console_vm, vm->cfg.name))
			continue;
		if (!console_pump(c))
			continue;
		snprintf(msg, sizeof(msg), "\r\n[openhv: VM %s is %s]\r\n", vm->cfg.name,
			 api_state_name(vm->st.state));
		c->mode = C_WRITE;
		c->close_after_write = true;
		if (queue(c, msg, strlen(msg)))
			flush(c);
		else
			client_close(c);
	}
}

/* ---- request handlers ---- */

static void handle_list(struct client *c)
{
	size_t cap = 64, len = 0;
	char *buf = malloc(cap);

	if (!buf) {
		respond_fail(c, API_E_INTERNAL, "out of memory");
		return;
	}
	len = (size_t)sprintf(buf, "{\"vms\":[");
	for (unsigned int i = 0; i < D.n_vms; i++) {
		char *one = vm_status_json(D.vms[i]);
		size_t l = one ? strlen(one) : 0;

		if (!one || len + l + 8 > cap) {
			char *nb = one ? realloc(buf, cap = (len + l + 8) * 2) : NULL;

			if (!nb) {
				free(one);
				free(buf);
				respond_fail(c, API_E_INTERNAL, "out of memory");
				return;
			}
			buf = nb;
		}
		if (i)
			buf[len++] = ',';
		memcpy(buf + len, one, l);
		len += l;
		free(one);
	}
	memcpy(buf + len, "]}", 3);
	respond_raw(c, 200, NULL, buf);
	free(buf);
}

static void handle_create(struct client *c, const struct http_request *req)
{
	struct api_vm_config *cfg = malloc(sizeof(*cfg));
	struct api_error e;
	struct vm *vm;
	int r;

	if (!cfg) {
		respond_fail(c, API_E_INTERNAL, "out of memory");
		return;
	}
	if (api_vm_config_decode(req->body, req->content_length, API_DECODE_CREATE, cfg, &e)) {
		respond_err(c, &e);
	} else if (vm_find(cfg->name)) {
		respond_fail(c, API_E_CONFLICT, "a VM named '%s' already exists; pick another name "
			     "or delete it first", cfg->name);
	} else if (D.n_vms >= API_MAX_VMS) {
		respond_fail(c, API_E_TOO_MANY, "this service already holds %d VMs", API_MAX_VMS);
	} else if ((r = store_save(&D.store, cfg))) {
		respond_fail(c, API_E_INTERNAL, "cannot save the configuration: %s", strerror(-r));
	} else if ((r = vm_add(cfg, &vm))) {
		store_delete(&D.store, cfg->name);
		respond_fail(c, API_E_INTERNAL, "cannot register the VM: %s", strerror(-r));
	} else {
		log_info("VM %s: created", vm->cfg.name);
		server_broadcast_event("created", vm, "");
		respond_vm(c, 201, vm);
	}
	free(cfg);
}

static void handle_edit(struct client *c, struct vm *vm, const struct http_request *req)
{
	struct api_vm_config *cfg = malloc(sizeof(*cfg));
	enum api_vm_state next;
	struct api_error e;
	int r;

	if (!cfg) {
		respond_fail(c, API_E_INTERNAL, "out of memory");
		return;
	}
	*cfg = vm->cfg;
	if (api_transition(vm->st.state, API_ACT_EDIT, &next, vm->cfg.name, &e) ||
	    api_vm_config_decode(req->body, req->content_length, API_DECODE_EDIT, cfg, &e)) {
		respond_err(c, &e);
	} else if ((r = store_save(&D.store, cfg))) {
		respond_fail(c, API_E_INTERNAL, "cannot save the configuration: %s", strerror(-r));
	} else {
		vm->cfg = *cfg;
		log_info("VM %s: configuration changed", vm->cfg.name);
		server_broadcast_event("edited", vm, "");
		respond_vm(c, 200, vm);
	}
	free(cfg);
}

static void handle_delete(struct client *c, struct vm *vm)
{
	enum api_vm_state next;
	struct api_error e;
	char file[API_NAME_MAX + 32];
	int r;

	if (api_transition(vm->st.state, API_ACT_DELETE, &next, vm->cfg.name, &e)) {
		respond_err(c, &e);
		return;
	}
	r = store_delete(&D.store, vm->cfg.name);
	if (r && r != -ENOENT) {
		respond_fail(c, API_E_INTERNAL, "cannot delete the configuration: %s", strerror(-r));
		return;
	}
	static const char *const logs[] = { ".console.log", ".console.log.1", ".worker.log",
					    ".worker.log.1" };
	for (size_t i = 0; i < ARRAY_SIZE(logs); i++) {
		snprintf(file, sizeof(file), "%s%s", vm->cfg.name, logs[i]);
		unlinkat(D.log_dir_fd, file, 0);
	}
	cg_remove(vm->cfg.name);
	log_info("VM %s: deleted", vm->cfg.name);
	server_broadcast_event("deleted", vm, "");
	vm_remove(vm);
	respond_raw(c, 204, NULL, NULL);
}

static void wait_for_worker(struct client *c, enum api_action act)
{
	c->mode = C_WAIT;
	c->wait_act = act;
	c->deadline_ns = 0;
	free(c->in);   /* the request is parsed; nothing more is read from this client */
	c->in = NULL;
	c->in_len = 0;
}

/* The worker took (or could not take) a stop/restart; c is NULL if the client left. */
static void on_stop_reply(void *opaque, struct vm *vm, int result, const char *msg)
{
	struct client *c = opaque;
	bool live = vm->pidfd >= 0 && vm->st.state == VM_STATE_STOPPING;

	if (result && (live || api_state_has_worker(vm->st.state))) {
		/* A worker that cannot take the request is stopped the hard way. */
		vm_kill(vm, "stopped (the worker did not take the stop request; it was killed)");
		vm_set_state(vm, VM_STATE_STOPPING, "worker killed");
	} else if (!result && live) {
		vm_set_state(vm, VM_STATE_STOPPING, msg);
	}
	if (c)
		respond_vm(c, 202, vm);
}

static void pause_resume_done(struct client *c, struct vm *vm, enum api_action act, int result,
			      const char *msg)
{
	enum api_vm_state from = act == API_ACT_PAUSE ? VM_STATE_RUNNING : VM_STATE_PAUSED;

	if (!result && vm->st.state == from)
		vm_set_state(vm, act == API_ACT_PAUSE ? VM_STATE_PAUSED : VM_STATE_RUNNING, "");
	if (!c)
		return;
	if (result)
		respond_fail(c, result == -ETIMEDOUT || result == -ECONNRESET ? API_E_UNAVAILABLE
									      : API_E_INTERNAL,
			     "cannot %s VM '%s': %s", api_action_name(act), vm->cfg.name, msg);
	else
		respond_vm(c, 200, vm);
}

static void on_pause_reply(void *opaque, struct vm *vm, int result, const char *msg)
{
	pause_resume_done(opaque, vm, API_ACT_PAUSE, result, msg);
}

static void on_resume_reply(void *opaque, struct vm *vm, int result, const char *msg)
{
	pause_resume_done(opaque, vm, API_ACT_RESUME, result, msg);
}

static void on_guest_reply(void *opaque, struct vm *vm, int result, const char *msg)
{
	struct client *c = opaque;

	if (!c)
		return;
	if (result == -EOPNOTSUPP)
		respond_fail(c, API_E_UNSUPPORTED, "%s", msg);
	else if (result)
		respond_fail(c, API_E_UNAVAILABLE, "guest information unavailable: %s", msg);
	else
		respond_raw(c, 200, NULL, msg);
}

static void handle_action(struct client *c, struct vm *vm, enum api_action act,
			  const struct http_request *req)
{
	enum api_vm_state next;
	struct api_error e;
	unsigned int timeout = 0;
	char msg[256];
	int r;

	if (act == API_ACT_STOP && api_stop_decode(req->body, req->content_length, &timeout, &e)) {
		respond_err(c, &e);
		return;
	}
	if (act != API_ACT_STOP && req->content_length) {
		/* Only stop takes options; anything else must come empty or as {}. */
		if (!(req->content_length == 2 && !memcmp(req->body, "{}", 2))) {
			respond_fail(c, API_E_BAD_REQUEST, "'%s' takes no request body",
				     api_action_name(act));
			return;
		}
	}
	if (api_transition(vm->st.state, act, &next, vm->cfg.name, &e)) {
		respond_err(c, &e);
		return;
	}
	switch (act) {
	case API_ACT_START:
		if (vm_spawn(vm, &e)) {
			respond_err(c, &e);
			return;
		}
		respond_vm(c, 202, vm);
		return;
	case API_ACT_KILL:
		r = vm_kill(vm, "killed on request");
		if (r) {
			respond_fail(c, API_E_INTERNAL, "cannot kill the worker: %s", strerror(-r));
			return;
		}
		vm_set_state(vm, VM_STATE_STOPPING, "kill requested");
		respond_vm(c, 202, vm);
		return;
	case API_ACT_STOP:
	case API_ACT_RESTART:
		vm->restart_pending = act == API_ACT_RESTART;
		vm->deadline_ns = now_ns() + (uint64_t)timeout * 1000000000ULL +
				  5ULL * 1000000000ULL;
		r = vm_command_async(vm, act == API_ACT_STOP ? CTL_CMD_STOP : CTL_CMD_HARD_STOP,
				     timeout * 1000, on_stop_reply, c, msg, sizeof(msg));
		if (r) {
			on_stop_reply(c, vm, r, msg);
			return;
		}
		vm_set_state(vm, VM_STATE_STOPPING, "stop requested");
		wait_for_worker(c, act);
		return;
	case API_ACT_PAUSE:
	case API_ACT_RESUME:
		r = vm_command_async(vm, act == API_ACT_PAUSE ? CTL_CMD_PAUSE : CTL_CMD_RESUME, 0,
				     act == API_ACT_PAUSE ? on_pause_reply : on_resume_reply, c, msg,
				     sizeof(msg));
		if (r) {
			pause_resume_done(c, vm, act, r, msg);
			return;
		}
		wait_for_worker(c, act);
		return;
	default:
		respond_fail(c, API_E_NOT_FOUND, "no such action");
	}
}

static void handle_guest(struct client *c, struct vm *vm)
{
	char msg[CTL_TEXT_MAX + 1];
	int r;

	if (vm->st.state != VM_STATE_RUNNING) {
		respond_fail(c, API_E_CONFLICT, "VM '%s' is %s; guest information needs a running "
			     "VM", vm->cfg.name, api_state_name(vm->st.state));
		return;
	}
	r = vm_command_async(vm, CTL_CMD_GUEST_INFO, 0, on_guest_reply, c, msg, sizeof(msg));
	if (r)
		on_guest_reply(c, vm, r, msg);
	else
		wait_for_worker(c, API_ACT__COUNT);
}

/* ---- disk hot-plug ---- */

static bool vm_live(const struct vm *vm)
{
	return vm->st.state == VM_STATE_RUNNING || vm->st.state == VM_STATE_PAUSED;
}

static void respond_disks(struct client *c, const struct vm *vm)
{
	struct json_object *a = json_object_new_array();
	const char *s;

	if (!a) {
		respond_fail(c, API_E_INTERNAL, "out of memory");
		return;
	}
	for (unsigned int i = 0; i < vm->cfg.n_disks; i++) {
		struct json_object *o = json_object_new_object();

		if (!o)
			break;
		if (vm_live(vm))
			json_object_object_add(o, "lun", json_object_new_int(vm->disk_lun[i]));
		json_object_object_add(o, "path", json_object_new_string(vm->cfg.disks[i].path));
		json_object_object_add(o, "readonly", json_object_new_boolean(vm->cfg.disks[i].readonly));
		json_object_array_add(a, o);
	}
	s = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	respond_raw(c, 200, NULL, s);
	json_object_put(a);
}

static void save_disks(struct vm *vm)
{
	int r = store_save(&D.store, &vm->cfg);

	if (r)
		log_warn("VM %s: the disk change is live but could not be saved: %s; it is lost "
			 "when the service restarts", vm->cfg.name, strerror(-r));
}

/* The worker's answer to CMD_DISK_ADD ("lun=N"); c is NULL if the client left. */
static void on_disk_add_reply(void *opaque, struct vm *vm, int result, const char *msg)
{
	struct client *c = opaque;
	unsigned int lun = 0, n = vm->cfg.n_disks;
	char body[API_PATH_MAX + 96];

	vm->disk_op = false;
	if (!result && (sscanf(msg, "lun=%u", &lun) != 1 || lun > 255 || n >= API_MAX_DISKS))
		result = -EPROTO;
	if (result) {
		if (c)
			respond_fail(c, result == -EOPNOTSUPP ? API_E_UNSUPPORTED :
				     result == -ETIMEDOUT || result == -ENOTCONN ? API_E_UNAVAILABLE :
				     result == -EPROTO ? API_E_INTERNAL : API_E_CONFLICT,
				     "cannot hot-add '%s': %s", vm->disk_adding.path,
				     result == -EPROTO ? "the worker gave a malformed answer" : msg);
		return;
	}
	/* Live now: the VM's configuration keeps it for the next start too. */
	vm->cfg.disks[n] = vm->disk_adding;
	vm->disk_lun[n] = (uint8_t)lun;
	vm->cfg.n_disks = n + 1;
	save_disks(vm);
	log_info("VM %s: disk %s hot-added as LUN %u", vm->cfg.name, vm->disk_adding.path, lun);
	if (c) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "lun", json_object_new_int((int)lun));
		json_object_object_add(o, "path", json_object_new_string(vm->disk_adding.path));
		json_object_object_add(o, "readonly", json_object_new_boolean(vm->disk_adding.readonly));
		snprintf(body, sizeof(body), "%s",
			 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
		respond_raw(c, 200, NULL, body);
	}
}

static void handle_disk_add(struct client *c, struct vm *vm, const struct http_request *req)
{
	struct ctl_disk_wire w;
	struct api_error e;
	struct api_disk d;
	char msg[256];
	int fd, r;

	if (api_disk_decode(req->body, req->content_length, &d, &e)) {
		respond_err(c, &e);
		return;
	}
	if (!vm_live(vm)) {
		respond_fail(c, API_E_CONFLICT, "VM '%s' is %s; hot-add needs a running VM (add the "
			     "disk to a stopped VM with 'openhv vm edit')", vm->cfg.name,
			     api_state_name(vm->st.state));
		return;
	}
	if (!(vm->st.caps & CTL_CAP_DISK_HOTPLUG)) {
		respond_fail(c, API_E_UNSUPPORTED, "VM '%s' runs an engine that cannot hot-plug disks",
			     vm->cfg.name);
		return;
	}
	if (vm->disk_op) {
		respond_fail(c, API_E_CONFLICT, "VM '%s' has a disk change in progress; try again",
			     vm->cfg.name);
		return;
	}
	if (vm->cfg.n_disks >= API_MAX_DISKS) {
		respond_fail(c, API_E_CONFLICT, "VM '%s' has %u disks, the most it can have; remove "
			     "one first", vm->cfg.name, vm->cfg.n_disks);
		return;
	}
	for (unsigned int i = 0; i < vm->cfg.n_disks; i++) {
		if (!strcmp(vm->cfg.disks[i].path, d.path)) {
			respond_fail(c, API_E_CONFLICT, "'%s' is attached to VM '%s' already (LUN %u)",
				     d.path, vm->cfg.name, vm->disk_lun[i]);
			return;
		}
	}
	/*
	 * The same file under another name (a link) is the same disk: said
	 * plainly here (the image lock taken below would refuse it as well).
	 */
	{
		struct stat nst, ost;
		bool have = !stat(d.path, &nst);

		for (unsigned int i = 0; have && i < vm->cfg.n_disks; i++) {
			if (!stat(vm->cfg.disks[i].path, &ost) && ost.st_dev == nst.st_dev &&
			    ost.st_ino == nst.st_ino) {
				respond_fail(c, API_E_CONFLICT, "'%s' is the same file as '%s', "
					     "attached to VM '%s' already (LUN %u)", d.path,
					     vm->cfg.disks[i].path, vm->cfg.name, vm->disk_lun[i]);
				return;
			}
		}
	}
	/* Opened, locked and checked here, exactly as at start; the worker gets the descriptor. */
	fd = dev_open_disk(&d, vm->cfg.n_disks, &w, NULL, NULL, &e);
	if (fd < 0) {
		respond_err(c, &e);
		return;
	}
	vm->disk_adding = d;
	vm->disk_op = true;
	r = vm_command_async_fd(vm, CTL_CMD_DISK_ADD, w.flags, w.label, fd, on_disk_add_reply, c,
				msg, sizeof(msg));
	close(fd);
	if (r)
		on_disk_add_reply(c, vm, r, msg);
	else
		wait_for_worker(c, API_ACT__COUNT);
}

static void on_disk_remove_reply(void *opaque, struct vm *vm, int result, const char *msg)
{
	struct client *c = opaque;
	unsigned int lun = vm->disk_removing, i;

	vm->disk_op = false;
	if (result) {
		if (c)
			respond_fail(c, result == -ENOENT ? API_E_NOT_FOUND :
				     result == -EOPNOTSUPP ? API_E_UNSUPPORTED :
				     result == -ETIMEDOUT || result == -ENOTCONN ? API_E_UNAVAILABLE :
				     API_E_CONFLICT, "cannot remove LUN %u: %s", lun, msg);
		return;
	}
	for (i = 0; i < vm->cfg.n_disks && vm->disk_lun[i] != lun; i++)
		;
	if (i < vm->cfg.n_disks) {
		log_info("VM %s: disk %s (LUN %u) hot-removed", vm->cfg.name, vm->cfg.disks[i].path,
			 lun);
		memmove(&vm->cfg.disks[i], &vm->cfg.disks[i + 1],
			(vm->cfg.n_disks - i - 1) * sizeof(vm->cfg.disks[0]));
		memmove(&vm->disk_lun[i], &vm->disk_lun[i + 1], vm->cfg.n_disks - i - 1);
		vm->cfg.n_disks--;
		save_disks(vm);
	}
	if (c)
		respond_disks(c, vm);
}

static void handle_disk_remove(struct client *c, struct vm *vm, unsigned int lun)
{
	char msg[256];
	unsigned int i;
	int r;

	if (!vm_live(vm)) {
		respond_fail(c, API_E_CONFLICT, "VM '%s' is %s; hot-remove needs a running VM "
			     "(edit a stopped VM's disks with 'openhv vm edit')", vm->cfg.name,
			     api_state_name(vm->st.state));
		return;
	}
	if (!(vm->st.caps & CTL_CAP_DISK_HOTPLUG)) {
		respond_fail(c, API_E_UNSUPPORTED, "VM '%s' runs an engine that cannot hot-plug disks",
			     vm->cfg.name);
		return;
	}
	if (vm->disk_op) {
		respond_fail(c, API_E_CONFLICT, "VM '%s' has a disk change in progress; try again",
			     vm->cfg.name);
		return;
	}
	for (i = 0; i < vm->cfg.n_disks && vm->disk_lun[i] != lun; i++)
		;
	if (i == vm->cfg.n_disks) {
		respond_fail(c, API_E_NOT_FOUND, "VM '%s' has no disk at LUN %u; 'openhv vm disk list "
			     "%s' shows them", vm->cfg.name, lun, vm->cfg.name);
		return;
	}
	vm->disk_removing = lun;
	vm->disk_op = true;
	r = vm_command_async_fd(vm, CTL_CMD_DISK_REMOVE, lun, NULL, -1, on_disk_remove_reply, c,
				msg, sizeof(msg));
	if (r)
		on_disk_remove_reply(c, vm, r, msg);
	else
		wait_for_worker(c, API_ACT__COUNT);
}

static void handle_console(struct client *c, struct vm *vm, const struct http_request *req)
{
	const struct http_header *up = http_find_header(req, "upgrade");
	static const char head[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: openhv-console\r\n"
				   "Connection: Upgrade\r\n\r\n";
	char file[API_NAME_MAX + 16];
	struct stat st;

	if (!req->upgrade || !up || up->value_len != 14 || memcmp(up->value, "openhv-console", 14)) {
		respond_fail(c, API_E_BAD_REQUEST, "the console needs 'Connection: Upgrade' and "
			     "'Upgrade: openhv-console'; use 'openhv vm console %s'", vm->cfg.name);
		return;
	}
	if (!api_state_has_worker(vm->st.state)) {
		respond_fail(c, API_E_CONFLICT, "VM '%s' is %s; start it first", vm->cfg.name,
			     api_state_name(vm->st.state));
		return;
	}
	snprintf(file, sizeof(file), "%s.console.log", vm->cfg.name);
	c->console_fd = openat(D.log_dir_fd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (c->console_fd < 0 || fstat(c->console_fd, &st)) {
		respond_fail(c, API_E_INTERNAL, "cannot open the console log: %s", strerror(errno));
		return;
	}
	c->console_off = st.st_size > CONSOLE_BACKLOG ? st.st_size - CONSOLE_BACKLOG : 0;
	snprintf(c->console_vm, sizeof(c->console_vm), "%s", vm->cfg.name);
	c->mode = C_CONSOLE;
	c->deadline_ns = 0;
	free(c->in);
	c->in = NULL;
	c->in_len = 0;
	if (!queue(c, head, sizeof(head) - 1)) {
		client_close(c);
		return;
	}
	console_pump(c);
}

static void handle_events(struct client *c)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nServer: openhvd\r\n"
				   "Content-Type: application/x-ndjson\r\nCache-Control: no-cache\r\n"
				   "Connection: close\r\n\r\n";

	c->mode = C_EVENTS;
	c->deadline_ns = 0;
	free(c->in);
	c->in = NULL;
	c->in_len = 0;
	if (queue(c, head, sizeof(head) - 1))
		flush(c);
	else
		client_close(c);
}

static bool method_is(const struct http_request *req, enum http_method m)
{
	return req->method == m;
}

static void handle_request(struct client *c, const struct http_request *req)
{
	struct api_route r;
	struct api_error e;
	struct vm *vm = NULL;

	if (api_route_parse(req->target, req->target_len, &r, &e)) {
		respond_err(c, &e);
		return;
	}
	if (r.kind != API_R_VMS && r.kind != API_R_EVENTS && r.kind != API_R_VERSION) {
		vm = vm_find(r.name);
		if (!vm) {
			respond_fail(c, API_E_NOT_FOUND, "no VM named '%s'; 'openhv vm list' shows "
				     "the VMs", r.name);
			return;
		}
	}
	switch (r.kind) {
	case API_R_VERSION:
		if (method_is(req, HTTP_GET)) {
			respond_raw(c, 200, NULL, "{\"api\":\"v1\",\"service\":\"openhvd\"}");
			return;
		}
		break;
	case API_R_VMS:
		if (method_is(req, HTTP_GET)) {
			handle_list(c);
			return;
		}
		if (method_is(req, HTTP_POST)) {
			handle_create(c, req);
			return;
		}
		break;
	case API_R_VM:
		if (method_is(req, HTTP_GET)) {
			respond_vm(c, 200, vm);
			return;
		}
		if (method_is(req, HTTP_PATCH)) {
			handle_edit(c, vm, req);
			return;
		}
		if (method_is(req, HTTP_DELETE)) {
			handle_delete(c, vm);
			return;
		}
		break;
	case API_R_VM_ACTION:
		if (method_is(req, HTTP_POST)) {
			handle_action(c, vm, r.action, req);
			return;
		}
		break;
	case API_R_VM_GUEST:
		if (method_is(req, HTTP_GET)) {
			handle_guest(c, vm);
			return;
		}
		break;
	case API_R_VM_CONSOLE:
		if (method_is(req, HTTP_POST)) {
			handle_console(c, vm, req);
			return;
		}
		break;
	case API_R_VM_DISKS:
		if (method_is(req, HTTP_GET)) {
			respond_disks(c, vm);
			return;
		}
		if (method_is(req, HTTP_POST)) {
			handle_disk_add(c, vm, req);
			return;
		}
		break;
	case API_R_VM_DISK:
		if (method_is(req, HTTP_DELETE)) {
			handle_disk_remove(c, vm, r.lun);
			return;
		}
		break;
	case API_R_EVENTS:
		if (method_is(req, HTTP_GET)) {
			handle_events(c);
			return;
		}
		break;
	}
	respond_fail(c, API_E_METHOD, "%s is not allowed on this path",
		     http_method_name(req->method));
}

/* ---- connections ---- */

static bool peer_in_group(pid_t pid, gid_t gid)
{
	char path[64], line[1024];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *p, *end;

		if (strncmp(line, "Groups:", 7))
			continue;
		for (p = line + 7;; p = end) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			if (g == gid)
				found = true;
		}
	}
	fclose(f);
	return found;
}

void server_on_accept(void)
{
	for (int i = 0; i < 16; i++) {
		struct ucred cr;
		socklen_t len = sizeof(cr);
		struct client *c;
		struct epoll_event ev;
		int fd = accept4(D.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0)
			return;
		if (n_clients >= MAX_CLIENTS) {
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->tag = (struct ep_tag){ EP_CLIENT, c };
		c->fd = fd;
		c->console_fd = -1;
		c->mode = C_READ;
		c->deadline_ns = now_ns() + CLIENT_READ_TIMEOUT_NS;
		c->ep_events = EPOLLIN | EPOLLRDHUP;
		ev.events = c->ep_events;
		ev.data.ptr = &c->tag;
		if (epoll_ctl(D.epfd, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(c);
			continue;
		}
		c->next = clients;
		if (clients)
			clients->prev = c;
		clients = c;
		n_clients++;
		/* Refused peers still get their request read, then a 403 they can see. */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) ||
		    !(cr.uid == 0 || cr.uid == geteuid() || cr.gid == D.sock_gid ||
		      peer_in_group(cr.pid, D.sock_gid))) {
			c->forbidden = true;
			c->peer_uid = len == sizeof(cr) ? cr.uid : (uid_t)-1;
		}
	}
}

static void on_readable(struct client *c)
{
	struct http_request req;
	const char *why;
	int status, r;
	ssize_t n;

	if (c->mode == C_CONSOLE) {
		char buf[CTL_TEXT_MAX];
		struct vm *vm = vm_find(c->console_vm);

		n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			client_close(c);
			return;
		}
		if (n > 0 && vm && vm->ctl_fd >= 0) {
			uint8_t pkt[CTL_MAX_PACKET];
			int len = ctl_encode(CTL_INPUT, NULL, 0, buf, (size_t)n, pkt, sizeof(pkt));

			if (len > 0)
				(void)!send(vm->ctl_fd, pkt, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		return;
	}
	if (c->mode != C_READ) {
		char buf[256];

		n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			client_close(c);
		return;
	}
	if (!c->in) {
		c->in = malloc(CLIENT_IN_MAX);
		if (!c->in) {
			client_close(c);
			return;
		}
	}
	n = recv(c->fd, c->in + c->in_len, CLIENT_IN_MAX - c->in_len, MSG_DONTWAIT);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			client_close(c);
		return;
	}
	if (n == 0) {
		client_close(c);
		return;
	}
	c->in_len += (size_t)n;
	r = http_parse_request(c->in, c->in_len, API_MAX_BODY, &req, &status, &why);
	if (r == -EAGAIN) {
		if (req.head_len && req.expect_continue && !c->sent_continue) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

			c->sent_continue = true;
			if (queue(c, cont, sizeof(cont) - 1))
				flush(c);
		}
		return;
	}
	if (r) {
		struct api_error e = { .code = status == 413 ? API_E_TOO_LARGE : API_E_BAD_REQUEST };
		char *body;

		snprintf(e.message, sizeof(e.message), "%s", why);
		body = api_error_encode(&e);
		respond_raw(c, status, NULL, body);
		free(body);
		return;
	}
	c->deadline_ns = 0;
	if (c->forbidden) {
		respond_fail(c, API_E_FORBIDDEN, "uid %u may not manage VMs: use root or a member "
			     "of the socket's group", (unsigned int)c->peer_uid);
		return;
	}
	handle_request(c, &req);
}

void server_on_client(void *client, uint32_t events)
{
	struct client *c = client;

	if (c->fd < 0)
		return;   /* closed earlier in this batch */

	if (events & EPOLLOUT) {
		if (!flush(c))
			return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
		if (c->mode == C_WRITE && !(events & EPOLLIN)) {
			if (events & (EPOLLHUP | EPOLLERR))
				client_close(c);
			return;
		}
		on_readable(c);
	}
}

void server_tick(uint64_t now)
{
	struct client *c, *next;

	for (c = clients; c; c = next) {
		next = c->next;
		if (c->lingering && now > c->deadline_ns) {
			client_close(c);
			continue;
		}
		if (c->mode == C_READ && c->deadline_ns && now > c->deadline_ns) {
			respond_fail(c, API_E_BAD_REQUEST, "request not received completely within "
				     "10 s");
			continue;
		}
		if (c->mode == C_CONSOLE)
			console_pump(c);
	}
}

int server_listen(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(D.socket_path) >= sizeof(sa.sun_path)) {
		log_err("socket path '%s' is too long (at most %zu bytes)", D.socket_path,
			sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, D.socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		log_err("another openhvd is already listening on %s", D.socket_path);
		close(fd);
		return -EADDRINUSE;
	}
	close(fd);
	unlink(D.socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		r = -errno;
		log_err("cannot bind %s: %s", D.socket_path, strerror(-r));
		close(fd);
		return r;
	}
	if (chmod(D.socket_path, 0660) || (D.sock_gid != getegid() &&
					   chown(D.socket_path, (uid_t)-1, D.sock_gid)) ||
	    listen(fd, 64)) {
		r = -errno;
		log_err("cannot set up %s: %s", D.socket_path, strerror(-r));
		close(fd);
		return r;
	}
	D.listen_fd = fd;
	return 0;
}
