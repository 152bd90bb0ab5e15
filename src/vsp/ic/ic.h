/* SPDX-License-Identifier: MIT */
/*
 * Integration-component VSPs for the Linux hv_utils driver: heartbeat,
 * shutdown, time synchronisation and KVP, on top of the VMBus server, plus
 * the host-side API the worker exposes (heartbeat status, request shutdown,
 * KVP get/set/list).
 *
 * Each service is one VMBus device (one channel). After the guest opens it
 * the host negotiates the framework and service versions, then drives the
 * service: one request outstanding per service, guest replies are INBAND
 * packets with the request's trans_id (reference §8.1). Timers are driven by
 * ic_tick(), which the event loop calls periodically (every 100-1000 ms).
 *
 * What it is not: VSS and file copy are not offered; the KVP IP-info
 * operations are not used.
 *
 * Threads: all functions take the VMBus server lock (vmbus_server_lock), the
 * same lock the VMBus callbacks run under, so the host API may be called from
 * any thread. This module does not log.
 */
#ifndef OPENHV_IC_H
#define OPENHV_IC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/util.h"
#include "vmbus/vmbus.h"
#include "vsp/ic/ic_proto.h"

struct ic;

struct ic_host_ops {
	/* Host UTC in 100 ns units since 1601-01-01 (Windows FILETIME). */
	uint64_t (*utc_100ns)(void *opaque);
	/* Partition reference time (hv_ref_time): must be the guest's timebase. */
	uint64_t (*ref_time)(void *opaque);
	/* Monotonic host clock in ns, for intervals and timeouts. */
	uint64_t (*now_ns)(void *opaque);
};

struct ic_config {
	uint32_t heartbeat_ms;     /* 0 = 2000 */
	uint32_t timesync_ms;      /* SAMPLE period; 0 = 5000 */
	uint32_t kvp_poll_ms;      /* re-enumerate guest pools; 0 = 30000 */
	uint32_t timeout_ms;       /* per request; 0 = 60000 (guest's KVP daemon has 30 s) */
};

enum ic_service {
	IC_SVC_HEARTBEAT,
	IC_SVC_SHUTDOWN,
	IC_SVC_TIMESYNC,
	IC_SVC_KVP,
	IC_SVC_COUNT,
};

enum ic_state {
	IC_STATE_CLOSED,      /* channel not open */
	IC_STATE_NEGOTIATING, /* waiting for the version answer (KVP waits for the daemon) */
	IC_STATE_READY,
	IC_STATE_FAILED,      /* no common version; reopen to retry */
};

struct ic_service_status {
	enum ic_state state;
	uint32_t framework_version; /* IC_VERSION(major, minor), 0 until negotiated */
	uint32_t service_version;
	uint64_t requests, replies, timeouts, bad_replies;
};

struct ic_heartbeat_status {
	enum ic_state state;
	bool alive;          /* a reply arrived within 3 heartbeat periods */
	uint64_t seq;        /* last sequence number the guest answered with */
	uint64_t replies;
	uint64_t last_reply_age_ms; /* UINT64_MAX if never */
};

/* Create the four services and register them with srv (offered when the guest
 * asks). srv, ops must outlive ic. 0 or -errno. */
int ic_new(struct vmbus_server *srv, const struct ic_config *cfg, const struct ic_host_ops *ops,
	   void *opaque, struct ic **ret_ic) MUST_CHECK;
/* Rescind the devices and free. Accepts NULL. */
void ic_free(struct ic *ic);

/* Timers: heartbeats, time samples, KVP polling, request timeouts. */
void ic_tick(struct ic *ic);

int ic_service_status(struct ic *ic, enum ic_service svc, struct ic_service_status *ret) MUST_CHECK;
int ic_heartbeat_status(struct ic *ic, struct ic_heartbeat_status *ret) MUST_CHECK;

enum ic_shutdown_kind {
	IC_SHUTDOWN_POWEROFF = 0,
	IC_SHUTDOWN_REBOOT = IC_SHUTDOWN_FLAG_REBOOT,
};
/*
 * Ask the guest for a clean power-off or reboot. reason may be NULL (ASCII,
 * truncated to 255 chars). 0 = request sent; -ENOTCONN (service not ready),
 * -EBUSY (a request is outstanding), -EAGAIN (ring full, try again).
 */
int ic_request_shutdown(struct ic *ic, enum ic_shutdown_kind kind, const char *reason) MUST_CHECK;
/* Outcome of the last shutdown request: 0 accepted, -EIO refused,
 * -EINPROGRESS no answer yet, -ETIMEDOUT, -ENODATA none sent. */
int ic_shutdown_result(struct ic *ic);

/* Send a SYNC (hard set) now, e.g. after resume. 0, -ENOTCONN, -EBUSY. */
int ic_timesync_sync_now(struct ic *ic) MUST_CHECK;
uint64_t ic_timesync_samples(struct ic *ic); /* answered SYNC/SAMPLE messages */

#define IC_KVP_KEY_MAX 256    /* UTF-8 bytes incl. NUL */
#define IC_KVP_VALUE_MAX 3072
#define IC_KVP_MAX_ENTRIES 128u

struct ic_kvp_entry {
	uint8_t pool;              /* KVP_POOL_* */
	char key[IC_KVP_KEY_MAX];  /* UTF-8 */
	char value[IC_KVP_VALUE_MAX];
};

/*
 * Values reported by the guest (pools GUEST and AUTO, refreshed by polling).
 * ic_kvp_get: 0 and value copied (truncated to len), or -ENOENT.
 * ic_kvp_list: copies up to max entries, returns how many exist (>= 0).
 */
int ic_kvp_get(struct ic *ic, uint8_t pool, const char *key, char *value, size_t len) MUST_CHECK;
int ic_kvp_list(struct ic *ic, struct ic_kvp_entry *out, size_t max);
/* Push (or delete, value == NULL) a host key into the guest's EXTERNAL pool.
 * Queued; sent when the service is ready. 0, -EINVAL (too long / bad
 * UTF-8), -ENOSPC (queue full). */
int ic_kvp_set(struct ic *ic, const char *key, const char *value) MUST_CHECK;
/* Host SET/DELETE requests the guest answered with S_OK / with an error. */
void ic_kvp_set_results(struct ic *ic, uint64_t *ret_ok, uint64_t *ret_failed);

/* For tests: the instance GUIDs used for the four devices. */
const uint8_t *ic_instance_guid(enum ic_service svc);

#endif
