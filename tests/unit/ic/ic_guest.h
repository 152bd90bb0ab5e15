/* SPDX-License-Identifier: MIT */
/*
 * Guest side of the integration components, as Linux 6.1 hv_utils does it:
 * version negotiation (vmbus_prep_negotiate_resp), heartbeat (seq + 1),
 * shutdown, time sync and KVP with a fake daemon. Replies are INBAND packets
 * with the request's trans_id and the request buffer modified in place.
 * Built on the fake guest of tests/unit/vmbus.
 */
#ifndef OPENHV_TESTS_IC_GUEST_H
#define OPENHV_TESTS_IC_GUEST_H

#include "../vmbus/fake_guest.h"
#include "vsp/ic/ic.h"

#define ICG_KVP_MAX 16

struct icg_kvp {
	uint8_t pool;
	char key[128];
	char value[256];
};

struct ic_guest {
	struct fake_guest *fg;
	struct fg_chan ch[IC_SVC_COUNT];
	bool open[IC_SVC_COUNT];
	/* Service versions the guest accepts (Linux's lists unless overridden). */
	uint32_t srv_versions[IC_SVC_COUNT][4];
	uint32_t n_srv_versions[IC_SVC_COUNT];
	uint32_t fw_nego[IC_SVC_COUNT], srv_nego[IC_SVC_COUNT];
	bool kvp_daemon;        /* false: hv_kvp does not read its channel */
	uint32_t shutdown_status; /* what the guest answers to a shutdown */
	/* recorded */
	uint32_t hb_count;
	uint64_t hb_last_seq;
	uint32_t sd_count, sd_len;
	struct ic_shutdown_wire sd_last;
	uint32_t ts_count;
	uint8_t ts_flags;
	uint64_t ts_parent, ts_vmref; /* vmref = 0 for old versions */
	uint32_t ts_len;
	struct icg_kvp kvp[ICG_KVP_MAX];
	uint32_t n_kvp;
	uint32_t kvp_sets, kvp_deletes;
	char kvp_last_key[128], kvp_last_value[256];
	uint32_t kvp_last_pool;
};

/* Open the four IC channels offered by ic (after fg_connect + offers). */
int icg_open_all(struct ic_guest *g, struct fake_guest *fg,
		 const struct vmbus_offer_channel_wire *offers, int n_offers);
/* Read and answer every pending packet of a service; returns how many. */
int icg_poll(struct ic_guest *g, enum ic_service svc);
/* Poll all services until quiet. */
void icg_poll_all(struct ic_guest *g);
void icg_add_kvp(struct ic_guest *g, uint8_t pool, const char *key, const char *value);

/* UTF-8 (ASCII and 2/3-byte sequences) <-> UTF-16LE helpers for tests. */
uint32_t icg_utf16(const char *s, uint8_t *out, uint32_t max);
void icg_utf8(const uint8_t *in, uint32_t bytes, char *out, size_t max);

#endif
