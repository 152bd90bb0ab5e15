// SPDX-License-Identifier: MIT
/*
 * VMBus server tests, end to end at the unit tier: a fake Linux 6.1 guest
 * (fake_guest.c) drives the real hv layer and the real server through
 * hypercalls, MSRs and SynIC pages in malloc'd guest memory. Covers version
 * negotiation for every version Linux tries, offers, GPADLs (multi-message),
 * open/close, packets both ways, ring wrap-around, interrupt_mask and
 * pending_send_sz signalling, rescind, unload, reconnect and hostile input.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "fake_guest.h"
#include "t.h"
#include "vmbus/vmbus_ring.h"

#define RAM (8 * 1024 * 1024)

struct echo {
	int opens, closes, starts, writables, packets;
	bool fail_open;
	bool echo;          /* answer COMPLETION_REQUESTED packets */
	uint16_t last_type;
	uint64_t last_trans;
	uint32_t last_len;
	uint8_t last[8192];
	struct vmbus_chan *chan;
};

static int echo_open(struct vmbus_chan *chan, const uint8_t userdata[120])
{
	struct echo *e = vmbus_chan_ctx(chan);

	(void)userdata;
	if (e->fail_open)
		return -EIO;
	e->opens++;
	e->chan = chan;
	return 0;
}

static void echo_start(struct vmbus_chan *chan)
{
	((struct echo *)vmbus_chan_ctx(chan))->starts++;
}

static void echo_close(struct vmbus_chan *chan)
{
	struct echo *e = vmbus_chan_ctx(chan);

	e->closes++;
	e->chan = NULL;
}

static int echo_packet(struct vmbus_chan *chan, const struct vmbus_pkt *pkt)
{
	struct echo *e = vmbus_chan_ctx(chan);

	e->packets++;
	e->last_type = pkt->type;
	e->last_trans = pkt->trans_id;
	e->last_len = pkt->payload_len;
	memcpy(e->last, pkt->payload, MIN(pkt->payload_len, (uint32_t)sizeof(e->last)));
	if (e->echo && (pkt->flags & VMBUS_PKT_FLAG_COMPLETION_REQUESTED))
		return vmbus_chan_send(chan, VMBUS_PKT_COMP, 0, pkt->trans_id, pkt->payload,
				       pkt->payload_len) == -EPROTO ? -EPROTO : 0;
	return 0;
}

static void echo_writable(struct vmbus_chan *chan)
{
	((struct echo *)vmbus_chan_ctx(chan))->writables++;
}

static const struct vmbus_dev_class echo_class = {
	.name = "echo",
	.class_guid = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc,
			0xdd, 0xee, 0xff, 0x00 },
	.max_pkt_size = 8192,
	.open = echo_open, .start = echo_start, .close = echo_close, .packet = echo_packet,
	.writable = echo_writable,
};

static const uint8_t inst1[16] = { 1, 1, 1, 1 };
static const uint8_t inst2[16] = { 2, 2, 2, 2 };

struct env {
	struct fake_guest *fg;
	struct echo e1, e2;
	struct vmbus_dev *d1, *d2;
	struct vmbus_offer_channel_wire offers[8];
	int n_offers;
};

static void env_up(struct env *v, uint32_t vps)
{
	memset(v, 0, sizeof(*v));
	T_ASSERT_EQ(fg_new(vps, RAM, &v->fg), 0);
	T_ASSERT_EQ(fg_boot(v->fg), 0);
	v->e1.echo = v->e2.echo = true;
	T_ASSERT_EQ(vmbus_server_add_device(v->fg->srv, &echo_class, inst1, &v->e1, &v->d1), 0);
	T_ASSERT_EQ(vmbus_server_add_device(v->fg->srv, &echo_class, inst2, &v->e2, &v->d2), 0);
	T_ASSERT_EQ(fg_connect(v->fg), VMBUS_VERSION_WIN10_V5_3);
	v->n_offers = fg_request_offers(v->fg, v->offers, 8);
	T_ASSERT_EQ(v->n_offers, 2);
}

static void env_down(struct env *v)
{
	fg_free(v->fg);
}

static void test_version_negotiation(void)
{
	static const uint32_t linux_versions[] = {
		VMBUS_VERSION_WIN10_V5_3, VMBUS_VERSION_WIN10_V5_2, VMBUS_VERSION_WIN10_V5_1,
		VMBUS_VERSION_WIN10_V5,   VMBUS_VERSION_WIN10_V4_1, VMBUS_VERSION_WIN10,
		VMBUS_VERSION_WIN8_1,     VMBUS_VERSION_WIN8,
	};
	struct fake_guest *fg;

	/* Every version Linux 6.1 tries is accepted on its own. */
	for (size_t i = 0; i < ARRAY_SIZE(linux_versions); i++) {
		T_ASSERT_EQ(fg_new(2, RAM, &fg), 0);
		T_ASSERT_EQ(fg_boot(fg), 0);
		T_EXPECT_EQ(fg_contact(fg, linux_versions[i], 1), 1);
		T_EXPECT(vmbus_server_connected(fg->srv));
		T_EXPECT_EQ(vmbus_server_version(fg->srv), linux_versions[i]);
		fg_free(fg);
	}
	/* Unknown versions (WIN7, future) are refused, the guest stays disconnected. */
	T_ASSERT_EQ(fg_new(1, RAM, &fg), 0);
	T_ASSERT_EQ(fg_boot(fg), 0);
	T_EXPECT_EQ(fg_contact(fg, 0x00010001, 0), 0);
	T_EXPECT_EQ(fg_contact(fg, 0x00060000, 0), 0);
	T_EXPECT(!vmbus_server_connected(fg->srv));
	/* Bad target VP: refused but still answered (the guest never times out). */
	T_EXPECT_EQ(fg_contact(fg, VMBUS_VERSION_WIN10_V5_3, 5), 0);
	fg_free(fg);
	/* Linux's fallback loop ends at the server's maximum. */
	T_ASSERT_EQ(fg_new_ex(1, RAM, VMBUS_VERSION_WIN10, &fg), 0);
	T_ASSERT_EQ(fg_boot(fg), 0);
	T_EXPECT_EQ(fg_connect(fg), VMBUS_VERSION_WIN10);
	T_EXPECT_EQ(fg->msg_conn_id, VMBUS_MESSAGE_CONNECTION_ID);
	fg_free(fg);
	/* >= 5.0: the response names the connection id for later posts. */
	T_ASSERT_EQ(fg_new(1, RAM, &fg), 0);
	T_ASSERT_EQ(fg_boot(fg), 0);
	T_EXPECT_EQ(fg_connect(fg), VMBUS_VERSION_WIN10_V5_3);
	T_EXPECT_EQ(fg->msg_conn_id, VMBUS_MESSAGE_CONNECTION_ID);
	/* Messages posted to an unregistered connection id are refused by hv. */
	uint8_t junk[8] = { 3 };
	T_EXPECT_EQ(fg_post(fg, 0, 7, junk, 8), 18);
	fg_free(fg);
}

static void test_offers(void)
{
	struct env v;

	env_up(&v, 2);
	for (int i = 0; i < 2; i++) {
		const struct vmbus_offer_channel_wire *o = &v.offers[i];
		T_EXPECT_MEMEQ(o->if_type, echo_class.class_guid, 16);
		T_EXPECT(o->child_relid >= 1 && o->child_relid < 2048);
		T_EXPECT_EQ(o->connection_id, o->child_relid + VMBUS_CHAN_CONNECTION_ID_BASE);
		T_EXPECT_EQ(o->monitor_allocated, 0);
		T_EXPECT_EQ(o->sub_channel_index, 0);
	}
	T_EXPECT_NE(v.offers[0].child_relid, v.offers[1].child_relid);
	T_EXPECT_MEMEQ(v.offers[0].if_instance, inst1, 16);
	T_EXPECT_MEMEQ(v.offers[1].if_instance, inst2, 16);
	/* The 3 messages (2 offers + all-offers-delivered) needed the EOM path. */
	T_EXPECT(v.fg->eoms >= 2);
	/* Duplicate instance GUIDs are refused. */
	struct vmbus_dev *d;
	T_EXPECT_EQ(vmbus_server_add_device(v.fg->srv, &echo_class, inst1, NULL, &d), -EEXIST);
	/* Hot-add after REQUESTOFFERS: offered at once. */
	static const uint8_t inst3[16] = { 3 };
	struct echo e3 = { .echo = true };
	T_ASSERT_EQ(vmbus_server_add_device(v.fg->srv, &echo_class, inst3, &e3, &d), 0);
	fg_poll_msgs(v.fg);
	struct fg_msg m;
	T_EXPECT(fg_take_msg(v.fg, VMBUS_MSG_OFFERCHANNEL, &m));
	env_down(&v);
}

static void test_gpadl_multi_message(void)
{
	struct env v;
	uint64_t pfns[200];
	uint32_t h;
	uint64_t base;

	env_up(&v, 1);
	base = fg_alloc_pages(v.fg, 200) >> 12;
	for (int i = 0; i < 200; i++)
		pfns[i] = base + i;
	/* 200 PFNs = header (26) + 7 bodies (28 each). */
	T_EXPECT_EQ(fg_gpadl_create(v.fg, v.offers[0].child_relid, pfns, 200, &h), 0);
	/* A PFN outside guest RAM fails the GPADL (non-zero creation status). */
	pfns[150] = 0xFFFFFFF;
	T_EXPECT_NE(fg_gpadl_create(v.fg, v.offers[0].child_relid, pfns, 200, &h), 0);
	/* Unknown relid: failure status. */
	T_EXPECT_NE(fg_gpadl_create(v.fg, 999, pfns, 3, &h), 0);
	/* Teardown of an unknown handle is still answered. */
	struct vmbus_gpadl_teardown_wire t = { .hdr.msgtype = VMBUS_MSG_GPADL_TEARDOWN,
					       .child_relid = 1, .gpadl = 0x1234 };
	struct fg_msg m;
	T_EXPECT_EQ(fg_send(v.fg, &t, sizeof(t)), 0);
	T_EXPECT(fg_take_msg(v.fg, VMBUS_MSG_GPADL_TORNDOWN, &m));
	struct vmbus_stats st;
	vmbus_server_get_stats(v.fg->srv, &st);
	T_EXPECT(st.msgs_bad >= 2);
	env_down(&v);
}

static void test_open_packets_close(void)
{
	struct env v;
	struct fg_chan ch;
	uint8_t buf[512], out[512];
	uint16_t type;
	uint64_t trans;
	uint32_t relid;

	env_up(&v, 2);
	relid = v.offers[0].child_relid;
	T_ASSERT_EQ(fg_open(v.fg, &v.offers[0], 4, 4, 1, &ch), 0);
	T_EXPECT_EQ(v.e1.opens, 1);
	T_EXPECT_EQ(v.e1.starts, 1);
	T_EXPECT(vmbus_chan_is_open(v.e1.chan));
	/* Guest -> host with completion; the echo VSP completes it. */
	for (int i = 0; i < 100; i++)
		buf[i] = (uint8_t)(i * 7);
	uint32_t irqs_before = v.fg->irqs[1];
	T_ASSERT_EQ(fg_chan_write(&ch, VMBUS_PKT_DATA_INBAND, VMBUS_PKT_FLAG_COMPLETION_REQUESTED,
				  42, buf, 100),
		    0);
	T_EXPECT_EQ(ch.signals, 1);
	T_EXPECT_EQ(v.e1.packets, 1);
	T_EXPECT_EQ(v.e1.last_type, VMBUS_PKT_DATA_INBAND);
	T_EXPECT_EQ(v.e1.last_trans, 42);
	T_EXPECT_EQ(v.e1.last_len, 104); /* padded to 8 bytes */
	T_EXPECT_MEMEQ(v.e1.last, buf, 100);
	/* The completion interrupted target VP 1 with the relid bit set. */
	T_EXPECT_EQ(v.fg->irqs[1], irqs_before + 1);
	T_EXPECT(fg_event_pending(v.fg, 1, relid));
	T_EXPECT(!fg_event_pending(v.fg, 0, relid));
	int n = fg_chan_read(&ch, out, sizeof(out), &type, &trans);
	T_EXPECT_EQ(n, 104);
	T_EXPECT_EQ(type, VMBUS_PKT_COMP);
	T_EXPECT_EQ(trans, 42);
	T_EXPECT_MEMEQ(out, buf, 100);
	T_EXPECT_EQ(fg_chan_read(&ch, out, sizeof(out), &type, &trans), -EAGAIN);
	/* Host sends above max_pkt_size: refused. */
	T_EXPECT_EQ(vmbus_chan_send(v.e1.chan, VMBUS_PKT_DATA_INBAND, 0, 1, NULL, 8192), -EMSGSIZE);
	/* A channel that is not open cannot send. */
	struct vmbus_chan *c2 = vmbus_dev_chan(v.d2);
	T_EXPECT_EQ(vmbus_chan_send(c2, VMBUS_PKT_DATA_INBAND, 0, 1, buf, 8), -ENOTCONN);
	/* Close + teardown. */
	T_ASSERT_EQ(fg_close(&ch), 0);
	T_EXPECT_EQ(v.e1.closes, 1);
	/* Re-open works with a new GPADL. */
	T_ASSERT_EQ(fg_open(v.fg, &v.offers[0], 4, 4, 0, &ch), 0);
	T_EXPECT_EQ(v.e1.opens, 2);
	T_ASSERT_EQ(fg_close(&ch), 0);
	/* Open refused by the VSP: status non-zero, guest sees -EAGAIN. */
	v.e2.fail_open = true;
	T_EXPECT_EQ(fg_open(v.fg, &v.offers[1], 4, 4, 0, &ch), -EAGAIN);
	env_down(&v);
}

static void test_ring_wraparound(void)
{
	struct env v;
	struct fg_chan ch;
	uint8_t buf[1200], out[1200];
	uint16_t type;
	uint64_t trans;

	env_up(&v, 1);
	/* One data page per direction: 4096 bytes, every few packets wrap. */
	T_ASSERT_EQ(fg_open(v.fg, &v.offers[0], 2, 2, 0, &ch), 0);
	for (int i = 0; i < 200; i++) {
		uint32_t len = 8 + (uint32_t)(i * 37) % 1100;

		for (uint32_t k = 0; k < len; k++)
			buf[k] = (uint8_t)(i + k);
		T_ASSERT_EQ(fg_chan_write(&ch, VMBUS_PKT_DATA_INBAND,
					  VMBUS_PKT_FLAG_COMPLETION_REQUESTED, 1000 + i, buf, len),
			    0);
		T_ASSERT_EQ(v.e1.packets, i + 1);
		T_ASSERT_EQ(v.e1.last_trans, 1000 + i);
		T_ASSERT(!memcmp(v.e1.last, buf, len));
		int n = fg_chan_read(&ch, out, sizeof(out), &type, &trans);
		T_ASSERT_EQ(n, ALIGN_UP(len, 8));
		T_ASSERT_EQ(trans, 1000 + i);
		T_ASSERT(!memcmp(out, buf, len));
	}
	/* Both indices went round the ring many times and stay aligned. */
	T_EXPECT_EQ(fg_ring_hdr(&ch, false)->read_index, fg_ring_hdr(&ch, false)->write_index);
	T_EXPECT_EQ(fg_ring_hdr(&ch, false)->read_index % 8, 0);
	env_down(&v);
}

static void test_interrupt_mask(void)
{
	struct env v;
	struct fg_chan ch;
	uint8_t b[16] = { 0 }, out[64];
	uint32_t irqs;

	env_up(&v, 1);
	T_ASSERT_EQ(fg_open(v.fg, &v.offers[0], 2, 2, 0, &ch), 0);
	(void)fg_event_pending(v.fg, 0, ch.relid);
	/* Guest masks the host->guest ring: no event, no interrupt. */
	fg_ring_hdr(&ch, true)->interrupt_mask = 1;
	irqs = v.fg->irqs[0];
	T_ASSERT_EQ(vmbus_chan_send(v.e1.chan, VMBUS_PKT_DATA_INBAND, 0, 1, b, 16), 0);
	T_EXPECT_EQ(v.fg->irqs[0], irqs);
	T_EXPECT(!fg_event_pending(v.fg, 0, ch.relid));
	/* Unmasked: signalled. */
	fg_ring_hdr(&ch, true)->interrupt_mask = 0;
	T_ASSERT_EQ(vmbus_chan_send(v.e1.chan, VMBUS_PKT_DATA_INBAND, 0, 2, b, 16), 0);
	T_EXPECT_EQ(v.fg->irqs[0], irqs + 1);
	T_EXPECT(fg_event_pending(v.fg, 0, ch.relid));
	T_EXPECT_EQ(fg_chan_read(&ch, out, sizeof(out), NULL, NULL), 16);
	T_EXPECT_EQ(fg_chan_read(&ch, out, sizeof(out), NULL, NULL), 16);
	/* Host drains everything even though the guest signals only on empty->non-empty. */
	v.e1.echo = false;
	T_ASSERT_EQ(fg_ring_hdr(&ch, false)->interrupt_mask, 0);
	fg_ring_hdr(&ch, false)->interrupt_mask = 1; /* pretend the host is draining */
	T_ASSERT_EQ(fg_chan_write(&ch, VMBUS_PKT_DATA_INBAND, 0, 7, b, 16), 0);
	T_EXPECT_EQ(ch.signals, 0);
	T_EXPECT_EQ(v.e1.packets, 0);
	fg_ring_hdr(&ch, false)->interrupt_mask = 0;
	T_ASSERT_EQ(fg_chan_write(&ch, VMBUS_PKT_DATA_INBAND, 0, 8, b, 16), 0);
	T_EXPECT_EQ(ch.signals, 0); /* ring was not empty: no signal ... */
	T_ASSERT_EQ(vmbus_server_signal_event(v.fg->srv, 0, ch.conn_id, 0), 0);
	fg_run_host(v.fg);
	T_EXPECT_EQ(v.e1.packets, 2); /* ... one wake-up drains both */
	T_EXPECT_EQ(v.e1.last_trans, 8);
	env_down(&v);
}

static void test_pending_send_size(void)
{
	struct env v;
	struct fg_chan ch;
	uint8_t b[1000] = { 0 }, out[1100];
	int sent = 0, r = 0;

	env_up(&v, 1);
	T_ASSERT_EQ(fg_open(v.fg, &v.offers[0], 2, 2, 0, &ch), 0);
	/* Fill the 4 KiB host->guest ring. */
	while (r == 0 && sent < 100) {
		r = vmbus_chan_send(v.e1.chan, VMBUS_PKT_DATA_INBAND, 0, (uint64_t)sent, b, 1000);
		if (!r)
			sent++;
	}
	T_EXPECT_EQ(r, -EAGAIN);
	T_EXPECT_EQ(sent, 3); /* a 4th 1024-byte packet would fill it completely: never allowed */
	T_EXPECT_EQ(fg_ring_hdr(&ch, true)->pending_send_sz, 1024);
	T_EXPECT_EQ(v.e1.writables, 0);
	/* The guest reads one packet: free space crosses pending_send_sz, it signals. */
	T_EXPECT_EQ(fg_chan_read(&ch, out, sizeof(out), NULL, NULL), 1000);
	T_EXPECT_EQ(ch.signals, 1);
	T_EXPECT_EQ(v.e1.writables, 1);
	T_EXPECT_EQ(fg_ring_hdr(&ch, true)->pending_send_sz, 0);
	T_EXPECT_EQ(vmbus_chan_send(v.e1.chan, VMBUS_PKT_DATA_INBAND, 0, 99, b, 1000), 0);
	/* Reads that do not cross the threshold do not signal. */
	T_EXPECT_EQ(fg_chan_read(&ch, out, sizeof(out), NULL, NULL), 1000);
	T_EXPECT_EQ(ch.signals, 1);
	struct vmbus_stats st;
	vmbus_server_get_stats(v.fg->srv, &st);
	T_EXPECT_EQ(st.ring_full, 1);
	env_down(&v);
}

static void test_host_signals_guest_producer(void)
{
	struct env v;
	struct fg_chan ch;
	uint8_t b[1000] = { 0 };
	uint32_t irqs;

	env_up(&v, 1);
	T_ASSERT_EQ(fg_open(v.fg, &v.offers[0], 2, 2, 0, &ch), 0);
	v.e1.echo = false;
	/* The guest (like hv_sock) waits for room: pending_send_sz in its ring. */
	fg_ring_hdr(&ch, false)->interrupt_mask = 1; /* keep the host from draining now */
	for (int i = 0; i < 3; i++)
		T_ASSERT_EQ(fg_chan_write(&ch, VMBUS_PKT_DATA_INBAND, 0, 1, b, 1000), 0);
	T_EXPECT_EQ(fg_chan_write(&ch, VMBUS_PKT_DATA_INBAND, 0, 1, b, 1000), -EAGAIN);
	fg_ring_hdr(&ch, false)->pending_send_sz = 2048;
	(void)fg_event_pending(v.fg, 0, ch.relid);
	irqs = v.fg->irqs[0];
	T_ASSERT_EQ(vmbus_server_signal_event(v.fg->srv, 0, ch.conn_id, 0), 0);
	fg_run_host(v.fg);
	T_EXPECT_EQ(v.e1.packets, 3);
	/* Exactly one signal when free space crossed 2048. */
	T_EXPECT_EQ(v.fg->irqs[0], irqs + 1);
	T_EXPECT(fg_event_pending(v.fg, 0, ch.relid));
	env_down(&v);
}

static void test_rescind(void)
{
	struct env v;
	struct fg_chan ch;
	struct fg_msg m;
	struct vmbus_relid_msg_wire r;
	uint32_t relid;
	struct vmbus_dev *d;
	struct echo e3 = { .echo = true };
	static const uint8_t inst3[16] = { 3 };

	env_up(&v, 1);
	relid = v.offers[0].child_relid;
	T_ASSERT_EQ(fg_open(v.fg, &v.offers[0], 2, 2, 0, &ch), 0);
	vmbus_server_remove_device(v.fg->srv, v.d1);
	T_EXPECT_EQ(v.e1.closes, 1);
	fg_poll_msgs(v.fg);
	T_ASSERT(fg_take_msg(v.fg, VMBUS_MSG_RESCIND_CHANNELOFFER, &m));
	memcpy(&r, m.data, sizeof(r));
	T_EXPECT_EQ(r.child_relid, relid);
	/* The guest closes (no teardown for a rescinded channel), then releases. */
	struct vmbus_relid_msg_wire c = { .hdr.msgtype = VMBUS_MSG_CLOSECHANNEL, .child_relid = relid };
	T_EXPECT_EQ(fg_send(v.fg, &c, sizeof(c)), 0);
	/* Until RELID_RELEASED the relid is not reused. */
	T_ASSERT_EQ(vmbus_server_add_device(v.fg->srv, &echo_class, inst3, &e3, &d), 0);
	fg_poll_msgs(v.fg);
	T_ASSERT(fg_take_msg(v.fg, VMBUS_MSG_OFFERCHANNEL, &m));
	struct vmbus_offer_channel_wire o;
	memcpy(&o, m.data, sizeof(o));
	T_EXPECT_NE(o.child_relid, relid);
	struct vmbus_relid_msg_wire rel = { .hdr.msgtype = VMBUS_MSG_RELID_RELEASED,
					    .child_relid = relid };
	T_EXPECT_EQ(fg_send(v.fg, &rel, sizeof(rel)), 0);
	struct echo e4 = { 0 };
	static const uint8_t inst4[16] = { 4 };
	T_ASSERT_EQ(vmbus_server_add_device(v.fg->srv, &echo_class, inst4, &e4, &d), 0);
	fg_poll_msgs(v.fg);
	T_ASSERT(fg_take_msg(v.fg, VMBUS_MSG_OFFERCHANNEL, &m));
	memcpy(&o, m.data, sizeof(o));
	T_EXPECT_EQ(o.child_relid, relid);
	env_down(&v);
}

static void test_unload_and_reconnect(void)
{
	struct env v;
	struct fg_chan ch;
	struct fg_msg m;
	struct vmbus_msg_hdr_wire u = { .msgtype = VMBUS_MSG_UNLOAD };

	env_up(&v, 2);
	T_ASSERT_EQ(fg_open(v.fg, &v.offers[0], 2, 2, 1, &ch), 0);
	T_EXPECT_EQ(fg_send(v.fg, &u, sizeof(u)), 0);
	T_EXPECT(fg_take_msg(v.fg, VMBUS_MSG_UNLOAD_RESPONSE, &m));
	T_EXPECT_EQ(m.vp, 0); /* the VP that connected */
	T_EXPECT_EQ(v.e1.closes, 1);
	T_EXPECT(!vmbus_server_connected(v.fg->srv));
	/* Messages other than INITIATE_CONTACT are ignored while disconnected. */
	struct vmbus_msg_hdr_wire ro = { .msgtype = VMBUS_MSG_REQUESTOFFERS };
	T_EXPECT_EQ(fg_send(v.fg, &ro, sizeof(ro)), 0);
	T_EXPECT(!fg_take_msg(v.fg, 0, NULL));
	/* The next kernel connects again and sees the same devices. */
	T_ASSERT_EQ(fg_connect(v.fg), VMBUS_VERSION_WIN10_V5_3);
	struct vmbus_offer_channel_wire offers[4];
	T_ASSERT_EQ(fg_request_offers(v.fg, offers, 4), 2);
	T_EXPECT_EQ(offers[0].child_relid, v.offers[0].child_relid);
	T_ASSERT_EQ(fg_open(v.fg, &offers[0], 2, 2, 0, &ch), 0);
	T_EXPECT_EQ(v.e1.opens, 2);
	/* Messages queued for the old kernel (slot busy) never reach the new one. */
	static const uint8_t inst9[16] = { 9 };
	struct echo e9 = { 0 };
	struct vmbus_dev *d9;
	T_ASSERT_EQ(vmbus_server_add_device(v.fg->srv, &echo_class, inst9, &e9, &d9), 0);
	T_ASSERT_EQ(vmbus_server_add_device(v.fg->srv, &echo_class, (const uint8_t[16]){ 10 }, &e9,
					    &d9), 0);
	/* (the guest does not look at its slot: the second offer stays queued) */
	/* kexec without UNLOAD: a new INITIATE_CONTACT resets everything. */
	T_ASSERT_EQ(fg_contact(v.fg, VMBUS_VERSION_WIN10_V5_2, 0), 1);
	T_EXPECT(fg_take_msg(v.fg, VMBUS_MSG_OFFERCHANNEL, NULL)); /* was in the slot */
	T_EXPECT(!fg_take_msg(v.fg, VMBUS_MSG_OFFERCHANNEL, NULL)); /* was queued: dropped */
	T_EXPECT_EQ(v.e1.closes, 2);
	T_EXPECT_EQ(vmbus_server_version(v.fg->srv), VMBUS_VERSION_WIN10_V5_2);
	T_ASSERT_EQ(fg_request_offers(v.fg, offers, 4), 4);
	/* Guest reboot (host side reset): closes without messages. */
	T_ASSERT_EQ(fg_open(v.fg, &offers[1], 2, 2, 0, &ch), 0);
	vmbus_server_reset(v.fg->srv);
	T_EXPECT_EQ(v.e2.closes, 1);
	T_EXPECT(!vmbus_server_connected(v.fg->srv));
	env_down(&v);
}

static void test_modify_channel(void)
{
	struct env v;
	struct fg_chan ch;
	struct fg_msg m;
	struct vmbus_modify_channel_response_wire resp;
	uint8_t b[8] = { 0 };

	env_up(&v, 2);
	T_ASSERT_EQ(fg_open(v.fg, &v.offers[0], 2, 2, 0, &ch), 0);
	struct vmbus_modify_channel_wire mc = { .hdr.msgtype = VMBUS_MSG_MODIFYCHANNEL,
						.child_relid = ch.relid, .target_vp = 1 };
	T_EXPECT_EQ(fg_send(v.fg, &mc, sizeof(mc)), 0);
	T_ASSERT(fg_take_msg(v.fg, VMBUS_MSG_MODIFYCHANNEL_RESPONSE, &m));
	memcpy(&resp, m.data, sizeof(resp));
	T_EXPECT_EQ(resp.status, 0);
	T_ASSERT_EQ(vmbus_chan_send(v.e1.chan, VMBUS_PKT_DATA_INBAND, 0, 1, b, 8), 0);
	T_EXPECT(fg_event_pending(v.fg, 1, ch.relid));
	/* Bad VP: failure status. */
	mc.target_vp = 9;
	T_EXPECT_EQ(fg_send(v.fg, &mc, sizeof(mc)), 0);
	T_ASSERT(fg_take_msg(v.fg, VMBUS_MSG_MODIFYCHANNEL_RESPONSE, &m));
	memcpy(&resp, m.data, sizeof(resp));
	T_EXPECT_NE(resp.status, 0);
	env_down(&v);
}

static void test_hostile_messages(void)
{
	struct env v;
	uint8_t msg[240];
	struct fg_msg m;

	env_up(&v, 1);
	/* Short, unknown and host->guest-only types: dropped, no reply. */
	memset(msg, 0, sizeof(msg));
	T_EXPECT_EQ(fg_send(v.fg, msg, 4), 0);
	msg[0] = 99;
	T_EXPECT_EQ(fg_send(v.fg, msg, 8), 0);
	msg[0] = VMBUS_MSG_OFFERCHANNEL;
	T_EXPECT_EQ(fg_send(v.fg, msg, 196), 0);
	msg[0] = VMBUS_MSG_GPADL_HEADER;
	T_EXPECT_EQ(fg_send(v.fg, msg, 12), 0);
	T_EXPECT(!fg_take_msg(v.fg, 0, NULL));
	/* OPENCHANNEL with a bogus GPADL / bad relid: failure result. */
	struct vmbus_open_channel_wire o = { .hdr.msgtype = VMBUS_MSG_OPENCHANNEL,
					     .child_relid = v.offers[0].child_relid,
					     .openid = 5, .ringbuffer_gpadlhandle = 77,
					     .downstream_ringbuffer_pageoffset = 2 };
	T_EXPECT_EQ(fg_send(v.fg, &o, sizeof(o)), 0);
	T_ASSERT(fg_take_msg(v.fg, VMBUS_MSG_OPENCHANNEL_RESULT, &m));
	struct vmbus_open_result_wire res;
	memcpy(&res, m.data, sizeof(res));
	T_EXPECT_NE(res.status, 0);
	/* A ring split that leaves no room for a ring: refused. */
	uint64_t pfns[4];
	uint32_t h;
	uint64_t base = fg_alloc_pages(v.fg, 4) >> 12;
	for (int i = 0; i < 4; i++)
		pfns[i] = base + i;
	T_ASSERT_EQ(fg_gpadl_create(v.fg, o.child_relid, pfns, 4, &h), 0);
	o.ringbuffer_gpadlhandle = h;
	o.downstream_ringbuffer_pageoffset = 3;
	T_EXPECT_EQ(fg_send(v.fg, &o, sizeof(o)), 0);
	T_ASSERT(fg_take_msg(v.fg, VMBUS_MSG_OPENCHANNEL_RESULT, &m));
	memcpy(&res, m.data, sizeof(res));
	T_EXPECT_NE(res.status, 0);
	/* A GPADL too small for two rings (1 page): refused, nothing read past it. */
	uint32_t h1;
	T_ASSERT_EQ(fg_gpadl_create(v.fg, o.child_relid, pfns, 1, &h1), 0);
	o.ringbuffer_gpadlhandle = h1;
	o.downstream_ringbuffer_pageoffset = 2;
	T_EXPECT_EQ(fg_send(v.fg, &o, sizeof(o)), 0);
	T_ASSERT(fg_take_msg(v.fg, VMBUS_MSG_OPENCHANNEL_RESULT, &m));
	memcpy(&res, m.data, sizeof(res));
	T_EXPECT_NE(res.status, 0);
	o.ringbuffer_gpadlhandle = h;
	/* Initial ring index garbage: refused. */
	((struct vmbus_ring_hdr_wire *)(v.fg->ram + (base << 12)))->read_index = 13;
	o.downstream_ringbuffer_pageoffset = 2;
	T_EXPECT_EQ(fg_send(v.fg, &o, sizeof(o)), 0);
	T_ASSERT(fg_take_msg(v.fg, VMBUS_MSG_OPENCHANNEL_RESULT, &m));
	memcpy(&res, m.data, sizeof(res));
	T_EXPECT_NE(res.status, 0);
	/* Inbox full: the guest is told to retry. */
	struct vmbus_msg_hdr_wire ro = { .msgtype = VMBUS_MSG_REQUESTOFFERS };
	uint16_t st = 0;
	for (int i = 0; i < 200 && !st; i++)
		st = fg_post(v.fg, 0, 1, &ro, sizeof(ro));
	T_EXPECT_EQ(st, 19);
	fg_run_host(v.fg);
	env_down(&v);
}

static void test_corrupt_ring(void)
{
	struct env v;
	struct fg_chan ch;
	uint8_t b[16] = { 0 };
	struct vmbus_stats st;

	env_up(&v, 1);
	T_ASSERT_EQ(fg_open(v.fg, &v.offers[0], 2, 2, 0, &ch), 0);
	/* Write index out of range / misaligned: channel broken, no crash. */
	fg_ring_hdr(&ch, false)->write_index = 5000;
	T_ASSERT_EQ(vmbus_server_signal_event(v.fg->srv, 0, ch.conn_id, 0), 0);
	fg_run_host(v.fg);
	vmbus_server_get_stats(v.fg->srv, &st);
	T_EXPECT_EQ(st.chan_broken, 1);
	T_EXPECT_EQ(v.e1.packets, 0);
	T_EXPECT_EQ(vmbus_chan_send(v.e1.chan, VMBUS_PKT_DATA_INBAND, 0, 1, b, 8), -ENOTCONN);
	/* Reopen clears the broken state. */
	fg_ring_hdr(&ch, false)->write_index = 0;
	T_ASSERT_EQ(fg_close(&ch), 0);
	T_ASSERT_EQ(fg_open(v.fg, &v.offers[0], 2, 2, 0, &ch), 0);
	/* Descriptor claims more than is there. */
	T_ASSERT_EQ(fg_chan_write(&ch, VMBUS_PKT_DATA_INBAND, 0, 1, b, 16), 0);
	T_EXPECT_EQ(v.e1.packets, 1);
	struct vmbus_pkt_desc_wire d = { .type = 6, .offset8 = 2, .len8 = 200 };
	uint8_t *data = (uint8_t *)fg_ring_hdr(&ch, false) + 4096;
	uint32_t wr = fg_ring_hdr(&ch, false)->write_index;
	memcpy(data + wr, &d, sizeof(d));
	fg_ring_hdr(&ch, false)->write_index = wr + 32;
	T_ASSERT_EQ(vmbus_server_signal_event(v.fg->srv, 0, ch.conn_id, 0), 0);
	fg_run_host(v.fg);
	vmbus_server_get_stats(v.fg->srv, &st);
	T_EXPECT_EQ(st.chan_broken, 2);
	T_EXPECT_EQ(v.e1.packets, 1);
	/* Guest corrupts its read index of the host->guest ring. */
	fg_ring_hdr(&ch, false)->write_index = 0;
	T_ASSERT_EQ(fg_close(&ch), 0);
	T_ASSERT_EQ(fg_open(v.fg, &v.offers[0], 2, 2, 0, &ch), 0);
	fg_ring_hdr(&ch, true)->read_index = 4097;
	T_EXPECT_EQ(vmbus_chan_send(v.e1.chan, VMBUS_PKT_DATA_INBAND, 0, 1, b, 8), -EPROTO);
	env_down(&v);
}

/* The ring module alone: producer/consumer against each other. */
static void test_ring_unit(void)
{
	uint8_t *mem = aligned_alloc(4096, 3 * 4096);
	struct gm *gm = gm_new();
	struct vmbus_ring prod, cons;
	uint64_t pfns[3] = { 0, 2, 1 }; /* header page 0, data pages out of order */
	uint8_t buf[4096], payload[3000];
	struct vmbus_pkt pkt;
	bool sig;

	T_ASSERT(mem && gm);
	memset(mem, 0, 3 * 4096);
	T_ASSERT_EQ(gm_add_region(gm, 0, mem, 3 * 4096), 0);
	T_ASSERT_EQ(vmbus_ring_init(&prod, gm, pfns, 3, true), 0);
	T_ASSERT_EQ(vmbus_ring_init(&cons, gm, pfns, 3, false), 0);
	T_EXPECT_EQ(prod.size, 8192);
	T_EXPECT_EQ(vmbus_ring_read(&cons, buf, sizeof(buf), &pkt, &sig), -EAGAIN);
	for (int i = 0; i < 50; i++) {
		uint32_t len = 1 + (uint32_t)(i * 131) % 3000;
		for (uint32_t k = 0; k < len; k++)
			payload[k] = (uint8_t)(k ^ (uint32_t)i);
		T_ASSERT_EQ(vmbus_ring_write(&prod, 6, 0, (uint64_t)i, payload, len, &sig), 0);
		T_EXPECT(sig);
		T_ASSERT_EQ(vmbus_ring_read(&cons, buf, sizeof(buf), &pkt, &sig), 0);
		T_ASSERT_EQ(pkt.trans_id, (uint64_t)i);
		T_ASSERT_EQ(pkt.payload_len, ALIGN_UP(len, 8));
		T_ASSERT(!memcmp(pkt.payload, payload, len));
	}
	/* Too small a buffer: -EMSGSIZE, nothing consumed. */
	T_ASSERT_EQ(vmbus_ring_write(&prod, 6, 0, 1, payload, 2000, &sig), 0);
	T_EXPECT_EQ(vmbus_ring_read(&cons, buf, 100, &pkt, &sig), -EMSGSIZE);
	T_EXPECT_EQ(vmbus_ring_avail(&cons), 2024);
	vmbus_ring_destroy(&prod);
	vmbus_ring_destroy(&cons);
	/* Fewer than 2 pages, pages outside RAM. */
	T_EXPECT_EQ(vmbus_ring_init(&prod, gm, pfns, 1, true), -EINVAL);
	pfns[2] = 99;
	T_EXPECT_EQ(vmbus_ring_init(&prod, gm, pfns, 3, true), -EFAULT);
	free(gm);
	free(mem);
}


static void test_subchannels(void)
{
	struct env v;
	struct fg_chan ch0, ch1, ch2;
	struct fg_msg m;
	struct vmbus_offer_channel_wire o[2];
	uint8_t b[16] = { 7 };

	env_up(&v, 2);
	T_ASSERT_EQ(fg_open(v.fg, &v.offers[0], 2, 2, 0, &ch0), 0);
	T_ASSERT_EQ(vmbus_dev_add_subchannels(v.d1, 2), 2);
	fg_poll_msgs(v.fg);
	for (int i = 0; i < 2; i++) {
		T_ASSERT(fg_take_msg(v.fg, VMBUS_MSG_OFFERCHANNEL, &m));
		memcpy(&o[i], m.data, sizeof(o[i]));
		T_EXPECT_MEMEQ(o[i].if_instance, inst1, 16);
		T_EXPECT_EQ(o[i].sub_channel_index, i + 1);
		T_EXPECT_NE(o[i].child_relid, v.offers[0].child_relid);
	}
	T_EXPECT_NE(o[0].child_relid, o[1].child_relid);
	/* Each sub-channel opens and carries packets on its own ring / VP. */
	T_ASSERT_EQ(fg_open(v.fg, &o[0], 2, 2, 1, &ch1), 0);
	T_ASSERT_EQ(fg_open(v.fg, &o[1], 2, 2, 0, &ch2), 0);
	T_EXPECT_EQ(v.e1.opens, 3);
	T_ASSERT_EQ(fg_chan_write(&ch1, VMBUS_PKT_DATA_INBAND, VMBUS_PKT_FLAG_COMPLETION_REQUESTED, 5,
				  b, 16), 0);
	T_EXPECT_EQ(v.e1.last_trans, 5);
	T_EXPECT(fg_event_pending(v.fg, 1, ch1.relid));
	T_EXPECT_EQ(fg_chan_read(&ch1, b, sizeof(b), NULL, NULL), 16);
	T_EXPECT_EQ(fg_chan_read(&ch0, b, sizeof(b), NULL, NULL), -EAGAIN);
	/* The device's GPADLs are reachable from every channel of the device. */
	uint64_t pfns[3], size;
	uint32_t h;
	uint64_t base = fg_alloc_pages(v.fg, 3) >> 12;
	uint8_t pat[6000], back[6000];
	for (int i = 0; i < 3; i++)
		pfns[i] = base + 2 - i; /* not contiguous in order */
	T_ASSERT_EQ(fg_gpadl_create(v.fg, v.offers[0].child_relid, pfns, 3, &h), 0);
	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 13);
	struct vmbus_chan *sc = v.e1.chan; /* the channel opened last: sub-channel 2 */
	T_ASSERT(sc);
	T_EXPECT_EQ(vmbus_chan_relid(sc), ch2.relid);
	T_EXPECT_EQ(vmbus_chan_sub_index(sc), 2);
	T_ASSERT_EQ(vmbus_chan_gpadl_size(sc, h, &size), 0);
	T_EXPECT_EQ(size, 3 * 4096);
	T_ASSERT_EQ(vmbus_chan_gpadl_write(sc, h, 3000, pat, sizeof(pat)), 0);
	/* Byte 3000 of the GPADL is in its first page = guest page base + 2. */
	T_EXPECT_EQ(v.fg->ram[((base + 2) << 12) + 3000], pat[0]);
	T_EXPECT_EQ(v.fg->ram[((base + 1) << 12) + 0], pat[4096 - 3000]);
	T_ASSERT_EQ(vmbus_chan_gpadl_read(sc, h, 3000, back, sizeof(back)), 0);
	T_EXPECT_MEMEQ(back, pat, sizeof(pat));
	T_EXPECT_EQ(vmbus_chan_gpadl_write(sc, h, 3 * 4096 - 10, pat, 11), -EFAULT);
	T_EXPECT_EQ(vmbus_chan_gpadl_read(sc, h, ~0ull, back, 2), -EFAULT);
	T_EXPECT_EQ(vmbus_chan_gpadl_read(sc, 0x999, 0, back, 2), -ENOENT);
	/* Another device cannot reach it. */
	struct fg_chan c2;
	T_ASSERT_EQ(fg_open(v.fg, &v.offers[1], 2, 2, 0, &c2), 0);
	T_EXPECT_EQ(vmbus_chan_gpadl_read(v.e2.chan, h, 0, back, 2), -ENOENT);
	/* Unload drops the sub-channels; the primary is offered again alone. */
	struct vmbus_msg_hdr_wire u = { .msgtype = VMBUS_MSG_UNLOAD };
	T_EXPECT_EQ(fg_send(v.fg, &u, sizeof(u)), 0);
	T_EXPECT(fg_take_msg(v.fg, VMBUS_MSG_UNLOAD_RESPONSE, &m));
	T_EXPECT_EQ(v.e1.closes, 3);
	T_ASSERT_EQ(fg_connect(v.fg), VMBUS_VERSION_WIN10_V5_3);
	struct vmbus_offer_channel_wire offers[8];
	T_EXPECT_EQ(fg_request_offers(v.fg, offers, 8), 2);
	/* Removing a device rescinds its sub-channels too. */
	T_ASSERT_EQ(vmbus_dev_add_subchannels(v.d1, 1), 1);
	fg_poll_msgs(v.fg);
	T_ASSERT(fg_take_msg(v.fg, VMBUS_MSG_OFFERCHANNEL, NULL));
	vmbus_server_remove_device(v.fg->srv, v.d1);
	fg_poll_msgs(v.fg);
	T_EXPECT(fg_take_msg(v.fg, VMBUS_MSG_RESCIND_CHANNELOFFER, NULL));
	T_EXPECT(fg_take_msg(v.fg, VMBUS_MSG_RESCIND_CHANNELOFFER, NULL));
	env_down(&v);
}

/* A guest that closes a primary channel (after its sub-channels, as Linux
 * does) gets the sub-channels rescinded; RELID_RELEASED frees them, and new
 * ones count from index 1 again. */
static void test_primary_close_rescinds_subchannels(void)
{
	struct env v;
	struct fg_chan ch0, ch1, ch2;
	struct fg_msg m;
	struct vmbus_offer_channel_wire o[2];
	struct vmbus_relid_msg_wire r;

	env_up(&v, 2);
	T_ASSERT_EQ(fg_open(v.fg, &v.offers[0], 2, 2, 0, &ch0), 0);
	T_ASSERT_EQ(vmbus_dev_add_subchannels(v.d1, 2), 2);
	fg_poll_msgs(v.fg);
	for (int i = 0; i < 2; i++) {
		T_ASSERT(fg_take_msg(v.fg, VMBUS_MSG_OFFERCHANNEL, &m));
		memcpy(&o[i], m.data, sizeof(o[i]));
	}
	T_ASSERT_EQ(fg_open(v.fg, &o[0], 2, 2, 0, &ch1), 0);
	T_ASSERT_EQ(fg_open(v.fg, &o[1], 2, 2, 0, &ch2), 0);
	/* Closing a sub-channel alone rescinds nothing. */
	T_ASSERT_EQ(fg_close(&ch2), 0);
	fg_poll_msgs(v.fg);
	T_EXPECT(!fg_take_msg(v.fg, VMBUS_MSG_RESCIND_CHANNELOFFER, &m));
	T_EXPECT_EQ(vmbus_dev_subchannel_count(v.d1), 2);
	T_ASSERT_EQ(fg_close(&ch1), 0);
	T_ASSERT_EQ(fg_close(&ch0), 0);
	fg_poll_msgs(v.fg);
	for (int i = 0; i < 2; i++) {
		T_ASSERT(fg_take_msg(v.fg, VMBUS_MSG_RESCIND_CHANNELOFFER, &m));
		memcpy(&r, m.data, sizeof(r));
		T_EXPECT(r.child_relid == o[0].child_relid || r.child_relid == o[1].child_relid);
	}
	T_EXPECT(!fg_take_msg(v.fg, VMBUS_MSG_RESCIND_CHANNELOFFER, &m));
	T_EXPECT_EQ(vmbus_dev_subchannel_count(v.d1), 0);
	/* The guest releases both relids; the primary reopens and asks again. */
	for (int i = 0; i < 2; i++) {
		r.hdr.msgtype = VMBUS_MSG_RELID_RELEASED;
		r.child_relid = o[i].child_relid;
		T_EXPECT_EQ(fg_send(v.fg, &r, sizeof(r)), 0);
	}
	T_ASSERT_EQ(fg_open(v.fg, &v.offers[0], 2, 2, 0, &ch0), 0);
	T_ASSERT_EQ(vmbus_dev_add_subchannels(v.d1, 1), 1);
	fg_poll_msgs(v.fg);
	T_ASSERT(fg_take_msg(v.fg, VMBUS_MSG_OFFERCHANNEL, &m));
	memcpy(&o[0], m.data, sizeof(o[0]));
	T_EXPECT_EQ(o[0].sub_channel_index, 1);
	T_ASSERT_EQ(fg_open(v.fg, &o[0], 2, 2, 0, &ch1), 0);
	env_down(&v);
}

/* ---- real threads: vCPU writer, vCPU reader, event loop ---- */

#define TH_PACKETS 20000u

struct seq_vsp {
	uint64_t expected;      /* next trans_id the guest should send */
	uint64_t backlog_first; /* completions not yet sent (ring full) */
	uint64_t backlog_count;
	bool order_ok;
};

static void seq_flush(struct vmbus_chan *chan, struct seq_vsp *s)
{
	while (s->backlog_count) {
		uint64_t id = s->backlog_first;
		if (vmbus_chan_send(chan, VMBUS_PKT_COMP, 0, id, &id, sizeof(id)))
			return; /* -EAGAIN: writable() comes back */
		s->backlog_first++;
		s->backlog_count--;
	}
}

static int seq_packet(struct vmbus_chan *chan, const struct vmbus_pkt *pkt)
{
	struct seq_vsp *s = vmbus_chan_ctx(chan);

	if (pkt->trans_id != s->expected)
		s->order_ok = false;
	s->expected = pkt->trans_id + 1;
	if (!s->backlog_count)
		s->backlog_first = pkt->trans_id;
	s->backlog_count++;
	seq_flush(chan, s);
	return 0;
}

static void seq_writable(struct vmbus_chan *chan)
{
	seq_flush(chan, vmbus_chan_ctx(chan));
}

static const struct vmbus_dev_class seq_class = {
	.name = "seq", .class_guid = { 0x5e, 0x9 }, .packet = seq_packet, .writable = seq_writable,
};

struct th_env {
	struct fake_guest *fg;
	struct fg_chan ch;
	bool stop;
	bool writer_ok, reader_ok;
	uint64_t received;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *th_loop(void *arg)
{
	struct th_env *t = arg;

	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd p = { .fd = t->fg->wake_fd, .events = POLLIN };
		uint64_t v;

		if (poll(&p, 1, 5) > 0 && read(t->fg->wake_fd, &v, sizeof(v)) < 0)
			break;
		(void)vmbus_server_process(t->fg->srv);
	}
	return NULL;
}

static void *th_writer(void *arg)
{
	struct th_env *t = arg;
	uint8_t buf[512];
	uint64_t deadline = mono_ms() + 30000;

	memset(buf, 0x5a, sizeof(buf));
	for (uint64_t i = 1; i <= TH_PACKETS; i++) {
		uint32_t len = 8 + (uint32_t)(i * 61) % 500;
		while (fg_chan_write(&t->ch, VMBUS_PKT_DATA_INBAND, VMBUS_PKT_FLAG_COMPLETION_REQUESTED,
				     i, buf, len) == -EAGAIN) {
			if (mono_ms() > deadline)
				return NULL;
			sched_yield();
		}
	}
	t->writer_ok = true;
	return NULL;
}

static void *th_reader(void *arg)
{
	struct th_env *t = arg;
	uint64_t deadline = mono_ms() + 30000, want = 1;

	t->reader_ok = true;
	while (want <= TH_PACKETS && mono_ms() < deadline) {
		uint64_t id, trans;
		uint16_t type;
		int n = fg_chan_read(&t->ch, &id, sizeof(id), &type, &trans);
		if (n == -EAGAIN) {
			sched_yield();
			continue;
		}
		if (n != 8 || type != VMBUS_PKT_COMP || trans != want || id != want)
			t->reader_ok = false;
		want++;
	}
	t->received = want - 1;
	return NULL;
}

static void test_threaded_ring(void)
{
	struct th_env t;
	struct seq_vsp s = { .expected = 1, .order_ok = true };
	struct vmbus_dev *d;
	struct vmbus_offer_channel_wire o;
	pthread_t loop, wr, rd;
	static const uint8_t inst[16] = { 0x5e };

	memset(&t, 0, sizeof(t));
	T_ASSERT_EQ(fg_new(1, RAM, &t.fg), 0);
	T_ASSERT_EQ(fg_boot(t.fg), 0);
	T_ASSERT_EQ(vmbus_server_add_device(t.fg->srv, &seq_class, inst, &s, &d), 0);
	T_ASSERT_EQ(fg_connect(t.fg), VMBUS_VERSION_WIN10_V5_3);
	T_ASSERT_EQ(fg_request_offers(t.fg, &o, 1), 1);
	T_ASSERT_EQ(fg_open(t.fg, &o, 2, 2, 0, &t.ch), 0);
	/* From here on the server runs on its own thread, woken by an eventfd. */
	t.fg->wake_fd = eventfd(0, EFD_CLOEXEC);
	T_ASSERT(t.fg->wake_fd >= 0);
	T_ASSERT_EQ(pthread_create(&loop, NULL, th_loop, &t), 0);
	T_ASSERT_EQ(pthread_create(&rd, NULL, th_reader, &t), 0);
	T_ASSERT_EQ(pthread_create(&wr, NULL, th_writer, &t), 0);
	pthread_join(wr, NULL);
	pthread_join(rd, NULL);
	__atomic_store_n(&t.stop, true, __ATOMIC_RELEASE);
	pthread_join(loop, NULL);
	/* Every packet arrived in order and every completion came back in order:
	 * no lost wake-up in either direction with 4 KiB rings always full. */
	T_EXPECT(t.writer_ok);
	T_EXPECT(t.reader_ok);
	T_EXPECT_EQ(t.received, TH_PACKETS);
	T_EXPECT(s.order_ok);
	T_EXPECT_EQ(s.expected, TH_PACKETS + 1);
	close(t.fg->wake_fd);
	t.fg->wake_fd = -1;
	fg_free(t.fg);
}

static const struct t_case cases[] = {
	T_CASE(test_version_negotiation),
	T_CASE(test_offers),
	T_CASE(test_gpadl_multi_message),
	T_CASE(test_open_packets_close),
	T_CASE(test_ring_wraparound),
	T_CASE(test_interrupt_mask),
	T_CASE(test_pending_send_size),
	T_CASE(test_host_signals_guest_producer),
	T_CASE(test_rescind),
	T_CASE(test_unload_and_reconnect),
	T_CASE(test_modify_channel),
	T_CASE(test_hostile_messages),
	T_CASE(test_corrupt_ring),
	T_CASE(test_ring_unit),
	T_CASE(test_subchannels),
	T_CASE(test_primary_close_rescinds_subchannels),
	T_CASE(test_threaded_ring),
	{ 0 },
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
