// SPDX-License-Identifier: MIT
/*
 * SynIC delivery engine: host->guest messages through the SIMP slots with a
 * per-(VP, SINT) queue, redelivery on EOM, and event flags in the SIEFP page.
 *
 * SPEC (TLFS "SynIC message flags", reference §1.8): a slot is free when its
 * message type is 0. The host writes the payload and header, then the type
 * last. When a slot is busy the host sets the "message pending" flag in it;
 * the guest, after freeing the slot, writes EOM, and the host delivers the
 * next queued message. The guest may free the slot while we set the flag, so
 * the type is re-read after the atomic OR (a spurious EOM later is harmless).
 *
 * All functions here run with hv->lock held (see hv.h for the threading).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv/hv_internal.h"

void hv_synic_flush_vp(struct hv_vp *v)
{
	for (unsigned int s = 0; s < HV_SINT_COUNT; s++) {
		struct hv_queued_msg *m = v->q[s].head;
		while (m) {
			struct hv_queued_msg *next = m->next;
			free(m);
			m = next;
		}
		v->q[s] = (struct hv_msg_queue){ 0 };
	}
}

static void hv_inject(struct hv *hv, uint32_t vp_index, uint64_t sint_reg)
{
	int r = hv->ops->inject_irq(hv->opaque, vp_index, (uint8_t)(sint_reg & HV_SINT_VECTOR_MASK));

	hv->stats.irqs_injected++;
	if (r < 0)
		hv->stats.irq_errors++;
}

void hv_synic_deliver(struct hv *hv, uint32_t vp_index, unsigned int sint)
{
	struct hv_vp *v = &hv->vps[vp_index];
	struct hv_msg_queue *q = &v->q[sint];
	struct hv_queued_msg *m = q->head;
	struct hv_message_wire *slot;
	uint64_t sint_reg = v->sint[sint];
	uint32_t type;

	if (!m)
		return;
	/* SPEC: nothing is delivered until SCONTROL, SIMP and the SINT are enabled. */
	if (!(v->scontrol & HV_SCONTROL_ENABLE) || !(v->simp & HV_MSR_PAGE_ENABLE) ||
	    (sint_reg & HV_SINT_MASKED))
		return;
	slot = gm_ptr(hv->gm,
		      gpn_to_gpa(v->simp >> HV_MSR_PAGE_PFN_SHIFT) + sint * HV_MESSAGE_SIZE,
		      HV_MESSAGE_SIZE);
	if (!slot)
		return;
	type = __atomic_load_n(&slot->message_type, __ATOMIC_ACQUIRE);
	if (type != HVMSG_NONE) {
		__atomic_fetch_or(&slot->message_flags, HV_MESSAGE_FLAG_PENDING, __ATOMIC_SEQ_CST);
		type = __atomic_load_n(&slot->message_type, __ATOMIC_SEQ_CST);
		if (type != HVMSG_NONE)
			return; /* wait for EOM */
	}
	memcpy(slot->payload, m->payload, m->len);
	if (m->len < HV_MESSAGE_PAYLOAD_BYTES)
		memset(slot->payload + m->len, 0, HV_MESSAGE_PAYLOAD_BYTES - m->len);
	slot->payload_size = m->len;
	slot->reserved = 0;
	slot->sender = 0;
	__atomic_store_n(&slot->message_flags, m->next ? HV_MESSAGE_FLAG_PENDING : 0,
			 __ATOMIC_RELAXED);
	/* The type goes last: it publishes the slot to the guest. */
	__atomic_store_n(&slot->message_type, m->type, __ATOMIC_RELEASE);
	q->head = m->next;
	if (!q->head)
		q->tail = NULL;
	q->count--;
	free(m);
	hv->stats.msgs_posted++;
	hv_inject(hv, vp_index, sint_reg);
}

void hv_synic_deliver_all(struct hv *hv, uint32_t vp_index)
{
	for (unsigned int s = 0; s < HV_SINT_COUNT; s++)
		hv_synic_deliver(hv, vp_index, s);
}

int hv_synic_post_message(struct hv *hv, uint32_t vp_index, uint8_t sint, uint32_t message_type,
			  const void *payload, size_t len)
{
	struct hv_queued_msg *m;
	struct hv_msg_queue *q;

	if (sint >= HV_SINT_COUNT || !message_type || len > HV_MESSAGE_PAYLOAD_BYTES ||
	    (len && !payload))
		return -EINVAL;
	if (vp_index >= hv->cfg.vp_count)
		return -ERANGE;
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->next = NULL;
	m->type = message_type;
	m->len = (uint8_t)len;
	if (len)
		memcpy(m->payload, payload, len);
	pthread_mutex_lock(&hv->lock);
	q = &hv->vps[vp_index].q[sint];
	if (q->count >= HV_SYNIC_QUEUE_MAX) {
		hv->stats.msgs_dropped++;
		pthread_mutex_unlock(&hv->lock);
		free(m);
		return -ENOBUFS;
	}
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	q->count++;
	hv->stats.msgs_queued++;
	hv_synic_deliver(hv, vp_index, sint);
	pthread_mutex_unlock(&hv->lock);
	return 0;
}

int hv_synic_signal_event(struct hv *hv, uint32_t vp_index, uint8_t sint, uint32_t flag)
{
	struct hv_vp *v;
	uint8_t *byte, bit, old;
	int r = 0;

	if (sint >= HV_SINT_COUNT || flag >= HV_EVENT_FLAGS_COUNT)
		return -EINVAL;
	if (vp_index >= hv->cfg.vp_count)
		return -ERANGE;
	pthread_mutex_lock(&hv->lock);
	v = &hv->vps[vp_index];
	if (!(v->scontrol & HV_SCONTROL_ENABLE) || !(v->siefp & HV_MSR_PAGE_ENABLE) ||
	    (v->sint[sint] & HV_SINT_MASKED)) {
		r = -EAGAIN;
		goto out;
	}
	byte = gm_ptr(hv->gm,
		      gpn_to_gpa(v->siefp >> HV_MSR_PAGE_PFN_SHIFT) + sint * HV_EVENT_FLAGS_BYTES +
			      flag / 8,
		      1);
	if (!byte) {
		r = -EFAULT;
		goto out;
	}
	bit = (uint8_t)(1u << (flag % 8));
	old = __atomic_fetch_or(byte, bit, __ATOMIC_SEQ_CST);
	hv->stats.events_signalled++;
	/* A bit that is still set has not been consumed yet: its interrupt is pending. */
	if (!(old & bit))
		hv_inject(hv, vp_index, v->sint[sint]);
out:
	pthread_mutex_unlock(&hv->lock);
	return r;
}

void hv_synic_flush_queue(struct hv *hv, uint32_t vp_index, uint8_t sint)
{
	struct hv_msg_queue *q;
	struct hv_queued_msg *m;

	if (vp_index >= hv->cfg.vp_count || sint >= HV_SINT_COUNT)
		return;
	pthread_mutex_lock(&hv->lock);
	q = &hv->vps[vp_index].q[sint];
	m = q->head;
	while (m) {
		struct hv_queued_msg *next = m->next;
		free(m);
		hv->stats.msgs_dropped++;
		m = next;
	}
	*q = (struct hv_msg_queue){ 0 };
	pthread_mutex_unlock(&hv->lock);
}

void hv_synic_retry(struct hv *hv)
{
	pthread_mutex_lock(&hv->lock);
	for (uint32_t i = 0; i < hv->cfg.vp_count; i++)
		hv_synic_deliver_all(hv, i);
	pthread_mutex_unlock(&hv->lock);
}
