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
#include "vsp/netvsp/rndis.h"
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
	{ "set mac change", RNDIS_MSG_SET, OID_GEN_RNDIS_CONFIG_PARAMETER, 8, 0, 0, { 0 }, 0,
	  RNDIS_MSG_SET_C, RNDIS_STATUS_NOT_SUPPORTED, 0 },
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

static void fake_rx_room(void *o)
{
	((struct env *)o)->rx_room++;
}

static void env_up(struct env *e, uint16_t vlan)
{
	struct netvsp_config cfg = { .vlan = vlan };
	struct netvsp_backend be = { fake_tx, fake_rx_room, e };
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

static void env_probe(struct env *e, uint32_t max_version)
{
	uint8_t mac[6];

	T_ASSERT_EQ(nvg_connect(&e->g, max_version, RECV_BYTES, SEND_BYTES), 0);
	T_ASSERT_EQ(nvg_probe(&e->g, mac), 0);
	T_EXPECT(!memcmp(mac, MAC, 6));
}

static void env_down(struct env *e)
{
	netvsp_free(e->nv);
	fg_free(e->fg);
}

static void make_frame(uint8_t *f, uint32_t len, const uint8_t dst[6], uint8_t seed)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x09", 6);
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
	{ 0 },
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
