// SPDX-License-Identifier: MIT
/*
 * Management API: error model, VM state names, the lifecycle transition
 * table and request routing. Pure functions over caller-supplied bytes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "base/util.h"

static const struct {
	const char *name;
	int status;
} err_table[API_E__COUNT] = {
	[API_OK] = { "ok", 200 },
	[API_E_BAD_REQUEST] = { "bad_request", 400 },
	[API_E_FORBIDDEN] = { "forbidden", 403 },
	[API_E_NOT_FOUND] = { "not_found", 404 },
	[API_E_METHOD] = { "method_not_allowed", 405 },
	[API_E_CONFLICT] = { "conflict", 409 },
	[API_E_TOO_LARGE] = { "too_large", 413 },
	[API_E_UNSUPPORTED] = { "not_supported", 501 },
	[API_E_TOO_MANY] = { "too_many", 507 },
	[API_E_INTERNAL] = { "internal", 500 },
	[API_E_UNAVAILABLE] = { "unavailable", 503 },
};

int api_err_http_status(enum api_err e)
{
	return (unsigned int)e < API_E__COUNT ? err_table[e].status : 500;
}

const char *api_err_name(enum api_err e)
{
	return (unsigned int)e < API_E__COUNT ? err_table[e].name : "internal";
}

enum api_err api_err_from_name(const char *name)
{
	for (unsigned int i = 0; i < API_E__COUNT; i++)
		if (!strcmp(err_table[i].name, name))
			return (enum api_err)i;
	return API_E_INTERNAL;
}

int api_fail(struct api_error *e, enum api_err code, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		e->code = code;
		va_start(ap, fmt);
		vsnprintf(e->message, sizeof(e->message), fmt, ap);
		va_end(ap);
	}
	switch (code) {
	case API_E_NOT_FOUND:
		return -ENOENT;
	case API_E_CONFLICT:
		return -EBUSY;
	case API_E_TOO_LARGE:
		return -E2BIG;
	case API_E_FORBIDDEN:
		return -EPERM;
	case API_E_UNSUPPORTED:
		return -EOPNOTSUPP;
	case API_E_INTERNAL:
		return -EIO;
	case API_E_UNAVAILABLE:
		return -EAGAIN;
	case API_E_TOO_MANY:
		return -ENOSPC;
	default:
		return -EINVAL;
	}
}

bool api_name_valid(const char *name)
{
	size_t n = 0;

	if (!name || !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z') ||
		       (name[0] >= '0' && name[0] <= '9')))
		return false;
	for (const char *p = name; *p; p++, n++) {
		char ch = *p;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
		if (!ok || n >= API_NAME_MAX)
			return false;
	}
	return true;
}

/* ---- states ---- */

static const char *const state_names[VM_STATE__COUNT] = {
	[VM_STATE_OFF] = "off",
	[VM_STATE_STARTING] = "starting",
	[VM_STATE_RUNNING] = "running",
	[VM_STATE_PAUSED] = "paused",
	[VM_STATE_SAVING] = "saving",
	[VM_STATE_SAVED] = "saved",
	[VM_STATE_STOPPING] = "stopping",
	[VM_STATE_CRASHED] = "crashed",
};

const char *api_state_name(enum api_vm_state s)
{
	return (unsigned int)s < VM_STATE__COUNT ? state_names[s] : "unknown";
}

int api_state_from_name(const char *name, enum api_vm_state *ret)
{
	for (unsigned int i = 0; i < VM_STATE__COUNT; i++) {
		if (!strcmp(state_names[i], name)) {
			*ret = (enum api_vm_state)i;
			return 0;
		}
	}
	return -EINVAL;
}

bool api_state_has_worker(enum api_vm_state s)
{
	return s == VM_STATE_STARTING || s == VM_STATE_RUNNING || s == VM_STATE_PAUSED ||
	       s == VM_STATE_SAVING || s == VM_STATE_STOPPING;
}

static const char *const action_names[API_ACT__COUNT] = {
	[API_ACT_START] = "start",
	[API_ACT_STOP] = "stop",
	[API_ACT_KILL] = "kill",
	[API_ACT_PAUSE] = "pause",
	[API_ACT_RESUME] = "resume",
	[API_ACT_RESTART] = "restart",
	[API_ACT_EDIT] = "edit",
	[API_ACT_DELETE] = "delete",
};

const char *api_action_name(enum api_action a)
{
	return (unsigned int)a < API_ACT__COUNT ? action_names[a] : "unknown";
}

int api_action_from_name(const char *name, size_t len, enum api_action *ret)
{
	for (unsigned int i = 0; i < API_ACT__COUNT; i++) {
		if (strlen(action_names[i]) == len && !memcmp(action_names[i], name, len)) {
			*ret = (enum api_action)i;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * The lifecycle table: for each action, the states it is allowed in and the
 * state entered at once. A cell of -1 means "refused in this state".
 * "stopping" covers both the graceful request and the hard stop; the worker's
 * exit then moves the VM to off (or crashed).
 */
#define NO (-1)
static const signed char transitions[API_ACT__COUNT][VM_STATE__COUNT] = {
	/*                 off               starting          running           paused
	 *                 saving            saved             stopping          crashed */
	[API_ACT_START] = { VM_STATE_STARTING, NO, NO, NO,
			    NO, VM_STATE_STARTING, NO, VM_STATE_STARTING },
	[API_ACT_STOP] = { NO, VM_STATE_STOPPING, VM_STATE_STOPPING, VM_STATE_STOPPING,
			   NO, NO, NO, NO },
	[API_ACT_KILL] = { NO, VM_STATE_STOPPING, VM_STATE_STOPPING, VM_STATE_STOPPING,
			   VM_STATE_STOPPING, NO, VM_STATE_STOPPING, NO },
	[API_ACT_PAUSE] = { NO, NO, VM_STATE_PAUSED, NO, NO, NO, NO, NO },
	[API_ACT_RESUME] = { NO, NO, NO, VM_STATE_RUNNING, NO, NO, NO, NO },
	[API_ACT_RESTART] = { NO, NO, VM_STATE_STOPPING, VM_STATE_STOPPING, NO, NO, NO, NO },
	[API_ACT_EDIT] = { VM_STATE_OFF, NO, NO, NO, NO, NO, NO, VM_STATE_CRASHED },
	[API_ACT_DELETE] = { VM_STATE_OFF, NO, NO, NO, NO, VM_STATE_SAVED, NO, VM_STATE_CRASHED },
};

static const char *refusal_hint(enum api_vm_state s, enum api_action a)
{
	switch (a) {
	case API_ACT_START:
		return s == VM_STATE_STOPPING ? "wait until it is off, then start it"
					      : "it is already running; use restart to reboot it";
	case API_ACT_STOP:
	case API_ACT_KILL:
	case API_ACT_PAUSE:
	case API_ACT_RESTART:
		return s == VM_STATE_PAUSED ? "resume it first" : "start it first";
	case API_ACT_RESUME:
		return "only a paused VM can be resumed";
	case API_ACT_EDIT:
	case API_ACT_DELETE:
		return "stop it first";
	default:
		return "";
	}
}

int api_transition(enum api_vm_state s, enum api_action a, enum api_vm_state *next,
		   const char *vm_name, struct api_error *e)
{
	if ((unsigned int)s >= VM_STATE__COUNT || (unsigned int)a >= API_ACT__COUNT)
		return api_fail(e, API_E_INTERNAL, "invalid state or action");
	if (transitions[a][s] == NO)
		return api_fail(e, API_E_CONFLICT, "cannot %s VM '%s' while it is %s: %s",
				action_names[a], vm_name ? vm_name : "?", state_names[s],
				refusal_hint(s, a));
	*next = (enum api_vm_state)transitions[a][s];
	return 0;
}

/* ---- routes ---- */

static bool seg_eq(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && !memcmp(p, lit, n);
}

int api_route_parse(const char *target, size_t len, struct api_route *r, struct api_error *e)
{
	const char *seg[5];
	size_t seglen[5];
	unsigned int nseg = 0;
	size_t i = 0;

	memset(r, 0, sizeof(*r));
	for (size_t k = 0; k < len; k++) {
		if (target[k] == '?' || target[k] == '#') {
			len = k;
			break;
		}
	}
	if (len == 0 || target[0] != '/')
		return api_fail(e, API_E_BAD_REQUEST, "request target must be an absolute path");
	while (i < len) {
		size_t start;

		if (target[i] != '/')
			return api_fail(e, API_E_BAD_REQUEST, "malformed path");
		i++;
		start = i;
		while (i < len && target[i] != '/')
			i++;
		if (i == start) {
			if (i == len && nseg > 0)
				break;    /* one trailing slash is fine */
			return api_fail(e, API_E_BAD_REQUEST, "empty path segment");
		}
		if (nseg == ARRAY_SIZE(seg))
			return api_fail(e, API_E_NOT_FOUND, "no such API path");
		seg[nseg] = target + start;
		seglen[nseg++] = i - start;
	}
	if (nseg < 2 || !seg_eq(seg[0], seglen[0], "v1"))
		return api_fail(e, API_E_NOT_FOUND, "no such API path (this service speaks /v1)");
	if (nseg == 2 && seg_eq(seg[1], seglen[1], "events")) {
		r->kind = API_R_EVENTS;
		return 0;
	}
	if (nseg == 2 && seg_eq(seg[1], seglen[1], "version")) {
		r->kind = API_R_VERSION;
		return 0;
	}
	if (!seg_eq(seg[1], seglen[1], "vms"))
		return api_fail(e, API_E_NOT_FOUND, "no such API path");
	if (nseg == 2) {
		r->kind = API_R_VMS;
		return 0;
	}
	/* Names are never percent-decoded: the allowed alphabet needs no escapes. */
	if (seglen[2] > API_NAME_MAX)
		return api_fail(e, API_E_BAD_REQUEST, "VM name longer than %d characters",
				API_NAME_MAX);
	memcpy(r->name, seg[2], seglen[2]);
	r->name[seglen[2]] = '\0';
	if (!api_name_valid(r->name))
		return api_fail(e, API_E_BAD_REQUEST,
				"invalid VM name: use letters, digits, '.', '_' and '-', starting "
				"with a letter or digit");
	if (nseg == 3) {
		r->kind = API_R_VM;
		return 0;
	}
	if (seg_eq(seg[3], seglen[3], "disks")) {
		unsigned int lun = 0;

		if (nseg == 4) {
			r->kind = API_R_VM_DISKS;
			return 0;
		}
		/* A LUN: 1 to 3 decimal digits, below 256. */
		if (seglen[4] < 1 || seglen[4] > 3)
			return api_fail(e, API_E_NOT_FOUND, "no such disk: give its LUN (0-255)");
		for (size_t k = 0; k < seglen[4]; k++) {
			if (seg[4][k] < '0' || seg[4][k] > '9')
				return api_fail(e, API_E_NOT_FOUND, "no such disk: give its LUN (0-255)");
			lun = lun * 10 + (unsigned int)(seg[4][k] - '0');
		}
		if (lun > 255)
			return api_fail(e, API_E_NOT_FOUND, "no such disk: give its LUN (0-255)");
		r->kind = API_R_VM_DISK;
		r->lun = lun;
		return 0;
	}
	if (nseg > 4)
		return api_fail(e, API_E_NOT_FOUND, "no such API path");
	if (seg_eq(seg[3], seglen[3], "guest")) {
		r->kind = API_R_VM_GUEST;
		return 0;
	}
	if (seg_eq(seg[3], seglen[3], "console")) {
		r->kind = API_R_VM_CONSOLE;
		return 0;
	}
	if (api_action_from_name(seg[3], seglen[3], &r->action) || r->action == API_ACT_EDIT ||
	    r->action == API_ACT_DELETE)
		return api_fail(e, API_E_NOT_FOUND, "no such VM action; use start, stop, kill, "
				"pause, resume or restart");
	r->kind = API_R_VM_ACTION;
	return 0;
}
