// SPDX-License-Identifier: MIT
/*
 * netvsp tests without KVM: RNDIS control and packet parsing as tables
 * (rndis.c alone), then the whole VSP over the real hv + VMBus server
 * against a fake hv_netvsc guest (nv_guest.c): the NVSP version ladder, the
 * Linux probe sequence, both data directions with send sections and
 * GPA-direct ranges, VLAN, packet filter, back-pressure, link indications,
 * hostile NVSP/RNDIS input, and the TAP back-end over a socketpair.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nv_guest.h"
#include "t.h"
#include "vsp/netvsp/netvsp.h"
#include "vsp/netvsp/netvsp_proto.h"
#include "vsp/netvsp/offload.h"
#include "vsp/netvsp/rndis.h"
#include "vsp/netvsp/rss.h"
#include "vsp/netvsp/tap.h"

#define RAM (24 * 1024 * 1024)
#define RECV_BYTES (64 * 1024)   /* 37 sections of 1728 */
#define SEND_BYTES (64 * 1024)

static const uint8_t MAC[6] = { 0x02, 0x6f, 0x68, 0x00, 0x00, 0x01 };

/* ---- RNDIS tables ---- */

/* Table checks name the row they are about. */
#define ROW_EQ(a, b)                                                                     \
	do {                                                                             \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                         \
		T_CHECK_(false, a_ == b_, "row '%s': %s == %s: 0x%llx vs 0x%llx", row->name, \
			 #a, #b, (unsigned long long)a_, (unsigned long long)b_);        \
	} while (0)

struct ctl_row {
	const char *name;
	uint32_t type, oid, in_len, in_off; /* in_off 0 = 20 */
	uint32_t hdr_len_delta;             /* added to the header's msg_len */
	uint8_t in[32];
	int want_r;
	uint32_t want_type;                 /* 0 = no response */
	uint32_t want_status;
	uint32_t want_buflen;
};

static const struct ctl_row ctl_rows[] = {
	{ "init", RNDIS_MSG_INIT, 0, 8, 0, 0, { 0 }, 0, RNDIS_MSG_INIT_C, 0, 0 },
	{ "query mac", RNDIS_MSG_QUERY, OID_802_3_PERMANENT_ADDRESS, 0, 0, 0, { 0 }, 0,
	  RNDIS_MSG_QUERY_C, 0, 6 },
	{ "query current mac", RNDIS_MSG_QUERY, OID_802_3_CURRENT_ADDRESS, 0, 0, 0, { 0 }, 0,
	  RNDIS_MSG_QUERY_C, 0, 6 },
	{ "query frame size", RNDIS_MSG_QUERY, OID_GEN_MAXIMUM_FRAME_SIZE, 0, 0, 0, { 0 }, 0,
	  RNDIS_MSG_QUERY_C, 0, 4 },
	{ "query link", RNDIS_MSG_QUERY, OID_GEN_MEDIA_CONNECT_STATUS, 0, 0, 0, { 0 }, 0,
	  RNDIS_MSG_QUERY_C, 0, 4 },
	{ "query speed", RNDIS_MSG_QUERY, OID_GEN_LINK_SPEED, 0, 0, 0, { 0 }, 0, RNDIS_MSG_QUERY_C, 0,
	  4 },
	{ "query offload rev3", RNDIS_MSG_QUERY, OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, 4, 0, 0,
	  { 0xA7, 3, 156, 0 }, 0, RNDIS_MSG_QUERY_C, 0, 156 },
	{ "query offload rev1", RNDIS_MSG_QUERY, OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, 4, 0, 0,
	  { 0xA7, 1, 112, 0 }, 0, RNDIS_MSG_QUERY_C, 0, 112 },
	{ "query rss caps", RNDIS_MSG_QUERY, OID_GEN_RECEIVE_SCALE_CAPABILITIES, 4, 0, 0,
	  { 0x88, 2, 18, 0 }, 0, RNDIS_MSG_QUERY_C, RNDIS_STATUS_NOT_SUPPORTED, 0 },
	{ "query unknown", RNDIS_MSG_QUERY, 0x12345678, 0, 0, 0, { 0 }, 0, RNDIS_MSG_QUERY_C,
	  RNDIS_STATUS_NOT_SUPPORTED, 0 },
	{ "query friendly name", RNDIS_MSG_QUERY, OID_GEN_FRIENDLY_NAME, 0, 0, 0, { 0 }, 0,
	  RNDIS_MSG_QUERY_C, 0, 32 },
	{ "query input outside", RNDIS_MSG_QUERY, OID_GEN_LINK_SPEED, 4, 200, 0, { 0 }, -EPROTO,
	  RNDIS_MSG_QUERY_C, RNDIS_STATUS_INVALID_DATA, 0 },
	{ "query input inside header", RNDIS_MSG_QUERY, OID_GEN_LINK_SPEED, 4, 4, 0, { 0 },
	  -EPROTO, RNDIS_MSG_QUERY_C, RNDIS_STATUS_INVALID_DATA, 0 },
	{ "query buflen huge", RNDIS_MSG_QUERY, OID_GEN_LINK_SPEED, 0xFFFFFFF0u, 20, 0, { 0 },
	  -EPROTO, RNDIS_MSG_QUERY_C, RNDIS_STATUS_INVALID_DATA, 0 },
	{ "set filter", RNDIS_MSG_SET, OID_GEN_CURRENT_PACKET_FILTER, 4, 0, 0, { 0x0d }, 0,
	  RNDIS_MSG_SET_C, 0, 0 },
	{ "set filter short", RNDIS_MSG_SET, OID_GEN_CURRENT_PACKET_FILTER, 3, 0, 0, { 0x0d }, 0,
	  RNDIS_MSG_SET_C, RNDIS_STATUS_INVALID_DATA, 0 },
	{ "set offload params", RNDIS_MSG_SET, OID_TCP_OFFLOAD_PARAMETERS, 28, 0, 0,
	  { 0x80, 3, 28, 0, 1 }, 0, RNDIS_MSG_SET_C, 0, 0 },
	{ "set offload params v4", RNDIS_MSG_SET, OID_TCP_OFFLOAD_PARAMETERS, 22, 0, 0,
	  { 0x80, 3, 22, 0, 1 }, 0, RNDIS_MSG_SET_C, 0, 0 },
	{ "set offload params short", RNDIS_MSG_SET, OID_TCP_OFFLOAD_PARAMETERS, 8, 0, 0,
	  { 0x80, 3, 8 }, 0, RNDIS_MSG_SET_C, RNDIS_STATUS_INVALID_DATA, 0 },
	{ "set offload params bad type", RNDIS_MSG_SET, OID_TCP_OFFLOAD_PARAMETERS, 28, 0, 0,
	  { 0x81, 3, 28 }, 0, RNDIS_MSG_SET_C, RNDIS_STATUS_INVALID_DATA, 0 },
	{ "set config parameter short", RNDIS_MSG_SET, OID_GEN_RNDIS_CONFIG_PARAMETER, 8, 0, 0,
	  { 0 }, 0, RNDIS_MSG_SET_C, RNDIS_STATUS_INVALID_DATA, 0 },
	{ "set config parameter name outside", RNDIS_MSG_SET, OID_GEN_RNDIS_CONFIG_PARAMETER, 20, 0,
	  0, { 200, 0, 0, 0, 28, 0, 0, 0, 2 }, 0, RNDIS_MSG_SET_C, RNDIS_STATUS_INVALID_DATA, 0 },
	{ "set offload params not offered", RNDIS_MSG_SET, OID_TCP_OFFLOAD_PARAMETERS, 28, 0, 0,
	  { 0x80, 3, 28, 0, 1, 4 }, 0, RNDIS_MSG_SET_C, RNDIS_STATUS_INVALID_DATA, 0 },
	{ "set offload params ip csum", RNDIS_MSG_SET, OID_TCP_OFFLOAD_PARAMETERS, 28, 0, 0,
	  { 0x80, 3, 28, 0, 2 }, 0, RNDIS_MSG_SET_C, RNDIS_STATUS_INVALID_DATA, 0 },
	{ "set offload params disable all", RNDIS_MSG_SET, OID_TCP_OFFLOAD_PARAMETERS, 28, 0, 0,
	  { 0x80, 3, 28, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1 }, 0, RNDIS_MSG_SET_C, 0, 0 },
	{ "set multicast list", RNDIS_MSG_SET, OID_802_3_MULTICAST_LIST, 6, 0, 0, { 1 }, 0,
	  RNDIS_MSG_SET_C, 0, 0 },
	{ "keepalive", RNDIS_MSG_KEEPALIVE, 0, 0, 0, 0, { 0 }, 0, RNDIS_MSG_KEEPALIVE_C, 0, 0 },
	{ "reset", RNDIS_MSG_RESET, 0, 0, 0, 0, { 0 }, 0, RNDIS_MSG_RESET_C, 0, 0 },
	{ "halt", RNDIS_MSG_HALT, 0, 0, 0, 0, { 0 }, 0, 0, 0, 0 },
	{ "length mismatch", RNDIS_MSG_QUERY, OID_GEN_LINK_SPEED, 0, 0, 4, { 0 }, -EPROTO, 0, 0, 0 },
	{ "not a request", RNDIS_MSG_INDICATE, 0, 0, 0, 0, { 0 }, -ENOTSUP, 0, 0, 0 },
};

static void test_rndis_control_table(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(ctl_rows); i++) {
		const struct ctl_row *row = &ctl_rows[i];
		struct rndis_state st = { .mtu = 1500, .link_speed = 100000000, .link_up = true };
		uint8_t msg[128] = { 0 }, out[RNDIS_RESP_MAX];
		struct rndis_hdr_wire h = { row->type, 28 + (row->in_len < 64 ? row->in_len : 0) };
		struct rndis_query_wire q = { 77, row->oid, row->in_len,
					      row->in_off ? row->in_off : 20, 0 };
		uint32_t rlen = 0xdead, type = 0, status = 0, buflen = 0, req = 0;
		int r;

		memcpy(st.mac, MAC, 6);
		if (row->type == RNDIS_MSG_INIT || row->type == RNDIS_MSG_KEEPALIVE ||
		    row->type == RNDIS_MSG_HALT || row->type == RNDIS_MSG_RESET) {
			struct rndis_init_wire in = { 77, 1, 0, 0x4000 };

			h.len = row->type == RNDIS_MSG_INIT ? 24 : 12;
			memcpy(msg + 8, &in, sizeof(in));
		} else {
			memcpy(msg + 8, &q, sizeof(q));
			if (row->in_len < 64)
				memcpy(msg + 28, row->in, MIN(row->in_len, sizeof(row->in)));
		}
		h.len += row->hdr_len_delta;
		memcpy(msg, &h, 8);
		r = rndis_control(&st, msg, h.len - row->hdr_len_delta, out, &rlen);
		ROW_EQ(r, row->want_r);
		if (row->want_type) {
			ROW_EQ(rlen >= 16, 1);
			memcpy(&type, out, 4);
			memcpy(&req, out + 8, 4);
			memcpy(&status, out + 12, 4);
			ROW_EQ(type, row->want_type);
			if (type != RNDIS_MSG_RESET_C) {
				ROW_EQ(req, 77);
				ROW_EQ(status, row->want_status);
			}
			if (type == RNDIS_MSG_QUERY_C) {
				uint32_t off;

				memcpy(&buflen, out + 16, 4);
				memcpy(&off, out + 20, 4);
				ROW_EQ(buflen, row->want_buflen);
				ROW_EQ(off, 16);
				ROW_EQ(rlen, 8 + 16 + buflen);
			}
		} else {
			ROW_EQ(rlen, 0);
		}
	}
}

struct pkt_row {
	const char *name;
	uint32_t data_off, data_len, ppi_off, ppi_len;
	uint32_t ppi_size, ppi_type, ppi_inner_off, ppi_val;
	uint32_t msg_len;
	int want;
	bool want_vlan;
	uint16_t want_tci;
};

static const struct pkt_row pkt_rows[] = {
	{ "plain", 36, 60, 0, 0, 0, 0, 0, 0, 104, 0, false, 0 },
	{ "vlan ppi", 52, 60, 36, 16, 16, RNDIS_PPI_VLAN, 12, 5u << 4 | 3u | 1u << 3, 120, 0, true,
	  3u << 13 | 1u << 12 | 5 },
	{ "csum ppi", 52, 60, 36, 16, 16, RNDIS_PPI_CHECKSUM, 12, 1, 120, 0, false, 0 },
	{ "internal ppi skipped", 52, 60, 36, 16, 16, RNDIS_PPI_INTERNAL | 1, 12, 1, 120, 0, false,
	  0 },
	{ "data past end", 36, 61, 0, 0, 0, 0, 0, 0, 104, -EPROTO, false, 0 },
	{ "data in header", 20, 60, 0, 0, 0, 0, 0, 0, 104, -EPROTO, false, 0 },
	{ "data empty", 36, 0, 0, 0, 0, 0, 0, 0, 104, -EPROTO, false, 0 },
	{ "data offset wraps", 0xFFFFFFF0u, 0x20, 0, 0, 0, 0, 0, 0, 104, -EPROTO, false, 0 },
	{ "ppi past end", 52, 60, 36, 100, 16, RNDIS_PPI_VLAN, 12, 0, 120, -EPROTO, false, 0 },
	{ "ppi size 0", 52, 60, 36, 16, 0, RNDIS_PPI_VLAN, 12, 0, 120, -EPROTO, false, 0 },
	{ "ppi size past area", 52, 60, 36, 16, 20, RNDIS_PPI_VLAN, 12, 0, 120, -EPROTO, false, 0 },
	{ "ppi inner offset > size", 52, 60, 36, 16, 16, RNDIS_PPI_VLAN, 17, 0, 120, -EPROTO, false,
	  0 },
	{ "ppi inner offset < 12", 52, 60, 36, 16, 16, RNDIS_PPI_VLAN, 4, 0, 120, -EPROTO, false, 0 },
	{ "too short", 36, 60, 0, 0, 0, 0, 0, 0, 40, -EPROTO, false, 0 },
};

static void test_rndis_packet_table(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(pkt_rows); i++) {
		const struct pkt_row *row = &pkt_rows[i];
		uint8_t msg[256] = { 0 };
		struct rndis_hdr_wire h = { RNDIS_MSG_PACKET, row->msg_len };
		struct rndis_packet_wire p = { .data_offset = row->data_off,
					       .data_len = row->data_len,
					       .ppi_offset = row->ppi_off,
					       .ppi_len = row->ppi_len };
		struct rndis_ppi_wire ppi = { row->ppi_size, row->ppi_type, row->ppi_inner_off };
		struct rndis_tx_info ti;
		int r;

		memcpy(msg, &h, 8);
		memcpy(msg + 8, &p, sizeof(p));
		if (row->ppi_len) {
			memcpy(msg + 44, &ppi, sizeof(ppi));
			memcpy(msg + 56, &row->ppi_val, 4);
		}
		r = rndis_parse_packet(msg, row->msg_len, &ti);
		ROW_EQ(r, row->want);
		if (!r) {
			ROW_EQ(ti.data_off, 8 + row->data_off);
			ROW_EQ(ti.data_len, row->data_len);
			ROW_EQ(ti.has_vlan, row->want_vlan);
			if (row->want_vlan)
				ROW_EQ(ti.vlan_tci, row->want_tci);
		}
	}
}

static void test_rx_header_roundtrip(void)
{
	uint8_t msg[256] = { 0 };
	struct rndis_tx_info ti;
	uint32_t hl = rndis_build_rx_header(msg, 60, 0x2005);

	T_ASSERT_EQ(hl, RNDIS_RX_HDR_LEN_VLAN);
	T_ASSERT_EQ(rndis_parse_packet(msg, hl + 60, &ti), 0);
	T_EXPECT_EQ(ti.data_off, hl);
	T_EXPECT_EQ(ti.data_len, 60);
	T_EXPECT(ti.has_vlan);
	T_EXPECT_EQ(ti.vlan_tci, 0x2005);
	hl = rndis_build_rx_header(msg, 1514, -1);
	T_EXPECT_EQ(hl, RNDIS_RX_HDR_LEN);
}

static void test_packet_filter_table(void)
{
	static const struct {
		uint32_t filter;
		uint8_t dst[6];
		bool want;
	} rows[] = {
		{ 0x0D, { 0x02, 0x6f, 0x68, 0, 0, 1 }, true },
		{ 0x0D, { 0x02, 0x6f, 0x68, 0, 0, 2 }, false },
		{ 0x0D, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, true },
		{ 0x0D, { 0x33, 0x33, 0, 0, 0, 1 }, true },
		{ 0x01, { 0x33, 0x33, 0, 0, 0, 1 }, false },
		{ 0x01, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, false },
		{ 0x20, { 0x02, 0x6f, 0x68, 0, 0, 2 }, true },
		{ 0x00, { 0x02, 0x6f, 0x68, 0, 0, 1 }, false },
	};
	struct rndis_state st = { 0 };
	uint8_t f[60] = { 0 };

	memcpy(st.mac, MAC, 6);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		st.filter = rows[i].filter;
		memcpy(f, rows[i].dst, 6);
		T_EXPECT_EQ(rndis_filter_accepts(&st, f, sizeof(f)), rows[i].want);
	}
	st.filter = 0x20;
	T_EXPECT(!rndis_filter_accepts(&st, f, 13));
}

/* ---- the VSP against the fake netvsc guest ---- */

struct env {
	struct fake_guest *fg;
	struct netvsp *nv;
	struct nv_guest g;
	struct vmbus_offer_channel_wire offer;
	uint8_t tx[16][2048];
	uint32_t tx_len[16];
	uint32_t n_tx;
	uint32_t rx_room;
	int tx_fail;
	struct netvsp_vnet_hdr_wire vh[16];
	uint8_t *big;                   /* last frame over 2048 bytes */
	uint32_t big_len;
	uint32_t mtu_set;
};

static int fake_tx(void *o, const void *frame, size_t len)
{
	struct env *e = o;

	if (e->tx_fail)
		return e->tx_fail;
	if (e->n_tx < 16 && len <= 2048) {
		memcpy(e->tx[e->n_tx], frame, len);
		e->tx_len[e->n_tx] = (uint32_t)len;
	}
	e->n_tx++;
	return 0;
}

static int fake_tx_offload(void *o, const struct netvsp_vnet_hdr_wire *h, const void *frame,
			   size_t len)
{
	struct env *e = o;

	if (e->n_tx < 16)
		e->vh[e->n_tx] = *h;
	if (len > 2048 && !e->tx_fail) {
		free(e->big);
		e->big = malloc(len);
		if (e->big)
			memcpy(e->big, frame, len);
		e->big_len = (uint32_t)len;
	}
	return fake_tx(o, frame, len);
}

static int fake_set_mtu(void *o, uint32_t mtu)
{
	((struct env *)o)->mtu_set = mtu;
	return 0;
}

static void fake_rx_room(void *o)
{
	((struct env *)o)->rx_room++;
}

/* flags for env_up_ex */
#define ENV_OFFLOAD 1u
#define ENV_SPOOF_OK 2u
#define ENV_RSC 4u
#define ENV_VRSS 8u /* four queues */

static void env_up_ex(struct env *e, uint16_t vlan, unsigned int flags)
{
	struct netvsp_config cfg = { .vlan = vlan, .allow_mac_spoofing = flags & ENV_SPOOF_OK,
				     .queues = flags & ENV_VRSS ? 4 : 1 };
	struct netvsp_backend be = { .tx = fake_tx, .rx_room = fake_rx_room, .opaque = e,
				     .tx_offload = flags & ENV_OFFLOAD ? fake_tx_offload : NULL,
				     .rx_rsc = flags & ENV_RSC, .set_mtu = fake_set_mtu };
	static const uint8_t inst[16] = { 0x6f, 0x68, 0x76, 0, 0x6e, 0x65, 0x74, 0x40, 0x80 };
	static const uint8_t cls[16] = NETVSP_CLASS_GUID;

	memset(e, 0, sizeof(*e));
	memcpy(cfg.mac, MAC, 6);
	T_ASSERT_EQ(fg_new(1, RAM, &e->fg), 0);
	T_ASSERT_EQ(fg_boot(e->fg), 0);
	T_ASSERT_EQ(netvsp_new(e->fg->srv, e->fg->gm, &cfg, inst, &be, &e->nv), 0);
	T_ASSERT_EQ(fg_connect(e->fg), VMBUS_VERSION_WIN10_V5_3);
	T_ASSERT_EQ(fg_request_offers(e->fg, &e->offer, 1), 1);
	T_ASSERT(!memcmp(e->offer.if_type, cls, 16));
	T_ASSERT_EQ(nvg_open(&e->g, e->fg, &e->offer, 64), 0);
}

static void env_up(struct env *e, uint16_t vlan)
{
	env_up_ex(e, vlan, 0);
}

static void env_probe(struct env *e, uint32_t max_version)
{
	uint8_t mac[6];

	T_ASSERT_EQ(nvg_connect(&e->g, max_version, RECV_BYTES, SEND_BYTES), 0);
	T_ASSERT_EQ(nvg_probe(&e->g, mac), 0);
	T_EXPECT(!memcmp(mac, MAC, 6));
}

static void env_down(struct env *e)
{
	free(e->big);
	netvsp_free(e->nv);
	fg_free(e->fg);
}

static void make_frame(uint8_t *f, uint32_t len, const uint8_t dst[6], uint8_t seed)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, MAC, 6); /* the NIC's own address: spoofing protection is on */
	f[12] = 0x08;
	f[13] = 0x00;
	for (uint32_t i = 14; i < len; i++)
		f[i] = (uint8_t)(seed + i * 7);
}

static void test_version_ladder_and_probe(void)
{
	static const uint32_t versions[] = { NVSP_VERSION_61, NVSP_VERSION_6, NVSP_VERSION_5,
					     NVSP_VERSION_4, NVSP_VERSION_2, NVSP_VERSION_1 };

	for (size_t i = 0; i < ARRAY_SIZE(versions); i++) {
		struct env e;
		struct netvsp_stats st;

		env_up(&e, 0);
		env_probe(&e, versions[i]);
		T_EXPECT_EQ(e.g.version, versions[i]);
		T_EXPECT_EQ(e.g.sub_alloc, NETVSP_RECV_SECTION_SIZE);
		T_EXPECT_EQ(e.g.num_sub, RECV_BYTES / NETVSP_RECV_SECTION_SIZE);
		T_EXPECT_EQ(e.g.send_section, NETVSP_SEND_SECTION_SIZE);
		T_EXPECT_EQ(e.g.bad_xfer, 0);
		netvsp_get_stats(e.nv, &st);
		T_EXPECT_EQ(st.nvsp_version, versions[i]);
		T_EXPECT(st.rndis_up);
		T_EXPECT_EQ(st.packet_filter, 0x0D);
		T_EXPECT_EQ(st.bad_msgs, 0);
		env_down(&e);
	}
}

static void test_init_refused_outside_range(void)
{
	struct env e;
	struct nvsp_init_wire m = { NVSP_MSG_INIT, 0x00070000, 0x00070000 };
	struct nvsp_init_complete_wire c;

	env_up(&e, 0);
	T_ASSERT_EQ(nvg_request(&e.g, &m, sizeof(m)), 0);
	T_EXPECT_EQ(e.g.last_comp_len, NVSP_MSG_SIZE);
	memcpy(&c, e.g.last_comp, sizeof(c));
	T_EXPECT_EQ(c.type, NVSP_MSG_INIT_COMPLETE);
	T_EXPECT_EQ(c.status, NVSP_STAT_FAIL);
	/* buffers before a version: refused, but answered */
	{
		struct nvsp_send_buf_wire b = { NVSP_MSG1_SEND_RECV_BUF, 1, NVSP_RECV_BUF_ID, 0 };

		T_ASSERT_EQ(nvg_request(&e.g, &b, sizeof(b)), 0);
		T_EXPECT_EQ(e.g.last_comp_type, NVSP_MSG1_SEND_RECV_BUF_COMPLETE);
		T_EXPECT_EQ(e.g.last_comp_status, NVSP_STAT_FAIL);
	}
	env_down(&e);
}

static void test_tx_paths(void)
{
	struct env e;
	uint8_t f[1514], dst[6] = { 0x02, 0, 0, 0, 0, 9 };
	struct netvsp_stats st;

	env_up(&e, 0);
	env_probe(&e, NVSP_VERSION_61);
	make_frame(f, sizeof(f), dst, 1);
	T_EXPECT_EQ(nvg_send_frame(&e.g, f, 60, -1, false), NVSP_STAT_SUCCESS);
	T_EXPECT_EQ(nvg_send_frame(&e.g, f, sizeof(f), -1, true), NVSP_STAT_SUCCESS);
	T_EXPECT_EQ(nvg_send_frame(&e.g, f, 100, 0x2000 | 42, false), NVSP_STAT_SUCCESS);
	T_ASSERT_EQ(e.n_tx, 3);
	T_EXPECT_EQ(e.tx_len[0], 60);
	T_EXPECT(!memcmp(e.tx[0], f, 60));
	T_EXPECT_EQ(e.tx_len[1], sizeof(f));
	T_EXPECT(!memcmp(e.tx[1], f, sizeof(f)));
	/* the VLAN PPI became an in-frame 802.1Q tag */
	T_EXPECT_EQ(e.tx_len[2], 104);
	T_EXPECT(!memcmp(e.tx[2], f, 12));
	T_EXPECT_EQ(e.tx[2][12], 0x81);
	T_EXPECT_EQ(e.tx[2][13], 0x00);
	T_EXPECT_EQ(e.tx[2][14], 0x20);
	T_EXPECT_EQ(e.tx[2][15], 42);
	T_EXPECT(!memcmp(e.tx[2] + 16, f + 12, 88));
	/* a frame too short for Ethernet and a dropping back-end: counted */
	T_EXPECT_EQ(nvg_send_frame(&e.g, f, 10, -1, false), NVSP_STAT_SUCCESS);
	e.tx_fail = -EIO;
	T_EXPECT_EQ(nvg_send_frame(&e.g, f, 60, -1, false), NVSP_STAT_SUCCESS);
	netvsp_get_stats(e.nv, &st);
	T_EXPECT_EQ(st.tx_frames, 3);
	T_EXPECT_EQ(st.tx_dropped, 2);
	T_EXPECT_EQ(st.tx_bytes, 60 + sizeof(f) + 104);
	env_down(&e);
}

static void test_tx_batched_section(void)
{
	struct env e;
	uint8_t f[200], dst[6] = { 0x02, 0, 0, 0, 0, 9 }, stream[1024] = { 0 };
	uint32_t off = 0;

	env_up(&e, 0);
	env_probe(&e, NVSP_VERSION_61);
	/* three PACKET messages in one section, each padded to 8 bytes */
	for (int k = 0; k < 3; k++) {
		struct rndis_hdr_wire h = { RNDIS_MSG_PACKET, 0 };
		struct rndis_packet_wire p = { .data_offset = 36, .data_len = 61u + (uint32_t)k };

		make_frame(f, p.data_len, dst, (uint8_t)k);
		h.len = (uint32_t)ALIGN_UP(44 + p.data_len, 8);
		memcpy(stream + off, &h, 8);
		memcpy(stream + off + 8, &p, sizeof(p));
		memcpy(stream + off + 44, f, p.data_len);
		off += h.len;
	}
	T_EXPECT_EQ(nvg_send_rndis(&e.g, stream, off, NVSP_CHANNEL_DATA, false), NVSP_STAT_SUCCESS);
	T_ASSERT_EQ(e.n_tx, 3);
	for (int k = 0; k < 3; k++) {
		make_frame(f, 61u + (uint32_t)k, dst, (uint8_t)k);
		T_EXPECT_EQ(e.tx_len[k], 61u + (uint32_t)k);
		T_EXPECT(!memcmp(e.tx[k], f, e.tx_len[k]));
	}
	env_down(&e);
}

static void test_rx_to_guest(void)
{
	struct env e;
	uint8_t f[1514], other[6] = { 0x02, 0, 0, 0, 0, 8 };
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct nvg_rx rx;
	struct rndis_tx_info ti;
	struct netvsp_stats st;

	env_up(&e, 0);
	make_frame(f, 60, MAC, 3);
	/* before the guest's RNDIS is up: not connected */
	T_EXPECT_EQ(netvsp_rx(e.nv, f, 60), -ENOTCONN);
	env_probe(&e, NVSP_VERSION_61);
	for (uint32_t len = 60; len <= 1514; len += 1454) {
		make_frame(f, len, MAC, (uint8_t)len);
		T_ASSERT_EQ(netvsp_rx(e.nv, f, len), 0);
		T_ASSERT(nvg_poll(&e.g) > 0);
		T_ASSERT(nvg_take(&e.g, RNDIS_MSG_PACKET, &rx));
		T_EXPECT_EQ(rx.channel_type, NVSP_CHANNEL_DATA);
		T_ASSERT_EQ(rndis_parse_packet(rx.data, rx.len, &ti), 0);
		T_EXPECT_EQ(ti.data_len, len);
		T_EXPECT(!memcmp(rx.data + ti.data_off, f, len));
	}
	make_frame(f, 60, bcast, 4);
	T_EXPECT_EQ(netvsp_rx(e.nv, f, 60), 0);
	nvg_poll(&e.g);
	T_EXPECT(nvg_take(&e.g, RNDIS_MSG_PACKET, NULL));
	make_frame(f, 60, other, 4);
	T_EXPECT_EQ(netvsp_rx(e.nv, f, 60), 0); /* filtered */
	nvg_poll(&e.g);
	T_EXPECT(!nvg_take(&e.g, RNDIS_MSG_PACKET, NULL));
	T_EXPECT_EQ(netvsp_rx(e.nv, f, 13), -EMSGSIZE);
	T_EXPECT_EQ(netvsp_rx(e.nv, f, 1515), -EMSGSIZE);
	netvsp_get_stats(e.nv, &st);
	T_EXPECT_EQ(st.rx_frames, 3);
	T_EXPECT_EQ(st.rx_filtered, 1);
	T_EXPECT_EQ(e.g.bad_xfer, 0);
	env_down(&e);
}

static void test_rx_backpressure(void)
{
	struct env e;
	uint8_t f[600];
	uint32_t delivered = 0;
	int r = 0;

	env_up(&e, 0);
	env_probe(&e, NVSP_VERSION_61);
	make_frame(f, sizeof(f), MAC, 5);
	e.g.hold_completions = true;
	/* every section in flight: then -EAGAIN, nothing lost or overwritten */
	for (uint32_t i = 0; i < 100; i++) {
		r = netvsp_rx(e.nv, f, sizeof(f));
		if (r)
			break;
		delivered++;
		nvg_poll(&e.g);
	}
	T_EXPECT_EQ(r, -EAGAIN);
	T_EXPECT_EQ(delivered, e.g.num_sub);
	T_EXPECT_EQ(e.rx_room, 0);
	e.g.hold_completions = false;
	nvg_release_held(&e.g);
	T_EXPECT_EQ(e.rx_room, 1);
	T_EXPECT_EQ(netvsp_rx(e.nv, f, sizeof(f)), 0);
	nvg_poll(&e.g);
	T_EXPECT_EQ(e.g.bad_xfer, 0);
	env_down(&e);
}

static void test_link_indication(void)
{
	struct env e;
	struct nvg_rx rx;
	uint32_t status, v;

	env_up(&e, 0);
	env_probe(&e, NVSP_VERSION_61);
	netvsp_set_link(e.nv, false);
	nvg_poll(&e.g);
	T_ASSERT(nvg_take(&e.g, RNDIS_MSG_INDICATE, &rx));
	T_EXPECT_EQ(rx.channel_type, NVSP_CHANNEL_CONTROL);
	memcpy(&status, rx.data + 8, 4);
	T_EXPECT_EQ(status, RNDIS_STATUS_MEDIA_DISCONNECT);
	T_ASSERT_EQ(nvg_query(&e.g, OID_GEN_MEDIA_CONNECT_STATUS, NULL, 0, &rx), 0);
	memcpy(&v, rx.data + 24, 4);
	T_EXPECT_EQ(v, 1);
	netvsp_set_link(e.nv, false); /* no change, no message */
	nvg_poll(&e.g);
	T_EXPECT(!nvg_take(&e.g, RNDIS_MSG_INDICATE, NULL));
	netvsp_set_link(e.nv, true);
	nvg_poll(&e.g);
	T_ASSERT(nvg_take(&e.g, RNDIS_MSG_INDICATE, &rx));
	memcpy(&status, rx.data + 8, 4);
	T_EXPECT_EQ(status, RNDIS_STATUS_MEDIA_CONNECT);
	env_down(&e);
}

static void test_vlan_access_port(void)
{
	struct env e;
	uint8_t f[200], tagged[204];
	struct nvg_rx rx;
	struct rndis_tx_info ti;

	env_up(&e, 7);
	env_probe(&e, NVSP_VERSION_61);
	make_frame(f, 100, MAC, 6);
	/* guest -> host: tagged with VLAN 7 */
	T_EXPECT_EQ(nvg_send_frame(&e.g, f, 100, -1, false), NVSP_STAT_SUCCESS);
	T_ASSERT_EQ(e.n_tx, 1);
	T_EXPECT_EQ(e.tx_len[0], 104);
	T_EXPECT_EQ(e.tx[0][12], 0x81);
	T_EXPECT_EQ(e.tx[0][15], 7);
	/* host -> guest: untagged and other VLANs dropped, VLAN 7 stripped */
	T_EXPECT_EQ(netvsp_rx(e.nv, f, 100), 0);
	memcpy(tagged, f, 12);
	memcpy(tagged + 12, "\x81\x00\x00\x08", 4);
	memcpy(tagged + 16, f + 12, 88);
	T_EXPECT_EQ(netvsp_rx(e.nv, tagged, 104), 0);
	nvg_poll(&e.g);
	T_EXPECT(!nvg_take(&e.g, RNDIS_MSG_PACKET, NULL));
	tagged[15] = 7;
	T_EXPECT_EQ(netvsp_rx(e.nv, tagged, 104), 0);
	nvg_poll(&e.g);
	T_ASSERT(nvg_take(&e.g, RNDIS_MSG_PACKET, &rx));
	T_ASSERT_EQ(rndis_parse_packet(rx.data, rx.len, &ti), 0);
	T_EXPECT_EQ(ti.data_len, 100);
	T_EXPECT(!memcmp(rx.data + ti.data_off, f, 100));
	env_down(&e);
}

static void test_hostile_nvsp(void)
{
	struct env e;
	struct netvsp_stats st;
	uint64_t bad0;

	env_up(&e, 0);
	env_probe(&e, NVSP_VERSION_61);
	netvsp_get_stats(e.nv, &st);
	bad0 = st.bad_msgs;
	{ /* send section out of range, and a section size beyond the section */
		struct nvsp_rndis_pkt_wire m = { NVSP_MSG1_SEND_RNDIS_PKT, 0, 100000, 64 };

		T_ASSERT_EQ(nvg_request(&e.g, &m, sizeof(m)), 0);
		T_EXPECT_EQ(e.g.last_comp_type, NVSP_MSG1_SEND_RNDIS_PKT_COMPLETE);
		T_EXPECT_EQ(e.g.last_comp_status, NVSP_STAT_FAIL);
		m.section_index = 0;
		m.section_size = NETVSP_SEND_SECTION_SIZE + 1;
		T_ASSERT_EQ(nvg_request(&e.g, &m, sizeof(m)), 0);
		T_EXPECT_EQ(e.g.last_comp_status, NVSP_STAT_FAIL);
	}
	{ /* RNDIS stream with a message longer than the stream */
		uint8_t s[16] = { 1, 0, 0, 0, 0xff, 0xff, 0, 0 };

		T_EXPECT_EQ(nvg_send_rndis(&e.g, s, sizeof(s), 0, false), NVSP_STAT_FAIL);
		s[4] = 4; /* shorter than a header */
		s[5] = 0;
		T_EXPECT_EQ(nvg_send_rndis(&e.g, s, sizeof(s), 0, false), NVSP_STAT_FAIL);
	}
	{ /* an unknown NVSP message that wants a completion gets one */
		uint32_t m[2] = { 999, 0 };

		T_ASSERT_EQ(nvg_request(&e.g, m, sizeof(m)), 0);
		T_EXPECT_EQ(e.g.last_comp_type, 999);
		T_EXPECT_EQ(e.g.last_comp_status, NVSP_STAT_FAIL);
	}
	{ /* sub-channels refused */
		struct nvsp_subchannel_wire m = { NVSP_MSG5_SUBCHANNEL, 1, 3 };

		T_ASSERT_EQ(nvg_request(&e.g, &m, sizeof(m)), 0);
		T_EXPECT_EQ(e.g.last_comp_type, NVSP_MSG5_SUBCHANNEL);
		T_EXPECT_EQ(e.g.last_comp_status, NVSP_STAT_FAIL);
	}
	{ /* a second receive buffer and a bogus GPADL */
		struct nvsp_send_buf_wire m = { NVSP_MSG1_SEND_RECV_BUF, e.g.recv_gpadl,
						NVSP_RECV_BUF_ID, 0 };

		T_ASSERT_EQ(nvg_request(&e.g, &m, sizeof(m)), 0);
		T_EXPECT_EQ(e.g.last_comp_status, NVSP_STAT_FAIL);
		m.type = NVSP_MSG1_SEND_SEND_BUF;
		m.gpadl = 0xBADBAD;
		T_ASSERT_EQ(nvg_request(&e.g, &m, sizeof(m)), 0);
		T_EXPECT_EQ(e.g.last_comp_status, NVSP_STAT_FAIL);
	}
	{ /* completions we never asked for */
		struct nvsp_rndis_pkt_complete_wire c = { NVSP_MSG1_SEND_RNDIS_PKT_COMPLETE, 1 };

		T_EXPECT_EQ(fg_chan_write(&e.g.ch, VMBUS_PKT_COMP, 0, 12345, &c, sizeof(c)), 0);
		T_EXPECT_EQ(fg_chan_write(&e.g.ch, VMBUS_PKT_COMP, 0, 0x6e65740000000003ull, &c,
					  sizeof(c)), 0);
		T_EXPECT_EQ(fg_chan_write(&e.g.ch, VMBUS_PKT_DATA_USING_XFER_PAGES, 0, 1, &c,
					  sizeof(c)), 0);
	}
	{ /* RNDIS packet with broken PPI: dropped, completion still comes */
		uint8_t msg[128] = { 0 };
		struct rndis_hdr_wire h = { RNDIS_MSG_PACKET, 120 };
		struct rndis_packet_wire p = { .data_offset = 52, .data_len = 60, .ppi_offset = 36,
					       .ppi_len = 16 };
		struct rndis_ppi_wire ppi = { 400, RNDIS_PPI_VLAN, 12 };

		memcpy(msg, &h, 8);
		memcpy(msg + 8, &p, sizeof(p));
		memcpy(msg + 44, &ppi, sizeof(ppi));
		T_EXPECT_EQ(nvg_send_rndis(&e.g, msg, 120, 0, true), NVSP_STAT_SUCCESS);
	}
	T_EXPECT_EQ(e.n_tx, 0);
	netvsp_get_stats(e.nv, &st);
	T_EXPECT_GE(st.bad_msgs, bad0 + 9);
	/* and the device still works */
	{
		uint8_t f[60];

		make_frame(f, 60, MAC, 9);
		T_EXPECT_EQ(nvg_send_frame(&e.g, f, 60, -1, false), NVSP_STAT_SUCCESS);
		T_EXPECT_EQ(e.n_tx, 1);
		T_EXPECT_EQ(netvsp_rx(e.nv, f, 60), 0);
		nvg_poll(&e.g);
		T_EXPECT(nvg_take(&e.g, RNDIS_MSG_PACKET, NULL));
	}
	env_down(&e);
}

static void test_close_reopen(void)
{
	struct env e;
	uint8_t f[60];

	env_up(&e, 0);
	env_probe(&e, NVSP_VERSION_61);
	T_ASSERT_EQ(fg_close(&e.g.ch), 0);
	make_frame(f, 60, MAC, 1);
	T_EXPECT_EQ(netvsp_rx(e.nv, f, 60), -ENOTCONN);
	T_ASSERT_EQ(nvg_open(&e.g, e.fg, &e.offer, 64), 0);
	env_probe(&e, NVSP_VERSION_5);
	T_EXPECT_EQ(netvsp_rx(e.nv, f, 60), 0);
	nvg_poll(&e.g);
	T_EXPECT(nvg_take(&e.g, RNDIS_MSG_PACKET, NULL));
	env_down(&e);
}

static void test_flooding_guest_breaks_channel(void)
{
	struct env e;
	struct vmbus_stats vs;
	uint32_t m[10] = { 999 };
	int i;

	env_up(&e, 0);
	/* Requests wanting completions, never reading the host->guest ring:
	 * completions queue up to a bound, then the channel is broken. */
	for (i = 0; i < 40000; i++) {
		if (fg_chan_write(&e.g.ch, VMBUS_PKT_DATA_INBAND, VMBUS_PKT_FLAG_COMPLETION_REQUESTED,
				  (uint64_t)i + 1, m, sizeof(m)))
			break;
		vmbus_server_get_stats(e.fg->srv, &vs);
		if (vs.chan_broken)
			break;
	}
	vmbus_server_get_stats(e.fg->srv, &vs);
	T_EXPECT_EQ(vs.chan_broken, 1);
	/* reopening the channel starts afresh */
	T_ASSERT_EQ(fg_close(&e.g.ch), 0);
	T_ASSERT_EQ(nvg_open(&e.g, e.fg, &e.offer, 64), 0);
	env_probe(&e, NVSP_VERSION_61);
	env_down(&e);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

static void test_tap_socketpair(void)
{
	struct fake_guest *fg;
	struct netvsp_tap *tap;
	struct netvsp_backend be;
	struct netvsp_config cfg = { 0 };
	struct vmbus_offer_channel_wire offer;
	static struct nv_guest g2;
	static const uint8_t inst2[16] = { 0x6f, 0x68, 0x76, 0, 0x6e, 0x65, 0x74, 0x40, 0x80, 2 };
	struct netvsp *nv2;
	int sv[2], got = 0;
	uint8_t f[1000], buf[2048], mac[6];
	struct nvg_rx rx;

	T_ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	T_ASSERT_EQ(fg_new(1, RAM, &fg), 0);
	T_ASSERT_EQ(fg_boot(fg), 0);
	memcpy(cfg.mac, MAC, 6);
	cfg.mac[5] = 2;
	T_ASSERT_EQ(netvsp_tap_from_fd(sv[0], NULL, &tap), 0);
	netvsp_tap_backend(tap, &be);
	T_ASSERT_EQ(netvsp_new(fg->srv, fg->gm, &cfg, inst2, &be, &nv2), 0);
	T_ASSERT_EQ(fg_connect(fg), VMBUS_VERSION_WIN10_V5_3);
	T_ASSERT_EQ(fg_request_offers(fg, &offer, 1), 1);
	T_ASSERT_EQ(nvg_open(&g2, fg, &offer, 64), 0);
	T_ASSERT_EQ(nvg_connect(&g2, NVSP_VERSION_61, RECV_BYTES, SEND_BYTES), 0);
	T_ASSERT_EQ(nvg_probe(&g2, mac), 0);
	T_EXPECT(!memcmp(mac, cfg.mac, 6));
	T_ASSERT_EQ(netvsp_tap_start(tap, nv2), 0);
	/* host -> guest through the receive thread */
	make_frame(f, sizeof(f), cfg.mac, 11);
	memcpy(f + 6, cfg.mac, 6);
	T_ASSERT_EQ(write(sv[1], f, sizeof(f)), (ssize_t)sizeof(f));
	for (int i = 0; i < 1000 && !got; i++) {
		nvg_poll(&g2);
		got = nvg_take(&g2, RNDIS_MSG_PACKET, &rx);
		if (!got)
			sleep_ms(2);
	}
	T_EXPECT(got);
	if (got) {
		struct rndis_tx_info ti;

		T_ASSERT_EQ(rndis_parse_packet(rx.data, rx.len, &ti), 0);
		T_EXPECT_EQ(ti.data_len, sizeof(f));
		T_EXPECT(!memcmp(rx.data + ti.data_off, f, sizeof(f)));
	}
	/* guest -> host */
	T_EXPECT_EQ(nvg_send_frame(&g2, f, 300, -1, true), NVSP_STAT_SUCCESS);
	T_EXPECT_EQ(read(sv[1], buf, sizeof(buf)), 300);
	T_EXPECT(!memcmp(buf, f, 300));
	netvsp_tap_stop(tap);
	netvsp_free(nv2);
	netvsp_tap_free(tap);
	close(sv[1]);
	fg_free(fg);
}

/* ---- offloads, MAC spoofing, MTU ---- */

static const uint8_t PEER[6] = { 0x02, 0, 0, 0, 0, 9 };

/* Ethernet + IPv4/IPv6 + TCP (20-byte header) + payload; returns the length.
 * l2: 14, or 18 with an 802.1Q tag. Checksums are left to the caller. */
static uint32_t build_tcp(uint8_t *f, bool v6, uint32_t l2, uint32_t payload, uint8_t tcp_flags)
{
	uint32_t l3 = l2, l4 = l3 + (v6 ? 40 : 20), len = l4 + 20 + payload;

	memset(f, 0, l4 + 20);
	memcpy(f, PEER, 6);
	memcpy(f + 6, MAC, 6);
	if (l2 == 18) {
		f[12] = 0x81;
		f[15] = 42;
	}
	f[l2 - 2] = v6 ? 0x86 : 0x08;
	f[l2 - 1] = v6 ? 0xDD : 0x00;
	if (!v6) {
		f[l3] = 0x45;
		f[l3 + 2] = (uint8_t)((len - l3) >> 8);
		f[l3 + 3] = (uint8_t)(len - l3);
		f[l3 + 4] = 0x12;
		f[l3 + 8] = 64;
		f[l3 + 9] = 6;
		memcpy(f + l3 + 12, "\xa9\xfe\x64\x02\xa9\xfe\x64\x01", 8);
	} else {
		f[l3] = 0x60;
		f[l3 + 4] = (uint8_t)((len - l3 - 40) >> 8);
		f[l3 + 5] = (uint8_t)(len - l3 - 40);
		f[l3 + 6] = 6;
		f[l3 + 7] = 64;
		f[l3 + 8] = 0xfe;
		f[l3 + 9] = 0x80;
		f[l3 + 23] = 2;
		f[l3 + 24] = 0xfe;
		f[l3 + 25] = 0x80;
		f[l3 + 39] = 1;
	}
	f[l4] = 0x9c; /* ports 40000 -> 5201 */
	f[l4 + 1] = 0x40;
	f[l4 + 2] = 0x14;
	f[l4 + 3] = 0x51;
	memcpy(f + l4 + 4, "\x10\x20\x30\x40", 4);
	f[l4 + 12] = 0x50;
	f[l4 + 13] = tcp_flags;
	f[l4 + 15] = 0xff;
	for (uint32_t i = 0; i < payload; i++)
		f[l4 + 20 + i] = (uint8_t)(i * 13 + i / 251);
	return len;
}

/* The pseudo-header sum (not complemented), optionally without the length. */
static uint16_t pseudo(const uint8_t *f, uint32_t l3, bool v6, uint32_t l4len)
{
	uint8_t b[12];
	uint64_t sum;

	if (!v6) {
		memcpy(b, f + l3 + 12, 8);
		b[8] = 0;
		b[9] = 6;
		b[10] = (uint8_t)(l4len >> 8);
		b[11] = (uint8_t)l4len;
		return offload_csum_fold(offload_csum_add(0, b, 12));
	}
	sum = offload_csum_add(0, f + l3 + 8, 32);
	memset(b, 0, 8);
	b[0] = (uint8_t)(l4len >> 24);
	b[1] = (uint8_t)(l4len >> 16);
	b[2] = (uint8_t)(l4len >> 8);
	b[3] = (uint8_t)l4len;
	b[7] = 6;
	return offload_csum_fold(offload_csum_add(sum, b, 8));
}

static void set_check(uint8_t *f, uint32_t at, uint16_t v)
{
	memcpy(f + at, &v, 2);
}

/* Reference checksum, independent of offload.c: big-endian 16-bit words,
 * one at a time, folded at the end. */
static uint32_t ref_sum(uint32_t sum, const uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static bool ref_ok(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xFFFF) + (sum >> 16);
	return sum == 0xFFFF;
}

/* A correct TCP checksum sums (with the pseudo header) to 0xFFFF. */
static bool tcp_ok(const uint8_t *f, uint32_t len, uint32_t l3, bool v6)
{
	uint32_t l4 = l3 + (v6 ? 40 : 20), l4len = len - l4;
	uint32_t sum = v6 ? ref_sum(0, f + l3 + 8, 32) : ref_sum(0, f + l3 + 12, 8);

	sum += 6 + (l4len >> 16) + (l4len & 0xFFFF);
	return ref_ok(ref_sum(sum, f + l4, l4len));
}

static bool ip4_ok(const uint8_t *f, uint32_t l3)
{
	return ref_ok(ref_sum(0, f + l3, 20));
}

static uint32_t be32_at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void test_offload_tx_prepare(void)
{
	static uint8_t f[20000];
	struct rndis_tx_info ti = { 0 };
	struct netvsp_vnet_hdr_wire h;
	struct offload_rx rx;
	uint32_t len;

	/* checksum PPI, IPv4 TCP: offset 34 */
	len = build_tcp(f, false, 14, 100, 0x18);
	ti.has_csum = true;
	ti.csum_info = 1u | 1u << 2 | 34u << 16;
	T_ASSERT_EQ(offload_tx_prepare(f, len, 0, 1500, &ti, &h), 0);
	T_EXPECT_EQ(h.flags, VNET_F_NEEDS_CSUM);
	T_EXPECT_EQ(h.gso_type, VNET_GSO_NONE);
	T_EXPECT_EQ(h.csum_start, 34);
	T_EXPECT_EQ(h.csum_offset, 16);
	/* same frame after the VSP inserted a VLAN tag: offsets move by 4 */
	len = build_tcp(f, false, 18, 100, 0x18);
	T_ASSERT_EQ(offload_tx_prepare(f, len, 4, 1500, &ti, &h), 0);
	T_EXPECT_EQ(h.csum_start, 38);
	/* IPv6 UDP-less TCP */
	len = build_tcp(f, true, 14, 100, 0x18);
	ti.csum_info = 2u | 1u << 2 | 54u << 16;
	T_ASSERT_EQ(offload_tx_prepare(f, len, 0, 1500, &ti, &h), 0);
	T_EXPECT_EQ(h.csum_start, 54);
	/* PPIs that do not match the frame */
	{
		static const uint32_t bad[] = {
			1u | 1u << 2 | 54u << 16,          /* IPv4 bit on an IPv6 frame */
			3u | 1u << 2 | 54u << 16,          /* both versions */
			2u | 3u << 2 | 54u << 16,          /* TCP and UDP */
			2u | 1u << 2 | 30u << 16,          /* offset inside the IP header */
			2u | 1u << 2 | 1000u << 16,        /* offset past the frame */
			2u | 1u << 2 | 1u << 4 | 54u << 16, /* IPv4 header checksum on IPv6 */
		};

		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			ti.csum_info = bad[i];
			T_EXPECT_EQ(offload_tx_prepare(f, len, 0, 1500, &ti, &h), -EPROTO);
		}
	}
	/* LSOv2 IPv4 as Linux sends it: tot_len 0, no IP checksum, pseudo sum
	 * without the length in the TCP checksum. */
	len = build_tcp(f, false, 14, 14000, 0x18);
	f[16] = f[17] = 0;
	set_check(f, 34 + 16, pseudo(f, 14, false, 0));
	ti = (struct rndis_tx_info){ .has_lso = true,
				     .lso_info = 1448u | 34u << 20 | 1u << 30 };
	T_ASSERT_EQ(offload_tx_prepare(f, len, 0, 1500, &ti, &h), 0);
	T_EXPECT_EQ(h.gso_type, VNET_GSO_TCPV4);
	T_EXPECT_EQ(h.gso_size, 1448);
	T_EXPECT_EQ(h.hdr_len, 54);
	T_EXPECT_EQ(h.csum_start, 34);
	T_EXPECT_EQ((uint32_t)(f[16] << 8 | f[17]), len - 14);
	T_EXPECT(ip4_ok(f, 14));
	/* the fixed-up partial sum is what a host completes into a valid checksum */
	T_ASSERT_EQ(offload_rx_prepare(f, len,
				       &(struct netvsp_vnet_hdr_wire){ .flags = VNET_F_NEEDS_CSUM,
								       .csum_start = 34,
								       .csum_offset = 16 },
				       &rx), 0);
	T_EXPECT(tcp_ok(f, len, 14, false));
	/* LSOv2 IPv6 */
	len = build_tcp(f, true, 14, 9000, 0x10);
	f[18] = f[19] = 0;
	set_check(f, 54 + 16, pseudo(f, 14, true, 0));
	ti.lso_info = 1428u | 54u << 20 | 1u << 30 | 1u << 31;
	T_ASSERT_EQ(offload_tx_prepare(f, len, 0, 1500, &ti, &h), 0);
	T_EXPECT_EQ(h.gso_type, VNET_GSO_TCPV6);
	T_EXPECT_EQ((uint32_t)(f[18] << 8 | f[19]), len - 54);
	T_ASSERT_EQ(offload_rx_prepare(f, len,
				       &(struct netvsp_vnet_hdr_wire){ .flags = VNET_F_NEEDS_CSUM,
								       .csum_start = 54,
								       .csum_offset = 16 },
				       &rx), 0);
	T_EXPECT(tcp_ok(f, len, 14, true));
	/* an LSO frame that fits one segment needs no GSO */
	len = build_tcp(f, false, 14, 500, 0x18);
	ti.lso_info = 1448u | 34u << 20 | 1u << 30;
	T_ASSERT_EQ(offload_tx_prepare(f, len, 0, 1500, &ti, &h), 0);
	T_EXPECT_EQ(h.gso_type, VNET_GSO_NONE);
	T_EXPECT_EQ(h.flags, VNET_F_NEEDS_CSUM);
	/* bad LSO PPIs */
	{
		static const uint32_t bad[] = {
			1448u | 34u << 20,                   /* not the v2 type */
			0u | 34u << 20 | 1u << 30,           /* MSS 0 */
			1461u | 34u << 20 | 1u << 30,        /* segments over the MTU */
			1448u | 30u << 20 | 1u << 30,        /* TCP header offset wrong */
			1448u | 34u << 20 | 1u << 30 | 1u << 31, /* IPv6 bit, IPv4 frame */
			1448u | 1000u << 20 | 1u << 30,      /* offset past the frame */
		};

		len = build_tcp(f, false, 14, 5000, 0x18);
		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			ti.lso_info = bad[i];
			T_EXPECT_EQ(offload_tx_prepare(f, len, 0, 1500, &ti, &h), -EPROTO);
		}
	}
	/* no PPI: nothing to do */
	ti = (struct rndis_tx_info){ 0 };
	T_ASSERT_EQ(offload_tx_prepare(f, len, 0, 1500, &ti, &h), 0);
	T_EXPECT_EQ(h.flags, 0);
}

static void check_segments(const uint8_t *gso, uint32_t len, bool v6, uint32_t mss,
			   const struct offload_rx *rx)
{
	static uint8_t seg[OFFLOAD_MAX_FRAME];
	uint32_t l3 = 14, l4 = v6 ? 54 : 34, hdr = l4 + 20, total = 0;
	uint32_t seq0 = be32_at(gso + l4 + 4);

	T_ASSERT_EQ(rx->nseg, (len - hdr + mss - 1) / mss);
	for (uint32_t i = 0; i < rx->nseg; i++) {
		uint32_t n = offload_rx_segment(gso, rx, i, seg);
		uint32_t want = MIN(mss, len - hdr - i * mss);

		T_EXPECT_EQ(n, hdr + want);
		T_EXPECT(tcp_ok(seg, n, l3, v6));
		if (!v6) {
			T_EXPECT(ip4_ok(seg, l3));
			T_EXPECT_EQ((uint32_t)(seg[16] << 8 | seg[17]), n - 14);
		} else {
			T_EXPECT_EQ((uint32_t)(seg[18] << 8 | seg[19]), n - 54);
		}
		T_EXPECT_EQ(be32_at(seg + l4 + 4), seq0 + i * mss);
		/* FIN/PSH only on the last segment */
		T_EXPECT_EQ(seg[l4 + 13] & 0x09, i + 1 == rx->nseg ? (gso[l4 + 13] & 0x09) : 0);
		T_EXPECT(!memcmp(seg + hdr, gso + hdr + i * mss, want));
		total += want;
	}
	T_EXPECT_EQ(total, len - hdr);
}

static void test_offload_rx_segment(void)
{
	static uint8_t f[OFFLOAD_MAX_FRAME];
	struct netvsp_vnet_hdr_wire h;
	struct offload_rx rx;
	uint32_t len;

	/* a host GSO frame: full lengths, pseudo-header sum with the length */
	len = build_tcp(f, false, 14, 3500, 0x19);
	set_check(f, 50, pseudo(f, 14, false, len - 34));
	h = (struct netvsp_vnet_hdr_wire){ VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, 54, 1000, 34, 16 };
	T_ASSERT_EQ(offload_rx_prepare(f, len, &h, &rx), 0);
	T_EXPECT(rx.csum_ok);
	check_segments(f, len, false, 1000, &rx);
	/* the largest: 64 KiB in 1448-byte segments */
	len = build_tcp(f, false, 14, 65535 - 40, 0x10);
	set_check(f, 50, pseudo(f, 14, false, len - 34));
	h.gso_size = 1448;
	T_ASSERT_EQ(offload_rx_prepare(f, len, &h, &rx), 0);
	check_segments(f, len, false, 1448, &rx);
	/* IPv6 */
	len = build_tcp(f, true, 14, 2000, 0x18);
	set_check(f, 70, pseudo(f, 14, true, len - 54));
	h = (struct netvsp_vnet_hdr_wire){ VNET_F_NEEDS_CSUM, VNET_GSO_TCPV6, 74, 1440, 54, 16 };
	T_ASSERT_EQ(offload_rx_prepare(f, len, &h, &rx), 0);
	check_segments(f, len, true, 1440, &rx);
	/* refused headers */
	{
		static const struct netvsp_vnet_hdr_wire bad[] = {
			{ VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, 74, 1440, 54, 16 }, /* v4 on v6 */
			{ VNET_F_NEEDS_CSUM, VNET_GSO_TCPV6, 74, 1440, 50, 16 }, /* start */
			{ VNET_F_NEEDS_CSUM, VNET_GSO_TCPV6, 74, 1440, 54, 6 },  /* offset */
			{ 0, VNET_GSO_TCPV6, 74, 1440, 54, 16 },                 /* no csum */
			{ VNET_F_NEEDS_CSUM, VNET_GSO_UDP, 74, 1440, 54, 6 },    /* UFO */
			{ VNET_F_NEEDS_CSUM, VNET_GSO_TCPV6, 74, 0, 54, 16 },    /* MSS 0 */
			{ VNET_F_NEEDS_CSUM, 0, 0, 0, 54, 0xFFF0 },              /* csum outside */
			{ VNET_F_NEEDS_CSUM, 0, 0, 0, 3, 0 },                    /* inside Ethernet */
		};

		for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
			T_EXPECT_EQ(offload_rx_prepare(f, len, &bad[i], &rx), -EPROTO);
		/* a truncated frame */
		T_EXPECT_EQ(offload_rx_prepare(f, 60, &h, &rx), -EPROTO);
	}
	/* a partial checksum is completed; DATA_VALID is believed */
	len = build_tcp(f, false, 14, 333, 0x18);
	set_check(f, 50, pseudo(f, 14, false, len - 34));
	h = (struct netvsp_vnet_hdr_wire){ VNET_F_NEEDS_CSUM, 0, 0, 0, 34, 16 };
	T_ASSERT_EQ(offload_rx_prepare(f, len, &h, &rx), 0);
	T_EXPECT(rx.csum_ok);
	T_EXPECT_EQ(rx.nseg, 1);
	T_EXPECT(tcp_ok(f, len, 14, false));
	h = (struct netvsp_vnet_hdr_wire){ VNET_F_DATA_VALID, 0, 0, 0, 0, 0 };
	T_ASSERT_EQ(offload_rx_prepare(f, len, &h, &rx), 0);
	T_EXPECT(rx.csum_ok);
	h.flags = 0;
	T_ASSERT_EQ(offload_rx_prepare(f, len, &h, &rx), 0);
	T_EXPECT(!rx.csum_ok);
	/* which checksum PPI a good frame gets */
	T_EXPECT_EQ(offload_rx_csum_info(f, len), RNDIS_CSUM_RX_TCP_OK | RNDIS_CSUM_RX_IP_OK);
	len = build_tcp(f, true, 18, 10, 0x18);
	T_EXPECT_EQ(offload_rx_csum_info(f, len), RNDIS_CSUM_RX_TCP_OK);
	f[18 + 6] = 17;
	T_EXPECT_EQ(offload_rx_csum_info(f, len), RNDIS_CSUM_RX_UDP_OK);
	f[12] = 0x08;
	f[13] = 0x06; /* ARP */
	T_EXPECT_EQ(offload_rx_csum_info(f, len), 0);
}

/* Send frame as one PACKET with one PPI (type, value); big ones GPA-direct. */
static int send_ppi_frame(struct nv_guest *g, const uint8_t *frame, uint32_t len, uint32_t type,
			  uint32_t val)
{
	uint32_t off = 8 + 36 + 16, total = (uint32_t)ALIGN_UP(off + len, 8);
	uint8_t *msg = calloc(1, total);
	struct rndis_hdr_wire h = { RNDIS_MSG_PACKET, total };
	struct rndis_packet_wire p = { .data_offset = 36 + 16, .data_len = len, .ppi_offset = 36,
				       .ppi_len = 16 };
	struct rndis_ppi_wire ppi = { 16, type, 12 };
	int r;

	if (!msg)
		return -ENOMEM;
	memcpy(msg, &h, 8);
	memcpy(msg + 8, &p, sizeof(p));
	memcpy(msg + 44, &ppi, 12);
	memcpy(msg + 56, &val, 4);
	memcpy(msg + off, frame, len);
	r = nvg_send_rndis(g, msg, total, NVSP_CHANNEL_DATA, total > g->send_section);
	free(msg);
	return r;
}

static uint32_t set_status(struct nv_guest *g, uint32_t oid, const void *in, uint32_t len)
{
	struct nvg_rx rx;
	struct rndis_set_c_wire sc;

	if (nvg_set(g, oid, in, len, &rx))
		return 0xDEADu;
	memcpy(&sc, rx.data + 8, sizeof(sc));
	return sc.status;
}

/* What Linux's rndis_netdev_set_hwcaps asks for when everything is offered. */
static const uint8_t all_offloads[28] = { NDIS_OBJECT_TYPE_DEFAULT, 3, 28, 0, 1, 4, 4, 4, 4,
					  0, 0, 2, 2 };

static void test_offload_vsp(void)
{
	struct env e;
	static uint8_t f[30000];
	uint8_t in[4] = { NDIS_OBJECT_TYPE_OFFLOAD, 3, 156, 0 };
	struct nvg_rx rx;
	struct ndis_offload_wire o;
	struct netvsp_stats st;
	uint32_t len;

	env_up_ex(&e, 0, ENV_OFFLOAD);
	env_probe(&e, NVSP_VERSION_61);
	T_ASSERT_EQ(nvg_query(&e.g, OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, in, 4, &rx), 0);
	memcpy(&o, rx.data + 8 + 16, sizeof(o));
	T_EXPECT_EQ(o.csum[1], 0x54);  /* TCP4 + options + UDP4 */
	T_EXPECT_EQ(o.csum[5], 0x55);  /* TCP6 + options + ext headers + UDP6 */
	T_EXPECT_EQ(o.lsov2[0], NDIS_OFFLOAD_ENCAP_8023);
	T_EXPECT_EQ(o.lsov2[1], RNDIS_LSO_MAX_SIZE);
	T_EXPECT_EQ(o.lsov2[6], NDIS_LSOV2_CAP_IP6);
	T_EXPECT_EQ(o.rsc_ip4, 0);
	netvsp_get_stats(e.nv, &st);
	T_EXPECT_EQ(st.offloads, 0); /* the probe's SET asked for nothing */
	/* a checksum PPI before the guest enabled offloads: dropped */
	len = build_tcp(f, false, 14, 100, 0x18);
	T_EXPECT_EQ(send_ppi_frame(&e.g, f, len, RNDIS_PPI_CHECKSUM, 1u | 1u << 2 | 34u << 16),
		    NVSP_STAT_SUCCESS);
	T_EXPECT_EQ(e.n_tx, 0);
	T_EXPECT_EQ(set_status(&e.g, OID_TCP_OFFLOAD_PARAMETERS, all_offloads, 28), 0);
	netvsp_get_stats(e.nv, &st);
	T_EXPECT_EQ(st.offloads, RNDIS_OFL_ALL & ~RNDIS_OFL_RSC); /* RSC was not offered */
	T_EXPECT_EQ(send_ppi_frame(&e.g, f, len, RNDIS_PPI_CHECKSUM, 1u | 1u << 2 | 34u << 16),
		    NVSP_STAT_SUCCESS);
	T_ASSERT_EQ(e.n_tx, 1);
	T_EXPECT_EQ(e.vh[0].flags, VNET_F_NEEDS_CSUM);
	T_EXPECT_EQ(e.vh[0].csum_start, 34);
	T_EXPECT(!memcmp(e.tx[0], f, len));
	/* a plain frame goes the same way with an empty header */
	T_EXPECT_EQ(nvg_send_frame(&e.g, f, 60, -1, false), NVSP_STAT_SUCCESS);
	T_ASSERT_EQ(e.n_tx, 2);
	T_EXPECT_EQ(e.vh[1].flags, 0);
	/* a 20 KB LSO frame through GPA-direct ranges */
	len = build_tcp(f, false, 14, 20000, 0x18);
	f[16] = f[17] = 0;
	T_EXPECT_EQ(send_ppi_frame(&e.g, f, len, RNDIS_PPI_LSO, 1448u | 34u << 20 | 1u << 30),
		    NVSP_STAT_SUCCESS);
	T_ASSERT_EQ(e.n_tx, 3);
	T_EXPECT_EQ(e.vh[2].gso_type, VNET_GSO_TCPV4);
	T_EXPECT_EQ(e.vh[2].gso_size, 1448);
	T_ASSERT_EQ(e.big_len, len);
	T_EXPECT((uint32_t)(e.big[16] << 8 | e.big[17]) == len - 14);
	T_EXPECT(!memcmp(e.big + 54, f + 54, len - 54));
	/* an LSO PPI pointing outside the frame: dropped and counted */
	T_EXPECT_EQ(send_ppi_frame(&e.g, f, len, RNDIS_PPI_LSO, 1448u | 1020u << 20 | 1u << 30),
		    NVSP_STAT_SUCCESS);
	/* a frame over the MTU without LSO: dropped */
	T_EXPECT_EQ(send_ppi_frame(&e.g, f, 3000, RNDIS_PPI_CHECKSUM, 1u | 1u << 2 | 34u << 16),
		    NVSP_STAT_SUCCESS);
	T_EXPECT_EQ(e.n_tx, 3);
	netvsp_get_stats(e.nv, &st);
	T_EXPECT_EQ(st.tx_csum_offload, 1);
	T_EXPECT_EQ(st.tx_lso, 1);
	T_EXPECT_EQ(st.tx_bad_offload, 2);
	T_EXPECT_EQ(st.tx_dropped, 3);
	/* host -> guest: a checksum-good frame carries the receive PPI */
	len = build_tcp(f, false, 14, 200, 0x18);
	memcpy(f, MAC, 6);
	T_ASSERT_EQ(netvsp_rx_ex(e.nv, f, len, NETVSP_RX_CSUM_OK), 0);
	nvg_poll(&e.g);
	T_ASSERT(nvg_take(&e.g, RNDIS_MSG_PACKET, &rx));
	{
		struct rndis_tx_info ti;

		T_ASSERT_EQ(rndis_parse_packet(rx.data, rx.len, &ti), 0);
		T_EXPECT(ti.has_csum);
		T_EXPECT_EQ(ti.csum_info, RNDIS_CSUM_RX_TCP_OK | RNDIS_CSUM_RX_IP_OK);
		T_EXPECT_EQ(ti.data_len, len);
		T_EXPECT(!memcmp(rx.data + ti.data_off, f, len));
	}
	T_ASSERT_EQ(netvsp_rx(e.nv, f, len), 0);
	nvg_poll(&e.g);
	T_ASSERT(nvg_take(&e.g, RNDIS_MSG_PACKET, &rx));
	{
		struct rndis_tx_info ti;

		T_ASSERT_EQ(rndis_parse_packet(rx.data, rx.len, &ti), 0);
		T_EXPECT(!ti.has_csum);
	}
	netvsp_get_stats(e.nv, &st);
	T_EXPECT_EQ(st.rx_csum_ok, 1);
	T_EXPECT_EQ(st.bad_msgs, 0);
	env_down(&e);

	/* a back-end without offloads: none offered, none accepted */
	env_up(&e, 0);
	env_probe(&e, NVSP_VERSION_61);
	T_ASSERT_EQ(nvg_query(&e.g, OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, in, 4, &rx), 0);
	memcpy(&o, rx.data + 8 + 16, sizeof(o));
	T_EXPECT_EQ(o.csum[1], 0);
	T_EXPECT_EQ(o.lsov2[0], 0);
	T_EXPECT_EQ(set_status(&e.g, OID_TCP_OFFLOAD_PARAMETERS, all_offloads, 28),
		    RNDIS_STATUS_INVALID_DATA);
	len = build_tcp(f, false, 14, 100, 0x18);
	T_EXPECT_EQ(send_ppi_frame(&e.g, f, len, RNDIS_PPI_CHECKSUM, 1u | 1u << 2 | 34u << 16),
		    NVSP_STAT_SUCCESS);
	T_EXPECT_EQ(e.n_tx, 0);
	netvsp_get_stats(e.nv, &st);
	T_EXPECT_EQ(st.tx_bad_offload, 1);
	env_down(&e);
}

/* The fragment flags of a host PACKET message (its RNDIS_PPI_PKTINFO_ID), or -1. */
static int frag_flags(const struct nvg_rx *rx)
{
	struct rndis_packet_wire p;
	uint32_t at, end;

	if (rx->len < 8 + sizeof(p))
		return -1;
	memcpy(&p, rx->data + 8, sizeof(p));
	at = 8 + p.ppi_offset;
	end = at + p.ppi_len;
	while (p.ppi_len && at + sizeof(struct rndis_ppi_wire) + 4 <= MIN(end, rx->len)) {
		struct rndis_ppi_wire ppi;
		uint32_t v;

		memcpy(&ppi, rx->data + at, sizeof(ppi));
		if (ppi.size < sizeof(ppi) + 4)
			return -1;
		if (ppi.type == RNDIS_PPI_PKTINFO_ID) {
			memcpy(&v, rx->data + at + ppi.ppi_offset, 4);
			return (v & 0xFF) == RNDIS_PKTINFO_ID_V1 ? (int)(v >> 8 & 0xFF) : -1;
		}
		at += ppi.size;
	}
	return -1;
}

/* Join the fragments of one coalesced frame as hv_netvsc does; its length,
 * or 0 when the fragments are not a well-formed FIRST..LAST series. The
 * first fragment's checksum PPI goes to *csum. */
static uint32_t take_rsc(struct nv_guest *g, uint8_t *out, uint32_t cap, uint32_t *frags,
			 uint32_t *csum)
{
	struct nvg_rx rx;
	uint32_t len = 0;

	*frags = 0;
	*csum = 0;
	while (nvg_take(g, RNDIS_MSG_PACKET, &rx)) {
		struct rndis_tx_info ti;
		int fl = frag_flags(&rx);

		if (rndis_parse_packet(rx.data, rx.len, &ti) || fl < 0 ||
		    !(fl & RNDIS_PKTINFO_SUBALLOC) || !!(fl & RNDIS_PKTINFO_FIRST_FRAG) != !*frags ||
		    len + ti.data_len > cap)
			return 0;
		if (!*frags && ti.has_csum)
			*csum = ti.csum_info;
		if (*frags && ti.has_csum)
			return 0; /* only the first fragment carries the PPIs */
		memcpy(out + len, rx.data + ti.data_off, ti.data_len);
		len += ti.data_len;
		(*frags)++;
		if (fl & RNDIS_PKTINFO_LAST_FRAG)
			return len;
	}
	return 0;
}

static const uint8_t rsc_on[28] = { NDIS_OBJECT_TYPE_DEFAULT, 3, 28, [22] = 2, [23] = 2 };
static const uint8_t rsc_off[28] = { NDIS_OBJECT_TYPE_DEFAULT, 3, 28, [22] = 1, [23] = 0 };

static void test_rx_rsc(void)
{
	struct env e;
	static uint8_t f[OFFLOAD_MAX_FRAME], got[OFFLOAD_MAX_FRAME], tagged[OFFLOAD_MAX_FRAME];
	uint8_t in[4] = { NDIS_OBJECT_TYPE_OFFLOAD, 3, 156, 0 };
	struct ndis_offload_wire o;
	struct netvsp_stats st;
	struct nvg_rx rx;
	uint32_t len, n, frags, csum, sent = 0;
	int r = 0;

	env_up_ex(&e, 0, ENV_OFFLOAD | ENV_RSC);
	env_probe(&e, NVSP_VERSION_61);
	T_ASSERT_EQ(nvg_query(&e.g, OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, in, 4, &rx), 0);
	memcpy(&o, rx.data + 8 + 16, sizeof(o));
	T_EXPECT_EQ(o.rsc_ip4, 1);
	T_EXPECT_EQ(o.rsc_ip6, 1);
	len = build_tcp(f, false, 14, 20000, 0x18);
	memcpy(f, MAC, 6);
	/* the probe switched RSC on (Linux's default LRO); off: the caller must segment */
	netvsp_get_stats(e.nv, &st);
	T_EXPECT_EQ(st.offloads, RNDIS_OFL_RSC);
	T_EXPECT_EQ(set_status(&e.g, OID_TCP_OFFLOAD_PARAMETERS, rsc_off, 28), 0);
	T_EXPECT_EQ(netvsp_rx_rsc(e.nv, f, len, 54 + 1448), -EOPNOTSUPP);
	T_EXPECT_EQ(set_status(&e.g, OID_TCP_OFFLOAD_PARAMETERS, rsc_on, 28), 0);
	netvsp_get_stats(e.nv, &st);
	T_EXPECT_EQ(st.offloads, RNDIS_OFL_RSC);
	/* one frame, several fragments in one packet, joined byte for byte */
	T_ASSERT_EQ(netvsp_rx_rsc(e.nv, f, len, 54 + 1448), 0);
	T_ASSERT(nvg_poll(&e.g) == 1);
	n = take_rsc(&e.g, got, sizeof(got), &frags, &csum);
	T_ASSERT_EQ(n, len);
	T_EXPECT(!memcmp(got, f, len));
	/* headers: 44 bytes + 16 per PPI (checksum and fragment PPIs first, fragment after) */
	T_EXPECT_EQ(frags, 1 + (len - (e.g.sub_alloc - 76) + e.g.sub_alloc - 61) / (e.g.sub_alloc - 60));
	T_EXPECT_EQ(csum, RNDIS_CSUM_RX_TCP_OK | RNDIS_CSUM_RX_IP_OK);
	/* IPv6 too; its largest segment must fit the MTU, and only TCP qualifies */
	len = build_tcp(f, true, 14, 9000, 0x10);
	memcpy(f, MAC, 6);
	T_ASSERT_EQ(netvsp_rx_rsc(e.nv, f, len, 74 + 1428), 0);
	nvg_poll(&e.g);
	T_ASSERT_EQ(take_rsc(&e.g, got, sizeof(got), &frags, &csum), len);
	T_EXPECT(!memcmp(got, f, len));
	T_EXPECT_EQ(csum, RNDIS_CSUM_RX_TCP_OK);
	T_EXPECT_EQ(netvsp_rx_rsc(e.nv, f, len, 1515), -EOPNOTSUPP);
	f[14 + 6] = 17;
	T_EXPECT_EQ(netvsp_rx_rsc(e.nv, f, len, 1000), -EOPNOTSUPP);
	/* more than half the guest's sections: segment instead */
	len = build_tcp(f, false, 14, 40000, 0x18);
	memcpy(f, MAC, 6);
	T_EXPECT_EQ(netvsp_rx_rsc(e.nv, f, len, 1514), -EOPNOTSUPP);
	/* not for this NIC's address: filtered, counts as done */
	len = build_tcp(f, false, 14, 20000, 0x18);
	T_EXPECT_EQ(netvsp_rx_rsc(e.nv, f, len, 1514), 0);
	nvg_poll(&e.g);
	T_EXPECT(!nvg_take(&e.g, RNDIS_MSG_PACKET, NULL));
	memcpy(f, MAC, 6);
	/* back-pressure: runs of sections in flight, then -EAGAIN until the
	 * guest completes; every section comes back */
	e.g.hold_completions = true;
	for (uint32_t i = 0; i < 8; i++) {
		r = netvsp_rx_rsc(e.nv, f, len, 1514);
		if (r)
			break;
		sent++;
		nvg_poll(&e.g);
	}
	T_EXPECT_EQ(r, -EAGAIN);
	T_EXPECT_EQ(sent, 2);
	e.g.n_rx = 0;
	e.g.hold_completions = false;
	nvg_release_held(&e.g);
	T_EXPECT_EQ(e.rx_room, 1);
	for (uint32_t i = 0; i < 8; i++) { /* all sections free again, in any position */
		T_ASSERT_EQ(netvsp_rx_rsc(e.nv, f, len, 1514), 0);
		nvg_poll(&e.g);
		T_ASSERT_EQ(take_rsc(&e.g, got, sizeof(got), &frags, &csum), len);
	}
	T_EXPECT(!memcmp(got, f, len));
	/* a hostile completion naming a run of free sections changes nothing */
	{
		struct nvsp_rndis_pkt_complete_wire c = { NVSP_MSG1_SEND_RNDIS_PKT_COMPLETE, 1 };
		uint64_t bad0;

		netvsp_get_stats(e.nv, &st);
		bad0 = st.bad_msgs;
		T_EXPECT_EQ(fg_chan_write(&e.g.ch, VMBUS_PKT_COMP, 0, 0x6e65740500000001ull, &c,
					  sizeof(c)), 0);
		T_EXPECT_EQ(fg_chan_write(&e.g.ch, VMBUS_PKT_COMP, 0, 0x6e6574ff00000000ull, &c,
					  sizeof(c)), 0);
		T_ASSERT_EQ(netvsp_rx_rsc(e.nv, f, len, 1514), 0);
		nvg_poll(&e.g);
		T_EXPECT_EQ(take_rsc(&e.g, got, sizeof(got), &frags, &csum), len);
		netvsp_get_stats(e.nv, &st);
		T_EXPECT_EQ(st.bad_msgs, bad0 + 2);
	}
	netvsp_get_stats(e.nv, &st);
	T_EXPECT_EQ(st.rx_rsc, 13);
	T_EXPECT_GE(st.rx_rsc_frags, 12 * 12);
	/* the guest turns LRO off (e.g. it starts forwarding) */
	T_EXPECT_EQ(set_status(&e.g, OID_TCP_OFFLOAD_PARAMETERS, rsc_off, 28), 0);
	T_EXPECT_EQ(netvsp_rx_rsc(e.nv, f, len, 1514), -EOPNOTSUPP);
	T_EXPECT_EQ(e.g.bad_xfer, 0);
	env_down(&e);

	/* an access port: the tag comes out of the coalesced frame too */
	env_up_ex(&e, 42, ENV_OFFLOAD | ENV_RSC);
	env_probe(&e, NVSP_VERSION_61);
	T_EXPECT_EQ(set_status(&e.g, OID_TCP_OFFLOAD_PARAMETERS, rsc_on, 28), 0);
	len = build_tcp(tagged, false, 18, 15000, 0x18);
	memcpy(tagged, MAC, 6);
	T_ASSERT_EQ(netvsp_rx_rsc(e.nv, tagged, len, 1518), 0);
	nvg_poll(&e.g);
	T_ASSERT_EQ(take_rsc(&e.g, got, sizeof(got), &frags, &csum), len - 4);
	T_EXPECT(!memcmp(got, tagged, 12));
	T_EXPECT(!memcmp(got + 12, tagged + 16, len - 16));
	T_EXPECT_EQ(csum, RNDIS_CSUM_RX_TCP_OK | RNDIS_CSUM_RX_IP_OK);
	tagged[15] = 43; /* another VLAN: dropped */
	T_EXPECT_EQ(netvsp_rx_rsc(e.nv, tagged, len, 1518), 0);
	nvg_poll(&e.g);
	T_EXPECT(!nvg_take(&e.g, RNDIS_MSG_PACKET, NULL));
	env_down(&e);

	/* a back-end that never coalesces: RSC not offered, not accepted */
	env_up_ex(&e, 0, ENV_OFFLOAD);
	env_probe(&e, NVSP_VERSION_61);
	T_EXPECT_EQ(set_status(&e.g, OID_TCP_OFFLOAD_PARAMETERS, rsc_on, 28),
		    RNDIS_STATUS_INVALID_DATA);
	env_down(&e);
}

/* OID_GEN_RNDIS_CONFIG_PARAMETER "NetworkAddress" = hex, as Linux builds it. */
static uint32_t set_mac(struct nv_guest *g, const char *hex)
{
	uint8_t in[20 + 28 + 48] = { 0 };
	struct rndis_config_param_wire p = { 20, 28, RNDIS_CONFIG_PARAM_STRING, 48,
					     2 * (uint32_t)strlen(hex) };
	static const char name[] = "NetworkAddress";

	memcpy(in, &p, sizeof(p));
	for (int i = 0; name[i]; i++)
		in[20 + 2 * i] = (uint8_t)name[i];
	for (int i = 0; hex[i] && i < 24; i++)
		in[48 + 2 * i] = (uint8_t)hex[i];
	return set_status(g, OID_GEN_RNDIS_CONFIG_PARAMETER, in, 48 + p.value_length);
}

/* ---- vRSS ---- */

/* The Toeplitz hash against the published RSS verification values (the
 * well-known 40-byte key, IPv4 and IPv6, with and without the TCP ports). */
static const uint8_t rss_key[RSS_KEY_LEN] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

static void test_rss_hash(void)
{
	/* 66.9.149.187:2794 -> 161.142.100.80:1766 */
	static const uint8_t v4[12] = { 66, 9, 149, 187, 161, 142, 100, 80, 0x0a, 0xea, 0x06, 0xe6 };
	/* 199.92.111.2:14230 -> 65.69.140.83:4739 */
	static const uint8_t v4b[12] = { 199, 92, 111, 2, 65, 69, 140, 83, 0x37, 0x96, 0x12, 0x83 };
	/* 3ffe:2501:200:1fff::7 port 2794 -> 3ffe:2501:200:3::1 port 1766 */
	static const uint8_t v6[36] = { 0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff, [15] = 7,
					0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03, [31] = 1,
					0x0a, 0xea, 0x06, 0xe6 };
	struct rss_state st = { .on = true, .itab_len = 4, .itab = { 0, 1, 2, 3 },
				.hashinfo = RSS_HASH_FUNC_TOEPLITZ | RSS_HASH_IPV4 |
					    RSS_HASH_TCP_IPV4 | RSS_HASH_IPV6 | RSS_HASH_TCP_IPV6 };
	static uint8_t f[128];
	uint32_t h = 0, len;

	T_EXPECT_EQ(rss_toeplitz(rss_key, v4, 8), 0x323e8fc2u);
	T_EXPECT_EQ(rss_toeplitz(rss_key, v4, 12), 0x51ccc178u);
	T_EXPECT_EQ(rss_toeplitz(rss_key, v4b, 8), 0xd718262au);
	T_EXPECT_EQ(rss_toeplitz(rss_key, v4b, 12), 0xc626b0eau);
	T_EXPECT_EQ(rss_toeplitz(rss_key, v6, 32), 0x2cc18cd5u);
	T_EXPECT_EQ(rss_toeplitz(rss_key, v6, 36), 0x40207d3du);
	memcpy(st.key, rss_key, sizeof(rss_key));
	/* A whole frame: addresses and ports come from the right places. */
	len = build_tcp(f, false, 14, 10, 0x18);
	memcpy(f + 26, v4, 8);
	memcpy(f + 34, v4 + 8, 4);
	T_ASSERT(rss_frame_hash(&st, f, len, &h));
	T_EXPECT_EQ(h, 0x51ccc178u);
	T_EXPECT_EQ(rss_channel(&st, f, len), 0x51ccc178u % 4);
	/* with an 802.1Q tag */
	len = build_tcp(f, false, 18, 10, 0x18);
	memcpy(f + 30, v4, 8);
	memcpy(f + 38, v4 + 8, 4);
	T_ASSERT(rss_frame_hash(&st, f, len, &h));
	T_EXPECT_EQ(h, 0x51ccc178u);
	/* IPv6 */
	len = build_tcp(f, true, 14, 10, 0x18);
	memcpy(f + 22, v6, 32);
	memcpy(f + 54, v6 + 32, 4);
	T_ASSERT(rss_frame_hash(&st, f, len, &h));
	T_EXPECT_EQ(h, 0x40207d3du);
	/* TCP hashing off: addresses only */
	st.hashinfo &= ~RSS_HASH_TCP_IPV6;
	T_ASSERT(rss_frame_hash(&st, f, len, &h));
	T_EXPECT_EQ(h, 0x2cc18cd5u);
	/* An IPv4 fragment hashes by address only. */
	len = build_tcp(f, false, 14, 10, 0x18);
	memcpy(f + 26, v4, 8);
	f[20] = 0x20; /* more fragments */
	T_ASSERT(rss_frame_hash(&st, f, len, &h));
	T_EXPECT_EQ(h, 0x323e8fc2u);
	/* Not IP, truncated, bad version or header length: no hash, channel 0. */
	f[12] = 0x08;
	f[13] = 0x06;
	T_EXPECT(!rss_frame_hash(&st, f, len, &h));
	T_EXPECT_EQ(rss_channel(&st, f, len), 0);
	f[13] = 0x00;
	T_EXPECT(!rss_frame_hash(&st, f, 30, &h));
	f[14] = 0x65;
	T_EXPECT(!rss_frame_hash(&st, f, len, &h));
	f[14] = 0x41;
	T_EXPECT(!rss_frame_hash(&st, f, len, &h));
	f[14] = 0x4F; /* 60-byte header, longer than the frame */
	T_EXPECT(!rss_frame_hash(&st, f, 40, &h));
	/* RSS off: channel 0 for everything. */
	f[14] = 0x45;
	st.on = false;
	T_EXPECT_EQ(rss_channel(&st, f, len), 0);
}

/* RSS parameters as Linux's rndis_set_rss_param_msg() lays them out. */
static uint32_t rss_params(uint8_t *buf, uint16_t flags, uint32_t entries, uint32_t queues,
			   uint32_t key_len)
{
	struct ndis_rss_params_wire p = {
		.hdr = { NDIS_OBJECT_TYPE_RSS_PARAMETERS, 2, sizeof(p) },
		.flags = flags,
		.hashinfo = RSS_HASH_FUNC_TOEPLITZ | RSS_HASH_IPV4 | RSS_HASH_TCP_IPV4 |
			    RSS_HASH_IPV6 | RSS_HASH_TCP_IPV6,
		.itab_size = (uint16_t)(4 * entries),
		.itab_offset = sizeof(p),
		.key_size = (uint16_t)key_len,
		.key_offset = (uint32_t)(sizeof(p) + 4 * entries),
	};

	memcpy(buf, &p, sizeof(p));
	for (uint32_t i = 0; i < entries; i++) {
		uint32_t q = i % queues;

		memcpy(buf + sizeof(p) + 4 * i, &q, 4);
	}
	memcpy(buf + p.key_offset, rss_key, MIN(key_len, sizeof(rss_key)));
	return p.key_offset + key_len;
}

/* A receive queue's frames: poll that channel only. */
static bool rx_on(struct env *e, struct fg_chan *ch)
{
	struct fg_chan keep = e->g.ch;
	bool got;

	e->g.ch = *ch;
	nvg_poll(&e->g);
	got = nvg_take(&e->g, RNDIS_MSG_PACKET, NULL);
	e->g.ch = keep;
	return got;
}

/* vRSS end to end against the fake guest: capabilities, sub-channels on
 * request, RSS parameters (and hostile ones), frames spread by their flow
 * hash, and the sub-channels rescinded when the guest closes the primary. */
static void test_vrss(void)
{
	struct env e;
	struct ndis_rss_caps_wire caps;
	/* Linux sends the header in an 18-byte input buffer. */
	uint8_t in[18] = { NDIS_OBJECT_TYPE_RSS_CAPABILITIES, 2, 18, 0 };
	static uint8_t buf[1024], f[256];
	struct nvsp_subchannel_wire req = { .type = NVSP_MSG5_SUBCHANNEL,
					    .op_or_status = NVSP_SUBCHANNEL_ALLOCATE,
					    .num_subchannels = 7 }, c;
	struct vmbus_offer_channel_wire off;
	struct fg_chan subs[3];
	struct netvsp_stats st;
	struct rss_state rs = { .on = true, .itab_len = 128 };
	struct fg_msg m;
	uint32_t n = sizeof(caps), len, hits[4] = { 0 };
	int k = 0;

	env_up_ex(&e, 0, ENV_VRSS);
	env_probe(&e, NVSP_VERSION_61);
	T_ASSERT_EQ(nvg_query_value(&e.g, OID_GEN_RECEIVE_SCALE_CAPABILITIES, in, sizeof(in), &caps,
				    &n), 0);
	T_EXPECT_EQ(n, 18);
	T_EXPECT_EQ(caps.hdr.type, NDIS_OBJECT_TYPE_RSS_CAPABILITIES);
	T_EXPECT_EQ(caps.num_recv_queues, 4);
	T_EXPECT_EQ(caps.num_itab_entries, 128);
	/* Wrong op: refused. Then 7 asked, 3 made (4 queues). */
	req.op_or_status = 2;
	T_ASSERT_EQ(nvg_request(&e.g, &req, sizeof(req)), 0);
	memcpy(&c, e.g.last_comp, sizeof(c));
	T_EXPECT_EQ(c.op_or_status, NVSP_STAT_FAIL);
	req.op_or_status = NVSP_SUBCHANNEL_ALLOCATE;
	T_ASSERT_EQ(nvg_request(&e.g, &req, sizeof(req)), 0);
	memcpy(&c, e.g.last_comp, sizeof(c));
	T_EXPECT_EQ(c.type, NVSP_MSG5_SUBCHANNEL);
	T_EXPECT_EQ(c.op_or_status, NVSP_STAT_SUCCESS);
	T_EXPECT_EQ(c.num_subchannels, 3);
	/* all exist: a second request gets none */
	T_ASSERT_EQ(nvg_request(&e.g, &req, sizeof(req)), 0);
	memcpy(&c, e.g.last_comp, sizeof(c));
	T_EXPECT_EQ(c.op_or_status, NVSP_STAT_FAIL);
	fg_poll_msgs(e.fg);
	while (k < 3 && fg_take_msg(e.fg, VMBUS_MSG_OFFERCHANNEL, &m)) {
		memcpy(&off, m.data, sizeof(off));
		T_EXPECT_EQ(off.sub_channel_index, k + 1);
		T_ASSERT_EQ(fg_open(e.fg, &off, 16, 16, 0, &subs[k]), 0);
		k++;
	}
	T_ASSERT_EQ(k, 3);
	/* Setup messages on a sub-channel are refused there. */
	{
		struct fg_chan keep = e.g.ch;
		struct nvsp_init_wire init = { NVSP_MSG_INIT, NVSP_VERSION_1, NVSP_VERSION_61 };

		e.g.ch = subs[0];
		T_ASSERT_EQ(nvg_request(&e.g, &init, sizeof(init)), 0);
		memcpy(&c, e.g.last_comp, sizeof(c));
		T_EXPECT_EQ(c.op_or_status, NVSP_STAT_FAIL);
		e.g.ch = keep;
	}
	/* Hostile parameters: queue numbers out of range, short key, table
	 * outside the buffer, no entries. */
	len = rss_params(buf, 0, 128, 5, 40);
	T_EXPECT_EQ(set_status(&e.g, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len),
		    RNDIS_STATUS_INVALID_DATA);
	len = rss_params(buf, 0, 128, 4, 39);
	T_EXPECT_EQ(set_status(&e.g, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len),
		    RNDIS_STATUS_INVALID_DATA);
	len = rss_params(buf, 0, 128, 4, 40);
	T_EXPECT_EQ(set_status(&e.g, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len - 41),
		    RNDIS_STATUS_INVALID_DATA);
	len = rss_params(buf, 0, 0, 4, 40);
	T_EXPECT_EQ(set_status(&e.g, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len),
		    RNDIS_STATUS_INVALID_DATA);
	len = rss_params(buf, NDIS_RSS_PARAM_ITABLE_UNCHANGED, 0, 4, 40); /* never set */
	T_EXPECT_EQ(set_status(&e.g, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len),
		    RNDIS_STATUS_INVALID_DATA);
	/* Linux's pair: disable, then the table i % 4 and the key. */
	len = rss_params(buf, NDIS_RSS_PARAM_DISABLE_RSS, 128, 4, 40);
	T_EXPECT_EQ(set_status(&e.g, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len), 0);
	len = rss_params(buf, 0, 128, 4, 40);
	T_EXPECT_EQ(set_status(&e.g, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len), 0);
	/* 32 flows: each arrives on the channel its hash names, and only there. */
	rs.hashinfo = RSS_HASH_FUNC_TOEPLITZ | RSS_HASH_IPV4 | RSS_HASH_TCP_IPV4;
	memcpy(rs.key, rss_key, sizeof(rss_key));
	for (uint32_t i = 0; i < 128; i++)
		rs.itab[i] = (uint16_t)(i % 4);
	for (uint32_t flow = 0; flow < 32; flow++) {
		uint16_t want;
		bool got[4];

		len = build_tcp(f, false, 14, 100, 0x18);
		memcpy(f, MAC, 6);
		f[34] = (uint8_t)(flow >> 8);
		f[35] = (uint8_t)(flow * 37);
		want = rss_channel(&rs, f, len);
		T_ASSERT_EQ(netvsp_rx(e.nv, f, len), 0);
		got[0] = rx_on(&e, &e.g.ch);
		for (int q = 1; q < 4; q++)
			got[q] = rx_on(&e, &subs[q - 1]);
		for (int q = 0; q < 4; q++)
			T_EXPECT_EQ(got[q], q == want);
		hits[want]++;
	}
	for (int q = 0; q < 4; q++)
		T_EXPECT_NE(hits[q], 0); /* 32 flows reach every queue */
	/* Non-IP frames go to the primary. */
	make_frame(f, 60, MAC, 9);
	f[13] = 0x06;
	T_ASSERT_EQ(netvsp_rx(e.nv, f, 60), 0);
	T_EXPECT(rx_on(&e, &e.g.ch));
	netvsp_get_stats(e.nv, &st);
	T_EXPECT_EQ(st.rx_subchannel, 32 - hits[0]);
	T_EXPECT_EQ(e.g.bad_xfer, 0);
	/* A guest frame sent on a sub-channel goes out, completed there. */
	{
		struct fg_chan keep = e.g.ch;

		e.g.ch = subs[1];
		make_frame(f, 80, PEER, 5);
		T_EXPECT_EQ(nvg_send_frame(&e.g, f, 80, -1, false), NVSP_STAT_SUCCESS);
		e.g.ch = keep;
		T_EXPECT_EQ(e.n_tx, 1);
	}
	/* The guest closes its sub-channels, then the primary (Linux's order):
	 * the sub-channels are rescinded; after a reopen it gets new ones. */
	for (int q = 0; q < 3; q++)
		T_ASSERT_EQ(fg_close(&subs[q]), 0);
	T_ASSERT_EQ(fg_close(&e.g.ch), 0);
	fg_poll_msgs(e.fg);
	for (int q = 0; q < 3; q++)
		T_EXPECT(fg_take_msg(e.fg, VMBUS_MSG_RESCIND_CHANNELOFFER, &m));
	T_ASSERT_EQ(nvg_open(&e.g, e.fg, &e.offer, 64), 0);
	env_probe(&e, NVSP_VERSION_61);
	req.num_subchannels = 1;
	T_ASSERT_EQ(nvg_request(&e.g, &req, sizeof(req)), 0);
	memcpy(&c, e.g.last_comp, sizeof(c));
	T_EXPECT_EQ(c.op_or_status, NVSP_STAT_SUCCESS);
	T_EXPECT_EQ(c.num_subchannels, 1);
	fg_poll_msgs(e.fg);
	T_ASSERT(fg_take_msg(e.fg, VMBUS_MSG_OFFERCHANNEL, &m));
	memcpy(&off, m.data, sizeof(off));
	T_EXPECT_EQ(off.sub_channel_index, 1);
	/* RSS is off again after the reconnect: everything on the primary. */
	len = build_tcp(f, false, 14, 100, 0x18);
	memcpy(f, MAC, 6);
	T_ASSERT_EQ(netvsp_rx(e.nv, f, len), 0);
	T_EXPECT(rx_on(&e, &e.g.ch));
	netvsp_get_stats(e.nv, &st);
	T_EXPECT_EQ(st.bad_msgs, 3); /* the wrong op, the request too many, INIT on a sub-channel */
	env_down(&e);
}

static void test_mac_spoofing(void)
{
	struct env e;
	uint8_t f[100];
	static const uint8_t newmac[6] = { 0x02, 0x6f, 0x68, 0, 0, 0x99 };
	struct netvsp_stats st;
	struct nvg_rx rx;
	uint8_t mac[6];
	uint32_t n;

	/* default: protection on */
	env_up(&e, 0);
	env_probe(&e, NVSP_VERSION_61);
	make_frame(f, sizeof(f), PEER, 1);
	T_EXPECT_EQ(nvg_send_frame(&e.g, f, sizeof(f), -1, false), NVSP_STAT_SUCCESS);
	f[11] ^= 0x40; /* someone else's source address */
	T_EXPECT_EQ(nvg_send_frame(&e.g, f, sizeof(f), -1, false), NVSP_STAT_SUCCESS);
	T_EXPECT_EQ(e.n_tx, 1);
	T_EXPECT_EQ(set_mac(&e.g, "026f68000099"), RNDIS_STATUS_NOT_SUPPORTED);
	netvsp_get_stats(e.nv, &st);
	T_EXPECT_EQ(st.tx_spoofed, 1);
	T_EXPECT_EQ(st.tx_dropped, 1);
	T_EXPECT(!memcmp(st.mac, MAC, 6));
	env_down(&e);

	/* allowed: any source goes, and the guest may change its address */
	env_up_ex(&e, 0, ENV_SPOOF_OK);
	env_probe(&e, NVSP_VERSION_61);
	T_EXPECT_EQ(nvg_send_frame(&e.g, f, sizeof(f), -1, false), NVSP_STAT_SUCCESS);
	T_EXPECT_EQ(e.n_tx, 1);
	T_EXPECT_EQ(set_mac(&e.g, "026F6800009"), RNDIS_STATUS_INVALID_DATA); /* 11 digits */
	T_EXPECT_EQ(set_mac(&e.g, "026f680000xx"), RNDIS_STATUS_INVALID_DATA);
	T_EXPECT_EQ(set_mac(&e.g, "036f68000099"), RNDIS_STATUS_INVALID_DATA); /* multicast */
	T_EXPECT_EQ(set_mac(&e.g, "026f68000099"), 0);
	netvsp_get_stats(e.nv, &st);
	T_EXPECT(!memcmp(st.mac, newmac, 6));
	n = 6;
	T_ASSERT_EQ(nvg_query(&e.g, OID_802_3_CURRENT_ADDRESS, NULL, 0, &rx), 0);
	memcpy(mac, rx.data + 8 + 16, 6);
	T_EXPECT(!memcmp(mac, newmac, 6));
	T_ASSERT_EQ(nvg_query(&e.g, OID_802_3_PERMANENT_ADDRESS, NULL, 0, &rx), 0);
	memcpy(mac, rx.data + 8 + 16, n);
	T_EXPECT(!memcmp(mac, MAC, 6));
	/* frames to the new address pass the guest's directed filter */
	make_frame(f, 60, newmac, 2);
	T_EXPECT_EQ(netvsp_rx(e.nv, f, 60), 0);
	nvg_poll(&e.g);
	T_EXPECT(nvg_take(&e.g, RNDIS_MSG_PACKET, NULL));
	env_down(&e);
}

static void test_jumbo_mtu(void)
{
	struct env e;
	static uint8_t f[9100];
	struct netvsp_stats st;
	struct nvg_rx rx;
	struct rndis_tx_info ti;
	uint32_t v;

	env_up(&e, 0);
	e.g.mtu = 9000;
	env_probe(&e, NVSP_VERSION_61);
	T_EXPECT(e.g.sub_alloc >= 9014 + RNDIS_RX_HDR_MAX);
	T_EXPECT_EQ(e.mtu_set, 9000);
	T_ASSERT_EQ(nvg_query(&e.g, OID_GEN_MAXIMUM_FRAME_SIZE, NULL, 0, &rx), 0);
	memcpy(&v, rx.data + 8 + 16, 4);
	T_EXPECT_EQ(v, 9000);
	netvsp_get_stats(e.nv, &st);
	T_EXPECT_EQ(st.mtu, 9000);
	make_frame(f, 9014, MAC, 5);
	T_ASSERT_EQ(netvsp_rx(e.nv, f, 9014), 0);
	nvg_poll(&e.g);
	T_ASSERT(nvg_take(&e.g, RNDIS_MSG_PACKET, &rx));
	T_ASSERT_EQ(rndis_parse_packet(rx.data, rx.len, &ti), 0);
	T_EXPECT_EQ(ti.data_len, 9014);
	T_EXPECT(!memcmp(rx.data + ti.data_off, f, 9014));
	T_EXPECT_EQ(netvsp_rx(e.nv, f, 9015), -EMSGSIZE);
	T_EXPECT_EQ(e.g.bad_xfer, 0);
	env_down(&e);

	/* more than we take: the guest is told 9000 */
	env_up(&e, 0);
	e.g.mtu = 16000;
	env_probe(&e, NVSP_VERSION_61);
	T_ASSERT_EQ(nvg_query(&e.g, OID_GEN_MAXIMUM_FRAME_SIZE, NULL, 0, &rx), 0);
	memcpy(&v, rx.data + 8 + 16, 4);
	T_EXPECT_EQ(v, 9000);
	env_down(&e);

	/* default 1500: a 1515-byte frame is refused */
	env_up(&e, 0);
	env_probe(&e, NVSP_VERSION_61);
	T_EXPECT_EQ(e.mtu_set, 0); /* nothing to change */
	T_EXPECT_EQ(netvsp_rx(e.nv, f, 1515), -EMSGSIZE);
	env_down(&e);
}

static void test_tap_vnet_socketpair(void)
{
	struct fake_guest *fg;
	struct netvsp_tap *tap;
	struct netvsp_backend be;
	struct netvsp_config cfg = { 0 };
	struct vmbus_offer_channel_wire offer;
	static struct nv_guest g2;
	static const uint8_t inst2[16] = { 0x6f, 0x68, 0x76, 0, 0x6e, 0x65, 0x74, 0x40, 0x80, 3 };
	struct netvsp *nv2;
	int sv[2], got = 0;
	static uint8_t buf[16384], f[8000];
	uint8_t mac[6];
	struct netvsp_vnet_hdr_wire h = { VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, 54, 1000, 34, 16 };
	uint32_t len;
	struct nvg_rx rx;
	struct netvsp_stats st;
	ssize_t n;

	T_ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	T_ASSERT_EQ(fg_new(1, RAM, &fg), 0);
	T_ASSERT_EQ(fg_boot(fg), 0);
	memcpy(cfg.mac, MAC, 6);
	T_ASSERT_EQ(netvsp_tap_from_fd_vnet(sv[0], NULL, 1, &tap), 0);
	netvsp_tap_backend(tap, &be);
	T_ASSERT(be.tx_offload != NULL);
	T_ASSERT_EQ(netvsp_new(fg->srv, fg->gm, &cfg, inst2, &be, &nv2), 0);
	T_ASSERT_EQ(fg_connect(fg), VMBUS_VERSION_WIN10_V5_3);
	T_ASSERT_EQ(fg_request_offers(fg, &offer, 1), 1);
	T_ASSERT_EQ(nvg_open(&g2, fg, &offer, 64), 0);
	T_ASSERT_EQ(nvg_connect(&g2, NVSP_VERSION_61, RECV_BYTES, SEND_BYTES), 0);
	T_ASSERT_EQ(nvg_probe(&g2, mac), 0);
	T_EXPECT_EQ(set_status(&g2, OID_TCP_OFFLOAD_PARAMETERS, all_offloads, 28), 0);
	T_EXPECT_EQ(set_status(&g2, OID_TCP_OFFLOAD_PARAMETERS, rsc_off, 28), 0);
	T_ASSERT_EQ(netvsp_tap_start(tap, nv2), 0);
	/* host -> guest, RSC off: one 3-segment GSO frame becomes 3 checksummed frames */
	len = build_tcp(f, false, 14, 2500, 0x18);
	memcpy(f, MAC, 6);
	set_check(f, 50, pseudo(f, 14, false, len - 34));
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), f, len);
	T_ASSERT_EQ(write(sv[1], buf, sizeof(h) + len), (ssize_t)(sizeof(h) + len));
	for (int i = 0; i < 2000 && got < 3; i++) {
		nvg_poll(&g2);
		while (got < 3 && nvg_take(&g2, RNDIS_MSG_PACKET, &rx)) {
			struct rndis_tx_info ti;
			uint8_t *s = rx.data;

			T_ASSERT_EQ(rndis_parse_packet(rx.data, rx.len, &ti), 0);
			T_EXPECT(ti.has_csum);
			T_EXPECT_EQ(ti.data_len, got < 2 ? 1054u : 554u);
			T_EXPECT(tcp_ok(s + ti.data_off, ti.data_len, 14, false));
			T_EXPECT(ip4_ok(s + ti.data_off, 14));
			got++;
		}
		if (got < 3)
			sleep_ms(2);
	}
	T_EXPECT_EQ(got, 3);
	/* a bad header is dropped, the next frame still arrives */
	h.csum_start = 20;
	memcpy(buf, &h, sizeof(h));
	T_ASSERT_EQ(write(sv[1], buf, sizeof(h) + len), (ssize_t)(sizeof(h) + len));
	/* guest -> host: the checksum request becomes the header */
	len = build_tcp(f, false, 14, 300, 0x18);
	T_EXPECT_EQ(send_ppi_frame(&g2, f, len, RNDIS_PPI_CHECKSUM, 1u | 1u << 2 | 34u << 16),
		    NVSP_STAT_SUCCESS);
	n = read(sv[1], buf, sizeof(buf));
	T_ASSERT_EQ(n, (ssize_t)(sizeof(h) + len));
	memcpy(&h, buf, sizeof(h));
	T_EXPECT_EQ(h.flags, VNET_F_NEEDS_CSUM);
	T_EXPECT_EQ(h.csum_start, 34);
	T_EXPECT_EQ(h.csum_offset, 16);
	T_EXPECT(!memcmp(buf + sizeof(h), f, len));
	/* with RSC on, the GSO frame reaches the guest whole */
	T_EXPECT_EQ(set_status(&g2, OID_TCP_OFFLOAD_PARAMETERS, rsc_on, 28), 0);
	len = build_tcp(f, false, 14, 2500, 0x18);
	memcpy(f, MAC, 6);
	set_check(f, 50, pseudo(f, 14, false, len - 34));
	h = (struct netvsp_vnet_hdr_wire){ VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, 54, 1000, 34, 16 };
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), f, len);
	T_ASSERT_EQ(write(sv[1], buf, sizeof(h) + len), (ssize_t)(sizeof(h) + len));
	got = 0;
	for (int i = 0; i < 2000 && !got; i++) {
		static uint8_t whole[8000];
		uint32_t frags, csum;

		nvg_poll(&g2);
		if (g2.n_rx) {
			T_ASSERT_EQ(take_rsc(&g2, whole, sizeof(whole), &frags, &csum), len);
			T_EXPECT(!memcmp(whole, f, len));
			T_EXPECT_EQ(frags, 2);
			T_EXPECT_EQ(csum, RNDIS_CSUM_RX_TCP_OK | RNDIS_CSUM_RX_IP_OK);
			got = 1;
		} else {
			sleep_ms(2);
		}
	}
	T_EXPECT_EQ(got, 1);
	netvsp_tap_stop(tap);
	netvsp_get_stats(nv2, &st);
	T_EXPECT_EQ(st.rx_gso_segments, 3);
	T_EXPECT_EQ(st.rx_rsc, 1);
	T_EXPECT_EQ(st.rx_csum_ok, 4);
	netvsp_free(nv2);
	netvsp_tap_free(tap);
	close(sv[1]);
	fg_free(fg);
}

static const struct t_case cases[] = {
	T_CASE(test_rndis_control_table),
	T_CASE(test_rndis_packet_table),
	T_CASE(test_rx_header_roundtrip),
	T_CASE(test_packet_filter_table),
	T_CASE(test_version_ladder_and_probe),
	T_CASE(test_init_refused_outside_range),
	T_CASE(test_tx_paths),
	T_CASE(test_tx_batched_section),
	T_CASE(test_rx_to_guest),
	T_CASE(test_rx_backpressure),
	T_CASE(test_link_indication),
	T_CASE(test_vlan_access_port),
	T_CASE(test_hostile_nvsp),
	T_CASE(test_close_reopen),
	T_CASE(test_flooding_guest_breaks_channel),
	T_CASE(test_tap_socketpair),
	T_CASE(test_offload_tx_prepare),
	T_CASE(test_offload_rx_segment),
	T_CASE(test_offload_vsp),
	T_CASE(test_rx_rsc),
	T_CASE(test_rss_hash),
	T_CASE(test_vrss),
	T_CASE(test_mac_spoofing),
	T_CASE(test_jumbo_mtu),
	T_CASE(test_tap_vnet_socketpair),
	{ 0 },
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
