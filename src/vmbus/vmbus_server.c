// SPDX-License-Identifier: MIT
/*
 * VMBus server: connection (version negotiation, unload, reconnect), offers
 * and rescinds, GPADLs (multi-message), channel open/close/modify, and ring
 * processing with VSP dispatch. See vmbus.h for the API and threading.
 *
 * SPEC: hyperv-guest-interface.md §3.1-3.6 and §4; GUEST notes record what
 * Linux 6.1 does where the protocol leaves room.
 * SECURITY: every control message is a copy (inbox); its length is checked
 * against the per-type minimum from a table before a zero-padded copy of the
 * wire struct is parsed. Unknown or out-of-state messages are counted and
 * dropped; nothing the guest sends can make the server wait.
 */
#include "vmbus/vmbus.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/vmbus_ring.h"

#define VMBUS_INBOX_SLOTS 128u
#define VMBUS_MAX_GPADLS 1024u
#define VMBUS_MAX_GPADL_BYTES (8u * 1024u * 1024u) /* sum of PFN lists kept */
#define VMBUS_DRAIN_BUDGET 256u                     /* packets per channel per pass */
#define VMBUS_STATUS_FAIL 0xC0000001u               /* any non-zero status */
#define VMBUS_BITMAP_WORDS (VMBUS_MAX_RELIDS / 64)
#define VMBUS_MAX_SUBCHANNELS 64u

/* Hypercall status values returned to the hv port layer (TLFS numbering). */
#define VMBUS_HV_STATUS_SUCCESS 0u
#define VMBUS_HV_STATUS_INVALID_PARAMETER 5u
#define VMBUS_HV_STATUS_INVALID_CONNECTION_ID 18u
#define VMBUS_HV_STATUS_INSUFFICIENT_BUFFERS 19u

/* Versions Linux 6.1 tries, newest first (reference §3.1). */
static const uint32_t vmbus_versions[] = {
	VMBUS_VERSION_WIN10_V5_3, VMBUS_VERSION_WIN10_V5_2, VMBUS_VERSION_WIN10_V5_1,
	VMBUS_VERSION_WIN10_V5,   VMBUS_VERSION_WIN10_V4_1, VMBUS_VERSION_WIN10,
	VMBUS_VERSION_WIN8_1,     VMBUS_VERSION_WIN8,
};

struct vmbus_gpadl {
	struct vmbus_gpadl *next;
	uint32_t handle;
	uint32_t relid;
	uint16_t buflen;     /* bytes of range data announced by the header */
	uint16_t rangecount;
	uint32_t received;   /* bytes of range data received so far */
	uint8_t *buf;        /* range data: {byte_count, byte_offset, pfn[]}... */
	bool complete;
	/* Parsed when complete (first range; Linux always sends one). */
	uint32_t byte_count, byte_offset;
	uint32_t npfns;
	const uint64_t *pfns; /* points into buf */
};

struct vmbus_chan {
	struct vmbus_server *srv;
	struct vmbus_dev *dev;   /* NULL once rescinded */
	uint32_t relid;
	uint32_t conn_id;        /* HvSignalEvent connection id */
	uint16_t sub_index;      /* 0 = primary */
	bool offered;            /* OFFERCHANNEL sent in this connection */
	bool open;
	bool broken;             /* guest corrupted the ring: no more reads */
	bool rescinded;          /* waiting for RELID_RELEASED */
	bool want_writable;
	uint32_t want_bytes;
	uint32_t target_vp;
	uint32_t openid;
	uint32_t ring_gpadl;
	struct vmbus_ring in;    /* guest->host (host consumes) */
	struct vmbus_ring out;   /* host->guest (host produces) */
	uint8_t *pktbuf;
	uint32_t pktbuf_size;
	bool defer_signal;       /* draining a batch_signals channel: signal at the end */
	bool signal_owed;        /* a packet went out while defer_signal was set */
};

struct vmbus_dev {
	const struct vmbus_dev_class *cls;
	uint8_t instance[16];
	void *ctx;
	struct vmbus_chan *chan;                          /* primary */
	struct vmbus_chan *subs[VMBUS_MAX_SUBCHANNELS];   /* sub-channel i + 1 */
	uint16_t n_subs;
};

struct vmbus_inbox_msg {
	uint32_t vp;
	uint32_t conn_id;
	uint32_t len;
	uint8_t data[VMBUS_MSG_MAX];
};

struct vmbus_server {
	const struct gm *gm;
	struct vmbus_server_config cfg;
	const struct vmbus_host_ops *ops;
	void *opaque;

	/* Written by vCPU threads. */
	pthread_mutex_t inbox_lock; /* protects inbox, inbox_head, inbox_count */
	struct vmbus_inbox_msg inbox[VMBUS_INBOX_SLOTS];
	uint32_t inbox_head, inbox_count;
	uint64_t signalled[VMBUS_BITMAP_WORDS]; /* atomic: relid bits with guest signals */
	uint64_t inbox_full, signals_in;        /* atomic counters */

	pthread_mutex_t lock; /* recursive; protects everything below */
	bool connected;
	uint32_t version;
	uint32_t target_vp;   /* control messages go to this VP ... */
	uint8_t msg_sint;     /* ... on this SINT */
	bool offers_requested;
	struct vmbus_chan *chans[VMBUS_MAX_RELIDS]; /* by relid; [0] unused */
	struct vmbus_gpadl *gpadls;
	uint32_t n_gpadls;
	uint64_t gpadl_bytes;
	struct vmbus_stats stats;
	bool no_batch_signals;   /* OPENHV_VMBUS_NO_BATCH_SIGNALS: for comparisons */
};

/* ---- small helpers ---- */

static void srv_lock(struct vmbus_server *srv)
{
	pthread_mutex_lock(&srv->lock);
}

static void srv_unlock(struct vmbus_server *srv)
{
	pthread_mutex_unlock(&srv->lock);
}

static void send_msg(struct vmbus_server *srv, const void *msg, size_t len)
{
	int r = srv->ops->post_msg(srv->opaque, srv->target_vp, srv->msg_sint, msg, len);

	srv->stats.msgs_out++;
	if (r < 0)
		srv->stats.msgs_out_failed++;
}

static void signal_guest(struct vmbus_chan *chan)
{
	struct vmbus_server *srv = chan->srv;

	srv->stats.signals_out++;
	if (srv->ops->signal_event(srv->opaque, chan->target_vp, VMBUS_MESSAGE_SINT, chan->relid) <
	    0)
		srv->stats.msgs_out_failed++;
}

static void bad_msg(struct vmbus_server *srv)
{
	srv->stats.msgs_bad++;
}

static struct vmbus_chan *chan_by_relid(struct vmbus_server *srv, uint32_t relid)
{
	if (relid == 0 || relid >= VMBUS_MAX_RELIDS)
		return NULL;
	return srv->chans[relid];
}

static void wake(struct vmbus_server *srv)
{
	if (srv->ops->wake)
		srv->ops->wake(srv->opaque);
}

/* ---- GPADLs ---- */

static struct vmbus_gpadl *gpadl_find(struct vmbus_server *srv, uint32_t handle,
				      struct vmbus_gpadl ***ret_link)
{
	struct vmbus_gpadl **link = &srv->gpadls;

	for (; *link; link = &(*link)->next) {
		if ((*link)->handle == handle) {
			if (ret_link)
				*ret_link = link;
			return *link;
		}
	}
	return NULL;
}

static void gpadl_free_one(struct vmbus_server *srv, struct vmbus_gpadl **link)
{
	struct vmbus_gpadl *g = *link;

	*link = g->next;
	srv->n_gpadls--;
	srv->gpadl_bytes -= g->buflen;
	free(g->buf);
	free(g);
}

/* Release all GPADLs of a relid (all relids if relid == 0). */
static void gpadl_free_relid(struct vmbus_server *srv, uint32_t relid)
{
	struct vmbus_gpadl **link = &srv->gpadls;

	while (*link) {
		if (!relid || (*link)->relid == relid)
			gpadl_free_one(srv, link);
		else
			link = &(*link)->next;
	}
}

/* Parse the completed range data; checks every PFN is guest RAM. */
static int gpadl_parse(struct vmbus_server *srv, struct vmbus_gpadl *g)
{
	uint32_t off = 0;

	for (uint32_t i = 0; i < g->rangecount; i++) {
		struct vmbus_gpadl_range_wire rg;
		uint64_t npfn;

		if (!range_ok(off, sizeof(rg), g->buflen))
			return -EINVAL;
		memcpy(&rg, g->buf + off, sizeof(rg));
		off += sizeof(rg);
		if (!rg.byte_count || rg.byte_offset >= GM_PAGE_SIZE)
			return -EINVAL;
		npfn = ((uint64_t)rg.byte_offset + rg.byte_count + GM_PAGE_SIZE - 1) / GM_PAGE_SIZE;
		if (!range_ok(off, npfn * 8, g->buflen))
			return -EINVAL;
		for (uint64_t k = 0; k < npfn; k++) {
			uint64_t pfn;
			memcpy(&pfn, g->buf + off + k * 8, 8);
			if (pfn > (UINT64_MAX >> GM_PAGE_SHIFT) ||
			    !gm_is_ram(srv->gm, gpn_to_gpa(pfn), GM_PAGE_SIZE))
				return -EFAULT;
		}
		if (i == 0) {
			g->byte_count = rg.byte_count;
			g->byte_offset = rg.byte_offset;
			g->npfns = (uint32_t)npfn;
			g->pfns = (const uint64_t *)(g->buf + off);
		}
		off += (uint32_t)npfn * 8;
	}
	return off == g->buflen ? 0 : -EINVAL;
}

static void gpadl_reply_created(struct vmbus_server *srv, uint32_t relid, uint32_t handle,
				uint32_t status)
{
	struct vmbus_gpadl_created_wire m = {
		.hdr.msgtype = VMBUS_MSG_GPADL_CREATED,
		.child_relid = relid,
		.gpadl = handle,
		.creation_status = status,
	};

	send_msg(srv, &m, sizeof(m));
}

/* Append range bytes; when all arrived, validate and answer GPADL_CREATED. */
static void gpadl_add_data(struct vmbus_server *srv, struct vmbus_gpadl *g, const uint8_t *data,
			   uint32_t len)
{
	struct vmbus_gpadl **link;

	if (!range_ok(g->received, len, g->buflen)) {
		bad_msg(srv);
		len = 0; /* too much data: fail the GPADL below */
		g->received = UINT32_MAX;
	} else {
		memcpy(g->buf + g->received, data, len);
		g->received += len;
	}
	if (g->received == g->buflen && gpadl_parse(srv, g) == 0) {
		g->complete = true;
		gpadl_reply_created(srv, g->relid, g->handle, 0);
		return;
	}
	if (g->received != UINT32_MAX && g->received < g->buflen)
		return; /* more bodies to come */
	/* Malformed: tell the guest (its wait ends with an error) and forget it. */
	gpadl_reply_created(srv, g->relid, g->handle, VMBUS_STATUS_FAIL);
	if (gpadl_find(srv, g->handle, &link))
		gpadl_free_one(srv, link);
}

static void on_gpadl_header(struct vmbus_server *srv, const uint8_t *msg, uint32_t len)
{
	struct vmbus_gpadl_header_wire m;
	struct vmbus_chan *chan;
	struct vmbus_gpadl *g;
	uint32_t data_len = len - (uint32_t)sizeof(m);

	memcpy(&m, msg, sizeof(m));
	chan = chan_by_relid(srv, m.child_relid);
	if (!chan || chan->rescinded || !chan->offered || !m.rangecount || !m.range_buflen ||
	    data_len % 8 || gpadl_find(srv, m.gpadl, NULL) || srv->n_gpadls >= VMBUS_MAX_GPADLS ||
	    srv->gpadl_bytes + m.range_buflen > VMBUS_MAX_GPADL_BYTES) {
		bad_msg(srv);
		gpadl_reply_created(srv, m.child_relid, m.gpadl, VMBUS_STATUS_FAIL);
		return;
	}
	g = calloc(1, sizeof(*g));
	if (g)
		g->buf = malloc(m.range_buflen);
	if (!g || !g->buf) {
		free(g);
		gpadl_reply_created(srv, m.child_relid, m.gpadl, VMBUS_STATUS_FAIL);
		return;
	}
	g->handle = m.gpadl;
	g->relid = m.child_relid;
	g->buflen = m.range_buflen;
	g->rangecount = m.rangecount;
	g->next = srv->gpadls;
	srv->gpadls = g;
	srv->n_gpadls++;
	srv->gpadl_bytes += g->buflen;
	gpadl_add_data(srv, g, msg + sizeof(m), data_len);
}

static void on_gpadl_body(struct vmbus_server *srv, const uint8_t *msg, uint32_t len)
{
	struct vmbus_gpadl_body_wire m;
	struct vmbus_gpadl *g;
	uint32_t data_len = len - (uint32_t)sizeof(m);

	memcpy(&m, msg, sizeof(m));
	/* GUEST: msgnumber is not filled in by Linux; bodies arrive in order. */
	g = gpadl_find(srv, m.gpadl, NULL);
	if (!g || g->complete || data_len % 8) {
		bad_msg(srv);
		return;
	}
	gpadl_add_data(srv, g, msg + sizeof(m), data_len);
}

/* ---- channels ---- */

static void chan_close(struct vmbus_chan *chan)
{
	struct vmbus_server *srv = chan->srv;

	if (!chan->open)
		return;
	chan->open = false;
	if (srv->ops->doorbell)
		srv->ops->doorbell(srv->opaque, chan->conn_id, false);
	if (chan->dev && chan->dev->cls->close)
		chan->dev->cls->close(chan);
	vmbus_ring_destroy(&chan->in);
	vmbus_ring_destroy(&chan->out);
	free(chan->pktbuf);
	chan->pktbuf = NULL;
	chan->broken = false;
	chan->want_writable = false;
	__atomic_fetch_and(&srv->signalled[chan->relid / 64], ~(1ull << (chan->relid % 64)),
			   __ATOMIC_SEQ_CST);
}

static void send_offer(struct vmbus_server *srv, struct vmbus_chan *chan)
{
	struct vmbus_offer_channel_wire m;

	memset(&m, 0, sizeof(m));
	m.hdr.msgtype = VMBUS_MSG_OFFERCHANNEL;
	memcpy(m.if_type, chan->dev->cls->class_guid, 16);
	memcpy(m.if_instance, chan->dev->instance, 16);
	m.sub_channel_index = chan->sub_index;
	m.child_relid = chan->relid;
	m.monitor_allocated = 0; /* SPEC §3.6: the guest then always uses HvSignalEvent */
	m.is_dedicated_interrupt = 1;
	m.connection_id = chan->conn_id;
	send_msg(srv, &m, sizeof(m));
	chan->offered = true;
}

static void chan_free(struct vmbus_server *srv, struct vmbus_chan *chan)
{
	chan_close(chan);
	gpadl_free_relid(srv, chan->relid);
	srv->chans[chan->relid] = NULL;
	free(chan);
}

/*
 * Drop the whole connection: close every channel, release every GPADL, free
 * rescinded channels, forget offers. Sends nothing.
 */
static void drop_connection(struct vmbus_server *srv)
{
	for (uint32_t relid = 1; relid < VMBUS_MAX_RELIDS; relid++) {
		struct vmbus_chan *chan = srv->chans[relid];
		if (!chan)
			continue;
		if (chan->rescinded) {
			chan_free(srv, chan);
			continue;
		}
		chan_close(chan);
		chan->offered = false;
		/* Sub-channels are made on request of the device protocol; a new
		 * guest asks again, so they go away with the connection. */
		if (chan->sub_index) {
			chan->dev->subs[chan->sub_index - 1] = NULL;
			chan_free(srv, chan);
		}
	}
	for (uint32_t relid = 1; relid < VMBUS_MAX_RELIDS; relid++)
		if (srv->chans[relid] && !srv->chans[relid]->sub_index)
			srv->chans[relid]->dev->n_subs = 0;
	gpadl_free_relid(srv, 0);
	srv->connected = false;
	srv->offers_requested = false;
	srv->version = 0;
}

static void on_initiate_contact(struct vmbus_server *srv, uint32_t vp, const uint8_t *msg,
				uint32_t len)
{
	struct vmbus_initiate_contact_wire m;
	struct vmbus_version_response_wire resp;
	uint32_t max = srv->cfg.max_version ? srv->cfg.max_version : VMBUS_VERSION_WIN10_V5_3;
	bool ok = false;

	(void)len;
	memcpy(&m, msg, sizeof(m));
	/* SPEC §3.1: a new contact (e.g. after kexec without UNLOAD) resets everything. */
	if (srv->connected)
		drop_connection(srv);
	/* Anything still queued for the old kernel (or an earlier attempt) goes. */
	if (srv->ops->flush_msgs)
		for (uint32_t i = 0; i < srv->cfg.vp_count; i++)
			srv->ops->flush_msgs(srv->opaque, i, srv->msg_sint);
	for (size_t i = 0; i < ARRAY_SIZE(vmbus_versions); i++)
		if (vmbus_versions[i] == m.vmbus_version_requested &&
		    m.vmbus_version_requested <= max)
			ok = true;
	if (m.target_vcpu >= srv->cfg.vp_count)
		ok = false;
	if (m.vmbus_version_requested >= VMBUS_VERSION_WIN10_V5 &&
	    (m.msg_sint == 0 || m.msg_sint >= 16))
		ok = false;
	/* The answer goes to the VP that asked if target_vcpu is unusable. */
	srv->target_vp = m.target_vcpu < srv->cfg.vp_count ? m.target_vcpu : vp;
	srv->msg_sint = VMBUS_MESSAGE_SINT;
	if (ok && m.vmbus_version_requested >= VMBUS_VERSION_WIN10_V5)
		srv->msg_sint = m.msg_sint;
	memset(&resp, 0, sizeof(resp));
	resp.hdr.msgtype = VMBUS_MSG_VERSION_RESPONSE;
	resp.version_supported = ok;
	/* GUEST: Linux >= 5.0 posts everything later to this id; we accept 1 and 4. */
	resp.msg_conn_id = VMBUS_MESSAGE_CONNECTION_ID;
	if (ok) {
		srv->connected = true;
		srv->version = m.vmbus_version_requested;
	} else {
		bad_msg(srv);
	}
	send_msg(srv, &resp, sizeof(resp));
}

static void on_request_offers(struct vmbus_server *srv)
{
	struct vmbus_msg_hdr_wire done = { .msgtype = VMBUS_MSG_ALLOFFERS_DELIVERED };

	srv->offers_requested = true;
	for (uint32_t relid = 1; relid < VMBUS_MAX_RELIDS; relid++) {
		struct vmbus_chan *chan = srv->chans[relid];
		if (chan && !chan->rescinded && !chan->offered)
			send_offer(srv, chan);
	}
	send_msg(srv, &done, sizeof(done));
}

static void send_open_result(struct vmbus_server *srv, uint32_t relid, uint32_t openid,
			     uint32_t status)
{
	struct vmbus_open_result_wire r = {
		.hdr.msgtype = VMBUS_MSG_OPENCHANNEL_RESULT,
		.child_relid = relid,
		.openid = openid,
		.status = status,
	};

	send_msg(srv, &r, sizeof(r));
}

static int chan_setup_rings(struct vmbus_server *srv, struct vmbus_chan *chan,
			    const struct vmbus_gpadl *g, uint32_t split)
{
	int r;

	/* GUEST: one range from offset 0 covering whole pages; split in pages. */
	if (g->byte_offset || g->byte_count != g->npfns * GM_PAGE_SIZE || g->npfns < 4 ||
	    split < 2 || split > g->npfns - 2)
		return -EINVAL;
	r = vmbus_ring_init(&chan->in, srv->gm, g->pfns, split, false);
	if (r)
		return r;
	r = vmbus_ring_init(&chan->out, srv->gm, g->pfns + split, g->npfns - split, true);
	if (r)
		goto err_in;
	chan->pktbuf_size = MIN(chan->in.size, VMBUS_RING_MAX_PKT);
	chan->pktbuf = malloc(chan->pktbuf_size);
	if (!chan->pktbuf) {
		r = -ENOMEM;
		goto err_out;
	}
	return 0;
err_out:
	vmbus_ring_destroy(&chan->out);
err_in:
	vmbus_ring_destroy(&chan->in);
	return r;
}

static void on_open_channel(struct vmbus_server *srv, const uint8_t *msg, uint32_t len)
{
	struct vmbus_open_channel_wire m;
	struct vmbus_chan *chan;
	struct vmbus_gpadl *g;
	int r;

	memset(&m, 0, sizeof(m));
	memcpy(&m, msg, MIN(len, (uint32_t)sizeof(m)));
	chan = chan_by_relid(srv, m.child_relid);
	if (!chan || !chan->offered || chan->rescinded || chan->open) {
		bad_msg(srv);
		send_open_result(srv, m.child_relid, m.openid, VMBUS_STATUS_FAIL);
		return;
	}
	g = gpadl_find(srv, m.ringbuffer_gpadlhandle, NULL);
	if (!g || !g->complete || g->relid != chan->relid || m.target_vp >= srv->cfg.vp_count) {
		bad_msg(srv);
		send_open_result(srv, m.child_relid, m.openid, VMBUS_STATUS_FAIL);
		return;
	}
	r = chan_setup_rings(srv, chan, g, m.downstream_ringbuffer_pageoffset);
	if (r) {
		bad_msg(srv);
		send_open_result(srv, m.child_relid, m.openid, VMBUS_STATUS_FAIL);
		return;
	}
	chan->target_vp = m.target_vp;
	chan->openid = m.openid;
	chan->ring_gpadl = m.ringbuffer_gpadlhandle;
	chan->open = true;
	chan->broken = false;
	r = chan->dev->cls->open ? chan->dev->cls->open(chan, m.userdata) : 0;
	if (r) {
		chan->open = false;
		vmbus_ring_destroy(&chan->in);
		vmbus_ring_destroy(&chan->out);
		free(chan->pktbuf);
		chan->pktbuf = NULL;
		send_open_result(srv, m.child_relid, m.openid, VMBUS_STATUS_FAIL);
		return;
	}
	if (srv->ops->doorbell)
		srv->ops->doorbell(srv->opaque, chan->conn_id, true);
	send_open_result(srv, m.child_relid, m.openid, 0);
	if (chan->dev->cls->start)
		chan->dev->cls->start(chan);
	/* Data may already be waiting; look once. */
	__atomic_fetch_or(&srv->signalled[chan->relid / 64], 1ull << (chan->relid % 64),
			  __ATOMIC_SEQ_CST);
}

static void dev_rescind_subs(struct vmbus_server *srv, struct vmbus_dev *dev);

static void on_close_channel(struct vmbus_server *srv, const uint8_t *msg)
{
	struct vmbus_relid_msg_wire m;
	struct vmbus_chan *chan;

	memcpy(&m, msg, sizeof(m));
	chan = chan_by_relid(srv, m.child_relid);
	if (!chan || !chan->open) {
		/* GUEST: a rescinded channel is still closed by the guest. */
		if (!chan)
			bad_msg(srv);
		return;
	}
	chan_close(chan);
	/* A guest that closes a primary channel has closed its sub-channels
	 * first (Linux vmbus_close); they are rescinded, and a driver that
	 * opens the primary again asks for new ones (netvsc does this on
	 * every MTU or channel-count change and waits for their offers). */
	if (!chan->sub_index && chan->dev)
		dev_rescind_subs(srv, chan->dev);
}

static void on_gpadl_teardown(struct vmbus_server *srv, const uint8_t *msg)
{
	struct vmbus_gpadl_teardown_wire m;
	struct vmbus_gpadl_torndown_wire resp = { .hdr.msgtype = VMBUS_MSG_GPADL_TORNDOWN };
	struct vmbus_gpadl **link;
	struct vmbus_gpadl *g;

	memcpy(&m, msg, sizeof(m));
	g = gpadl_find(srv, m.gpadl, &link);
	if (g) {
		struct vmbus_chan *chan = chan_by_relid(srv, g->relid);
		/* We must stop touching the ring before the memory is handed back. */
		if (chan && chan->open && chan->ring_gpadl == g->handle)
			chan_close(chan);
		gpadl_free_one(srv, link);
	} else {
		bad_msg(srv);
	}
	/* Always answer: the guest waits for TORNDOWN without a timeout. */
	resp.gpadl = m.gpadl;
	send_msg(srv, &resp, sizeof(resp));
}

static void on_relid_released(struct vmbus_server *srv, const uint8_t *msg)
{
	struct vmbus_relid_msg_wire m;
	struct vmbus_chan *chan;

	memcpy(&m, msg, sizeof(m));
	chan = chan_by_relid(srv, m.child_relid);
	if (!chan) {
		bad_msg(srv);
		return;
	}
	if (chan->rescinded) {
		chan_free(srv, chan);
		return;
	}
	/* GUEST: also sent when the guest failed to set up an offer. */
	chan_close(chan);
	gpadl_free_relid(srv, chan->relid);
}

static void on_unload(struct vmbus_server *srv)
{
	struct vmbus_msg_hdr_wire resp = { .msgtype = VMBUS_MSG_UNLOAD_RESPONSE };

	drop_connection(srv);
	/* target_vp / msg_sint still name the VP that connected. */
	send_msg(srv, &resp, sizeof(resp));
}

static void on_modify_channel(struct vmbus_server *srv, const uint8_t *msg)
{
	struct vmbus_modify_channel_wire m;
	struct vmbus_modify_channel_response_wire resp = {
		.hdr.msgtype = VMBUS_MSG_MODIFYCHANNEL_RESPONSE,
	};
	struct vmbus_chan *chan;

	memcpy(&m, msg, sizeof(m));
	chan = chan_by_relid(srv, m.child_relid);
	resp.child_relid = m.child_relid;
	if (!chan || !chan->open || m.target_vp >= srv->cfg.vp_count) {
		bad_msg(srv);
		resp.status = VMBUS_STATUS_FAIL;
	} else {
		chan->target_vp = m.target_vp;
	}
	/* SPEC: only >= 5.3 guests wait for (and expect) the response. */
	if (srv->version >= VMBUS_VERSION_WIN10_V5_3)
		send_msg(srv, &resp, sizeof(resp));
}

/* Minimum payload per guest->host message type (0 = not accepted from the guest). */
static const uint32_t vmbus_min_len[VMBUS_MSG_COUNT] = {
	[VMBUS_MSG_REQUESTOFFERS] = sizeof(struct vmbus_msg_hdr_wire),
	[VMBUS_MSG_OPENCHANNEL] = offsetof(struct vmbus_open_channel_wire, userdata),
	[VMBUS_MSG_CLOSECHANNEL] = sizeof(struct vmbus_relid_msg_wire),
	[VMBUS_MSG_GPADL_HEADER] = sizeof(struct vmbus_gpadl_header_wire),
	[VMBUS_MSG_GPADL_BODY] = sizeof(struct vmbus_gpadl_body_wire),
	[VMBUS_MSG_GPADL_TEARDOWN] = sizeof(struct vmbus_gpadl_teardown_wire),
	[VMBUS_MSG_RELID_RELEASED] = sizeof(struct vmbus_relid_msg_wire),
	[VMBUS_MSG_INITIATE_CONTACT] = sizeof(struct vmbus_initiate_contact_wire),
	[VMBUS_MSG_UNLOAD] = sizeof(struct vmbus_msg_hdr_wire),
	[VMBUS_MSG_TL_CONNECT_REQUEST] = sizeof(struct vmbus_tl_connect_request_wire),
	[VMBUS_MSG_MODIFYCHANNEL] = sizeof(struct vmbus_modify_channel_wire),
};

static void handle_msg(struct vmbus_server *srv, const struct vmbus_inbox_msg *in)
{
	uint32_t type;

	srv->stats.msgs_in++;
	if (in->len < sizeof(struct vmbus_msg_hdr_wire)) {
		bad_msg(srv);
		return;
	}
	memcpy(&type, in->data, sizeof(type));
	if (type >= VMBUS_MSG_COUNT || !vmbus_min_len[type] || in->len < vmbus_min_len[type]) {
		bad_msg(srv);
		return;
	}
	if (!srv->connected && type != VMBUS_MSG_INITIATE_CONTACT) {
		bad_msg(srv);
		return;
	}
	switch (type) {
	case VMBUS_MSG_INITIATE_CONTACT:
		on_initiate_contact(srv, in->vp, in->data, in->len);
		break;
	case VMBUS_MSG_REQUESTOFFERS:
		on_request_offers(srv);
		break;
	case VMBUS_MSG_OPENCHANNEL:
		on_open_channel(srv, in->data, in->len);
		break;
	case VMBUS_MSG_CLOSECHANNEL:
		on_close_channel(srv, in->data);
		break;
	case VMBUS_MSG_GPADL_HEADER:
		on_gpadl_header(srv, in->data, in->len);
		break;
	case VMBUS_MSG_GPADL_BODY:
		on_gpadl_body(srv, in->data, in->len);
		break;
	case VMBUS_MSG_GPADL_TEARDOWN:
		on_gpadl_teardown(srv, in->data);
		break;
	case VMBUS_MSG_RELID_RELEASED:
		on_relid_released(srv, in->data);
		break;
	case VMBUS_MSG_UNLOAD:
		on_unload(srv);
		break;
	case VMBUS_MSG_MODIFYCHANNEL:
		on_modify_channel(srv, in->data);
		break;
	case VMBUS_MSG_TL_CONNECT_REQUEST:
		/* No hv_sock provider: nothing is offered, the guest's connect times out. */
		break;
	default:
		bad_msg(srv);
		break;
	}
}

/* ---- ring processing ---- */

static void chan_break(struct vmbus_chan *chan)
{
	chan->broken = true;
	chan->srv->stats.chan_broken++;
}

/* Returns packets handled; re-arms the channel if the budget ran out. */
static int chan_drain(struct vmbus_server *srv, struct vmbus_chan *chan)
{
	int n = 0;

	chan->defer_signal = chan->dev->cls->batch_signals && !srv->no_batch_signals;
	/*
	 * PERF, not done: masking the guest's signals (interrupt_mask of this
	 * ring) while we drain, then unmasking and looking once more, is what
	 * the protocol allows, and it kept storvsc working; with hv_netvsc it
	 * stalled the guest's receive path under iperf3 in the emulated host
	 * (cause not found), so the host never masks (docs/hyperv.md).
	 */
	while (chan->open && !chan->broken) {
		struct vmbus_pkt pkt;
		bool sig;
		int r;

		if (n == VMBUS_DRAIN_BUDGET) {
			/* PERF/SECURITY: a busy guest must not starve other channels. */
			__atomic_fetch_or(&srv->signalled[chan->relid / 64],
					  1ull << (chan->relid % 64), __ATOMIC_SEQ_CST);
			wake(srv);
			break;
		}
		r = vmbus_ring_read(&chan->in, chan->pktbuf, chan->pktbuf_size, &pkt, &sig);
		if (r == -EAGAIN)
			break;
		if (r < 0) {
			chan_break(chan);
			break;
		}
		n++;
		srv->stats.pkts_in++;
		if (sig)
			signal_guest(chan);
		if (chan->dev->cls->packet(chan, &pkt) == -EPROTO && chan->open)
			chan_break(chan);
	}
	if (chan->open && !chan->broken && chan->want_writable &&
	    vmbus_ring_writable(&chan->out, chan->want_bytes)) {
		chan->want_writable = false;
		if (chan->dev->cls->writable)
			chan->dev->cls->writable(chan);
	}
	/*
	 * One signal for what the drain sent. A guest that masked its ring
	 * meanwhile is reading it and looks at the write index once more when
	 * it unmasks, so it sees these packets without one.
	 */
	chan->defer_signal = false;
	if (chan->signal_owed) {
		chan->signal_owed = false;
		if (chan->open && vmbus_ring_consumer_unmasked(&chan->out))
			signal_guest(chan);
	}
	return n;
}

int vmbus_server_process(struct vmbus_server *srv)
{
	struct vmbus_inbox_msg *msg = malloc(sizeof(*msg));
	int n = 0;

	if (!msg)
		return -ENOMEM;
	srv_lock(srv);
	for (;;) {
		bool have = false;

		pthread_mutex_lock(&srv->inbox_lock);
		if (srv->inbox_count) {
			*msg = srv->inbox[srv->inbox_head];
			srv->inbox_head = (srv->inbox_head + 1) % VMBUS_INBOX_SLOTS;
			srv->inbox_count--;
			have = true;
		}
		pthread_mutex_unlock(&srv->inbox_lock);
		if (!have)
			break;
		handle_msg(srv, msg);
		n++;
	}
	for (uint32_t w = 0; w < VMBUS_BITMAP_WORDS; w++) {
		uint64_t bits = __atomic_exchange_n(&srv->signalled[w], 0, __ATOMIC_SEQ_CST);

		while (bits) {
			uint32_t relid = w * 64 + (uint32_t)__builtin_ctzll(bits);
			struct vmbus_chan *chan = chan_by_relid(srv, relid);

			bits &= bits - 1;
			if (chan && chan->open && chan->dev)
				n += chan_drain(srv, chan);
		}
	}
	srv_unlock(srv);
	free(msg);
	return n;
}

uint16_t vmbus_server_post_message(struct vmbus_server *srv, uint32_t vp_index,
				   uint32_t connection_id, uint32_t message_type,
				   const void *payload, uint32_t len)
{
	struct vmbus_inbox_msg *slot;

	(void)message_type; /* GUEST: Linux always uses 1; nothing depends on it */
	if (len > VMBUS_MSG_MAX)
		return VMBUS_HV_STATUS_INVALID_PARAMETER;
	pthread_mutex_lock(&srv->inbox_lock);
	if (srv->inbox_count == VMBUS_INBOX_SLOTS) {
		pthread_mutex_unlock(&srv->inbox_lock);
		__atomic_fetch_add(&srv->inbox_full, 1, __ATOMIC_RELAXED);
		return VMBUS_HV_STATUS_INSUFFICIENT_BUFFERS; /* Linux retries */
	}
	slot = &srv->inbox[(srv->inbox_head + srv->inbox_count) % VMBUS_INBOX_SLOTS];
	slot->vp = vp_index;
	slot->conn_id = connection_id;
	slot->len = len;
	memcpy(slot->data, payload, len);
	srv->inbox_count++;
	pthread_mutex_unlock(&srv->inbox_lock);
	wake(srv);
	return VMBUS_HV_STATUS_SUCCESS;
}

uint16_t vmbus_server_signal_event(struct vmbus_server *srv, uint32_t vp_index,
				   uint32_t connection_id, uint16_t flag_number)
{
	uint32_t relid;

	(void)vp_index;
	(void)flag_number;
	if (connection_id < VMBUS_CHAN_CONNECTION_ID_BASE + 1 ||
	    connection_id - VMBUS_CHAN_CONNECTION_ID_BASE >= VMBUS_MAX_RELIDS)
		return VMBUS_HV_STATUS_INVALID_CONNECTION_ID;
	relid = connection_id - VMBUS_CHAN_CONNECTION_ID_BASE;
	__atomic_fetch_or(&srv->signalled[relid / 64], 1ull << (relid % 64), __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&srv->signals_in, 1, __ATOMIC_RELAXED);
	wake(srv);
	return VMBUS_HV_STATUS_SUCCESS;
}

/* ---- lifecycle and devices ---- */

int vmbus_server_new(const struct gm *gm, const struct vmbus_server_config *cfg,
		     const struct vmbus_host_ops *ops, void *opaque,
		     struct vmbus_server **ret_srv)
{
	pthread_mutexattr_t attr;
	struct vmbus_server *srv;
	int r;

	if (!gm || !cfg || !ops || !ops->post_msg || !ops->signal_event || !cfg->vp_count)
		return -EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->gm = gm;
	srv->cfg = *cfg;
	srv->no_batch_signals = getenv("OPENHV_VMBUS_NO_BATCH_SIGNALS") != NULL;
	srv->ops = ops;
	srv->opaque = opaque;
	srv->msg_sint = VMBUS_MESSAGE_SINT;
	r = pthread_mutex_init(&srv->inbox_lock, NULL);
	if (r)
		goto err_free;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	r = pthread_mutex_init(&srv->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (r)
		goto err_inbox;
	*ret_srv = srv;
	return 0;
err_inbox:
	pthread_mutex_destroy(&srv->inbox_lock);
err_free:
	free(srv);
	return -r;
}

void vmbus_server_free(struct vmbus_server *srv)
{
	if (!srv)
		return;
	srv_lock(srv);
	drop_connection(srv);
	for (uint32_t relid = 1; relid < VMBUS_MAX_RELIDS; relid++) {
		struct vmbus_chan *chan = srv->chans[relid];
		if (!chan)
			continue;
		if (!chan->sub_index)
			free(chan->dev); /* sub-channels share it; none touch it once closed */
		chan_free(srv, chan);
	}
	srv_unlock(srv);
	pthread_mutex_destroy(&srv->lock);
	pthread_mutex_destroy(&srv->inbox_lock);
	free(srv);
}

void vmbus_server_reset(struct vmbus_server *srv)
{
	srv_lock(srv);
	drop_connection(srv);
	pthread_mutex_lock(&srv->inbox_lock);
	srv->inbox_count = 0;
	srv->inbox_head = 0;
	pthread_mutex_unlock(&srv->inbox_lock);
	for (uint32_t w = 0; w < VMBUS_BITMAP_WORDS; w++)
		__atomic_store_n(&srv->signalled[w], 0, __ATOMIC_SEQ_CST);
	srv_unlock(srv);
}

int vmbus_server_add_device(struct vmbus_server *srv, const struct vmbus_dev_class *cls,
			    const uint8_t instance_guid[16], void *ctx,
			    struct vmbus_dev **ret_dev)
{
	struct vmbus_chan *chan;
	struct vmbus_dev *dev;
	uint32_t relid = 0;

	if (!cls || !cls->packet || !instance_guid)
		return -EINVAL;
	srv_lock(srv);
	for (uint32_t i = 1; i < VMBUS_MAX_RELIDS; i++) {
		struct vmbus_chan *c = srv->chans[i];
		if (c && c->dev && !c->sub_index && !memcmp(c->dev->instance, instance_guid, 16)) {
			srv_unlock(srv);
			return -EEXIST;
		}
		if (!c && !relid)
			relid = i;
	}
	if (!relid) {
		srv_unlock(srv);
		return -ENOSPC;
	}
	dev = calloc(1, sizeof(*dev));
	chan = calloc(1, sizeof(*chan));
	if (!dev || !chan) {
		srv_unlock(srv);
		free(dev);
		free(chan);
		return -ENOMEM;
	}
	dev->cls = cls;
	memcpy(dev->instance, instance_guid, 16);
	dev->ctx = ctx;
	dev->chan = chan;
	chan->srv = srv;
	chan->dev = dev;
	chan->relid = relid;
	chan->conn_id = relid + VMBUS_CHAN_CONNECTION_ID_BASE;
	srv->chans[relid] = chan;
	if (srv->connected && srv->offers_requested)
		send_offer(srv, chan); /* hot-add */
	srv_unlock(srv);
	*ret_dev = dev;
	return 0;
}

/* Rescind (or, if the guest never saw it, just free) one channel. */
static void chan_remove(struct vmbus_server *srv, struct vmbus_chan *chan)
{
	chan_close(chan);
	gpadl_free_relid(srv, chan->relid);
	if (chan->offered && srv->connected) {
		struct vmbus_relid_msg_wire m = {
			.hdr.msgtype = VMBUS_MSG_RESCIND_CHANNELOFFER,
			.child_relid = chan->relid,
		};
		send_msg(srv, &m, sizeof(m));
		chan->rescinded = true; /* relid busy until RELID_RELEASED */
		chan->dev = NULL;
	} else {
		srv->chans[chan->relid] = NULL;
		free(chan);
	}
}

/* Rescind (or free) every sub-channel of dev; new ones count from 1 again. */
static void dev_rescind_subs(struct vmbus_server *srv, struct vmbus_dev *dev)
{
	for (uint16_t i = dev->n_subs; i > 0; i--) {
		if (dev->subs[i - 1])
			chan_remove(srv, dev->subs[i - 1]);
		dev->subs[i - 1] = NULL;
	}
	dev->n_subs = 0;
}

void vmbus_server_remove_device(struct vmbus_server *srv, struct vmbus_dev *dev)
{
	if (!dev)
		return;
	srv_lock(srv);
	/* Sub-channels first, as the guest closes them before the primary. */
	dev_rescind_subs(srv, dev);
	chan_remove(srv, dev->chan);
	free(dev);
	srv_unlock(srv);
}

static uint32_t free_relid(struct vmbus_server *srv)
{
	for (uint32_t i = 1; i < VMBUS_MAX_RELIDS; i++)
		if (!srv->chans[i])
			return i;
	return 0;
}

int vmbus_dev_add_subchannels(struct vmbus_dev *dev, uint16_t count)
{
	struct vmbus_server *srv = dev->chan->srv;
	int made = 0;

	srv_lock(srv);
	while (made < count && dev->n_subs < VMBUS_MAX_SUBCHANNELS) {
		struct vmbus_chan *chan;
		uint32_t relid = free_relid(srv);

		if (!relid)
			break;
		chan = calloc(1, sizeof(*chan));
		if (!chan)
			break;
		chan->srv = srv;
		chan->dev = dev;
		chan->relid = relid;
		chan->conn_id = relid + VMBUS_CHAN_CONNECTION_ID_BASE;
		chan->sub_index = (uint16_t)(dev->n_subs + 1);
		dev->subs[dev->n_subs++] = chan;
		srv->chans[relid] = chan;
		if (srv->connected && srv->offers_requested)
			send_offer(srv, chan);
		made++;
	}
	srv_unlock(srv);
	return made;
}

uint16_t vmbus_dev_subchannel_count(struct vmbus_dev *dev)
{
	uint16_t n;

	srv_lock(dev->chan->srv);
	n = dev->n_subs;
	srv_unlock(dev->chan->srv);
	return n;
}

uint16_t vmbus_chan_sub_index(const struct vmbus_chan *chan)
{
	return chan->sub_index;
}

/* A GPADL of this channel's device (any of its channels), complete. */
static const struct vmbus_gpadl *chan_gpadl(struct vmbus_server *srv,
					    const struct vmbus_chan *chan, uint32_t handle)
{
	const struct vmbus_gpadl *g = gpadl_find(srv, handle, NULL);
	const struct vmbus_chan *owner;

	if (!g || !g->complete || !chan->dev)
		return NULL;
	owner = chan_by_relid(srv, g->relid);
	return owner && owner->dev == chan->dev ? g : NULL;
}

static int gpadl_copy(struct vmbus_chan *chan, uint32_t handle, uint64_t off, void *rbuf,
		      const void *wbuf, size_t len)
{
	struct vmbus_server *srv = chan->srv;
	const struct vmbus_gpadl *g;
	int r = 0;

	srv_lock(srv);
	g = chan_gpadl(srv, chan, handle);
	if (!g) {
		r = -ENOENT;
		goto out;
	}
	/* SECURITY: off/len come from the guest's protocol messages. */
	if (!range_ok(off, len, g->byte_count)) {
		r = -EFAULT;
		goto out;
	}
	off += g->byte_offset;
	while (len) {
		uint64_t page = off / GM_PAGE_SIZE, in_page = off % GM_PAGE_SIZE;
		size_t chunk = (size_t)MIN((uint64_t)len, GM_PAGE_SIZE - in_page);
		gpa_t gpa = gpn_to_gpa(g->pfns[page]) + in_page;

		r = rbuf ? gm_read(srv->gm, gpa, rbuf, chunk) : gm_write(srv->gm, gpa, wbuf, chunk);
		if (r)
			goto out;
		if (rbuf)
			rbuf = (uint8_t *)rbuf + chunk;
		else
			wbuf = (const uint8_t *)wbuf + chunk;
		off += chunk;
		len -= chunk;
	}
out:
	srv_unlock(srv);
	return r;
}

int vmbus_chan_gpadl_read(struct vmbus_chan *chan, uint32_t handle, uint64_t off, void *buf,
			  size_t len)
{
	return gpadl_copy(chan, handle, off, buf, NULL, len);
}

int vmbus_chan_gpadl_write(struct vmbus_chan *chan, uint32_t handle, uint64_t off,
			   const void *buf, size_t len)
{
	return gpadl_copy(chan, handle, off, NULL, buf, len);
}

int vmbus_chan_gpadl_size(struct vmbus_chan *chan, uint32_t handle, uint64_t *ret_bytes)
{
	const struct vmbus_gpadl *g;

	srv_lock(chan->srv);
	g = chan_gpadl(chan->srv, chan, handle);
	if (g)
		*ret_bytes = g->byte_count;
	srv_unlock(chan->srv);
	return g ? 0 : -ENOENT;
}

int vmbus_chan_send_completion(struct vmbus_chan *chan, uint64_t trans_id, const void *payload,
			       size_t len)
{
	return vmbus_chan_send(chan, VMBUS_PKT_COMP, 0, trans_id, payload, len);
}

void vmbus_server_lock(struct vmbus_server *srv)
{
	srv_lock(srv);
}

void vmbus_server_unlock(struct vmbus_server *srv)
{
	srv_unlock(srv);
}

struct vmbus_server *vmbus_chan_server(const struct vmbus_chan *chan)
{
	return chan->srv;
}

bool vmbus_server_connected(struct vmbus_server *srv)
{
	bool c;

	srv_lock(srv);
	c = srv->connected;
	srv_unlock(srv);
	return c;
}

uint32_t vmbus_server_version(struct vmbus_server *srv)
{
	uint32_t v;

	srv_lock(srv);
	v = srv->version;
	srv_unlock(srv);
	return v;
}

void vmbus_server_get_stats(struct vmbus_server *srv, struct vmbus_stats *ret_stats)
{
	srv_lock(srv);
	*ret_stats = srv->stats;
	ret_stats->inbox_full = __atomic_load_n(&srv->inbox_full, __ATOMIC_RELAXED);
	ret_stats->signals_in = __atomic_load_n(&srv->signals_in, __ATOMIC_RELAXED);
	srv_unlock(srv);
}

void *vmbus_dev_ctx(const struct vmbus_dev *dev)
{
	return dev->ctx;
}

struct vmbus_chan *vmbus_dev_chan(struct vmbus_dev *dev)
{
	return dev->chan;
}

void *vmbus_chan_ctx(const struct vmbus_chan *chan)
{
	return chan->dev ? chan->dev->ctx : NULL;
}

uint32_t vmbus_chan_relid(const struct vmbus_chan *chan)
{
	return chan->relid;
}

bool vmbus_chan_is_open(const struct vmbus_chan *chan)
{
	return chan->open;
}

int vmbus_chan_rings(const struct vmbus_chan *chan, struct vmbus_chan_rings *ret)
{
	if (!chan->open)
		return -ENOTCONN;
	ret->in_unread = vmbus_ring_avail(&chan->in);
	ret->out_unread = vmbus_ring_unread(&chan->out);
	ret->in_mask = __atomic_load_n(&chan->in.hdr->interrupt_mask, __ATOMIC_RELAXED);
	ret->out_mask = __atomic_load_n(&chan->out.hdr->interrupt_mask, __ATOMIC_RELAXED);
	return 0;
}

int vmbus_chan_send(struct vmbus_chan *chan, uint16_t type, uint16_t flags, uint64_t trans_id,
		    const void *payload, size_t len)
{
	return vmbus_chan_send_hdr(chan, type, flags, trans_id, 0, payload, len);
}

int vmbus_chan_send_hdr(struct vmbus_chan *chan, uint16_t type, uint16_t flags, uint64_t trans_id,
			size_t hdr_len, const void *payload, size_t len)
{
	struct vmbus_server *srv = chan->srv;
	uint32_t max;
	bool sig;
	int r;

	srv_lock(srv);
	if (!chan->open || chan->broken || !chan->dev) {
		r = -ENOTCONN;
		goto out;
	}
	max = chan->dev->cls->max_pkt_size ? chan->dev->cls->max_pkt_size : 4096u;
	/* SPEC §4.1: a packet above the driver's max_pkt_size desynchronises its ring. */
	if (len > UINT32_MAX || vmbus_ring_pkt_bytes((uint32_t)len) - VMBUS_PKT_TRAILER_BYTES > max) {
		r = -EMSGSIZE;
		goto out;
	}
	if (hdr_len % 8 || hdr_len > len) {
		r = -EINVAL;
		goto out;
	}
	r = vmbus_ring_write_hdr(&chan->out, type, flags, trans_id, (uint32_t)hdr_len, payload,
				 (uint32_t)len, &sig);
	if (r == -EAGAIN) {
		srv->stats.ring_full++;
		chan->want_writable = true;
		chan->want_bytes = vmbus_ring_pkt_bytes((uint32_t)len);
		goto out;
	}
	if (r == -EPROTO) {
		chan_break(chan);
		goto out;
	}
	if (r)
		goto out;
	srv->stats.pkts_out++;
	if (sig && chan->defer_signal)
		chan->signal_owed = true;
	else if (sig)
		signal_guest(chan);
out:
	srv_unlock(srv);
	return r;
}
