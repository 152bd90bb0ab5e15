// SPDX-License-Identifier: MIT
/* Fake Linux 6.1 VMBus guest over the real hv + vmbus modules (see fake_guest.h). */
#include "fake_guest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FG_LINUX_OS_ID 0x8100000601C00000ull
#define FG_VECTOR 0xF3u

/* ---- host-side glue, as the worker does it ---- */

static int fg_inject(void *opaque, uint32_t vp, uint8_t vector)
{
	struct fake_guest *fg = opaque;

	if (vp < FG_MAX_VPS)
		fg->irqs[vp]++;
	fg->last_vector = vector;
	return 0;
}

static uint64_t fg_read_tsc(void *opaque, uint32_t vp)
{
	(void)vp;
	return ((struct fake_guest *)opaque)->tsc;
}

static void fg_crash(void *opaque, const struct hv_crash_report *rep)
{
	struct fake_guest *fg = opaque;

	fg->last_crash = *rep;
	fg->crashes++;
}

static const struct hv_host_ops fg_hv_ops = {
	.inject_irq = fg_inject, .read_tsc = fg_read_tsc, .crash = fg_crash,
};

static int fg_post_msg(void *opaque, uint32_t vp, uint8_t sint, const void *msg, size_t len)
{
	struct fake_guest *fg = opaque;

	return hv_synic_post_message(fg->hv, vp, sint, VMBUS_SYNIC_MESSAGE_TYPE, msg, len);
}

static int fg_signal_event(void *opaque, uint32_t vp, uint8_t sint, uint32_t flag)
{
	struct fake_guest *fg = opaque;

	return hv_synic_signal_event(fg->hv, vp, sint, flag);
}

static void fg_flush_msgs(void *opaque, uint32_t vp, uint8_t sint)
{
	hv_synic_flush_queue(((struct fake_guest *)opaque)->hv, vp, sint);
}

static void fg_wake(void *opaque)
{
	struct fake_guest *fg = opaque;
	uint64_t one = 1;

	if (fg->wake_fd >= 0) {
		if (write(fg->wake_fd, &one, sizeof(one)) != sizeof(one))
			abort();
		return;
	}
	fg->wake = true;
}

static const struct vmbus_host_ops fg_vmbus_ops = {
	.post_msg = fg_post_msg, .signal_event = fg_signal_event, .flush_msgs = fg_flush_msgs,
	.wake = fg_wake,
};

static uint16_t fg_port_msg(void *opaque, uint32_t vp, uint32_t conn, uint32_t type,
			    const void *payload, uint32_t len)
{
	return vmbus_server_post_message(opaque, vp, conn, type, payload, len);
}

static uint16_t fg_port_event(void *opaque, uint32_t vp, uint32_t conn, uint16_t flag)
{
	return vmbus_server_signal_event(opaque, vp, conn, flag);
}

int fg_new(uint32_t vp_count, uint64_t ram_bytes, struct fake_guest **ret)
{
	return fg_new_ex(vp_count, ram_bytes, 0, ret);
}

int fg_new_ex(uint32_t vp_count, uint64_t ram_bytes, uint32_t max_version,
	      struct fake_guest **ret)
{
	struct hv_config hcfg = { .vp_count = vp_count, .tsc_hz = 2500000000ull, .crash_msrs = true };
	struct vmbus_server_config vcfg = { .vp_count = vp_count, .max_version = max_version };
	struct fake_guest *fg;
	int r;

	if (vp_count > FG_MAX_VPS)
		return -EINVAL;
	fg = calloc(1, sizeof(*fg));
	if (!fg)
		return -ENOMEM;
	/* calloc: large blocks come zeroed from mmap, no memset needed. */
	fg->ram = calloc(1, ram_bytes);
	fg->gm = gm_new();
	if (!fg->ram || !fg->gm) {
		r = -ENOMEM;
		goto err;
	}
	fg->ram_bytes = ram_bytes;
	fg->wake_fd = -1;
	fg->vp_count = vp_count;
	fg->tsc = 123456789;
	fg->next_free = 1 * GM_PAGE_SIZE; /* page 0 stays unused */
	fg->next_gpadl = 0xE1E10;
	r = gm_add_region(fg->gm, 0, fg->ram, ram_bytes);
	if (r)
		goto err;
	r = hv_new(fg->gm, &hcfg, &fg_hv_ops, fg, &fg->hv);
	if (r)
		goto err;
	r = vmbus_server_new(fg->gm, &vcfg, &fg_vmbus_ops, fg, &fg->srv);
	if (r)
		goto err;
	r = hv_register_msg_port(fg->hv, VMBUS_MESSAGE_CONNECTION_ID, 1, fg_port_msg, fg->srv);
	if (!r)
		r = hv_register_msg_port(fg->hv, VMBUS_MESSAGE_CONNECTION_ID_4, 1, fg_port_msg,
					 fg->srv);
	if (!r)
		r = hv_register_event_port(fg->hv, VMBUS_CHAN_CONNECTION_ID_BASE + 1,
					   VMBUS_MAX_RELIDS - 1, fg_port_event, fg->srv);
	if (r)
		goto err;
	*ret = fg;
	return 0;
err:
	fg_free(fg);
	return r;
}

void fg_free(struct fake_guest *fg)
{
	if (!fg)
		return;
	vmbus_server_free(fg->srv);
	hv_free(fg->hv);
	for (uint32_t i = 0; i < fg->n_allocs; i++)
		free(fg->allocs[i]);
	free(fg->gm);
	free(fg->ram);
	free(fg);
}

uint64_t fg_alloc_pages(struct fake_guest *fg, uint32_t pages)
{
	uint64_t gpa = fg->next_free;

	if (fg->next_free + (uint64_t)pages * GM_PAGE_SIZE > fg->ram_bytes)
		abort(); /* test bug: make the RAM bigger */
	fg->next_free += (uint64_t)pages * GM_PAGE_SIZE; /* never reused: still zero */
	return gpa;
}

int fg_boot(struct fake_guest *fg)
{
	uint64_t v;
	int r;

	/* hyperv_init(): crash caps, guest OS id, hypercall page. */
	r = hv_msr_read(fg->hv, 0, HV_X64_MSR_CRASH_CTL, &v);
	if (r)
		return r;
	r = hv_msr_write(fg->hv, 0, HV_X64_MSR_GUEST_OS_ID, FG_LINUX_OS_ID);
	if (r)
		return r;
	fg->hypercall_page = fg_alloc_pages(fg, 1);
	r = hv_msr_read(fg->hv, 0, HV_X64_MSR_HYPERCALL, &v);
	if (r)
		return r;
	r = hv_msr_write(fg->hv, 0, HV_X64_MSR_HYPERCALL, (v & 0xFFF) | fg->hypercall_page | 1);
	if (r)
		return r;
	for (uint32_t vp = 0; vp < fg->vp_count; vp++) {
		uint64_t idx;

		/* hv_cpu_init() */
		r = hv_msr_read(fg->hv, vp, HV_X64_MSR_VP_INDEX, &idx);
		if (r || idx != vp)
			return r ? r : -EPROTO;
		r = hv_msr_write(fg->hv, vp, HV_X64_MSR_VP_ASSIST_PAGE, fg_alloc_pages(fg, 1) | 1);
		if (r)
			return r;
		fg->input_page[vp] = fg_alloc_pages(fg, 1);
		/* hv_synic_enable_regs(): SIMP, SIEFP, SINT2, SCONTROL (read-modify-write). */
		fg->simp[vp] = fg_alloc_pages(fg, 1);
		fg->siefp[vp] = fg_alloc_pages(fg, 1);
		r = hv_msr_read(fg->hv, vp, HV_X64_MSR_SIMP, &v);
		if (!r)
			r = hv_msr_write(fg->hv, vp, HV_X64_MSR_SIMP, (v & 0xFFE) | fg->simp[vp] | 1);
		if (!r)
			r = hv_msr_read(fg->hv, vp, HV_X64_MSR_SIEFP, &v);
		if (!r)
			r = hv_msr_write(fg->hv, vp, HV_X64_MSR_SIEFP, (v & 0xFFE) | fg->siefp[vp] | 1);
		if (!r)
			r = hv_msr_read(fg->hv, vp, HV_X64_MSR_SINT0 + 2, &v);
		if (!r)
			r = hv_msr_write(fg->hv, vp, HV_X64_MSR_SINT0 + 2,
					 (v & ~(HV_SINT_VECTOR_MASK | HV_SINT_MASKED | HV_SINT_AUTO_EOI)) |
						 FG_VECTOR);
		if (!r)
			r = hv_msr_read(fg->hv, vp, HV_X64_MSR_SCONTROL, &v);
		if (!r)
			r = hv_msr_write(fg->hv, vp, HV_X64_MSR_SCONTROL, v | 1);
		if (r)
			return r;
	}
	return 0;
}

uint16_t fg_post(struct fake_guest *fg, uint32_t vp, uint32_t conn_id, const void *msg,
		 uint32_t len)
{
	struct hv_input_post_message_wire in;

	memset(&in, 0, sizeof(in));
	in.connection_id = conn_id;
	in.message_type = 1;
	in.payload_size = len;
	memcpy(in.payload, msg, MIN(len, (uint32_t)sizeof(in.payload)));
	memcpy(fg->ram + fg->input_page[vp], &in, sizeof(in));
	return (uint16_t)hv_hypercall(fg->hv, vp, HVCALL_POST_MESSAGE, fg->input_page[vp], 0);
}

void fg_run_host(struct fake_guest *fg)
{
	if (fg->wake_fd >= 0)
		return;
	for (int i = 0; i < 1000 && fg->wake; i++) {
		fg->wake = false;
		(void)vmbus_server_process(fg->srv);
	}
}

uint16_t fg_send(struct fake_guest *fg, const void *msg, uint32_t len)
{
	uint16_t st = fg_post(fg, 0, fg->msg_conn_id, msg, len);

	fg_run_host(fg);
	fg_poll_msgs(fg);
	return st;
}

void fg_poll_msgs(struct fake_guest *fg)
{
	bool got = true;

	for (int rounds = 0; got && rounds < 10000; rounds++) {
		got = false;
		for (uint32_t vp = 0; vp < fg->vp_count; vp++) {
			struct hv_message_wire *slot;
			uint32_t type;

			if (!fg->simp[vp])
				continue;
			slot = (struct hv_message_wire *)(fg->ram + fg->simp[vp] + 2 * HV_MESSAGE_SIZE);
			type = __atomic_load_n(&slot->message_type, __ATOMIC_ACQUIRE);
			if (type == HVMSG_NONE)
				continue;
			got = true;
			if (fg->n_msgs < FG_MAX_MSGS) {
				struct fg_msg *m = &fg->msgs[fg->n_msgs++];
				m->vp = vp;
				m->len = MIN(slot->payload_size, (uint8_t)240);
				memcpy(m->data, slot->payload, m->len);
			}
			/* vmbus_signal_eom(): free the slot, then EOM if more is pending. */
			__atomic_store_n(&slot->message_type, HVMSG_NONE, __ATOMIC_SEQ_CST);
			if (slot->message_flags & HV_MESSAGE_FLAG_PENDING) {
				fg->eoms++;
				if (hv_msr_write(fg->hv, vp, HV_X64_MSR_EOM, 0))
					abort();
			}
		}
	}
}

bool fg_take_msg(struct fake_guest *fg, uint32_t msgtype, struct fg_msg *ret)
{
	for (uint32_t i = 0; i < fg->n_msgs; i++) {
		uint32_t t;

		memcpy(&t, fg->msgs[i].data, sizeof(t));
		if (msgtype && t != msgtype)
			continue;
		if (ret)
			*ret = fg->msgs[i];
		memmove(&fg->msgs[i], &fg->msgs[i + 1], (fg->n_msgs - i - 1) * sizeof(fg->msgs[0]));
		fg->n_msgs--;
		return true;
	}
	return false;
}

int fg_contact(struct fake_guest *fg, uint32_t version, uint32_t target_vp)
{
	struct vmbus_initiate_contact_wire m;
	struct vmbus_version_response_wire resp;
	struct fg_msg msg;
	uint32_t conn = version >= VMBUS_VERSION_WIN10_V5 ? VMBUS_MESSAGE_CONNECTION_ID_4
							  : VMBUS_MESSAGE_CONNECTION_ID;
	uint16_t st;

	memset(&m, 0, sizeof(m));
	m.hdr.msgtype = VMBUS_MSG_INITIATE_CONTACT;
	m.vmbus_version_requested = version;
	m.target_vcpu = target_vp;
	if (version >= VMBUS_VERSION_WIN10_V5)
		m.msg_sint = VMBUS_MESSAGE_SINT;
	else
		m.interrupt_page = fg_alloc_pages(fg, 1);
	m.monitor_page1 = fg_alloc_pages(fg, 1);
	m.monitor_page2 = fg_alloc_pages(fg, 1);
	st = fg_post(fg, 0, conn, &m, sizeof(m));
	if (st)
		return -(int)st;
	fg_run_host(fg);
	fg_poll_msgs(fg);
	if (!fg_take_msg(fg, VMBUS_MSG_VERSION_RESPONSE, &msg))
		return -ENOMSG;
	memcpy(&resp, msg.data, sizeof(resp));
	if (!resp.version_supported)
		return 0;
	fg->version = version;
	fg->msg_conn_id = version >= VMBUS_VERSION_WIN10_V5 ? resp.msg_conn_id
							    : VMBUS_MESSAGE_CONNECTION_ID;
	return 1;
}

uint32_t fg_connect(struct fake_guest *fg)
{
	static const uint32_t linux_versions[] = {
		VMBUS_VERSION_WIN10_V5_3, VMBUS_VERSION_WIN10_V5_2, VMBUS_VERSION_WIN10_V5_1,
		VMBUS_VERSION_WIN10_V5,   VMBUS_VERSION_WIN10_V4_1, VMBUS_VERSION_WIN10,
		VMBUS_VERSION_WIN8_1,     VMBUS_VERSION_WIN8,
	};

	for (size_t i = 0; i < ARRAY_SIZE(linux_versions); i++)
		if (fg_contact(fg, linux_versions[i], 0) == 1)
			return linux_versions[i];
	return 0;
}

int fg_request_offers(struct fake_guest *fg, struct vmbus_offer_channel_wire *offers, int max)
{
	struct vmbus_msg_hdr_wire m = { .msgtype = VMBUS_MSG_REQUESTOFFERS };
	struct fg_msg msg;
	int n = 0;

	if (fg_send(fg, &m, sizeof(m)))
		return -EIO;
	while (fg_take_msg(fg, 0, &msg)) {
		uint32_t t;

		memcpy(&t, msg.data, sizeof(t));
		if (t == VMBUS_MSG_ALLOFFERS_DELIVERED)
			return n;
		if (t == VMBUS_MSG_OFFERCHANNEL && n < max && msg.len >= sizeof(offers[0]))
			memcpy(&offers[n++], msg.data, sizeof(offers[0]));
	}
	return -ENOMSG;
}

int fg_gpadl_create(struct fake_guest *fg, uint32_t relid, const uint64_t *pfns, uint32_t npfns,
		    uint32_t *ret_handle)
{
	uint8_t buf[240];
	struct vmbus_gpadl_header_wire h;
	struct vmbus_gpadl_range_wire rg = { .byte_count = npfns * (uint32_t)GM_PAGE_SIZE };
	struct vmbus_gpadl_created_wire created;
	struct fg_msg msg;
	uint32_t handle = fg->next_gpadl++, first = MIN(npfns, 26u), done;

	memset(&h, 0, sizeof(h));
	h.hdr.msgtype = VMBUS_MSG_GPADL_HEADER;
	h.child_relid = relid;
	h.gpadl = handle;
	h.range_buflen = (uint16_t)(sizeof(rg) + 8 * npfns);
	h.rangecount = 1;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), &rg, sizeof(rg));
	memcpy(buf + sizeof(h) + sizeof(rg), pfns, 8 * first);
	if (fg_post(fg, 0, fg->msg_conn_id, buf, (uint32_t)(sizeof(h) + sizeof(rg) + 8 * first)))
		return -EIO;
	for (done = first; done < npfns;) {
		struct vmbus_gpadl_body_wire b = { .hdr.msgtype = VMBUS_MSG_GPADL_BODY, .gpadl = handle };
		uint32_t n = MIN(npfns - done, 28u);

		memcpy(buf, &b, sizeof(b));
		memcpy(buf + sizeof(b), pfns + done, 8 * n);
		if (fg_post(fg, 0, fg->msg_conn_id, buf, (uint32_t)(sizeof(b) + 8 * n)))
			return -EIO;
		done += n;
	}
	fg_run_host(fg);
	fg_poll_msgs(fg);
	if (!fg_take_msg(fg, VMBUS_MSG_GPADL_CREATED, &msg))
		return -ENOMSG;
	memcpy(&created, msg.data, sizeof(created));
	if (created.gpadl != handle || created.child_relid != relid)
		return -EPROTO;
	*ret_handle = handle;
	return (int)created.creation_status;
}

struct vmbus_ring_hdr_wire *fg_ring_hdr(struct fg_chan *ch, bool host_to_guest)
{
	uint64_t gpa = ch->base_gpa + (host_to_guest ? ch->send_pages : 0) * GM_PAGE_SIZE;

	return (struct vmbus_ring_hdr_wire *)(ch->fg->ram + gpa);
}

int fg_open(struct fake_guest *fg, const struct vmbus_offer_channel_wire *offer,
	    uint32_t send_pages, uint32_t recv_pages, uint32_t target_vp, struct fg_chan *ch)
{
	struct vmbus_open_channel_wire m;
	struct vmbus_open_result_wire res;
	struct fg_msg msg;
	int r;

	memset(ch, 0, sizeof(*ch));
	ch->fg = fg;
	ch->relid = offer->child_relid;
	ch->conn_id = offer->connection_id;
	ch->target_vp = target_vp;
	ch->send_pages = send_pages;
	ch->recv_pages = recv_pages;
	ch->npfns = send_pages + recv_pages;
	ch->base_gpa = fg_alloc_pages(fg, ch->npfns);
	if (fg->n_allocs == ARRAY_SIZE(fg->allocs))
		return -ENOMEM;
	ch->pfns = calloc(ch->npfns, sizeof(uint64_t));
	if (!ch->pfns)
		return -ENOMEM;
	fg->allocs[fg->n_allocs++] = ch->pfns;
	for (uint32_t i = 0; i < ch->npfns; i++)
		ch->pfns[i] = (ch->base_gpa >> GM_PAGE_SHIFT) + i;
	/* hv_ringbuffer_init(): both headers, feature bit pending_send_sz. */
	fg_ring_hdr(ch, false)->feature_bits = VMBUS_RING_FEAT_PENDING_SEND_SZ;
	fg_ring_hdr(ch, true)->feature_bits = VMBUS_RING_FEAT_PENDING_SEND_SZ;
	r = fg_gpadl_create(fg, ch->relid, ch->pfns, ch->npfns, &ch->gpadl);
	if (r)
		return r < 0 ? r : -EIO;
	memset(&m, 0, sizeof(m));
	m.hdr.msgtype = VMBUS_MSG_OPENCHANNEL;
	m.child_relid = ch->relid;
	m.openid = ch->relid;
	m.ringbuffer_gpadlhandle = ch->gpadl;
	m.target_vp = target_vp;
	m.downstream_ringbuffer_pageoffset = send_pages;
	if (fg_send(fg, &m, sizeof(m)))
		return -EIO;
	if (!fg_take_msg(fg, VMBUS_MSG_OPENCHANNEL_RESULT, &msg))
		return -ENOMSG;
	memcpy(&res, msg.data, sizeof(res));
	if (res.child_relid != ch->relid || res.openid != ch->relid)
		return -EPROTO;
	if (res.status)
		return -EAGAIN; /* what vmbus_open() returns */
	ch->open = true;
	return 0;
}

int fg_close(struct fg_chan *ch)
{
	struct fake_guest *fg = ch->fg;
	struct vmbus_relid_msg_wire c = { .hdr.msgtype = VMBUS_MSG_CLOSECHANNEL,
					  .child_relid = ch->relid };
	struct vmbus_gpadl_teardown_wire t = { .hdr.msgtype = VMBUS_MSG_GPADL_TEARDOWN,
					       .child_relid = ch->relid, .gpadl = ch->gpadl };
	struct vmbus_gpadl_torndown_wire td;
	struct fg_msg msg;

	if (fg_send(fg, &c, sizeof(c)) || fg_send(fg, &t, sizeof(t)))
		return -EIO;
	ch->open = false;
	if (!fg_take_msg(fg, VMBUS_MSG_GPADL_TORNDOWN, &msg))
		return -ENOMSG;
	memcpy(&td, msg.data, sizeof(td));
	return td.gpadl == ch->gpadl ? 0 : -EPROTO;
}

static void ring_copy(uint8_t *data, uint32_t size, uint32_t off, void *buf, uint32_t len,
		      bool to_ring)
{
	for (uint32_t i = 0; i < len; i++) {
		uint8_t *p = data + (off + i) % size;
		if (to_ring)
			*p = ((const uint8_t *)buf)[i];
		else
			((uint8_t *)buf)[i] = *p;
	}
}

static void fg_signal(struct fg_chan *ch)
{
	__atomic_fetch_add(&ch->signals, 1, __ATOMIC_RELAXED);
	(void)hv_hypercall(ch->fg->hv, 0, HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT, ch->conn_id,
			   0);
}

void fg_chan_signal(struct fg_chan *ch)
{
	fg_signal(ch);
	fg_run_host(ch->fg);
}

int fg_chan_write(struct fg_chan *ch, uint16_t type, uint16_t flags, uint64_t trans_id,
		  const void *payload, uint32_t len)
{
	struct vmbus_ring_hdr_wire *h = fg_ring_hdr(ch, false);
	uint8_t *data = (uint8_t *)h + GM_PAGE_SIZE;
	uint32_t size = (ch->send_pages - 1) * (uint32_t)GM_PAGE_SIZE;
	uint32_t pkt = (uint32_t)ALIGN_UP(16 + len, 8), total = pkt + 8;
	uint32_t wr = h->write_index, rd = __atomic_load_n(&h->read_index, __ATOMIC_ACQUIRE);
	uint32_t used = wr >= rd ? wr - rd : size - rd + wr;
	struct vmbus_pkt_desc_wire d = { .type = type, .offset8 = 2, .len8 = (uint16_t)(pkt / 8),
					 .flags = flags, .trans_id = trans_id };
	uint64_t trailer = (uint64_t)wr << 32;
	uint8_t pad[8] = { 0 };

	if (size - used <= total)
		return -EAGAIN;
	ring_copy(data, size, wr, &d, sizeof(d), true);
	ring_copy(data, size, wr + 16, (void *)payload, len, true);
	ring_copy(data, size, wr + 16 + len, pad, pkt - 16 - len, true);
	ring_copy(data, size, wr + pkt, &trailer, 8, true);
	__atomic_store_n(&h->write_index, (wr + total) % size, __ATOMIC_SEQ_CST);
	/* hv_signal_on_write(): only if not masked and the ring was empty. */
	if (!__atomic_load_n(&h->interrupt_mask, __ATOMIC_SEQ_CST) &&
	    __atomic_load_n(&h->read_index, __ATOMIC_SEQ_CST) == wr)
		fg_signal(ch);
	fg_run_host(ch->fg);
	return 0;
}

int fg_chan_read(struct fg_chan *ch, void *payload, uint32_t max, uint16_t *ret_type,
		 uint64_t *ret_trans_id)
{
	struct vmbus_ring_hdr_wire *h = fg_ring_hdr(ch, true);
	uint8_t *data = (uint8_t *)h + GM_PAGE_SIZE;
	uint32_t size = (ch->recv_pages - 1) * (uint32_t)GM_PAGE_SIZE;
	uint32_t rd = h->read_index, wr = __atomic_load_n(&h->write_index, __ATOMIC_ACQUIRE);
	uint32_t avail = wr >= rd ? wr - rd : size - rd + wr, len, off, pending;
	struct vmbus_pkt_desc_wire d;

	if (!avail)
		return -EAGAIN;
	ring_copy(data, size, rd, &d, sizeof(d), false);
	len = d.len8 * 8u;
	off = d.offset8 * 8u;
	if (len + 8 > avail || off > len || len - off > max)
		return -EPROTO;
	ring_copy(data, size, rd + off, payload, len - off, false);
	__atomic_store_n(&h->read_index, (rd + len + 8) % size, __ATOMIC_SEQ_CST);
	/* hv_pkt_iter_close(): signal the host when pending_send_sz is crossed. */
	pending = __atomic_load_n(&h->pending_send_sz, __ATOMIC_SEQ_CST);
	if (pending && (h->feature_bits & VMBUS_RING_FEAT_PENDING_SEND_SZ)) {
		/* As Linux: current free space from a fresh write index. */
		uint32_t rd2 = (rd + len + 8) % size;
		uint32_t wr2 = __atomic_load_n(&h->write_index, __ATOMIC_SEQ_CST);
		uint32_t free_after = size - (wr2 >= rd2 ? wr2 - rd2 : size - rd2 + wr2);
		if (free_after > pending && free_after - (len + 8) <= pending)
			fg_signal(ch);
	}
	if (ret_type)
		*ret_type = d.type;
	if (ret_trans_id)
		*ret_trans_id = d.trans_id;
	fg_run_host(ch->fg);
	return (int)(len - off);
}

bool fg_event_pending(struct fake_guest *fg, uint32_t vp, uint32_t relid)
{
	uint8_t *byte = fg->ram + fg->siefp[vp] + 2 * HV_EVENT_FLAGS_BYTES + relid / 8;
	uint8_t bit = (uint8_t)(1u << (relid % 8));

	return __atomic_fetch_and(byte, (uint8_t)~bit, __ATOMIC_SEQ_CST) & bit;
}
