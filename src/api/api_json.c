// SPDX-License-Identifier: MIT
/*
 * JSON codec for VM configurations and error bodies (json-c). Decoding is
 * strict: one JSON object, no trailing bytes, bounded depth and size, every
 * member known and of the right type, then a whole-config check. The caller's
 * struct changes only when everything passed.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api/api.h"
#include "base/util.h"

#define JSON_MAX_DEPTH 8

void api_vm_config_init(struct api_vm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->memory_bytes = 512ULL << 20;
	c->cpus = 1;
}

int api_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
				      &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (s[i * 3 + 2] != ':' && i < 5)
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

void api_format_mac(const uint8_t mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
}

static bool path_ok(const char *p)
{
	if (p[0] != '/')
		return false;
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* The switch library's rule (src/switch): a letter, then letters, digits, '-', '_'. */
static bool switch_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > API_SWITCH_NAME_MAX || !isalpha((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

static bool ifname_ok(const char *s)
{
	if (!s[0] || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || (unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

int api_vm_config_check(const struct api_vm_config *c, struct api_error *e)
{
	if (!api_name_valid(c->name))
		return api_fail(e, API_E_BAD_REQUEST,
				"invalid VM name '%.63s': use 1-%d letters, digits, '.', '_' or '-', "
				"starting with a letter or digit", c->name, API_NAME_MAX);
	if (c->memory_bytes < API_MIN_MEM || c->memory_bytes > API_MAX_MEM)
		return api_fail(e, API_E_BAD_REQUEST,
				"memory_bytes %" PRIu64 " is out of range: use 32 MiB to 1 TiB",
				c->memory_bytes);
	if (c->memory_bytes % (1ULL << 20))
		return api_fail(e, API_E_BAD_REQUEST,
				"memory_bytes must be a multiple of 1 MiB (1048576)");
	if (c->cpus < 1 || c->cpus > API_MAX_CPUS)
		return api_fail(e, API_E_BAD_REQUEST, "cpus %u is out of range: use 1 to %d",
				c->cpus, API_MAX_CPUS);
	if (!c->kernel[0])
		return api_fail(e, API_E_BAD_REQUEST, "kernel is required: give the absolute path "
				"of a bzImage");
	if (!path_ok(c->kernel))
		return api_fail(e, API_E_BAD_REQUEST, "kernel must be an absolute path without "
				"control characters");
	if (c->initrd[0] && !path_ok(c->initrd))
		return api_fail(e, API_E_BAD_REQUEST, "initrd must be an absolute path without "
				"control characters");
	if (c->n_disks > API_MAX_DISKS || c->n_nics > API_MAX_NICS)
		return api_fail(e, API_E_BAD_REQUEST, "too many disks or NICs");
	for (unsigned int i = 0; i < c->n_disks; i++) {
		if (!path_ok(c->disks[i].path))
			return api_fail(e, API_E_BAD_REQUEST, "disks[%u].path must be an absolute "
					"path without control characters", i);
		for (unsigned int j = 0; j < i; j++)
			if (!strcmp(c->disks[i].path, c->disks[j].path))
				return api_fail(e, API_E_BAD_REQUEST,
						"disks[%u] and disks[%u] name the same file", j, i);
	}
	for (unsigned int i = 0; i < c->n_nics; i++) {
		const struct api_nic *n = &c->nics[i];

		if (!n->tap[0] == !n->switch_name[0])
			return api_fail(e, API_E_BAD_REQUEST, "nics[%u] needs exactly one of tap and "
					"switch", i);
		if (n->switch_name[0] && !switch_name_ok(n->switch_name))
			return api_fail(e, API_E_BAD_REQUEST, "nics[%u].switch must start with a "
					"letter and hold only letters, digits, '-' and '_' (at most "
					"%d)", i, API_SWITCH_NAME_MAX);
		if (n->vlan > 4094)
			return api_fail(e, API_E_BAD_REQUEST, "nics[%u].vlan must be 1..4094", i);
		if (n->vlan && !n->switch_name[0])
			return api_fail(e, API_E_BAD_REQUEST, "nics[%u].vlan needs a switch NIC (a "
					"TAP NIC's VLAN is the host's business)", i);
		if (!n->tap[0])
			continue;
		if (!ifname_ok(c->nics[i].tap))
			return api_fail(e, API_E_BAD_REQUEST, "nics[%u].tap is not a valid "
					"interface name", i);
		if (c->nics[i].has_mac && (c->nics[i].mac[0] & 1))
			return api_fail(e, API_E_BAD_REQUEST, "nics[%u].mac is a multicast "
					"address; use a unicast one such as 00:15:5d:00:00:01", i);
		for (unsigned int j = 0; j < i; j++)
			if (c->nics[j].tap[0] && !strcmp(c->nics[i].tap, c->nics[j].tap))
				return api_fail(e, API_E_BAD_REQUEST,
						"nics[%u] and nics[%u] use the same tap", j, i);
	}
	return 0;
}

/* ---- decoding helpers ---- */

static int get_string(struct json_object *v, const char *what, char *out, size_t cap,
		      struct api_error *e)
{
	const char *s;
	int len;

	if (!json_object_is_type(v, json_type_string))
		return api_fail(e, API_E_BAD_REQUEST, "%s must be a string", what);
	s = json_object_get_string(v);
	len = json_object_get_string_len(v);
	if (len < 0 || (size_t)len >= cap)
		return api_fail(e, API_E_BAD_REQUEST, "%s is too long (at most %zu bytes)", what,
				cap - 1);
	if (memchr(s, '\0', (size_t)len))
		return api_fail(e, API_E_BAD_REQUEST, "%s contains a NUL character", what);
	memcpy(out, s, (size_t)len);
	out[len] = '\0';
	return 0;
}

static int get_uint(struct json_object *v, const char *what, uint64_t max, uint64_t *out,
		    struct api_error *e)
{
	int64_t i;

	if (!json_object_is_type(v, json_type_int))
		return api_fail(e, API_E_BAD_REQUEST, "%s must be an integer", what);
	errno = 0;
	i = json_object_get_int64(v);
	if (i < 0 || errno == ERANGE || (uint64_t)i > max)
		return api_fail(e, API_E_BAD_REQUEST, "%s is out of range (0 to %" PRIu64 ")", what,
				max);
	*out = (uint64_t)i;
	return 0;
}

static int decode_disk(struct json_object *o, unsigned int idx, struct api_disk *d,
		       struct api_error *e)
{
	char what[64];
	bool have_path = false;

	if (!json_object_is_type(o, json_type_object))
		return api_fail(e, API_E_BAD_REQUEST, "disks[%u] must be an object", idx);
	memset(d, 0, sizeof(*d));
	json_object_object_foreach(o, key, val) {
		if (!strcmp(key, "path")) {
			snprintf(what, sizeof(what), "disks[%u].path", idx);
			if (get_string(val, what, d->path, sizeof(d->path), e))
				return -EINVAL;
			have_path = true;
		} else if (!strcmp(key, "readonly")) {
			if (!json_object_is_type(val, json_type_boolean))
				return api_fail(e, API_E_BAD_REQUEST,
						"disks[%u].readonly must be true or false", idx);
			d->readonly = json_object_get_boolean(val);
		} else {
			return api_fail(e, API_E_BAD_REQUEST, "unknown field disks[%u].%.40s "
					"(known: path, readonly)", idx, key);
		}
	}
	if (!have_path)
		return api_fail(e, API_E_BAD_REQUEST, "disks[%u].path is required", idx);
	return 0;
}

static int decode_nic(struct json_object *o, unsigned int idx, struct api_nic *n,
		      struct api_error *e)
{
	char what[64], mac[32];

	if (!json_object_is_type(o, json_type_object))
		return api_fail(e, API_E_BAD_REQUEST, "nics[%u] must be an object", idx);
	memset(n, 0, sizeof(*n));
	json_object_object_foreach(o, key, val) {
		if (!strcmp(key, "tap")) {
			snprintf(what, sizeof(what), "nics[%u].tap", idx);
			if (get_string(val, what, n->tap, sizeof(n->tap), e))
				return -EINVAL;
		} else if (!strcmp(key, "switch")) {
			snprintf(what, sizeof(what), "nics[%u].switch", idx);
			if (get_string(val, what, n->switch_name, sizeof(n->switch_name), e))
				return -EINVAL;
		} else if (!strcmp(key, "vlan")) {
			int64_t v;

			if (!json_object_is_type(val, json_type_int) ||
			    (v = json_object_get_int64(val)) < 1 || v > 4094)
				return api_fail(e, API_E_BAD_REQUEST, "nics[%u].vlan must be an "
						"integer 1..4094", idx);
			n->vlan = (uint16_t)v;
		} else if (!strcmp(key, "mac")) {
			snprintf(what, sizeof(what), "nics[%u].mac", idx);
			if (get_string(val, what, mac, sizeof(mac), e))
				return -EINVAL;
			if (api_parse_mac(mac, n->mac))
				return api_fail(e, API_E_BAD_REQUEST, "nics[%u].mac must look like "
						"00:15:5d:00:00:01", idx);
			n->has_mac = true;
		} else {
			return api_fail(e, API_E_BAD_REQUEST, "unknown field nics[%u].%.40s "
					"(known: tap, switch, vlan, mac)", idx, key);
		}
	}
	if (!n->tap[0] == !n->switch_name[0])
		return api_fail(e, API_E_BAD_REQUEST, "nics[%u] needs exactly one of tap and "
				"switch", idx);
	return 0;
}

static int decode_array(struct json_object *v, const char *what, size_t max,
			struct api_error *e)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array))
		return api_fail(e, API_E_BAD_REQUEST, "%s must be an array", what);
	n = json_object_array_length(v);
	if (n > max)
		return api_fail(e, API_E_BAD_REQUEST, "%s has %zu entries; at most %zu allowed",
				what, n, max);
	return (int)n;
}

/* Parse exactly one JSON object from json[0..len). */
static int parse_object(const char *json, size_t len, struct json_object **ret,
			struct api_error *e)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;

	if (len > API_MAX_BODY)
		return api_fail(e, API_E_TOO_LARGE, "request body is larger than %d bytes",
				API_MAX_BODY);
	tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	if (!tok)
		return api_fail(e, API_E_INTERNAL, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, json, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue) {
		/* Finish a top-level value that ends with the input (numbers). */
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		if (jerr == json_tokener_success && json_tokener_get_parse_end(tok) != 0) {
			json_object_put(obj);
			obj = NULL;
			jerr = json_tokener_error_parse_eof;
		}
	} else if (jerr == json_tokener_success) {
		size_t end = json_tokener_get_parse_end(tok);

		for (; end < len; end++) {
			char ch = json[end];

			if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n') {
				json_object_put(obj);
				json_tokener_free(tok);
				return api_fail(e, API_E_BAD_REQUEST,
						"unexpected data after the JSON value at byte %zu", end);
			}
		}
	}
	if (jerr == json_tokener_success && !obj) {
		json_tokener_free(tok);
		return api_fail(e, API_E_BAD_REQUEST, "the request body must be a JSON object, "
				"not null");
	}
	if (jerr != json_tokener_success || !obj) {
		json_object_put(obj);
		api_fail(e, API_E_BAD_REQUEST, "malformed JSON: %s", json_tokener_error_desc(jerr));
		json_tokener_free(tok);
		return -EINVAL;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return api_fail(e, API_E_BAD_REQUEST, "the request body must be a JSON object");
	}
	*ret = obj;
	return 0;
}

int api_vm_config_decode(const char *json, size_t len, enum api_decode_mode mode,
			 struct api_vm_config *c, struct api_error *e)
{
	struct json_object *obj;
	struct api_vm_config *n;
	bool have_name = false, have_kernel = false;
	int r = -EINVAL;

	r = parse_object(json, len, &obj, e);
	if (r)
		return r;
	n = malloc(sizeof(*n));
	if (!n) {
		json_object_put(obj);
		return api_fail(e, API_E_INTERNAL, "out of memory");
	}
	if (mode == API_DECODE_EDIT)
		memcpy(n, c, sizeof(*n));
	else
		api_vm_config_init(n);
	r = -EINVAL;

	json_object_object_foreach(obj, key, val) {
		uint64_t u;

		if (!strcmp(key, "name")) {
			if (mode == API_DECODE_EDIT) {
				api_fail(e, API_E_BAD_REQUEST, "a VM cannot be renamed: leave out "
					 "\"name\" when editing");
				goto out;
			}
			if (get_string(val, "name", n->name, sizeof(n->name), e))
				goto out;
			have_name = true;
		} else if (!strcmp(key, "memory_bytes")) {
			if (get_uint(val, "memory_bytes", API_MAX_MEM, &u, e))
				goto out;
			n->memory_bytes = u;
		} else if (!strcmp(key, "cpus")) {
			if (get_uint(val, "cpus", API_MAX_CPUS, &u, e))
				goto out;
			n->cpus = (unsigned int)u;
		} else if (!strcmp(key, "kernel")) {
			if (get_string(val, "kernel", n->kernel, sizeof(n->kernel), e))
				goto out;
			have_kernel = true;
		} else if (!strcmp(key, "initrd")) {
			if (json_object_is_type(val, json_type_null))
				n->initrd[0] = '\0';
			else if (get_string(val, "initrd", n->initrd, sizeof(n->initrd), e))
				goto out;
		} else if (!strcmp(key, "cmdline")) {
			if (get_string(val, "cmdline", n->cmdline, sizeof(n->cmdline), e))
				goto out;
		} else if (!strcmp(key, "disks")) {
			int cnt = decode_array(val, "disks", API_MAX_DISKS, e);

			if (cnt < 0)
				goto out;
			for (int i = 0; i < cnt; i++)
				if (decode_disk(json_object_array_get_idx(val, (size_t)i),
						(unsigned int)i, &n->disks[i], e))
					goto out;
			n->n_disks = (unsigned int)cnt;
		} else if (!strcmp(key, "nics")) {
			int cnt = decode_array(val, "nics", API_MAX_NICS, e);

			if (cnt < 0)
				goto out;
			for (int i = 0; i < cnt; i++)
				if (decode_nic(json_object_array_get_idx(val, (size_t)i),
					       (unsigned int)i, &n->nics[i], e))
					goto out;
			n->n_nics = (unsigned int)cnt;
		} else if (!strcmp(key, "format_version") && mode == API_DECODE_STORED) {
			if (get_uint(val, "format_version", 1000, &u, e))
				goto out;
			if (u != 1) {
				api_fail(e, API_E_BAD_REQUEST, "configuration format_version %" PRIu64
					 " is not supported (this openhvd reads 1)", u);
				goto out;
			}
		} else {
			api_fail(e, API_E_BAD_REQUEST, "unknown field \"%.40s\" (known: name, "
				 "memory_bytes, cpus, kernel, initrd, cmdline, disks, nics)", key);
			goto out;
		}
	}
	if (mode != API_DECODE_EDIT && !have_name) {
		api_fail(e, API_E_BAD_REQUEST, "\"name\" is required");
		goto out;
	}
	if (mode != API_DECODE_EDIT && !have_kernel) {
		api_fail(e, API_E_BAD_REQUEST, "\"kernel\" is required: the absolute path of a "
			 "bzImage");
		goto out;
	}
	if (api_vm_config_check(n, e))
		goto out;
	memcpy(c, n, sizeof(*n));
	r = 0;
out:
	free(n);
	json_object_put(obj);
	return r;
}

static char *dup_json(struct json_object *o)
{
	const char *s;
	char *copy = NULL;

	if (!o)
		return NULL;
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s)
		copy = strdup(s);
	json_object_put(o);
	return copy;
}

char *api_vm_config_encode(const struct api_vm_config *c, bool stored)
{
	struct json_object *o = json_object_new_object();
	struct json_object *disks, *nics;

	if (!o)
		return NULL;
	if (stored)
		json_object_object_add(o, "format_version", json_object_new_int(1));
	json_object_object_add(o, "name", json_object_new_string(c->name));
	json_object_object_add(o, "memory_bytes", json_object_new_int64((int64_t)c->memory_bytes));
	json_object_object_add(o, "cpus", json_object_new_int((int)c->cpus));
	json_object_object_add(o, "kernel", json_object_new_string(c->kernel));
	json_object_object_add(o, "initrd", c->initrd[0] ? json_object_new_string(c->initrd) : NULL);
	json_object_object_add(o, "cmdline", json_object_new_string(c->cmdline));
	disks = json_object_new_array();
	for (unsigned int i = 0; disks && i < c->n_disks && i < API_MAX_DISKS; i++) {
		struct json_object *d = json_object_new_object();

		json_object_object_add(d, "path", json_object_new_string(c->disks[i].path));
		json_object_object_add(d, "readonly", json_object_new_boolean(c->disks[i].readonly));
		json_object_array_add(disks, d);
	}
	json_object_object_add(o, "disks", disks);
	nics = json_object_new_array();
	for (unsigned int i = 0; nics && i < c->n_nics && i < API_MAX_NICS; i++) {
		struct json_object *n = json_object_new_object();
		char mac[18];

		if (c->nics[i].tap[0])
			json_object_object_add(n, "tap", json_object_new_string(c->nics[i].tap));
		else
			json_object_object_add(n, "switch",
					       json_object_new_string(c->nics[i].switch_name));
		if (c->nics[i].vlan)
			json_object_object_add(n, "vlan", json_object_new_int(c->nics[i].vlan));
		if (c->nics[i].has_mac) {
			api_format_mac(c->nics[i].mac, mac);
			json_object_object_add(n, "mac", json_object_new_string(mac));
		}
		json_object_array_add(nics, n);
	}
	json_object_object_add(o, "nics", nics);
	return dup_json(o);
}

char *api_error_encode(const struct api_error *e)
{
	struct json_object *o = json_object_new_object(), *in = json_object_new_object();

	if (!o || !in) {
		json_object_put(o);
		json_object_put(in);
		return NULL;
	}
	json_object_object_add(in, "code", json_object_new_string(api_err_name(e->code)));
	json_object_object_add(in, "message", json_object_new_string(e->message));
	json_object_object_add(o, "error", in);
	return dup_json(o);
}

int api_error_decode(const char *json, size_t len, struct api_error *e)
{
	struct json_object *obj, *err, *code, *msg;
	struct api_error ignore;

	if (parse_object(json, len, &obj, &ignore))
		return -EINVAL;
	if (!json_object_object_get_ex(obj, "error", &err) ||
	    !json_object_object_get_ex(err, "code", &code) ||
	    !json_object_object_get_ex(err, "message", &msg) ||
	    !json_object_is_type(code, json_type_string) ||
	    !json_object_is_type(msg, json_type_string)) {
		json_object_put(obj);
		return -EINVAL;
	}
	e->code = api_err_from_name(json_object_get_string(code));
	snprintf(e->message, sizeof(e->message), "%s", json_object_get_string(msg));
	json_object_put(obj);
	return 0;
}

char *api_vm_status_encode(const struct api_vm_config *c, const struct api_vm_status *st)
{
	char *cfg = api_vm_config_encode(c, false);
	struct json_object *o, *sb;
	static const struct {
		uint32_t bit;
		const char *name;
	} sbx[] = {
		{ 1u << 0, "unprivileged_uid" }, { 1u << 1, "no_capabilities" },
		{ 1u << 2, "no_new_privs" }, { 1u << 3, "seccomp" }, { 1u << 4, "mount_ns" },
		{ 1u << 5, "net_ns" }, { 1u << 6, "ipc_ns" }, { 1u << 7, "uts_ns" },
	};

	if (!cfg)
		return NULL;
	o = json_tokener_parse(cfg);
	free(cfg);
	if (!o)
		return NULL;
	json_object_object_add(o, "state", json_object_new_string(api_state_name(st->state)));
	json_object_object_add(o, "state_reason", json_object_new_string(st->reason));
	json_object_object_add(o, "worker_pid", st->pid > 0 ? json_object_new_int(st->pid) : NULL);
	json_object_object_add(o, "started_unix",
			       st->started_unix ? json_object_new_int64((int64_t)st->started_unix)
						: NULL);
	json_object_object_add(o, "graceful_stop", json_object_new_boolean(st->caps & 1u));
	sb = json_object_new_array();
	for (unsigned int i = 0; sb && i < ARRAY_SIZE(sbx); i++)
		if (st->sandbox & sbx[i].bit)
			json_object_array_add(sb, json_object_new_string(sbx[i].name));
	json_object_object_add(o, "sandbox", sb);
	return dup_json(o);
}

char *api_event_encode(const char *event, const char *vm, enum api_vm_state state,
		       const char *reason, uint64_t unix_ms)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "event", json_object_new_string(event));
	json_object_object_add(o, "vm", json_object_new_string(vm));
	json_object_object_add(o, "state", json_object_new_string(api_state_name(state)));
	json_object_object_add(o, "reason", json_object_new_string(reason ? reason : ""));
	json_object_object_add(o, "time_ms", json_object_new_int64((int64_t)unix_ms));
	return dup_json(o);
}

int api_disk_decode(const char *json, size_t len, struct api_disk *d, struct api_error *e)
{
	struct json_object *obj;
	int r;

	r = parse_object(json, len, &obj, e);
	if (r)
		return r;
	r = decode_disk(obj, 0, d, e);
	json_object_put(obj);
	if (!r && !path_ok(d->path))
		r = api_fail(e, API_E_BAD_REQUEST, "path must be an absolute path without control "
			     "characters");
	return r;
}

int api_stop_decode(const char *json, size_t len, unsigned int *timeout_sec, struct api_error *e)
{
	struct json_object *obj;
	unsigned int t = API_STOP_DEFAULT_TIMEOUT;
	bool blank = true;
	int r;

	for (size_t i = 0; i < len; i++)
		if (json[i] != ' ' && json[i] != '\n' && json[i] != '\r' && json[i] != '\t')
			blank = false;
	if (blank) {
		*timeout_sec = t;
		return 0;
	}
	r = parse_object(json, len, &obj, e);
	if (r)
		return r;
	r = 0;
	json_object_object_foreach(obj, key, val) {
		uint64_t u;

		if (!strcmp(key, "timeout_sec")) {
			if (get_uint(val, "timeout_sec", API_STOP_MAX_TIMEOUT, &u, e)) {
				r = -EINVAL;
				break;
			}
			t = (unsigned int)u;
		} else {
			r = api_fail(e, API_E_BAD_REQUEST,
				     "unknown field \"%.40s\" (known: timeout_sec)", key);
			break;
		}
	}
	json_object_put(obj);
	if (!r)
		*timeout_sec = t;
	return r;
}
