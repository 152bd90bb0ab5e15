/* SPDX-License-Identifier: MIT */
/* Private state shared by hv.c and hv_synic.c. Not for other modules. */
#ifndef OPENHV_HV_INTERNAL_H
#define OPENHV_HV_INTERNAL_H

#include <pthread.h>

#include "hv/hv.h"

#define HV_MAX_PORTS 16u

struct hv_queued_msg {
	struct hv_queued_msg *next;
	uint32_t type;
	uint8_t len;
	uint8_t payload[HV_MESSAGE_PAYLOAD_BYTES];
};

struct hv_msg_queue {
	struct hv_queued_msg *head, *tail;
	uint32_t count;
};

struct hv_vp {
	uint64_t vp_assist;
	uint64_t scontrol;
	uint64_t simp;
	uint64_t siefp;
	uint64_t sint[HV_SINT_COUNT];
	struct hv_msg_queue q[HV_SINT_COUNT]; /* messages waiting for the slot */
};

struct hv_port {
	uint32_t first, count;
	bool is_event;
	void *fn; /* hv_post_msg_fn or hv_signal_event_fn */
	void *opaque;
};

struct hv {
	const struct gm *gm;
	struct hv_config cfg;
	const struct hv_host_ops *ops;
	void *opaque;
	uint64_t tsc_scale;
	int64_t tsc_offset;
	struct hv_cpuid_entry cpuid[HV_CPUID_ENTRIES];
	uint8_t stub[HV_HYPERCALL_STUB_MAX]; /* hypercall page contents, built by hv_new */
	size_t stub_len;
	struct hv_port ports[HV_MAX_PORTS]; /* read-only once the VM runs */
	unsigned int n_ports;

	pthread_mutex_t lock; /* protects everything below */
	uint64_t guest_os_id;
	uint64_t hypercall;
	uint64_t ref_tsc;
	uint32_t tsc_seq;
	uint64_t tsc_invariant_ctl;
	uint64_t crash_p[5];
	struct hv_vp *vps;
	struct hv_stats stats;
};

/* Free all queued messages of a VP. */
void hv_synic_flush_vp(struct hv_vp *v);
/* Deliver the head of (vp, sint)'s queue if the slot is free. Lock held. */
void hv_synic_deliver(struct hv *hv, uint32_t vp_index, unsigned int sint);
/* Same for every SINT of a VP. Lock held. */
void hv_synic_deliver_all(struct hv *hv, uint32_t vp_index);

#endif
