// SPDX-License-Identifier: MIT
/*
 * openhv vm: the client of openhvd's REST API over its Unix socket. Human
 * tables by default, --json for scripts; waits for state changes so that
 * "start" returns once the VM runs (or failed), and attaches the serial
 * console. Exit codes: 0 ok, 1 failed, 2 bad usage or configuration,
 * 3 service unreachable, 4 no such VM, 5 wrong state / name taken.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <json-c/json.h>

#include "api/api.h"
#include "api/http.h"
#include "base/log.h"
#include "base/util.h"
#include "cli/commands.h"

enum { EXIT_UNREACHABLE = 3, EXIT_NOT_FOUND = 4, EXIT_CONFLICT = 5 };

#define RESP_MAX (16u << 20)

static const char *sock_path;
static bool opt_json;

struct resp {
	int status;
	char *raw;          /* whole response */
	size_t raw_len;
	const char *body;
	size_t body_len;
};

static void resp_free(struct resp *r)
{
	free(r->raw);
	memset(r, 0, sizeof(*r));
}

static int connect_service(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		log_err("socket path '%s' is too long", sock_path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int r = -errno;

		log_err("cannot reach openhvd at %s: %s; is the service running? (choose the "
			"socket with --socket or OPENHV_SOCKET)", sock_path, strerror(-r));
		if (fd >= 0)
			close(fd);
		return r;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int send_request(int fd, const char *method, const char *path, const char *body,
			const char *extra)
{
	char head[1024];
	size_t blen = body ? strlen(body) : 0;
	int n = snprintf(head, sizeof(head),
			 "%s %s HTTP/1.1\r\nHost: openhvd\r\nUser-Agent: openhv/" OPENHV_VERSION
			 "\r\nAccept: application/json\r\n%sContent-Length: %zu\r\n%s\r\n",
			 method, path, blen ? "Content-Type: application/json\r\n" : "", blen,
			 extra ? extra : "Connection: close\r\n");

	if (n < 0 || (size_t)n >= sizeof(head))
		return -E2BIG;
	if (write_all(fd, head, (size_t)n) || (blen && write_all(fd, body, blen)))
		return -EIO;
	return 0;
}

/* One request/response; returns 0 (any HTTP status) or an EXIT_* code after logging. */
static int call(const char *method, const char *path, const char *body, struct resp *r)
{
	struct http_response h;
	size_t cap = 8192;
	int fd = connect_service();

	memset(r, 0, sizeof(*r));
	if (fd < 0)
		return EXIT_UNREACHABLE;
	if (send_request(fd, method, path, body, NULL)) {
		log_err("cannot send the request to openhvd: %s", strerror(errno));
		close(fd);
		return EXIT_UNREACHABLE;
	}
	r->raw = malloc(cap + 1);
	if (!r->raw) {
		close(fd);
		return EXIT_FAIL;
	}
	for (;;) {
		ssize_t n;

		if (r->raw_len == cap) {
			char *nb;

			if (cap >= RESP_MAX)
				break;
			nb = realloc(r->raw, cap * 2 + 1);
			if (!nb)
				break;
			r->raw = nb;
			cap *= 2;
		}
		n = recv(fd, r->raw + r->raw_len, cap - r->raw_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		r->raw_len += (size_t)n;
	}
	close(fd);
	r->raw[r->raw_len] = '\0';
	if (http_parse_response(r->raw, r->raw_len, &h)) {
		log_err("openhvd sent a malformed response");
		resp_free(r);
		return EXIT_FAIL;
	}
	r->status = h.status;
	r->body = r->raw + h.head_len;
	r->body_len = r->raw_len - h.head_len;
	if (h.has_length && h.content_length < r->body_len)
		r->body_len = h.content_length;
	return 0;
}

/* Print the service's error and map its status to an exit code. */
static int report_error(const struct resp *r)
{
	struct api_error e;

	if (api_error_decode(r->body, r->body_len, &e))
		log_err("openhvd answered HTTP %d", r->status);
	else
		log_err("%s", e.message);
	switch (r->status) {
	case 400:
	case 413:
		return EXIT_USAGE;
	case 404:
		return EXIT_NOT_FOUND;
	case 409:
		return EXIT_CONFLICT;
	default:
		return EXIT_FAIL;
	}
}

static struct json_object *parse_body(const struct resp *r)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = NULL;

	if (tok) {
		o = json_tokener_parse_ex(tok, r->body, (int)r->body_len);
		json_tokener_free(tok);
	}
	if (!o)
		log_err("openhvd sent a response that is not JSON");
	return o;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static int64_t jint(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return 0;
	return json_object_get_int64(v);
}

static void print_vm(struct json_object *vm)
{
	char size[32];
	struct json_object *arr;
	int64_t started = jint(vm, "started_unix");

	printf("Name:        %s\n", jstr(vm, "name"));
	printf("State:       %s%s%s%s\n", jstr(vm, "state"), jstr(vm, "state_reason")[0] ? " (" : "",
	       jstr(vm, "state_reason"), jstr(vm, "state_reason")[0] ? ")" : "");
	printf("Memory:      %s\n", fmt_size((uint64_t)jint(vm, "memory_bytes"), size, sizeof(size)));
	printf("CPUs:        %lld\n", (long long)jint(vm, "cpus"));
	printf("Kernel:      %s\n", jstr(vm, "kernel"));
	printf("Initrd:      %s\n", jstr(vm, "initrd")[0] ? jstr(vm, "initrd") : "-");
	printf("Cmdline:     %s\n", jstr(vm, "cmdline"));
	if (json_object_object_get_ex(vm, "disks", &arr) && json_object_is_type(arr, json_type_array))
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			struct json_object *d = json_object_array_get_idx(arr, i), *ro;
			bool readonly = json_object_object_get_ex(d, "readonly", &ro) &&
					json_object_get_boolean(ro);

			printf("Disk %zu:      %s%s\n", i, jstr(d, "path"), readonly ? " (read-only)" : "");
		}
	if (json_object_object_get_ex(vm, "nics", &arr) && json_object_is_type(arr, json_type_array))
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			struct json_object *n = json_object_array_get_idx(arr, i);

			if (jstr(n, "switch")[0])
				printf("NIC %zu:       switch %s, vlan %lld%s%s\n", i,
				       jstr(n, "switch"), (long long)jint(n, "vlan"),
				       jstr(n, "mac")[0] ? ", mac " : "", jstr(n, "mac"));
			else
				printf("NIC %zu:       tap %s%s%s\n", i, jstr(n, "tap"),
				       jstr(n, "mac")[0] ? ", mac " : "", jstr(n, "mac"));
		}
	if (jint(vm, "worker_pid"))
		printf("Worker PID:  %lld\n", (long long)jint(vm, "worker_pid"));
	if (started) {
		long long up = (long long)time(NULL) - started;

		printf("Uptime:      %lldh %02lldm %02llds\n", up / 3600, up / 60 % 60, up % 60);
	}
	if (json_object_object_get_ex(vm, "sandbox", &arr) && json_object_is_type(arr, json_type_array) &&
	    json_object_array_length(arr)) {
		printf("Sandbox:    ");
		for (size_t i = 0; i < json_object_array_length(arr); i++)
			printf(" %s", json_object_get_string(json_object_array_get_idx(arr, i)));
		printf("\n");
	}
}

static int get_vm(const char *name, struct json_object **ret, bool quiet_404)
{
	char path[128];
	struct resp r;
	int x;

	snprintf(path, sizeof(path), "/v1/vms/%s", name);
	x = call("GET", path, NULL, &r);
	if (x)
		return x;
	if (r.status != 200) {
		x = quiet_404 && r.status == 404 ? EXIT_NOT_FOUND : report_error(&r);
		resp_free(&r);
		return x;
	}
	*ret = parse_body(&r);
	resp_free(&r);
	return *ret ? 0 : EXIT_FAIL;
}

static bool check_name(const char *name)
{
	if (api_name_valid(name))
		return true;
	log_err("invalid VM name '%s': use 1-%d letters, digits, '.', '_' or '-', starting with a "
		"letter or digit", name, API_NAME_MAX);
	return false;
}

/* ---- commands ---- */

static int do_list(void)
{
	struct resp r;
	struct json_object *o, *vms;
	int x = call("GET", "/v1/vms", NULL, &r);

	if (x)
		return x;
	if (r.status != 200) {
		x = report_error(&r);
		resp_free(&r);
		return x;
	}
	if (opt_json) {
		fwrite(r.body, 1, r.body_len, stdout);
		resp_free(&r);
		return EXIT_OK;
	}
	o = parse_body(&r);
	resp_free(&r);
	if (!o || !json_object_object_get_ex(o, "vms", &vms) ||
	    !json_object_is_type(vms, json_type_array)) {
		json_object_put(o);
		return EXIT_FAIL;
	}
	printf("%-24s %-9s %4s %10s %8s\n", "NAME", "STATE", "CPUS", "MEMORY", "PID");
	for (size_t i = 0; i < json_object_array_length(vms); i++) {
		struct json_object *vm = json_object_array_get_idx(vms, i);
		char size[32], pid[16] = "-";

		if (jint(vm, "worker_pid"))
			snprintf(pid, sizeof(pid), "%lld", (long long)jint(vm, "worker_pid"));
		printf("%-24s %-9s %4lld %10s %8s\n", jstr(vm, "name"), jstr(vm, "state"),
		       (long long)jint(vm, "cpus"),
		       fmt_size((uint64_t)jint(vm, "memory_bytes"), size, sizeof(size)), pid);
	}
	json_object_put(o);
	return EXIT_OK;
}

static int do_show(const char *name)
{
	struct json_object *vm;
	int x = get_vm(name, &vm, false);

	if (x)
		return x;
	if (opt_json)
		printf("%s\n", json_object_to_json_string_ext(vm, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		print_vm(vm);
	json_object_put(vm);
	return EXIT_OK;
}

/* Absolute path for a file named on the command line (the service has another cwd). */
static char *abs_path(const char *p)
{
	char buf[PATH_MAX], cwd[PATH_MAX];
	char *out;

	if (realpath(p, buf))
		return strdup(buf);
	if (p[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return strdup(p);
	if (asprintf(&out, "%s/%s", cwd, p) < 0)
		return NULL;
	return out;
}

static const struct option cfg_opts[] = {
	{ "memory", required_argument, NULL, 'm' },
	{ "cpus", required_argument, NULL, 'c' },
	{ "kernel", required_argument, NULL, 'k' },
	{ "initrd", required_argument, NULL, 'i' },
	{ "no-initrd", no_argument, NULL, 'I' },
	{ "cmdline", required_argument, NULL, 'a' },
	{ "disk", required_argument, NULL, 'd' },
	{ "no-disks", no_argument, NULL, 'D' },
	{ "nic", required_argument, NULL, 'n' },
	{ "no-nics", no_argument, NULL, 'N' },
	{ "json", no_argument, NULL, 'j' },
	{ "no-wait", no_argument, NULL, 'W' },
	{ "timeout", required_argument, NULL, 't' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Build the JSON body of create/edit from options; returns EXIT_* or 0. */
static int build_config(int argc, char **argv, bool create, const char **name_out,
			struct json_object **ret)
{
	struct json_object *o = json_object_new_object(), *disks = NULL, *nics = NULL;
	const char *name = NULL;
	uint64_t u;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", cfg_opts, NULL)) != -1 || optind < argc) {
		char *p;

		if (c == -1) {
			/* a positional argument: the VM name */
			if (name) {
				log_err("unexpected argument '%s'", argv[optind]);
				goto usage;
			}
			name = argv[optind++];
			continue;
		}
		switch (c) {
		case 'm':
			if (parse_size(optarg, &u)) {
				log_err("--memory '%s' is not a size such as 512M or 2G", optarg);
				goto usage;
			}
			json_object_object_add(o, "memory_bytes", json_object_new_int64((int64_t)u));
			break;
		case 'c':
			if (parse_u64(optarg, &u) || u > 100000) {
				log_err("--cpus '%s' is not a number", optarg);
				goto usage;
			}
			json_object_object_add(o, "cpus", json_object_new_int64((int64_t)u));
			break;
		case 'k':
		case 'i':
			p = abs_path(optarg);
			json_object_object_add(o, c == 'k' ? "kernel" : "initrd",
					       json_object_new_string(p ? p : optarg));
			free(p);
			break;
		case 'I':
			json_object_object_add(o, "initrd", NULL);
			break;
		case 'a':
			json_object_object_add(o, "cmdline", json_object_new_string(optarg));
			break;
		case 'D':
			if (!disks)
				disks = json_object_new_array();
			break;
		case 'd': {
			struct json_object *d = json_object_new_object();
			char *path = strdup(optarg), *ro = strrchr(path, ',');
			bool readonly = false;

			if (ro && !strcmp(ro, ",ro")) {
				*ro = '\0';
				readonly = true;
			} else if (ro && !strcmp(ro, ",rw")) {
				*ro = '\0';
			}
			p = abs_path(path);
			json_object_object_add(d, "path", json_object_new_string(p ? p : path));
			json_object_object_add(d, "readonly", json_object_new_boolean(readonly));
			free(p);
			free(path);
			if (!disks)
				disks = json_object_new_array();
			json_object_array_add(disks, d);
			break;
		}
		case 'N':
			if (!nics)
				nics = json_object_new_array();
			break;
		case 'n': {
			/* TAP[,mac=MAC] or switch=NAME[,vlan=N][,mac=MAC]; the service checks values. */
			struct json_object *n = json_object_new_object();
			char *s = strdup(optarg), *save = NULL, *tok;
			bool first = true, bad = !s;

			for (tok = s ? strtok_r(s, ",", &save) : NULL; tok && !bad;
			     tok = strtok_r(NULL, ",", &save), first = false) {
				if (!strncmp(tok, "mac=", 4)) {
					json_object_object_add(n, "mac", json_object_new_string(tok + 4));
				} else if (!strncmp(tok, "switch=", 7) && first) {
					json_object_object_add(n, "switch", json_object_new_string(tok + 7));
				} else if (!strncmp(tok, "vlan=", 5) && !first) {
					char *end;
					long v = strtol(tok + 5, &end, 10);

					bad = *end || end == tok + 5;
					json_object_object_add(n, "vlan", json_object_new_int64(v));
				} else if (first && !strchr(tok, '=')) {
					json_object_object_add(n, "tap", json_object_new_string(tok));
				} else {
					bad = true;
				}
			}
			free(s);
			if (bad || !json_object_object_length(n)) {
				json_object_put(n);
				log_err("--nic '%s' is not TAP[,mac=MAC] or "
					"switch=NAME[,vlan=N][,mac=MAC]", optarg);
				goto usage;
			}
			if (!nics)
				nics = json_object_new_array();
			json_object_array_add(nics, n);
			break;
		}
		case 'j':
			opt_json = true;
			break;
		case 'h':
			json_object_put(o);
			return -1;
		default:
			goto usage;
		}
	}
	if (!name) {
		log_err("missing VM name");
		goto usage;
	}
	if (!check_name(name)) {
		json_object_put(o);
		json_object_put(disks);
		json_object_put(nics);
		return EXIT_USAGE;
	}
	if (disks)
		json_object_object_add(o, "disks", disks);
	if (nics)
		json_object_object_add(o, "nics", nics);
	if (create)
		json_object_object_add(o, "name", json_object_new_string(name));
	if (!create && !json_object_object_length(o)) {
		log_err("nothing to change: give --memory, --cpus, --kernel, --initrd, --cmdline, "
			"--disk or --nic");
		json_object_put(o);
		return EXIT_USAGE;
	}
	*name_out = name;
	*ret = o;
	return 0;
usage:
	json_object_put(o);
	json_object_put(disks);
	json_object_put(nics);
	log_err("see 'openhv vm --help'");
	return EXIT_USAGE;
}

static int do_create_edit(int argc, char **argv, bool create)
{
	struct json_object *o, *vm;
	const char *name;
	char path[128];
	struct resp r;
	int x = build_config(argc, argv, create, &name, &o);

	if (x < 0)
		return EXIT_USAGE;
	if (x)
		return x;
	snprintf(path, sizeof(path), create ? "/v1/vms" : "/v1/vms/%s", name);
	x = call(create ? "POST" : "PATCH", path,
		 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
		 &r);
	json_object_put(o);
	if (x)
		return x;
	if (r.status != 200 && r.status != 201) {
		x = report_error(&r);
		resp_free(&r);
		return x;
	}
	if (opt_json) {
		fwrite(r.body, 1, r.body_len, stdout);
	} else {
		vm = parse_body(&r);
		if (vm) {
			printf("%s VM %s\n", create ? "created" : "changed", jstr(vm, "name"));
			json_object_put(vm);
		}
	}
	resp_free(&r);
	return EXIT_OK;
}

static uint64_t mono_ms(void)
{
	return now_ns() / 1000000;
}

/*
 * Poll the VM until its state is one of `want` (NULL-terminated) or it leaves
 * `through` states; prints the final state. Returns EXIT_OK if a wanted state
 * was reached.
 */
static int wait_state(const char *name, const char *const *want, unsigned int timeout_sec)
{
	uint64_t deadline = mono_ms() + (uint64_t)timeout_sec * 1000;
	struct json_object *vm;
	int x;

	for (;;) {
		const char *st;

		x = get_vm(name, &vm, false);
		if (x)
			return x;
		st = jstr(vm, "state");
		for (const char *const *w = want; *w; w++) {
			if (!strcmp(st, *w)) {
				if (opt_json)
					printf("%s\n", json_object_to_json_string_ext(
						       vm, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE));
				else
					printf("VM %s is %s%s%s%s\n", name, st,
					       jstr(vm, "state_reason")[0] ? " (" : "",
					       jstr(vm, "state_reason"),
					       jstr(vm, "state_reason")[0] ? ")" : "");
				json_object_put(vm);
				return EXIT_OK;
			}
		}
		if ((!strcmp(st, "off") || !strcmp(st, "crashed")) &&
		    strcmp(want[0], "off")) {
			log_err("VM %s is %s: %s", name, st, jstr(vm, "state_reason")[0]
					? jstr(vm, "state_reason") : "no reason given");
			json_object_put(vm);
			return EXIT_FAIL;
		}
		json_object_put(vm);
		if (mono_ms() > deadline) {
			log_err("VM %s is still %s after %u s", name, st, timeout_sec);
			return EXIT_FAIL;
		}
		usleep(50 * 1000);
	}
}

static int do_action(int argc, char **argv, const char *action)
{
	static const char *const want_running[] = { "running", NULL };
	static const char *const want_off[] = { "off", "crashed", NULL };
	static const char *const want_paused[] = { "paused", NULL };
	bool no_wait = false;
	unsigned int timeout = 0;
	const char *name = NULL;
	char path[160], body[64] = "";
	struct resp r;
	uint64_t u;
	int c, x;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", cfg_opts, NULL)) != -1 || optind < argc) {
		if (c == -1) {
			if (name) {
				log_err("unexpected argument '%s'", argv[optind]);
				return EXIT_USAGE;
			}
			name = argv[optind++];
			continue;
		}
		switch (c) {
		case 'W':
			no_wait = true;
			break;
		case 'j':
			opt_json = true;
			break;
		case 't':
			if (parse_u64(optarg, &u) || u > API_STOP_MAX_TIMEOUT) {
				log_err("--timeout takes seconds, 0 to %d", API_STOP_MAX_TIMEOUT);
				return EXIT_USAGE;
			}
			timeout = (unsigned int)u;
			break;
		default:
			log_err("'openhv vm %s' takes NAME [--no-wait] [--timeout SEC] [--json]", action);
			return EXIT_USAGE;
		}
	}
	if (!name) {
		log_err("missing VM name: openhv vm %s NAME", action);
		return EXIT_USAGE;
	}
	if (!check_name(name))
		return EXIT_USAGE;
	if (!strcmp(action, "stop") && timeout)
		snprintf(body, sizeof(body), "{\"timeout_sec\":%u}", timeout);
	snprintf(path, sizeof(path), "/v1/vms/%s/%s", name, action);
	x = call("POST", path, body[0] ? body : NULL, &r);
	if (x)
		return x;
	if (r.status >= 300) {
		x = report_error(&r);
		resp_free(&r);
		return x;
	}
	resp_free(&r);
	if (no_wait) {
		if (!opt_json)
			printf("VM %s: %s requested\n", name, action);
		return EXIT_OK;
	}
	if (!timeout)
		timeout = API_STOP_DEFAULT_TIMEOUT;
	if (!strcmp(action, "start") || !strcmp(action, "resume") || !strcmp(action, "restart")) {
		if (!strcmp(action, "restart")) {
			/* Let the old worker go before waiting for the new one. */
			uint64_t end = mono_ms() + (uint64_t)timeout * 1000 + 10000;
			struct json_object *vm;

			while (mono_ms() < end) {
				bool moved;

				if ((x = get_vm(name, &vm, false)))
					return x;
				moved = strcmp(jstr(vm, "state"), "stopping") != 0;

				json_object_put(vm);
				if (moved)
					break;
				usleep(50 * 1000);
			}
		}
		return wait_state(name, want_running, timeout + 60);
	}
	if (!strcmp(action, "pause"))
		return wait_state(name, want_paused, 10);
	return wait_state(name, want_off, timeout + 10);
}

static int do_delete(const char *name)
{
	char path[128];
	struct resp r;
	int x;

	if (!check_name(name))
		return EXIT_USAGE;
	snprintf(path, sizeof(path), "/v1/vms/%s", name);
	x = call("DELETE", path, NULL, &r);
	if (x)
		return x;
	if (r.status != 204 && r.status != 200) {
		x = report_error(&r);
		resp_free(&r);
		return x;
	}
	resp_free(&r);
	if (!opt_json)
		printf("deleted VM %s\n", name);
	return EXIT_OK;
}

static int do_guest(const char *name)
{
	char path[128];
	struct resp r;
	int x;

	if (!check_name(name))
		return EXIT_USAGE;
	snprintf(path, sizeof(path), "/v1/vms/%s/guest", name);
	x = call("GET", path, NULL, &r);
	if (x)
		return x;
	if (r.status != 200) {
		x = report_error(&r);
		resp_free(&r);
		return x;
	}
	fwrite(r.body, 1, r.body_len, stdout);
	resp_free(&r);
	return EXIT_OK;
}

/* Read a response head from a streaming connection; leftover body bytes go to *extra. */
static int read_head(int fd, char *buf, size_t cap, size_t *len, struct http_response *h)
{
	*len = 0;
	for (;;) {
		ssize_t n = recv(fd, buf + *len, cap - *len, 0);
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -ECONNRESET;
		*len += (size_t)n;
		r = http_parse_response(buf, *len, h);
		if (r != -EAGAIN)
			return r;
		if (*len == cap)
			return -E2BIG;
	}
}

static int stream_error(int fd, char *buf, size_t len, size_t cap, const struct http_response *h)
{
	struct resp r = { .status = h->status };
	ssize_t n;

	while (len < cap && (n = recv(fd, buf + len, cap - len, 0)) > 0)
		len += (size_t)n;
	r.body = buf + h->head_len;
	r.body_len = len - h->head_len;
	return report_error(&r);
}

static int do_events(void)
{
	static char buf[65536];
	struct http_response h;
	size_t len;
	int fd = connect_service(), x;

	if (fd < 0)
		return EXIT_UNREACHABLE;
	if (send_request(fd, "GET", "/v1/events", NULL, NULL) ||
	    read_head(fd, buf, sizeof(buf) - 1, &len, &h)) {
		log_err("openhvd did not answer the events request");
		close(fd);
		return EXIT_FAIL;
	}
	if (h.status != 200) {
		x = stream_error(fd, buf, len, sizeof(buf) - 1, &h);
		close(fd);
		return x;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	fwrite(buf + h.head_len, 1, len - h.head_len, stdout);
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		fwrite(buf, 1, (size_t)n, stdout);
	}
	close(fd);
	return EXIT_OK;
}

static int do_console(const char *name)
{
	static char buf[65536];
	struct http_response h;
	struct termios saved, raw;
	bool tty = isatty(STDIN_FILENO);
	char path[128];
	size_t len;
	int fd, x = EXIT_OK;

	if (!check_name(name))
		return EXIT_USAGE;
	fd = connect_service();
	if (fd < 0)
		return EXIT_UNREACHABLE;
	snprintf(path, sizeof(path), "/v1/vms/%s/console", name);
	if (send_request(fd, "POST", path, NULL, "Connection: Upgrade\r\nUpgrade: openhv-console\r\n") ||
	    read_head(fd, buf, sizeof(buf) - 1, &len, &h)) {
		log_err("openhvd did not answer the console request");
		close(fd);
		return EXIT_FAIL;
	}
	if (h.status != 101) {
		x = stream_error(fd, buf, len, sizeof(buf) - 1, &h);
		close(fd);
		return x;
	}
	if (tty) {
		fprintf(stderr, "[connected to the serial console of VM %s; Ctrl-] detaches]\r\n", name);
		tcgetattr(STDIN_FILENO, &saved);
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	if (len > h.head_len)
		(void)!write(STDOUT_FILENO, buf + h.head_len, len - h.head_len);
	for (bool in_open = true;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN } };
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents) {
			n = recv(fd, buf, sizeof(buf), 0);
			if (n <= 0)
				break;
			(void)!write(STDOUT_FILENO, buf, (size_t)n);
		}
		if (p[1].revents) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0) {
				in_open = false;   /* keep showing output until the VM ends */
				continue;
			}
			if (tty && memchr(buf, 0x1d, (size_t)n))
				break;
			if (write_all(fd, buf, (size_t)n))
				break;
		}
	}
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		fprintf(stderr, "\n[detached from VM %s]\n", name);
	}
	close(fd);
	return x;
}

/* openhv vm disk list NAME | add NAME PATH [--readonly] | remove NAME LUN */
static int do_disk(int in_argc, char **in_argv)
{
	char *argv[8];
	int argc = 0;

	for (int k = 0; k < in_argc; k++)
		if (strcmp(in_argv[k], "--json") && argc < (int)ARRAY_SIZE(argv))
			argv[argc++] = in_argv[k];
	if (argc == (int)ARRAY_SIZE(argv)) {
		log_err("too many arguments; see 'openhv vm --help'");
		return EXIT_USAGE;
	}
	const char *sub = argc > 1 ? argv[1] : NULL, *name = argc > 2 ? argv[2] : NULL;
	char path[128];
	struct resp r;
	int x;

	if (!sub || !name || name[0] == '-') {
		log_err("usage: openhv vm disk list NAME | add NAME PATH [--readonly] | remove NAME LUN");
		return EXIT_USAGE;
	}
	if (!check_name(name))
		return EXIT_USAGE;
	if (!strcmp(sub, "list") && argc == 3) {
		snprintf(path, sizeof(path), "/v1/vms/%s/disks", name);
		x = call("GET", path, NULL, &r);
	} else if (!strcmp(sub, "add") && (argc == 4 || (argc == 5 && (!strcmp(argv[4], "--readonly") ||
									   !strcmp(argv[4], "--ro"))))) {
		struct json_object *o = json_object_new_object();
		char *p = abs_path(argv[3]);

		if (!o) {
			free(p);
			return EXIT_FAIL;
		}
		json_object_object_add(o, "path", json_object_new_string(p ? p : argv[3]));
		json_object_object_add(o, "readonly", json_object_new_boolean(argc == 5));
		free(p);
		snprintf(path, sizeof(path), "/v1/vms/%s/disks", name);
		x = call("POST", path, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								      JSON_C_TO_STRING_NOSLASHESCAPE), &r);
		json_object_put(o);
	} else if (!strcmp(sub, "remove") && argc == 4) {
		char *end;
		unsigned long lun = strtoul(argv[3], &end, 10);

		if (!argv[3][0] || *end || lun > 255) {
			log_err("'%s' is not a LUN: give a number from 0 to 255 ('openhv vm disk list %s' "
				"shows them)", argv[3], name);
			return EXIT_USAGE;
		}
		snprintf(path, sizeof(path), "/v1/vms/%s/disks/%lu", name, lun);
		x = call("DELETE", path, NULL, &r);
	} else {
		log_err("usage: openhv vm disk list NAME | add NAME PATH [--readonly] | remove NAME LUN");
		return EXIT_USAGE;
	}
	if (x)
		return x;
	if (r.status != 200) {
		x = report_error(&r);
		resp_free(&r);
		return x;
	}
	if (opt_json || strcmp(sub, "add")) {
		fwrite(r.body, 1, r.body_len, stdout);
	} else {
		struct json_object *o = json_tokener_parse(r.body);
		struct json_object *l = NULL;

		if (o && json_object_object_get_ex(o, "lun", &l))
			printf("attached %s to VM %s as LUN %d\n", argv[3], name, json_object_get_int(l));
		else
			fwrite(r.body, 1, r.body_len, stdout);
		json_object_put(o);
	}
	resp_free(&r);
	return EXIT_OK;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: openhv vm [--socket PATH] [--json] COMMAND [ARGS]\n"
		"\n"
		"  create NAME --kernel PATH [--memory SIZE] [--cpus N] [--initrd PATH]\n"
		"              [--cmdline TEXT] [--disk PATH[,ro]]...\n"
		"              [--nic TAP[,mac=MAC] | --nic switch=NAME[,vlan=N][,mac=MAC]]...\n"
		"  edit NAME   [the create options] [--no-initrd] [--no-disks] [--no-nics]\n"
		"              (only while the VM is off; --disk/--nic replace the lists)\n"
		"  list | show NAME | delete NAME\n"
		"  start NAME | stop NAME [--timeout SEC] | kill NAME | restart NAME\n"
		"  pause NAME | resume NAME        (these wait for the new state unless --no-wait)\n"
		"  console NAME                    attach to the serial console (Ctrl-] detaches)\n"
		"  guest NAME                      integration-service status and KVP pairs (JSON)\n"
		"  disk list NAME                  the VM's disks (with their LUNs while it runs)\n"
		"  disk add NAME PATH [--readonly] hot-add a disk to the running VM (kept in its config)\n"
		"  disk remove NAME LUN            hot-remove the disk at LUN from the running VM\n"
		"  events                          print state changes as they happen (JSON lines)\n"
		"\n"
		"The service socket is --socket, else $OPENHV_SOCKET, else /run/openhv/openhvd.sock.\n"
		"Exit codes: 0 ok, 1 failed, 2 bad usage or configuration, 3 service unreachable,\n"
		"4 no such VM, 5 not possible in the VM's current state (or name taken).\n");
}

int cmd_vm(int argc, char **argv)
{
	const char *cmd;
	int i = 1;

	sock_path = getenv("OPENHV_SOCKET");
	if (!sock_path || !sock_path[0])
		sock_path = "/run/openhv/openhvd.sock";
	/* Global options before the command. */
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			sock_path = argv[++i];
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			sock_path = argv[i] + 9;
		} else if (!strcmp(argv[i], "--json")) {
			opt_json = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return EXIT_OK;
		} else {
			log_err("unknown option '%s'; see 'openhv vm --help'", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[i];
	argc -= i;
	argv += i;
	/* Trailing --json anywhere for the simple commands. */
	for (int k = 1; k < argc; k++)
		if (!strcmp(argv[k], "--json"))
			opt_json = true;

	if (!strcmp(cmd, "list"))
		return do_list();
	if (!strcmp(cmd, "events"))
		return do_events();
	if (!strcmp(cmd, "create"))
		return do_create_edit(argc, argv, true);
	if (!strcmp(cmd, "edit"))
		return do_create_edit(argc, argv, false);
	if (!strcmp(cmd, "disk"))
		return do_disk(argc, argv);
	if (!strcmp(cmd, "start") || !strcmp(cmd, "stop") || !strcmp(cmd, "kill") ||
	    !strcmp(cmd, "pause") || !strcmp(cmd, "resume") || !strcmp(cmd, "restart"))
		return do_action(argc, argv, cmd);
	if (!strcmp(cmd, "show") || !strcmp(cmd, "delete") || !strcmp(cmd, "console") ||
	    !strcmp(cmd, "guest")) {
		const char *name = NULL;

		for (int k = 1; k < argc; k++) {
			if (!strcmp(argv[k], "--json"))
				continue;
			if (name || argv[k][0] == '-') {
				log_err("'openhv vm %s' takes one VM name", cmd);
				return EXIT_USAGE;
			}
			name = argv[k];
		}
		if (!name) {
			log_err("missing VM name: openhv vm %s NAME", cmd);
			return EXIT_USAGE;
		}
		if (!strcmp(cmd, "show"))
			return do_show(name);
		if (!strcmp(cmd, "delete"))
			return do_delete(name);
		if (!strcmp(cmd, "guest"))
			return do_guest(name);
		return do_console(name);
	}
	log_err("unknown command 'vm %s'; see 'openhv vm --help'", cmd);
	return EXIT_USAGE;
}
