/* SPDX-License-Identifier: MIT */
/*
 * Management API schema shared by openhvd and `openhv vm`: VM configuration
 * (validated JSON codec), VM states and the lifecycle state machine, request
 * routing and the error model. No I/O here: callers hand in bytes.
 *
 * Every decoder treats its input as hostile: unknown fields, wrong types,
 * absurd sizes and bad names are refused with an api_error saying what is
 * wrong, and the output structure is left untouched on failure.
 */
#ifndef OPENHV_API_API_H
#define OPENHV_API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_VERSION_PREFIX "/v1"

#define API_NAME_MAX 63           /* VM name length, without NUL */
#define API_PATH_MAX 4095         /* kernel/initrd/disk paths, without NUL */
#define API_CMDLINE_MAX 2047      /* kernel command line, without NUL */
#define API_MAX_DISKS 16
#define API_MAX_NICS 8
#define API_IFNAME_MAX 15         /* Linux IFNAMSIZ - 1 */
#define API_SWITCH_NAME_MAX 11    /* the bridge "ohv-NAME" fits IFNAMSIZ */
#define API_MIN_MEM (32ULL << 20)
#define API_MAX_MEM (1ULL << 40)  /* 1 TiB */
#define API_MAX_CPUS 240
#define API_MAX_BODY (64 * 1024)  /* request bodies larger than this are refused */
#define API_MAX_VMS 1024

/* Error classes; each maps to one HTTP status. */
enum api_err {
	API_OK = 0,
	API_E_BAD_REQUEST,      /* 400 malformed JSON, wrong type, unknown field, bad value */
	API_E_FORBIDDEN,        /* 403 peer not allowed */
	API_E_NOT_FOUND,        /* 404 no such VM / route */
	API_E_METHOD,           /* 405 method not allowed on this route */
	API_E_CONFLICT,         /* 409 wrong state for the action, name taken */
	API_E_TOO_LARGE,        /* 413 body or header too large */
	API_E_UNSUPPORTED,      /* 415/501-ish: feature not available (e.g. guest info) */
	API_E_TOO_MANY,         /* 429/507: VM limit reached */
	API_E_INTERNAL,         /* 500 host failure */
	API_E_UNAVAILABLE,      /* 503 worker not answering */
	API_E__COUNT,
};

struct api_error {
	enum api_err code;
	char message[256];
};

int api_err_http_status(enum api_err e);
const char *api_err_name(enum api_err e);   /* "bad_request", ... (JSON "code") */
enum api_err api_err_from_name(const char *name);

/* Sets e and returns -EINVAL (or a given errno) for "return api_fail(...)". */
int api_fail(struct api_error *e, enum api_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- VM configuration ---- */

struct api_disk {
	char path[API_PATH_MAX + 1];
	bool readonly;
};

/* Exactly one of tap / switch_name is set. */
struct api_nic {
	char tap[API_IFNAME_MAX + 1];   /* existing host TAP interface, or "" */
	char switch_name[API_IFNAME_MAX + 1]; /* openhv virtual switch (a TAP port per start), or "" */
	uint16_t vlan;                  /* switch only: access VLAN 1..4094, 0 = untagged */
	uint8_t mac[6];
	bool has_mac;
};

struct api_vm_config {
	char name[API_NAME_MAX + 1];
	uint64_t memory_bytes;
	unsigned int cpus;
	char kernel[API_PATH_MAX + 1];
	char initrd[API_PATH_MAX + 1];    /* "" = none */
	char cmdline[API_CMDLINE_MAX + 1];
	unsigned int n_disks;
	struct api_disk disks[API_MAX_DISKS];
	unsigned int n_nics;
	struct api_nic nics[API_MAX_NICS];
};

/* Defaults: 512 MiB, 1 CPU, empty paths. */
void api_vm_config_init(struct api_vm_config *c);

/* True for names made of [A-Za-z0-9._-], starting with a letter or digit, 1..63 chars. */
bool api_name_valid(const char *name);

/*
 * Check a whole configuration (ranges, absolute paths, names). Used after
 * decoding and after edits; returns 0 or -EINVAL with e filled.
 */
int api_vm_config_check(const struct api_vm_config *c, struct api_error *e);

enum api_decode_mode {
	API_DECODE_CREATE,   /* full config with name; missing fields get defaults */
	API_DECODE_EDIT,     /* partial: only given fields change; name not allowed */
	API_DECODE_STORED,   /* on-disk file: like CREATE plus "format_version" */
};

/*
 * Decode JSON text (not NUL-terminated; len bytes) into c. In EDIT mode c must
 * hold the current config and is updated only if the whole edit is valid.
 * Returns 0 or -EINVAL/-E2BIG/-ENOMEM with e filled.
 */
int api_vm_config_decode(const char *json, size_t len, enum api_decode_mode mode,
			 struct api_vm_config *c, struct api_error *e);

/* Encode as JSON; returns a malloc'd NUL-terminated string or NULL on ENOMEM. */
char *api_vm_config_encode(const struct api_vm_config *c, bool stored);

/* "00:15:5d:01:02:03" <-> bytes. */
int api_parse_mac(const char *s, uint8_t mac[6]);
void api_format_mac(const uint8_t mac[6], char out[18]);

/* ---- VM states (Hyper-V names, lower case) and lifecycle ---- */

enum api_vm_state {
	VM_STATE_OFF = 0,
	VM_STATE_STARTING,
	VM_STATE_RUNNING,
	VM_STATE_PAUSED,
	VM_STATE_SAVING,
	VM_STATE_SAVED,
	VM_STATE_STOPPING,
	VM_STATE_CRASHED,
	VM_STATE__COUNT,
};

const char *api_state_name(enum api_vm_state s);
int api_state_from_name(const char *name, enum api_vm_state *ret);

enum api_action {
	API_ACT_START = 0,
	API_ACT_STOP,
	API_ACT_KILL,
	API_ACT_PAUSE,
	API_ACT_RESUME,
	API_ACT_RESTART,
	API_ACT_EDIT,
	API_ACT_DELETE,
	API_ACT__COUNT,
};

const char *api_action_name(enum api_action a);
int api_action_from_name(const char *name, size_t len, enum api_action *ret);

/*
 * May action a be requested in state s? On success *next is the state the VM
 * enters right away (e.g. start: off -> starting; edit keeps the state).
 * Otherwise returns -EBUSY with a message for people in e (API_E_CONFLICT).
 */
int api_transition(enum api_vm_state s, enum api_action a, enum api_vm_state *next,
		   const char *vm_name, struct api_error *e);

/* True while a worker process exists for the VM in state s. */
bool api_state_has_worker(enum api_vm_state s);

/* Run-time status of a VM, as shown next to its configuration. */
struct api_vm_status {
	enum api_vm_state state;
	char reason[256];          /* why it is in this state ("" if nothing to say) */
	int pid;                   /* worker process, 0 if none */
	uint64_t started_unix;     /* 0 if not running */
	uint32_t caps;             /* CTL_CAP_* integration services the worker offers */
	uint32_t sandbox;          /* CTL_SBX_* restrictions in force in the worker */
};

/* {config fields..., "state", "state_reason", "worker_pid", ...}; malloc'd or NULL. */
char *api_vm_status_encode(const struct api_vm_config *c, const struct api_vm_status *st);

/* One line of the /v1/events feed (without the newline); malloc'd or NULL. */
char *api_event_encode(const char *event, const char *vm, enum api_vm_state state,
		       const char *reason, uint64_t unix_ms);

#define API_STOP_DEFAULT_TIMEOUT 30
#define API_STOP_MAX_TIMEOUT 3600

/* Optional body of POST .../stop: {"timeout_sec": N}; empty body = defaults. */
int api_stop_decode(const char *json, size_t len, unsigned int *timeout_sec, struct api_error *e);

/* Body of POST .../disks: {"path": "/abs/image", "readonly": bool}. */
int api_disk_decode(const char *json, size_t len, struct api_disk *d, struct api_error *e);

/* ---- Routes ---- */

enum api_route_kind {
	API_R_VMS,          /* /v1/vms                 GET list, POST create */
	API_R_VM,           /* /v1/vms/{name}          GET show, PATCH edit, DELETE */
	API_R_VM_ACTION,    /* /v1/vms/{name}/{action} POST */
	API_R_VM_GUEST,     /* /v1/vms/{name}/guest    GET */
	API_R_VM_CONSOLE,   /* /v1/vms/{name}/console  POST (upgrade to a raw byte stream) */
	API_R_VM_DISKS,     /* /v1/vms/{name}/disks    POST (hot-add a disk to a running VM) */
	API_R_VM_DISK,      /* /v1/vms/{name}/disks/{lun} DELETE (hot-remove) */
	API_R_EVENTS,       /* /v1/events              GET (streamed, one JSON per line) */
	API_R_VERSION,      /* /v1/version             GET */
};

struct api_route {
	enum api_route_kind kind;
	char name[API_NAME_MAX + 1];
	enum api_action action;
	unsigned int lun;       /* API_R_VM_DISK */
};

/*
 * Parse a request target (path, optional "?query" ignored) into a route.
 * Refuses unknown paths (404), bad VM names (400: path traversal etc.).
 */
int api_route_parse(const char *target, size_t len, struct api_route *r, struct api_error *e);

/* JSON error body {"error":{"code":..,"message":..}}; malloc'd, NULL on ENOMEM. */
char *api_error_encode(const struct api_error *e);

/* Parse an error body (client side); returns 0 if it was one. */
int api_error_decode(const char *json, size_t len, struct api_error *e);

#endif
