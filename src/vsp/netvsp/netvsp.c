// SPDX-License-Identifier: MIT
/*
 * netvsp: NVSP over VMBus for hv_netvsc (see netvsp.h). The guest's packets
 * arrive on the event loop; frames from the back-end arrive on its own
 * thread through netvsp_rx(). Both run under the VMBus server lock, which
 * protects everything in struct netvsp.
 *
 * Host -> guest messages (received frames, RNDIS control responses and
 * status indications) each take one receive-buffer section and travel in a
 * DATA_USING_XFER_PAGES packet whose trans_id names the section; the guest's
 * COMP frees it. Guest -> host RNDIS streams are gathered from a send-buffer
 * section and/or GPA-direct ranges and parsed message by message; each
 * SEND_RNDIS_PKT gets its COMP after the stream was read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/vmbus_proto.h"
#include "vsp/netvsp/netvsp.h"
#include "vsp/netvsp/netvsp_proto.h"
#include "vsp/netvsp/rndis.h"
#include "vsp/netvsp/rss.h"

#define NETVSP_MAX_PKT 4624u            /* NETVSC_MAX_PKT_SIZE: what the guest reads */
#define NETVSP_MAX_RECV_SECTIONS 65536u
#define NETVSP_CTLQ 16u                 /* queued control responses / indications */
#define NETVSP_MAX_PENDING_COMP 16384u  /* completions waiting for ring space, per channel */
/* Our XFER_PAGES trans_ids: tag, (sections - 1) in the low byte of the high
 * half, first section in the low half. */
#define NETVSP_XFER_TAG 0x6e657400ull
#define NETVSP_RSC_MAX_FRAGS 64u        /* sections one coalesced frame may take */
#define NETVSP_LINK_SPEED 100000000u    /* 10 Gb/s in 100 bps units */
#define ETH_HLEN 14u
#define VLAN_HLEN 4u

/* NVSP versions we speak, newest first. */
static const uint32_t nvsp_versions[] = {
	NVSP_VERSION_61, NVSP_VERSION_6, NVSP_VERSION_5, NVSP_VERSION_4, NVSP_VERSION_2,
	NVSP_VERSION_1,
};

struct pending_comp {
	uint64_t trans_id;
	uint8_t msg[NVSP_MSG_SIZE];
};

struct ctl_msg {
	uint32_t len;
	uint8_t data[RNDIS_RESP_MAX];
};

/* One channel of the NIC: queue 0 is the primary, 1.. are vRSS sub-channels. */
struct nv_queue {
	struct vmbus_chan *chan;        /* open channel or NULL */
	struct pending_comp *comps;     /* completions waiting for ring space */
	uint32_t n_comps, cap_comps;
};

struct netvsp {
	struct vmbus_server *srv;
	const struct gm *gm;
	struct vmbus_dev *dev;
	struct vmbus_chan *chan;        /* open primary channel or NULL (= q[0].chan) */
	struct nv_queue q[NETVSP_MAX_QUEUES];
	struct netvsp_config cfg;
	struct netvsp_backend be;

	uint32_t version;               /* negotiated NVSP version, 0 = none */
	/* receive buffer */
	bool have_recv;
	uint32_t recv_gpadl;
	uint32_t recv_section;          /* section size chosen for the MTU */
	uint32_t be_mtu;                /* MTU the back-end was last set to */
	uint32_t recv_sections;
	uint32_t recv_free;
	uint32_t recv_hint;
	uint64_t *recv_busy;            /* bitmap, recv_sections bits */
	/* send buffer */
	bool have_send;
	uint32_t send_gpadl;
	uint32_t send_sections;

	struct rndis_state rndis;
	bool rx_blocked;                /* netvsp_rx said -EAGAIN: call be.rx_room */
	bool overflow;                  /* guest never reads its ring: break the channel */

	struct ctl_msg ctlq[NETVSP_CTLQ];
	uint32_t ctlq_head, ctlq_count;

	uint8_t *stream;                /* NETVSP_MAX_MSG: gathered guest RNDIS bytes */
	uint8_t *frame;                 /* tx frame with an inserted VLAN tag */
	uint8_t rxhdr[RNDIS_RX_HDR_MAX];
	struct netvsp_stats stats;
};

static const struct vmbus_dev_class netvsp_class;

/* ---- receive sections ---- */

static bool section_busy(const struct netvsp *nv, uint32_t i)
{
	return nv->recv_busy[i / 64] >> (i % 64) & 1;
}

static int section_alloc(struct netvsp *nv, uint32_t *ret)
{
	uint32_t n = nv->recv_sections;

	if (!nv->recv_free)
		return -EAGAIN;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = (nv->recv_hint + k) % n;

		if (!section_busy(nv, i)) {
			nv->recv_busy[i / 64] |= 1ull << (i % 64);
			nv->recv_free--;
			nv->recv_hint = (i + 1) % n;
			*ret = i;
			return 0;
		}
	}
	return -EAGAIN; /* cannot happen while recv_free is right */
}

static void section_release(struct netvsp *nv, uint32_t i)
{
	nv->recv_busy[i / 64] &= ~(1ull << (i % 64));
	nv->recv_free++;
}

/* k consecutive free sections (a coalesced frame), first fit from the hint. */
static int section_alloc_run(struct netvsp *nv, uint32_t k, uint32_t *ret)
{
	uint32_t n = nv->recv_sections, run = 0, start = 0;

	if (nv->recv_free < k || k > n)
		return -EAGAIN;
	/* Two passes over the ring of sections: from the hint to the end, then
	 * from 0 (a run never wraps). */
	for (uint32_t pass = 0; pass < 2; pass++) {
		uint32_t from = pass ? 0 : nv->recv_hint, to = pass ? nv->recv_hint + k - 1 : n;

		run = 0;
		for (uint32_t i = from; i < MIN(to, n); i++) {
			if (section_busy(nv, i)) {
				run = 0;
				continue;
			}
			if (!run++)
				start = i;
			if (run == k) {
				for (uint32_t j = start; j < start + k; j++)
					nv->recv_busy[j / 64] |= 1ull << (j % 64);
				nv->recv_free -= k;
				nv->recv_hint = (start + k) % n;
				*ret = start;
				return 0;
			}
		}
	}
	return -EAGAIN;
}

static void drop_recv_buf(struct netvsp *nv)
{
	free(nv->recv_busy);
	nv->recv_busy = NULL;
	nv->have_recv = false;
	nv->recv_sections = nv->recv_free = nv->recv_hint = 0;
	nv->ctlq_count = 0;
}

/* ---- host -> guest ---- */

/* The queue of one of our open channels (sub-channel index; we never make
 * more than NETVSP_MAX_QUEUES - 1 of them). */
static struct nv_queue *queue_of(struct netvsp *nv, struct vmbus_chan *chan)
{
	uint16_t i = vmbus_chan_sub_index(chan);

	return &nv->q[i < NETVSP_MAX_QUEUES ? i : 0];
}

/* A COMP for a guest packet, on the channel it came in on. */
static int send_comp(struct netvsp *nv, struct vmbus_chan *chan, uint64_t trans_id,
		     const void *msg, size_t len)
{
	struct nv_queue *q = queue_of(nv, chan);
	uint8_t full[NVSP_MSG_SIZE] = { 0 };
	struct pending_comp *pc;
	int r;

	/* SPEC §7.3: completions always carry the full 40-byte message. */
	memcpy(full, msg, MIN(len, sizeof(full)));
	if (!q->n_comps) {
		r = vmbus_chan_send_completion(chan, trans_id, full, sizeof(full));
		if (r != -EAGAIN)
			return r;
	}
	/* Ring full: keep it, the writable callback sends it. */
	if (q->n_comps == q->cap_comps) {
		uint32_t cap = q->cap_comps ? q->cap_comps * 2 : 64;

		if (cap > NETVSP_MAX_PENDING_COMP) {
			nv->overflow = true; /* the guest keeps sending without reading */
			return -EPROTO;
		}
		pc = realloc(q->comps, cap * sizeof(*pc));
		if (!pc)
			return -ENOMEM;
		q->comps = pc;
		q->cap_comps = cap;
	}
	pc = &q->comps[q->n_comps++];
	pc->trans_id = trans_id;
	memcpy(pc->msg, full, sizeof(full));
	return 0;
}

static int flush_comps(struct nv_queue *q)
{
	uint32_t done = 0;
	int r = 0;

	if (!q->chan)
		return 0;
	while (done < q->n_comps) {
		r = vmbus_chan_send_completion(q->chan, q->comps[done].trans_id,
					       q->comps[done].msg, NVSP_MSG_SIZE);
		if (r)
			break;
		done++;
	}
	memmove(q->comps, q->comps + done, (q->n_comps - done) * sizeof(*q->comps));
	q->n_comps -= done;
	return r == -EAGAIN ? 0 : r;
}

/* The channel a frame from the host goes to: the one the guest's RSS
 * indirection table names for its hash, if open, else the primary. */
static struct vmbus_chan *rx_chan(struct netvsp *nv, const uint8_t *f, size_t len)
{
	/* RSS is never on with fewer than two queues (rndis.c refuses it). */
	uint16_t i = rss_channel(&nv->rndis.rss, f, len);

	return i < nv->rndis.rss_queues && nv->q[i].chan ? nv->q[i].chan : nv->chan;
}

/*
 * Put hdr + data (one RNDIS message) into a free receive section and send the
 * XFER_PAGES packet. 0, -EAGAIN (no section or ring full), -ENOTCONN,
 * -EMSGSIZE, -EFAULT.
 */
static int deliver(struct netvsp *nv, struct vmbus_chan *out, const void *hdr, uint32_t hlen,
		   const void *data, uint32_t dlen, uint32_t channel_type)
{
	struct {
		struct vmbus_xfer_hdr_wire h;
		struct vmbus_xfer_range_wire range;
		struct nvsp_rndis_pkt_wire nvsp;
		uint8_t pad[NVSP_MSG_SIZE - sizeof(struct nvsp_rndis_pkt_wire)];
	} pkt;
	uint64_t off;
	uint32_t sec;
	int r;

	if (!nv->chan || !nv->have_recv)
		return -ENOTCONN;
	if ((uint64_t)hlen + dlen > nv->recv_section)
		return -EMSGSIZE;
	r = section_alloc(nv, &sec);
	if (r)
		return r;
	off = (uint64_t)sec * nv->recv_section;
	r = vmbus_chan_gpadl_write(nv->chan, nv->recv_gpadl, off, hdr, hlen);
	if (!r && dlen)
		r = vmbus_chan_gpadl_write(nv->chan, nv->recv_gpadl, off + hlen, data, dlen);
	if (r) {
		section_release(nv, sec);
		return r;
	}
	memset(&pkt, 0, sizeof(pkt));
	pkt.h.pageset_id = NVSP_RECV_BUF_ID;
	pkt.h.range_count = 1;
	pkt.range.byte_count = hlen + dlen;
	pkt.range.byte_offset = (uint32_t)off;
	pkt.nvsp.type = NVSP_MSG1_SEND_RNDIS_PKT;
	pkt.nvsp.channel_type = channel_type;
	pkt.nvsp.section_index = NVSP_SEND_SECTION_NONE;
	r = vmbus_chan_send_hdr(out, VMBUS_PKT_DATA_USING_XFER_PAGES,
				VMBUS_PKT_FLAG_COMPLETION_REQUESTED, NETVSP_XFER_TAG << 32 | sec,
				sizeof(pkt.h) + sizeof(pkt.range), &pkt, sizeof(pkt));
	if (r)
		section_release(nv, sec);
	return r;
}

/* Send queued control messages in order while there is room. */
static void flush_ctl(struct netvsp *nv)
{
	while (nv->ctlq_count) {
		struct ctl_msg *m = &nv->ctlq[nv->ctlq_head];
		int r = deliver(nv, nv->chan, m->data, m->len, NULL, 0, NVSP_CHANNEL_CONTROL);

		if (r == -EAGAIN)
			return;
		/* any other failure: the message cannot be sent, drop it */
		nv->ctlq_head = (nv->ctlq_head + 1) % NETVSP_CTLQ;
		nv->ctlq_count--;
	}
}

static void queue_ctl(struct netvsp *nv, const uint8_t *msg, uint32_t len)
{
	struct ctl_msg *m;

	if (nv->ctlq_count == NETVSP_CTLQ || len > RNDIS_RESP_MAX) {
		nv->stats.bad_msgs++; /* a guest flooding requests without completing */
		return;
	}
	m = &nv->ctlq[(nv->ctlq_head + nv->ctlq_count) % NETVSP_CTLQ];
	memcpy(m->data, msg, len);
	m->len = len;
	nv->ctlq_count++;
	flush_ctl(nv);
}

static void kick_rx(struct netvsp *nv)
{
	if (nv->rx_blocked && nv->be.rx_room) {
		nv->rx_blocked = false;
		nv->be.rx_room(nv->be.opaque);
	}
}

static void indicate_link(struct netvsp *nv)
{
	uint8_t msg[64];
	uint32_t len;

	if (!nv->chan || !nv->have_recv || !nv->rndis.initialized)
		return;
	len = rndis_build_indicate(msg, nv->rndis.link_up ? RNDIS_STATUS_MEDIA_CONNECT :
							     RNDIS_STATUS_MEDIA_DISCONNECT);
	queue_ctl(nv, msg, len);
}

/* ---- guest -> host: RNDIS stream ---- */

/* Is this PPI request one the guest switched on? */
static bool offload_allowed(const struct netvsp *nv, const struct rndis_tx_info *ti)
{
	uint32_t on = nv->rndis.offload_on, need = 0;

	if (!nv->be.tx_offload)
		return !ti->has_lso && !ti->has_csum;
	if (ti->has_lso)
		need |= ti->lso_info >> 31 ? RNDIS_OFL_LSO6 : RNDIS_OFL_LSO4;
	if (ti->has_csum) {
		uint32_t v = ti->csum_info;
		bool v6 = v >> 1 & 1u;

		if (v >> 2 & 1u)
			need |= v6 ? RNDIS_OFL_TCP6_CSUM : RNDIS_OFL_TCP4_CSUM;
		if (v >> 3 & 1u)
			need |= v6 ? RNDIS_OFL_UDP6_CSUM : RNDIS_OFL_UDP4_CSUM;
	}
	return (on & need) == need;
}

static void tx_drop(struct netvsp *nv, uint64_t *counter)
{
	if (counter)
		(*counter)++;
	nv->stats.tx_dropped++;
	nv->rndis.xmit_err++;
}

/* One guest PACKET message; msg lies in nv->stream (ours, writable). */
static void tx_frame(struct netvsp *nv, uint8_t *msg, uint32_t len)
{
	struct rndis_tx_info ti;
	struct netvsp_vnet_hdr_wire vh;
	uint8_t *f;
	uint32_t flen, shift = 0, max;
	int tci = -1, r;

	if (rndis_parse_packet(msg, len, &ti)) {
		nv->stats.bad_msgs++;
		tx_drop(nv, NULL);
		return;
	}
	f = msg + ti.data_off;
	flen = ti.data_len;
	/* An LSO frame may be up to 64 KiB; any other must fit the MTU (the
	 * guest may put a VLAN tag in the frame itself). */
	max = ti.has_lso ? OFFLOAD_MAX_FRAME - VLAN_HLEN : nv->rndis.mtu + ETH_HLEN + VLAN_HLEN;
	if (flen < ETH_HLEN || flen > max) {
		tx_drop(nv, NULL);
		return;
	}
	if (!nv->cfg.allow_mac_spoofing && memcmp(f + 6, nv->rndis.mac, 6)) {
		tx_drop(nv, &nv->stats.tx_spoofed);
		return;
	}
	if (!offload_allowed(nv, &ti)) {
		tx_drop(nv, &nv->stats.tx_bad_offload);
		return;
	}
	if (nv->cfg.vlan)
		tci = (ti.has_vlan ? ti.vlan_tci & 0xE000 : 0) | nv->cfg.vlan;
	else if (ti.has_vlan)
		tci = ti.vlan_tci;
	if (tci >= 0) {
		/* 802.1Q tag after the MAC addresses. */
		memcpy(nv->frame, f, 12);
		nv->frame[12] = 0x81;
		nv->frame[13] = 0x00;
		nv->frame[14] = (uint8_t)(tci >> 8);
		nv->frame[15] = (uint8_t)tci;
		memcpy(nv->frame + 16, f + 12, flen - 12);
		f = nv->frame;
		flen += VLAN_HLEN;
		shift = VLAN_HLEN;
	}
	if (nv->be.tx_offload) {
		if (offload_tx_prepare(f, flen, shift, nv->rndis.mtu, &ti, &vh)) {
			tx_drop(nv, &nv->stats.tx_bad_offload);
			return;
		}
		r = nv->be.tx_offload(nv->be.opaque, &vh, f, flen);
	} else {
		vh.gso_type = VNET_GSO_NONE;
		vh.flags = 0;
		r = nv->be.tx(nv->be.opaque, f, flen);
	}
	if (r) {
		tx_drop(nv, NULL);
		return;
	}
	if (vh.gso_type != VNET_GSO_NONE)
		nv->stats.tx_lso++;
	else if (vh.flags & VNET_F_NEEDS_CSUM)
		nv->stats.tx_csum_offload++;
	nv->stats.tx_frames++;
	nv->stats.tx_bytes += flen;
	nv->rndis.xmit_ok++;
}

/* Walk the RNDIS messages of one stream. Returns an NVSP status. */
static uint32_t handle_stream(struct netvsp *nv, uint8_t *s, uint32_t len)
{
	uint32_t off = 0, status = NVSP_STAT_SUCCESS;

	while (len - off >= sizeof(struct rndis_hdr_wire)) {
		struct rndis_hdr_wire h;
		uint8_t resp[RNDIS_RESP_MAX];
		uint32_t rlen;
		int r;

		memcpy(&h, s + off, sizeof(h));
		if (h.len < sizeof(h) || h.len > len - off) {
			nv->stats.bad_msgs++;
			return NVSP_STAT_FAIL;
		}
		if (h.type == RNDIS_MSG_PACKET) {
			tx_frame(nv, s + off, h.len);
		} else {
			r = rndis_control(&nv->rndis, s + off, h.len, resp, &rlen);
			/* -EPROTO was counted by rndis_control */
			if (r == -ENOTSUP)
				nv->stats.bad_msgs++;
			if (r == -ENOTSUP || r == -EPROTO)
				status = NVSP_STAT_FAIL;
			if (r != -ENOTSUP)
				nv->stats.ctl_msgs++;
			if (rlen)
				queue_ctl(nv, resp, rlen);
		}
		off += h.len;
	}
	if (off != len) /* trailing bytes too short for a header */
		nv->stats.bad_msgs++;
	return status;
}

/* Append the GPA-direct ranges of pkt to the stream. 0 or -EPROTO/-EMSGSIZE. */
static int gather_gpa(struct netvsp *nv, const struct vmbus_pkt *pkt, uint32_t *len)
{
	uint32_t hdr_end = (uint32_t)(pkt->payload - pkt->data);
	struct vmbus_gpa_direct_hdr_wire gh;
	uint32_t off = sizeof(struct vmbus_pkt_desc_wire) + sizeof(gh);

	if (hdr_end < off)
		return -EPROTO;
	memcpy(&gh, pkt->data + sizeof(struct vmbus_pkt_desc_wire), sizeof(gh));
	for (uint32_t i = 0; i < gh.range_count; i++) {
		struct vmbus_gpa_range_wire rg;
		uint64_t npfn, done = 0;

		if (!range_ok(off, sizeof(rg), hdr_end))
			return -EPROTO;
		memcpy(&rg, pkt->data + off, sizeof(rg));
		off += sizeof(rg);
		if (rg.byte_offset >= GM_PAGE_SIZE)
			return -EPROTO;
		npfn = ((uint64_t)rg.byte_offset + rg.byte_count + GM_PAGE_SIZE - 1) / GM_PAGE_SIZE;
		if (!range_ok(off, npfn * 8, hdr_end))
			return -EPROTO;
		if (!range_ok(*len, rg.byte_count, NETVSP_MAX_MSG))
			return -EMSGSIZE;
		for (uint64_t k = 0; k < npfn && done < rg.byte_count; k++) {
			uint64_t pfn, in_page = k ? 0 : rg.byte_offset;
			uint64_t chunk = MIN(GM_PAGE_SIZE - in_page, rg.byte_count - done);

			memcpy(&pfn, pkt->data + off + k * 8, 8);
			if (pfn > (UINT64_MAX >> GM_PAGE_SHIFT) ||
			    gm_read(nv->gm, gpn_to_gpa(pfn) + in_page, nv->stream + *len + done,
				    chunk))
				return -EPROTO;
			done += chunk;
		}
		*len += rg.byte_count;
		off += (uint32_t)npfn * 8;
	}
	return 0;
}

static void on_rndis_pkt(struct netvsp *nv, struct vmbus_chan *chan, const struct vmbus_pkt *pkt,
			 const struct nvsp_rndis_pkt_wire *m)
{
	struct nvsp_rndis_pkt_complete_wire c = { .type = NVSP_MSG1_SEND_RNDIS_PKT_COMPLETE,
						  .status = NVSP_STAT_SUCCESS };
	uint32_t len = 0;
	int r = 0;

	if (m->section_index != NVSP_SEND_SECTION_NONE) {
		if (!nv->have_send || m->section_index >= nv->send_sections ||
		    m->section_size > NETVSP_SEND_SECTION_SIZE)
			r = -EPROTO;
		else
			r = vmbus_chan_gpadl_read(chan, nv->send_gpadl,
						  (uint64_t)m->section_index * NETVSP_SEND_SECTION_SIZE,
						  nv->stream, m->section_size);
		len = m->section_size;
	}
	if (!r && pkt->type == VMBUS_PKT_DATA_USING_GPA_DIRECT)
		r = gather_gpa(nv, pkt, &len);
	if (r) {
		nv->stats.bad_msgs++;
		c.status = NVSP_STAT_FAIL;
	} else {
		c.status = handle_stream(nv, nv->stream, len);
	}
	if (pkt->flags & VMBUS_PKT_FLAG_COMPLETION_REQUESTED)
		(void)send_comp(nv, chan, pkt->trans_id, &c, sizeof(c));
}

/* ---- NVSP control ---- */

static void on_init(struct netvsp *nv, const struct vmbus_pkt *pkt, const struct nvsp_init_wire *m)
{
	struct nvsp_init_complete_wire c = { .type = NVSP_MSG_INIT_COMPLETE,
					     .status = NVSP_STAT_FAIL };

	for (size_t i = 0; i < ARRAY_SIZE(nvsp_versions); i++) {
		if (nvsp_versions[i] >= m->min_version && nvsp_versions[i] <= m->max_version) {
			c.negotiated_version = nvsp_versions[i];
			c.status = NVSP_STAT_SUCCESS;
			break;
		}
	}
	if (c.status == NVSP_STAT_SUCCESS)
		nv->version = c.negotiated_version;
	(void)send_comp(nv, nv->chan, pkt->trans_id, &c, sizeof(c));
}

static void on_recv_buf(struct netvsp *nv, const struct vmbus_pkt *pkt,
			const struct nvsp_send_buf_wire *m)
{
	struct nvsp_recv_buf_complete_wire c = { .type = NVSP_MSG1_SEND_RECV_BUF_COMPLETE,
						 .status = NVSP_STAT_FAIL };
	uint64_t size = 0;
	uint32_t n;

	if (nv->version && !nv->have_recv &&
	    !vmbus_chan_gpadl_size(nv->chan, m->gpadl, &size)) {
		/* Sections big enough for one frame of the guest's MTU. */
		nv->recv_section = nv->rndis.mtu <= NETVSP_MTU_DEFAULT ?
				   NETVSP_RECV_SECTION_SIZE :
				   ALIGN_UP((uint32_t)RNDIS_RX_HDR_MAX + nv->rndis.mtu + ETH_HLEN +
					    VLAN_HLEN, 64u);
		n = (uint32_t)MIN(size / nv->recv_section, NETVSP_MAX_RECV_SECTIONS);
		nv->recv_busy = n ? calloc((n + 63) / 64, sizeof(uint64_t)) : NULL;
		if (nv->recv_busy) {
			nv->have_recv = true;
			nv->recv_gpadl = m->gpadl;
			nv->recv_sections = nv->recv_free = n;
			nv->recv_hint = 0;
			c.status = NVSP_STAT_SUCCESS;
			c.num_sections = 1;
			c.section.offset = 0;
			c.section.sub_alloc_size = nv->recv_section;
			c.section.num_sub_allocs = n;
			c.section.end_offset = n * nv->recv_section;
		}
	}
	if (c.status != NVSP_STAT_SUCCESS)
		nv->stats.bad_msgs++;
	(void)send_comp(nv, nv->chan, pkt->trans_id, &c, sizeof(c));
}

static void on_send_buf(struct netvsp *nv, const struct vmbus_pkt *pkt,
			const struct nvsp_send_buf_wire *m)
{
	struct nvsp_send_buf_complete_wire c = { .type = NVSP_MSG1_SEND_SEND_BUF_COMPLETE,
						 .status = NVSP_STAT_FAIL };
	uint64_t size = 0;

	if (nv->version && !nv->have_send &&
	    !vmbus_chan_gpadl_size(nv->chan, m->gpadl, &size) &&
	    size >= NETVSP_SEND_SECTION_SIZE) {
		nv->have_send = true;
		nv->send_gpadl = m->gpadl;
		nv->send_sections = (uint32_t)MIN(size / NETVSP_SEND_SECTION_SIZE, UINT32_MAX - 1);
		c.status = NVSP_STAT_SUCCESS;
		c.section_size = NETVSP_SEND_SECTION_SIZE;
	} else {
		nv->stats.bad_msgs++;
	}
	(void)send_comp(nv, nv->chan, pkt->trans_id, &c, sizeof(c));
}

/*
 * The guest's MTU (Ethernet payload + 14), sent before the receive buffer
 * on every connect; Linux reconnects to change it. Above NETVSP_MTU_MAX we
 * answer OID_GEN_MAXIMUM_FRAME_SIZE with the maximum and the guest lowers
 * its MTU to it. No completion is due.
 */
static void on_ndis_config(struct netvsp *nv, const struct nvsp_ndis_config_wire *m)
{
	uint32_t mtu;

	if (nv->have_recv || m->mtu < NETVSP_MTU_MIN + ETH_HLEN) {
		nv->stats.bad_msgs++; /* too late (sections are sized) or nonsense */
		return;
	}
	mtu = MIN(m->mtu - ETH_HLEN, NETVSP_MTU_MAX);
	nv->rndis.mtu = mtu;
	if (mtu == nv->be_mtu || !nv->be.set_mtu)
		return;
	if (nv->be.set_mtu(nv->be.opaque, mtu))
		nv->stats.mtu_errors++;
	else
		nv->be_mtu = mtu;
}

/* A guest COMP: the end of one of our XFER_PAGES packets. */
static void on_guest_comp(struct netvsp *nv, const struct vmbus_pkt *pkt)
{
	uint64_t sec = pkt->trans_id & 0xFFFFFFFFu, hi = pkt->trans_id >> 32;
	uint32_t k = (uint32_t)(hi & 0xFFu) + 1;

	/* SECURITY: the trans_id comes back from the guest; only release
	 * sections of a packet we sent (all of them busy). */
	if ((hi & ~0xFFull) != NETVSP_XFER_TAG || !nv->have_recv || k > NETVSP_RSC_MAX_FRAGS ||
	    sec + k > nv->recv_sections) {
		nv->stats.bad_msgs++;
		return;
	}
	for (uint32_t i = 0; i < k; i++) {
		if (!section_busy(nv, (uint32_t)sec + i)) {
			nv->stats.bad_msgs++;
			return;
		}
	}
	for (uint32_t i = 0; i < k; i++)
		section_release(nv, (uint32_t)sec + i);
	flush_ctl(nv);
	kick_rx(nv);
}

/*
 * vRSS: the guest asks for sub-channels once RNDIS is up, after reading our
 * RSS capabilities; we make up to queues - 1 of them (fewer if the guest asks
 * for fewer) and offer them before the completion, which says how many. A
 * guest that reopens the primary channel gets its old ones rescinded by the
 * VMBus server and asks again.
 */
static void on_subchannel(struct netvsp *nv, const struct vmbus_pkt *pkt,
			  const struct nvsp_subchannel_wire *m)
{
	struct nvsp_subchannel_wire c = { .type = NVSP_MSG5_SUBCHANNEL,
					  .op_or_status = NVSP_STAT_FAIL };
	uint16_t have = vmbus_dev_subchannel_count(nv->dev);
	uint32_t room = nv->rndis.rss_queues - 1u > have ? nv->rndis.rss_queues - 1u - have : 0;

	if (m->op_or_status == NVSP_SUBCHANNEL_ALLOCATE && nv->version >= NVSP_VERSION_5 &&
	    nv->have_recv && m->num_subchannels && room) {
		int made = vmbus_dev_add_subchannels(nv->dev,
						     (uint16_t)MIN(m->num_subchannels, room));

		c.op_or_status = NVSP_STAT_SUCCESS;
		c.num_subchannels = (uint32_t)(made > 0 ? made : 0);
	} else {
		nv->stats.bad_msgs++;
	}
	if (pkt->flags & VMBUS_PKT_FLAG_COMPLETION_REQUESTED)
		(void)send_comp(nv, nv->chan, pkt->trans_id, &c, sizeof(c));
}

static int nv_packet(struct vmbus_chan *chan, const struct vmbus_pkt *pkt)
{
	struct netvsp *nv = vmbus_chan_ctx(chan);
	union {
		uint8_t raw[NVSP_MSG_SIZE];
		uint32_t type;
		struct nvsp_init_wire init;
		struct nvsp_send_buf_wire buf;
		struct nvsp_revoke_buf_wire revoke;
		struct nvsp_rndis_pkt_wire rndis;
		struct nvsp_subchannel_wire sub;
		struct nvsp_ndis_config_wire ndis_config;
	} m;
	bool want_comp = pkt->flags & VMBUS_PKT_FLAG_COMPLETION_REQUESTED;

	if (pkt->type == VMBUS_PKT_COMP) {
		on_guest_comp(nv, pkt);
		return 0;
	}
	if ((pkt->type != VMBUS_PKT_DATA_INBAND && pkt->type != VMBUS_PKT_DATA_USING_GPA_DIRECT) ||
	    pkt->payload_len < 4) {
		nv->stats.bad_msgs++;
		return 0;
	}
	/* Short messages read as zero-filled; each handler checks its fields. */
	memset(&m, 0, sizeof(m));
	memcpy(&m, pkt->payload, MIN(pkt->payload_len, sizeof(m)));
	/* Sub-channels carry data only; setup belongs to the primary. */
	if (chan != nv->chan && m.type != NVSP_MSG1_SEND_RNDIS_PKT)
		m.type = UINT32_MAX; /* answered as unknown below */
	switch (m.type) {
	case NVSP_MSG_INIT:
		on_init(nv, pkt, &m.init);
		break;
	case NVSP_MSG2_SEND_NDIS_CONFIG:
		on_ndis_config(nv, &m.ndis_config);
		break;
	case NVSP_MSG1_SEND_NDIS_VER:
		break; /* informational */
	case NVSP_MSG1_SEND_RECV_BUF:
		on_recv_buf(nv, pkt, &m.buf);
		break;
	case NVSP_MSG1_SEND_SEND_BUF:
		on_send_buf(nv, pkt, &m.buf);
		break;
	case NVSP_MSG1_REVOKE_RECV_BUF:
		if (nv->have_recv)
			drop_recv_buf(nv);
		break;
	case NVSP_MSG1_REVOKE_SEND_BUF:
		nv->have_send = false;
		nv->send_sections = 0;
		break;
	case NVSP_MSG1_SEND_RNDIS_PKT:
		on_rndis_pkt(nv, chan, pkt, &m.rndis);
		break;
	case NVSP_MSG5_SUBCHANNEL:
		on_subchannel(nv, pkt, &m.sub);
		break;
	default: {
		/* Unknown: never leave a waiting guest hanging. */
		struct nvsp_rndis_pkt_complete_wire c = { .type = m.type, .status = NVSP_STAT_FAIL };

		nv->stats.bad_msgs++;
		if (want_comp)
			(void)send_comp(nv, chan, pkt->trans_id, &c, sizeof(c));
		break;
	}
	}
	/* -EPROTO puts the channel in the broken state until it is reopened. */
	return nv->overflow ? -EPROTO : 0;
}

/* ---- channel lifecycle ---- */

static void reset_state(struct netvsp *nv)
{
	drop_recv_buf(nv);
	nv->have_send = false;
	nv->send_sections = 0;
	nv->version = 0;
	nv->rndis.initialized = false;
	nv->rndis.filter = 0;
	nv->rndis.offload_on = 0;
	nv->rndis.mtu = NETVSP_MTU_DEFAULT; /* until the guest's next NDIS config */
	nv->rndis.rss.on = false;
	for (uint32_t i = 0; i < NETVSP_MAX_QUEUES; i++) {
		nv->q[i].chan = NULL;
		nv->q[i].n_comps = 0;
	}
	nv->overflow = false;
	nv->ctlq_head = nv->ctlq_count = 0;
}

static int nv_open(struct vmbus_chan *chan, const uint8_t userdata[120])
{
	struct netvsp *nv = vmbus_chan_ctx(chan);

	uint16_t i = vmbus_chan_sub_index(chan);

	(void)userdata;
	if (i) {
		/* A vRSS sub-channel: it shares the primary's buffers. */
		if (!nv->chan || i >= nv->rndis.rss_queues)
			return -EINVAL;
		nv->q[i].chan = chan;
		nv->q[i].n_comps = 0;
		return 0;
	}
	reset_state(nv);
	nv->chan = chan;
	nv->q[0].chan = chan;
	return 0;
}

static void nv_close(struct vmbus_chan *chan)
{
	struct netvsp *nv = vmbus_chan_ctx(chan);
	struct nv_queue *q = queue_of(nv, chan);

	if (q->chan != chan)
		return;
	if (vmbus_chan_sub_index(chan)) {
		q->chan = NULL; /* frames pick the primary from now on */
		q->n_comps = 0;
		kick_rx(nv);
		return;
	}
	reset_state(nv);
	nv->chan = NULL;
	kick_rx(nv); /* let a waiting receive thread see -ENOTCONN */
}

static void nv_writable(struct vmbus_chan *chan)
{
	struct netvsp *nv = vmbus_chan_ctx(chan);

	if (flush_comps(queue_of(nv, chan)))
		nv->stats.bad_msgs++;
	flush_ctl(nv);
	kick_rx(nv);
}

static const struct vmbus_dev_class netvsp_class = {
	.name = "netvsp",
	.class_guid = NETVSP_CLASS_GUID,
	.max_pkt_size = NETVSP_MAX_PKT,
	.open = nv_open,
	.close = nv_close,
	.packet = nv_packet,
	.writable = nv_writable,
};

/* ---- public API ---- */

int netvsp_new(struct vmbus_server *srv, const struct gm *gm, const struct netvsp_config *cfg,
	       const uint8_t instance_guid[16], const struct netvsp_backend *be,
	       struct netvsp **ret)
{
	struct netvsp *nv = calloc(1, sizeof(*nv));
	int r;

	*ret = NULL;
	if (!nv)
		return -ENOMEM;
	nv->stream = malloc(NETVSP_MAX_MSG);
	nv->frame = malloc(OFFLOAD_MAX_FRAME + VLAN_HLEN);
	if (!nv->stream || !nv->frame) {
		r = -ENOMEM;
		goto err;
	}
	nv->srv = srv;
	nv->gm = gm;
	nv->cfg = *cfg;
	nv->be = *be;
	memcpy(nv->rndis.mac, cfg->mac, 6);
	memcpy(nv->rndis.perm_mac, cfg->mac, 6);
	nv->rndis.allow_mac_change = cfg->allow_mac_spoofing;
	nv->rndis.rss_queues = (uint16_t)MAX(1u, MIN(cfg->queues, NETVSP_MAX_QUEUES));
	nv->rndis.offload_caps = !be->tx_offload ? 0 :
				 be->rx_rsc	  ? RNDIS_OFL_ALL :
						    RNDIS_OFL_ALL & ~RNDIS_OFL_RSC;
	nv->rndis.mtu = NETVSP_MTU_DEFAULT;
	nv->be_mtu = NETVSP_MTU_DEFAULT; /* a new TAP's MTU */
	nv->recv_section = NETVSP_RECV_SECTION_SIZE;
	nv->rndis.link_speed = NETVSP_LINK_SPEED;
	nv->rndis.link_up = true;
	r = vmbus_server_add_device(srv, &netvsp_class, instance_guid, nv, &nv->dev);
	if (r)
		goto err;
	*ret = nv;
	return 0;
err:
	free(nv->stream);
	free(nv->frame);
	free(nv);
	return r;
}

void netvsp_free(struct netvsp *nv)
{
	if (!nv)
		return;
	vmbus_server_remove_device(nv->srv, nv->dev);
	drop_recv_buf(nv);
	for (uint32_t i = 0; i < NETVSP_MAX_QUEUES; i++)
		free(nv->q[i].comps);
	free(nv->stream);
	free(nv->frame);
	free(nv);
}

/* An access port's frame (at least 16 bytes) carries an 802.1Q tag with our VLAN id. */
static bool vlan_tag_ours(const struct netvsp *nv, const uint8_t *f)
{
	return f[12] == 0x81 && f[13] == 0x00 && ((f[14] << 8 | f[15]) & 0xFFF) == nv->cfg.vlan;
}

int netvsp_rx_ex(struct netvsp *nv, const void *frame, size_t len, uint32_t flags)
{
	const uint8_t *f = frame;
	struct vmbus_chan *out;
	int32_t tci = -1;
	uint32_t hlen, csum = 0;
	int r;

	vmbus_server_lock(nv->srv);
	if (!nv->chan || !nv->have_recv || !nv->rndis.initialized) {
		nv->stats.rx_dropped++;
		r = -ENOTCONN;
		goto out;
	}
	if (len < ETH_HLEN || len > nv->rndis.mtu + ETH_HLEN + VLAN_HLEN) {
		nv->stats.rx_dropped++;
		nv->rndis.rcv_err++;
		r = -EMSGSIZE;
		goto out;
	}
	if (nv->cfg.vlan) {
		/* Access port: only our VLAN, delivered untagged (tag in a PPI
		 * would make the guest see a VLAN it did not configure). */
		if (len < ETH_HLEN + VLAN_HLEN || !vlan_tag_ours(nv, f)) {
			nv->stats.rx_filtered++;
			r = 0;
			goto out;
		}
		tci = -1;
	} else if (len > nv->rndis.mtu + ETH_HLEN) {
		nv->stats.rx_dropped++;
		r = -EMSGSIZE;
		goto out;
	}
	if (!rndis_filter_accepts(&nv->rndis, f, (uint32_t)len)) {
		nv->stats.rx_filtered++;
		r = 0;
		goto out;
	}
	if (nv->ctlq_count) /* control messages first, in order */
		flush_ctl(nv);
	out = rx_chan(nv, f, len);
	if (flags & NETVSP_RX_CSUM_OK)
		csum = offload_rx_csum_info(f, (uint32_t)len);
	hlen = rndis_build_rx_header_csum(nv->rxhdr, (uint32_t)len - (nv->cfg.vlan ? VLAN_HLEN : 0),
					  tci, csum);
	if (nv->cfg.vlan) {
		/* Strip the tag: MAC addresses, then the rest after it. */
		uint8_t macs[12];

		memcpy(macs, f, 12);
		r = -EAGAIN;
		if (!nv->ctlq_count) {
			/* Build the untagged frame in nv->frame (rx and tx both run under the lock). */
			memcpy(nv->frame, macs, 12);
			memcpy(nv->frame + 12, f + 16, len - 16);
			r = deliver(nv, out, nv->rxhdr, hlen, nv->frame, (uint32_t)len - VLAN_HLEN,
				    NVSP_CHANNEL_DATA);
		}
	} else {
		r = nv->ctlq_count ? -EAGAIN :
				     deliver(nv, out, nv->rxhdr, hlen, f, (uint32_t)len,
					     NVSP_CHANNEL_DATA);
	}
	if (r == -EAGAIN) {
		nv->stats.rx_no_room++;
		nv->rx_blocked = true;
	} else if (r) {
		nv->stats.rx_dropped++;
		nv->rndis.rcv_err++;
	} else {
		nv->stats.rx_frames++;
		nv->stats.rx_bytes += len;
		if (out != nv->chan)
			nv->stats.rx_subchannel++;
		if (csum)
			nv->stats.rx_csum_ok++;
		if (flags & NETVSP_RX_SEGMENT)
			nv->stats.rx_gso_segments++;
		nv->rndis.rcv_ok++;
	}
out:
	vmbus_server_unlock(nv->srv);
	return r;
}

/*
 * Write bytes [pos, pos+n) of the frame as the guest gets it (the 802.1Q tag
 * of an access port taken out: vl = 4) at off in the receive buffer.
 */
static int write_untagged(struct netvsp *nv, uint64_t off, const uint8_t *f, uint32_t vl,
			  uint32_t pos, uint32_t n)
{
	int r = 0;

	if (vl && pos < 12) {
		uint32_t a = MIN(n, 12 - pos);

		r = vmbus_chan_gpadl_write(nv->chan, nv->recv_gpadl, off, f + pos, a);
		off += a;
		pos += a;
		n -= a;
	}
	if (!r && n)
		r = vmbus_chan_gpadl_write(nv->chan, nv->recv_gpadl, off, f + pos + (pos >= 12 ? vl : 0),
					   n);
	return r;
}

/*
 * One coalesced frame of out_len bytes (after tag removal) as RNDIS fragments
 * in consecutive sections, one XFER_PAGES packet. -EAGAIN, -EOPNOTSUPP (more
 * fragments than we allow), or an error of the channel.
 */
static int deliver_rsc(struct netvsp *nv, struct vmbus_chan *out, const uint8_t *f, uint32_t vl,
		       uint32_t out_len, uint32_t csum, uint32_t *ret_frags)
{
	struct vmbus_xfer_range_wire range[NETVSP_RSC_MAX_FRAGS];
	struct vmbus_xfer_hdr_wire xh = { .pageset_id = NVSP_RECV_BUF_ID };
	struct nvsp_rndis_pkt_wire msg = { .type = NVSP_MSG1_SEND_RNDIS_PKT,
					   .channel_type = NVSP_CHANNEL_DATA,
					   .section_index = NVSP_SEND_SECTION_NONE };
	/* Transfer-page header, the ranges, then the NVSP message (full size). */
	uint8_t pkt[sizeof(xh) + sizeof(range) + NVSP_MSG_SIZE];
	uint8_t hdr[RNDIS_RX_HDR_MAX];
	/* Header sizes: the first fragment carries the checksum PPI too. */
	uint32_t h_first = rndis_build_rx_header_frag(hdr, 0, -1, csum, RNDIS_PKTINFO_SUBALLOC);
	uint32_t h_rest = rndis_build_rx_header_frag(hdr, 0, -1, 0, RNDIS_PKTINFO_SUBALLOC);
	uint32_t cap_first = nv->recv_section - h_first, cap_rest = nv->recv_section - h_rest;
	uint32_t k = 1, pos = 0, sec, hlen, rlen;
	int r;

	if (out_len > cap_first)
		k += (out_len - cap_first + cap_rest - 1) / cap_rest;
	/* At most half the guest's sections, so a small receive buffer still
	 * holds two frames in flight (and a run always fits eventually). */
	if (k > NETVSP_RSC_MAX_FRAGS || k > nv->recv_sections / 2)
		return -EOPNOTSUPP;
	r = section_alloc_run(nv, k, &sec);
	if (r)
		return r;
	for (uint32_t i = 0; i < k; i++) {
		uint32_t n = MIN(out_len - pos, i ? cap_rest : cap_first);
		uint32_t flags = RNDIS_PKTINFO_SUBALLOC | (i ? 0 : RNDIS_PKTINFO_FIRST_FRAG) |
				 (i + 1 == k ? RNDIS_PKTINFO_LAST_FRAG : 0);
		uint64_t off = (uint64_t)(sec + i) * nv->recv_section;

		hlen = rndis_build_rx_header_frag(hdr, n, -1, i ? 0 : csum, flags);
		r = vmbus_chan_gpadl_write(nv->chan, nv->recv_gpadl, off, hdr, hlen);
		if (!r)
			r = write_untagged(nv, off + hlen, f, vl, pos, n);
		if (r)
			goto fail;
		range[i].byte_count = hlen + n;
		range[i].byte_offset = (uint32_t)off;
		pos += n;
	}
	xh.range_count = k;
	rlen = k * (uint32_t)sizeof(range[0]);
	memset(pkt, 0, sizeof(pkt));
	memcpy(pkt, &xh, sizeof(xh));
	memcpy(pkt + sizeof(xh), range, rlen);
	memcpy(pkt + sizeof(xh) + rlen, &msg, sizeof(msg));
	r = vmbus_chan_send_hdr(out, VMBUS_PKT_DATA_USING_XFER_PAGES,
				VMBUS_PKT_FLAG_COMPLETION_REQUESTED,
				(NETVSP_XFER_TAG | (k - 1)) << 32 | sec, sizeof(xh) + rlen, pkt,
				sizeof(xh) + rlen + NVSP_MSG_SIZE);
	if (r)
		goto fail;
	*ret_frags = k;
	return 0;
fail:
	for (uint32_t i = 0; i < k; i++)
		section_release(nv, sec + i);
	return r;
}

int netvsp_rx_rsc(struct netvsp *nv, const void *frame, size_t len, uint32_t seg_len)
{
	const uint8_t *f = frame;
	struct vmbus_chan *out;
	uint32_t vl = nv->cfg.vlan ? VLAN_HLEN : 0, csum, frags = 0;
	int r;

	vmbus_server_lock(nv->srv);
	if (!nv->chan || !nv->have_recv || !nv->rndis.initialized) {
		nv->stats.rx_dropped++;
		r = -ENOTCONN;
		goto out;
	}
	/* Not for us to deliver whole: the caller segments and retries. */
	r = -EOPNOTSUPP;
	if (!(nv->rndis.offload_on & RNDIS_OFL_RSC) || len > OFFLOAD_MAX_FRAME ||
	    len < ETH_HLEN + vl || seg_len > nv->rndis.mtu + ETH_HLEN + vl)
		goto out;
	csum = offload_rx_csum_info(f, (uint32_t)len);
	if (!(csum & RNDIS_CSUM_RX_TCP_OK))
		goto out;
	if (vl && !vlan_tag_ours(nv, f)) {
		nv->stats.rx_filtered++;
		r = 0;
		goto out;
	}
	if (!rndis_filter_accepts(&nv->rndis, f, (uint32_t)len)) {
		nv->stats.rx_filtered++;
		r = 0;
		goto out;
	}
	if (nv->ctlq_count) /* control messages first, in order */
		flush_ctl(nv);
	out = rx_chan(nv, f, len);
	r = nv->ctlq_count ? -EAGAIN :
			     deliver_rsc(nv, out, f, vl, (uint32_t)len - vl, csum, &frags);
	if (r == -EAGAIN) {
		nv->stats.rx_no_room++;
		nv->rx_blocked = true;
	} else if (r == -EOPNOTSUPP) {
		/* too many fragments for our sections: segment instead */
	} else if (r) {
		nv->stats.rx_dropped++;
		nv->rndis.rcv_err++;
	} else {
		nv->stats.rx_frames++;
		nv->stats.rx_bytes += len;
		nv->stats.rx_csum_ok++;
		nv->stats.rx_rsc++;
		nv->stats.rx_rsc_frags += frags;
		if (out != nv->chan)
			nv->stats.rx_subchannel++;
		nv->rndis.rcv_ok++;
	}
out:
	vmbus_server_unlock(nv->srv);
	return r;
}

int netvsp_rx(struct netvsp *nv, const void *frame, size_t len)
{
	return netvsp_rx_ex(nv, frame, len, 0);
}

void netvsp_set_link(struct netvsp *nv, bool up)
{
	vmbus_server_lock(nv->srv);
	if (nv->rndis.link_up != up) {
		nv->rndis.link_up = up;
		indicate_link(nv);
	}
	vmbus_server_unlock(nv->srv);
}

void netvsp_get_stats(struct netvsp *nv, struct netvsp_stats *ret)
{
	vmbus_server_lock(nv->srv);
	*ret = nv->stats;
	ret->bad_msgs += nv->rndis.bad_msgs;
	ret->nvsp_version = nv->version;
	ret->rndis_up = nv->chan && nv->have_recv && nv->rndis.initialized;
	ret->packet_filter = nv->rndis.filter;
	ret->link_up = nv->rndis.link_up;
	ret->offloads = nv->rndis.offload_on;
	ret->mtu = nv->rndis.mtu;
	memcpy(ret->mac, nv->rndis.mac, 6);
	vmbus_server_unlock(nv->srv);
}
