// SPDX-License-Identifier: MIT
/*
 * Fake hv_netvsc guest (see nv_guest.h). Follows what Linux 6.1 netvsc.c and
 * rndis_filter.c do on the wire, with the checks they make on host replies.
 */
#include <errno.h>
#include <string.h>

#include "nv_guest.h"
#include "vsp/netvsp/netvsp_proto.h"
#include "vsp/netvsp/rndis_proto.h"

static void ring_peek(struct fg_chan *ch, uint32_t off, void *buf, uint32_t len)
{
	struct vmbus_ring_hdr_wire *h = fg_ring_hdr(ch, true);
	uint8_t *data = (uint8_t *)h + GM_PAGE_SIZE;
	uint32_t size = (ch->recv_pages - 1) * (uint32_t)GM_PAGE_SIZE;

	for (uint32_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = data[(off + i) % size];
}

static void send_xfer_comp(struct nv_guest *g, uint64_t tid, uint32_t status)
{
	struct nvsp_rndis_pkt_complete_wire c = { .type = NVSP_MSG1_SEND_RNDIS_PKT_COMPLETE,
						  .status = status };

	(void)fg_chan_write(&g->ch, VMBUS_PKT_COMP, 0, tid, &c, sizeof(c));
}

/* One host packet; 1 if read, 0 if none. */
static int poll_one(struct nv_guest *g)
{
	struct vmbus_ring_hdr_wire *h = fg_ring_hdr(&g->ch, true);
	uint8_t raw[4096 + 64];
	struct vmbus_pkt_desc_wire d;
	uint16_t type;
	uint64_t tid;
	int n;

	if (__atomic_load_n(&h->write_index, __ATOMIC_ACQUIRE) == h->read_index)
		return 0;
	ring_peek(&g->ch, h->read_index, &d, sizeof(d));
	if (d.len8 * 8u > sizeof(raw))
		return -EPROTO;
	ring_peek(&g->ch, h->read_index, raw, d.len8 * 8u);
	n = fg_chan_read(&g->ch, raw + 4096, 64, &type, &tid);
	if (n < 0)
		return n;
	if (type == VMBUS_PKT_COMP) {
		g->comps++;
		g->last_comp_len = (uint32_t)MIN((uint32_t)n, sizeof(g->last_comp));
		memcpy(g->last_comp, raw + 4096, g->last_comp_len);
		memcpy(&g->last_comp_type, g->last_comp, 4);
		memcpy(&g->last_comp_status, g->last_comp + 4, 4);
		return 1;
	}
	if (type == VMBUS_PKT_DATA_USING_XFER_PAGES) {
		struct vmbus_xfer_hdr_wire xh;
		struct nvsp_rndis_pkt_wire m;
		uint32_t status = NVSP_STAT_SUCCESS;

		memcpy(&xh, raw + 16, sizeof(xh));
		memcpy(&m, raw + d.offset8 * 8u, sizeof(m));
		/* netvsc_receive() checks */
		if (m.type != NVSP_MSG1_SEND_RNDIS_PKT || d.offset8 * 8u < 24 + 8 * xh.range_count ||
		    xh.pageset_id != NVSP_RECV_BUF_ID) {
			g->bad_xfer++;
			status = NVSP_STAT_FAIL;
		}
		for (uint32_t i = 0; status == NVSP_STAT_SUCCESS && i < xh.range_count; i++) {
			struct vmbus_xfer_range_wire rg;
			struct nvg_rx *rx;

			memcpy(&rg, raw + 24 + 8 * i, sizeof(rg));
			if (rg.byte_count > g->sub_alloc ||
			    (uint64_t)rg.byte_offset + rg.byte_count > g->recv_bytes ||
			    rg.byte_count > NVG_MSG_MAX || g->n_rx == NVG_MAX_RX) {
				g->bad_xfer++;
				status = NVSP_STAT_FAIL;
				break;
			}
			rx = &g->rx[g->n_rx++];
			rx->channel_type = m.channel_type;
			rx->len = rg.byte_count;
			memcpy(rx->data, g->fg->ram + g->recv_gpa + rg.byte_offset, rg.byte_count);
		}
		if (g->hold_completions && g->n_held < ARRAY_SIZE(g->held))
			g->held[g->n_held++] = tid;
		else
			send_xfer_comp(g, tid, status);
		return 1;
	}
	g->bad_xfer++;
	return 1;
}

int nvg_poll(struct nv_guest *g)
{
	int n = 0, r;

	while ((r = poll_one(g)) > 0)
		n++;
	return r < 0 ? r : n;
}

void nvg_release_held(struct nv_guest *g)
{
	for (uint32_t i = 0; i < g->n_held; i++)
		send_xfer_comp(g, g->held[i], NVSP_STAT_SUCCESS);
	g->n_held = 0;
	nvg_poll(g);
}

bool nvg_take(struct nv_guest *g, uint32_t rndis_type, struct nvg_rx *ret)
{
	for (uint32_t i = 0; i < g->n_rx; i++) {
		uint32_t t;

		memcpy(&t, g->rx[i].data, 4);
		if (rndis_type && t != rndis_type)
			continue;
		if (ret)
			*ret = g->rx[i];
		memmove(&g->rx[i], &g->rx[i + 1], (g->n_rx - i - 1) * sizeof(g->rx[0]));
		g->n_rx--;
		return true;
	}
	return false;
}

int nvg_open(struct nv_guest *g, struct fake_guest *fg, const struct vmbus_offer_channel_wire *offer,
	     uint32_t ring_pages)
{
	memset(g, 0, sizeof(*g));
	g->fg = fg;
	g->next_tid = 1;
	return fg_open(fg, offer, ring_pages, ring_pages, 0, &g->ch);
}

int nvg_request(struct nv_guest *g, const void *msg, uint32_t len)
{
	uint8_t full[NVSP_MSG_SIZE] = { 0 };
	uint32_t before = g->comps;
	int r;

	memcpy(full, msg, MIN(len, sizeof(full)));
	r = fg_chan_write(&g->ch, VMBUS_PKT_DATA_INBAND, VMBUS_PKT_FLAG_COMPLETION_REQUESTED,
			  g->next_tid++, full, sizeof(full));
	if (r)
		return r;
	r = nvg_poll(g);
	if (r < 0)
		return r;
	return g->comps > before ? 0 : -ETIMEDOUT;
}

int nvg_post(struct nv_guest *g, const void *msg, uint32_t len)
{
	uint8_t full[NVSP_MSG_SIZE] = { 0 };

	memcpy(full, msg, MIN(len, sizeof(full)));
	return fg_chan_write(&g->ch, VMBUS_PKT_DATA_INBAND, 0, VMBUS_RQST_ID_NO_RESPONSE, full,
			     sizeof(full));
}

static int make_gpadl(struct nv_guest *g, uint32_t bytes, uint64_t *ret_gpa, uint32_t *ret_handle)
{
	uint32_t pages = (bytes + 4095) / 4096;
	uint64_t pfns[1024];

	if (pages > ARRAY_SIZE(pfns))
		return -E2BIG;
	*ret_gpa = fg_alloc_pages(g->fg, pages);
	for (uint32_t i = 0; i < pages; i++)
		pfns[i] = (*ret_gpa >> GM_PAGE_SHIFT) + i;
	return fg_gpadl_create(g->fg, g->ch.relid, pfns, pages, ret_handle) ? -EIO : 0;
}

int nvg_connect(struct nv_guest *g, uint32_t max_version, uint32_t recv_bytes, uint32_t send_bytes)
{
	static const uint32_t ladder[] = { NVSP_VERSION_61, NVSP_VERSION_6, NVSP_VERSION_5,
					   NVSP_VERSION_4,  NVSP_VERSION_2, NVSP_VERSION_1 };
	struct nvsp_recv_buf_complete_wire rc;
	struct nvsp_send_buf_complete_wire sc;
	int r;

	g->version = 0;
	for (size_t i = 0; i < ARRAY_SIZE(ladder) && !g->version; i++) {
		struct nvsp_init_wire m = { NVSP_MSG_INIT, ladder[i], ladder[i] };
		struct nvsp_init_complete_wire c;

		if (ladder[i] > max_version)
			continue;
		r = nvg_request(g, &m, sizeof(m));
		if (r)
			return r;
		/* the INIT_COMPLETE length trap: need >= 28 bytes */
		if (g->last_comp_len < 28)
			return -EPROTO;
		memcpy(&c, g->last_comp, sizeof(c));
		if (c.type != NVSP_MSG_INIT_COMPLETE)
			return -EPROTO;
		if (c.status == NVSP_STAT_SUCCESS)
			g->version = ladder[i];
	}
	if (!g->version)
		return -EPROTONOSUPPORT;
	if (g->version >= NVSP_VERSION_2) {
		struct nvsp_ndis_config_wire m = { .type = NVSP_MSG2_SEND_NDIS_CONFIG,
						   .mtu = (g->mtu ? g->mtu : 1500) + 14 };

		if (nvg_post(g, &m, sizeof(m)))
			return -EIO;
	}
	{
		struct nvsp_ndis_version_wire m = { NVSP_MSG1_SEND_NDIS_VER, 6,
						    g->version >= NVSP_VERSION_5 ? 30 : 1 };

		if (nvg_post(g, &m, sizeof(m)))
			return -EIO;
	}
	g->recv_bytes = recv_bytes;
	r = make_gpadl(g, recv_bytes, &g->recv_gpa, &g->recv_gpadl);
	if (r)
		return r;
	{
		struct nvsp_send_buf_wire m = { NVSP_MSG1_SEND_RECV_BUF, g->recv_gpadl,
						NVSP_RECV_BUF_ID, 0 };

		r = nvg_request(g, &m, sizeof(m));
		if (r)
			return r;
	}
	memcpy(&rc, g->last_comp, sizeof(rc));
	if (rc.type != NVSP_MSG1_SEND_RECV_BUF_COMPLETE || rc.status != NVSP_STAT_SUCCESS ||
	    rc.num_sections != 1 || rc.section.offset != 0 || rc.section.sub_alloc_size < 68 ||
	    (uint64_t)rc.section.sub_alloc_size * rc.section.num_sub_allocs > recv_bytes)
		return -EPROTO;
	g->sub_alloc = rc.section.sub_alloc_size;
	g->num_sub = rc.section.num_sub_allocs;
	g->send_bytes = send_bytes;
	r = make_gpadl(g, send_bytes, &g->send_gpa, &g->send_gpadl);
	if (r)
		return r;
	{
		struct nvsp_send_buf_wire m = { NVSP_MSG1_SEND_SEND_BUF, g->send_gpadl, 0, 0 };

		r = nvg_request(g, &m, sizeof(m));
		if (r)
			return r;
	}
	memcpy(&sc, g->last_comp, sizeof(sc));
	if (sc.type != NVSP_MSG1_SEND_SEND_BUF_COMPLETE || sc.status != NVSP_STAT_SUCCESS ||
	    sc.section_size < 68)
		return -EPROTO;
	g->send_section = sc.section_size;
	return 0;
}

/* Write a GPA-direct packet by hand: one range over the bytes at gpa. */
static int write_gpa_direct(struct nv_guest *g, const struct nvsp_rndis_pkt_wire *m, uint64_t gpa,
			    uint32_t len)
{
	struct vmbus_ring_hdr_wire *h = fg_ring_hdr(&g->ch, false);
	uint8_t *data = (uint8_t *)h + GM_PAGE_SIZE;
	uint32_t size = (g->ch.send_pages - 1) * (uint32_t)GM_PAGE_SIZE;
	uint8_t pkt[512] = { 0 };
	uint32_t npfn = (uint32_t)((gpa % 4096 + len + 4095) / 4096), hdr, total, wr, rd, used;
	struct vmbus_pkt_desc_wire d;
	struct vmbus_gpa_direct_hdr_wire gh = { 0, 1 };
	struct vmbus_gpa_range_wire rg = { len, (uint32_t)(gpa % 4096) };
	uint64_t trailer;

	if (npfn > 32)
		return -E2BIG;
	hdr = 16 + 8 + 8 + 8 * npfn;
	total = hdr + NVSP_MSG_SIZE;
	d = (struct vmbus_pkt_desc_wire){ .type = VMBUS_PKT_DATA_USING_GPA_DIRECT,
					  .offset8 = (uint16_t)(hdr / 8),
					  .len8 = (uint16_t)(total / 8),
					  .flags = VMBUS_PKT_FLAG_COMPLETION_REQUESTED,
					  .trans_id = g->next_tid++ };
	memcpy(pkt, &d, 16);
	memcpy(pkt + 16, &gh, 8);
	memcpy(pkt + 24, &rg, 8);
	for (uint32_t i = 0; i < npfn; i++) {
		uint64_t pfn = gpa / 4096 + i;

		memcpy(pkt + 32 + 8 * i, &pfn, 8);
	}
	memcpy(pkt + hdr, m, sizeof(*m));
	wr = h->write_index;
	rd = __atomic_load_n(&h->read_index, __ATOMIC_ACQUIRE);
	used = wr >= rd ? wr - rd : size - rd + wr;
	if (size - used <= total + 8)
		return -EAGAIN;
	trailer = (uint64_t)wr << 32;
	for (uint32_t i = 0; i < total; i++)
		data[(wr + i) % size] = pkt[i];
	for (uint32_t i = 0; i < 8; i++)
		data[(wr + total + i) % size] = ((uint8_t *)&trailer)[i];
	__atomic_store_n(&h->write_index, (wr + total + 8) % size, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&h->interrupt_mask, __ATOMIC_SEQ_CST) && rd == wr)
		(void)vmbus_server_signal_event(g->fg->srv, 0, g->ch.conn_id, 0);
	fg_run_host(g->fg);
	return 0;
}

int nvg_send_rndis(struct nv_guest *g, const void *msg, uint32_t len, uint32_t channel_type,
		   bool gpa_direct)
{
	struct nvsp_rndis_pkt_wire m = { NVSP_MSG1_SEND_RNDIS_PKT, channel_type,
					 NVSP_SEND_SECTION_NONE, 0 };
	uint32_t before = g->comps;
	int r;

	if (gpa_direct) {
		/* a scratch area in the send buffer's last section, unaligned on purpose */
		uint64_t gpa = g->send_gpa + g->send_bytes - 2 * 4096 - 100;

		if (len > 8192) {
			/* LSO-sized: the start of the send buffer (unused on this path) */
			if ((uint64_t)len + 100 > g->send_bytes)
				return -E2BIG;
			gpa = g->send_gpa + 100;
		}
		memcpy(g->fg->ram + gpa, msg, len);
		r = write_gpa_direct(g, &m, gpa, len);
	} else {
		uint8_t full[NVSP_MSG_SIZE] = { 0 };

		if (len > g->send_section)
			return -E2BIG;
		memcpy(g->fg->ram + g->send_gpa, msg, len); /* section 0 */
		m.section_index = 0;
		m.section_size = len;
		memcpy(full, &m, sizeof(m));
		r = fg_chan_write(&g->ch, VMBUS_PKT_DATA_INBAND, VMBUS_PKT_FLAG_COMPLETION_REQUESTED,
				  g->next_tid++, full, sizeof(full));
	}
	if (r)
		return r;
	r = nvg_poll(g);
	if (r < 0)
		return r;
	if (g->comps == before || g->last_comp_type != NVSP_MSG1_SEND_RNDIS_PKT_COMPLETE)
		return -ETIMEDOUT;
	return (int)g->last_comp_status;
}

static int ctl(struct nv_guest *g, uint32_t type, uint32_t oid, const void *in, uint32_t in_len,
	       struct nvg_rx *ret)
{
	uint8_t msg[1024] = { 0 };
	struct rndis_hdr_wire h = { type, (uint32_t)(8 + sizeof(struct rndis_query_wire)) + in_len };
	struct rndis_query_wire q = { ++g->req_id, oid, in_len, in_len ? 20 : 0, 0 };
	uint32_t want = type | RNDIS_MSG_COMPLETION;
	int r;

	if (in_len > sizeof(msg) - 28)
		return -E2BIG;
	memcpy(msg, &h, 8);
	memcpy(msg + 8, &q, sizeof(q));
	if (in_len)
		memcpy(msg + 28, in, in_len);
	r = nvg_send_rndis(g, msg, h.len, NVSP_CHANNEL_CONTROL, true);
	if (r != NVSP_STAT_SUCCESS)
		return r < 0 ? r : -EPROTO;
	return nvg_take(g, want, ret) ? 0 : -ENOMSG;
}

int nvg_query(struct nv_guest *g, uint32_t oid, const void *in, uint32_t in_len, struct nvg_rx *ret)
{
	return ctl(g, RNDIS_MSG_QUERY, oid, in, in_len, ret);
}

int nvg_set(struct nv_guest *g, uint32_t oid, const void *in, uint32_t in_len, struct nvg_rx *ret)
{
	return ctl(g, RNDIS_MSG_SET, oid, in, in_len, ret);
}

/* rndis_filter_query_device() checks on a QUERY_C. */
int nvg_query_value(struct nv_guest *g, uint32_t oid, const void *in, uint32_t in_len,
		       void *out, uint32_t *io_len)
{
	struct nvg_rx rx;
	struct rndis_query_c_wire c;
	int r = nvg_query(g, oid, in, in_len, &rx);

	if (r)
		return r;
	memcpy(&c, rx.data + 8, sizeof(c));
	if (c.req_id != g->req_id)
		return -EPROTO;
	if (c.status)
		return -EIO;
	if (c.info_buf_offset < 16 || c.info_buflen > *io_len ||
	    (uint64_t)8 + c.info_buf_offset + c.info_buflen > rx.len)
		return -EPROTO;
	memcpy(out, rx.data + 8 + c.info_buf_offset, c.info_buflen);
	*io_len = c.info_buflen;
	return 0;
}

int nvg_probe(struct nv_guest *g, uint8_t mac[6])
{
	uint8_t msg[32] = { 0 }, buf[512];
	struct rndis_hdr_wire h = { RNDIS_MSG_INIT, 24 };
	struct rndis_init_wire init = { ++g->req_id, 1, 0, 0x4000 };
	struct rndis_init_c_wire ic;
	struct nvg_rx rx;
	uint32_t n;

	memcpy(msg, &h, 8);
	memcpy(msg + 8, &init, sizeof(init));
	if (nvg_send_rndis(g, msg, 24, NVSP_CHANNEL_CONTROL, true) != NVSP_STAT_SUCCESS ||
	    !nvg_take(g, RNDIS_MSG_INIT_C, &rx))
		return 1;
	memcpy(&ic, rx.data + 8, sizeof(ic));
	if (ic.req_id != init.req_id || ic.status != 0)
		return 1;
	n = 4;
	if (nvg_query_value(g, OID_GEN_MAXIMUM_FRAME_SIZE, NULL, 0, buf, &n))
		return 2;
	n = 6;
	if (nvg_query_value(g, OID_802_3_PERMANENT_ADDRESS, NULL, 0, mac, &n) || n != 6)
		return 3;
	n = 512;
	(void)nvg_query_value(g, OID_GEN_FRIENDLY_NAME, NULL, 0, buf, &n);
	{
		struct ndis_object_header_wire oh = { NDIS_OBJECT_TYPE_OFFLOAD,
						      g->version >= NVSP_VERSION_5 ? 3 : 1,
						      g->version >= NVSP_VERSION_5 ? 156 : 112 };
		struct ndis_object_header_wire rh;

		n = 156;
		if (nvg_query_value(g, OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, &oh, sizeof(oh), buf, &n))
			return 5;
		memcpy(&rh, buf, sizeof(rh));
		if (rh.type != NDIS_OBJECT_TYPE_OFFLOAD || rh.revision < 1 || rh.size < 112 ||
		    rh.size > n)
			return 5;
	}
	{
		uint8_t p[28] = { NDIS_OBJECT_TYPE_DEFAULT, 3, 28, 0, 1 };
		struct rndis_set_c_wire sc;

		/* Linux starts with LRO on: RSC is switched on when offered
		 * (struct ndis_offload: rsc.ip4 and rsc.ip6 at bytes 144, 145). */
		if (n >= 146 && buf[144] && buf[145])
			p[22] = p[23] = 2;

		if (nvg_set(g, OID_TCP_OFFLOAD_PARAMETERS, p, g->version >= NVSP_VERSION_5 ? 28 : 22,
			    &rx))
			return 6;
		memcpy(&sc, rx.data + 8, sizeof(sc));
		if (sc.status)
			return 6;
	}
	n = 4;
	if (nvg_query_value(g, OID_GEN_MEDIA_CONNECT_STATUS, NULL, 0, buf, &n))
		return 7;
	if (g->version >= NVSP_VERSION_5) {
		uint8_t rss[18] = { NDIS_OBJECT_TYPE_RSS_CAPABILITIES, 2, 18 };

		n = 4;
		(void)nvg_query_value(g, OID_GEN_LINK_SPEED, NULL, 0, buf, &n);
		n = 18;
		(void)nvg_query_value(g, OID_GEN_RECEIVE_SCALE_CAPABILITIES, rss, sizeof(rss), buf, &n);
	}
	{
		uint32_t filter = NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_ALL_MULTICAST |
				  NDIS_PACKET_TYPE_BROADCAST;

		if (nvg_set(g, OID_GEN_CURRENT_PACKET_FILTER, &filter, 4, &rx))
			return 10;
	}
	return 0;
}

int nvg_send_frame(struct nv_guest *g, const void *frame, uint32_t len, int vlan_tci,
		   bool gpa_direct)
{
	uint8_t msg[2048] = { 0 };
	struct rndis_packet_wire p = { 0 };
	uint32_t off = 8 + sizeof(p);
	struct rndis_hdr_wire h;

	if (vlan_tci >= 0) {
		struct rndis_ppi_wire ppi = { 16, RNDIS_PPI_VLAN, 12 };
		uint32_t t = (uint32_t)vlan_tci;
		uint32_t v = (t >> 13 & 7u) | (t >> 12 & 1u) << 3 | (t & 0xFFFu) << 4;

		p.ppi_offset = sizeof(p);
		p.ppi_len = 16;
		memcpy(msg + off, &ppi, 12);
		memcpy(msg + off + 12, &v, 4);
		off += 16;
	}
	if (off + len > sizeof(msg))
		return -E2BIG;
	p.data_offset = off - 8;
	p.data_len = len;
	memcpy(msg + off, frame, len);
	h.type = RNDIS_MSG_PACKET;
	h.len = (uint32_t)ALIGN_UP(off + len, 8); /* padded as the guest batches */
	memcpy(msg, &h, 8);
	memcpy(msg + 8, &p, sizeof(p));
	return nvg_send_rndis(g, msg, h.len, NVSP_CHANNEL_DATA, gpa_direct);
}
