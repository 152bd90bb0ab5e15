// SPDX-License-Identifier: MIT
/* storvsp against a fake storvsc over the real hv + VMBus: init sequence,
 * LUN scan, GPA-direct data transfers, error completions, hostile packets. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/t.h"
#include "sv_guest.h"

#define SIZE (4u * 1024u * 1024u)

static struct sv_guest g;

static void setup(unsigned int luns)
{
	T_ASSERT_EQ(svg_new(&g, luns, SIZE, 512), 0);
	T_ASSERT_EQ(svg_init(&g), 0);
}

static void test_init_sequence(void)
{
	struct vstor_packet_wire vp = { 0 }, c;

	T_ASSERT_EQ(svg_new(&g, 1, SIZE, 512), 0);
	/* An SRB before the handshake is refused, not executed. */
	vp.operation = VSTOR_OP_EXECUTE_SRB;
	vp.srb.cdb_length = 6;
	T_ASSERT_EQ(svg_request(&g, &vp, 7, &c), 0);
	T_EXPECT_EQ(c.operation, VSTOR_OP_COMPLETE_IO);
	T_EXPECT_NE(c.status, 0);
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OP_BEGIN_INIT;
	T_ASSERT_EQ(svg_request(&g, &vp, VMBUS_RQST_ID_NO_RESPONSE, &c), 0);
	T_EXPECT_EQ(c.status, 0);
	/* Pre-Win8 versions are refused with COMPLETE_IO and a failure status. */
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OP_QUERY_PROTOCOL_VERSION;
	vp.version.major_minor = 0x0402;
	T_ASSERT_EQ(svg_request(&g, &vp, VMBUS_RQST_ID_NO_RESPONSE, &c), 0);
	T_EXPECT_EQ(c.operation, VSTOR_OP_COMPLETE_IO);
	T_EXPECT_NE(c.status, 0);
	T_EXPECT_EQ(storvsp_protocol(g.sv), 0);
	vp.version.major_minor = VSTOR_PROTO_WIN10;
	T_ASSERT_EQ(svg_request(&g, &vp, VMBUS_RQST_ID_NO_RESPONSE, &c), 0);
	T_EXPECT_EQ(c.status, 0);
	T_EXPECT_EQ(storvsp_protocol(g.sv), VSTOR_PROTO_WIN10);
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OP_QUERY_PROPERTIES;
	T_ASSERT_EQ(svg_request(&g, &vp, VMBUS_RQST_ID_NO_RESPONSE, &c), 0);
	T_EXPECT_EQ(c.status, 0);
	T_EXPECT_EQ(c.props.max_transfer_bytes, STORVSP_MAX_TRANSFER);
	T_EXPECT_EQ(c.props.max_channel_cnt, 0);
	T_EXPECT_EQ(c.props.flags & 1, 0);
	/* Sub-channels were not offered: asking for them fails cleanly. */
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OP_CREATE_SUB_CHANNELS;
	vp.sub_channel_count = 3;
	T_ASSERT_EQ(svg_request(&g, &vp, VMBUS_RQST_ID_NO_RESPONSE, &c), 0);
	T_EXPECT_NE(c.status, 0);
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OP_END_INIT;
	T_ASSERT_EQ(svg_request(&g, &vp, VMBUS_RQST_ID_NO_RESPONSE, &c), 0);
	T_EXPECT_EQ(c.status, 0);
	/* The guest's win8.1 / win8 fallbacks are accepted too. */
	svg_free(&g);
	T_ASSERT_EQ(svg_new(&g, 1, SIZE, 512), 0);
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OP_BEGIN_INIT;
	T_ASSERT_EQ(svg_request(&g, &vp, VMBUS_RQST_ID_NO_RESPONSE, &c), 0);
	vp.operation = VSTOR_OP_QUERY_PROTOCOL_VERSION;
	vp.version.major_minor = VSTOR_PROTO_WIN8;
	T_ASSERT_EQ(svg_request(&g, &vp, VMBUS_RQST_ID_NO_RESPONSE, &c), 0);
	T_EXPECT_EQ(c.status, 0);
	T_EXPECT_EQ(storvsp_protocol(g.sv), VSTOR_PROTO_WIN8);
	svg_free(&g);
}

static const uint8_t inq36[6] = { 0x12, 0, 0, 0, 36, 0 };

static void test_lun_scan(void)
{
	struct vstor_packet_wire c;
	static const uint8_t tur[6] = { 0 };
	static const uint8_t rl[12] = { 0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 };

	setup(2);
	/* Linux probes 8 paths x 2 targets with INQUIRY to LUN 0. */
	for (uint8_t path = 0; path < 8; path++) {
		for (uint8_t tgt = 0; tgt < 2; tgt++) {
			memset(g.buf, 0xCC, 64);
			T_ASSERT_EQ(svg_srb(&g, path, tgt, 0, inq36, 6, VSTOR_DATA_READ, 0, 36, &c), 0);
			T_EXPECT_EQ(c.srb.srb_status, SRB_STATUS_SUCCESS);
			T_EXPECT_EQ(c.srb.data_transfer_length, 36);
			T_EXPECT_EQ(g.buf[0], path || tgt ? 0x7F : 0x00);
		}
	}
	/* LUN 1 exists, LUN 2 does not (PQ 3 stops the sequential scan). */
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 1, inq36, 6, VSTOR_DATA_READ, 0, 36, &c), 0);
	T_EXPECT_EQ(g.buf[0], 0x00);
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 2, inq36, 6, VSTOR_DATA_READ, 0, 36, &c), 0);
	T_EXPECT_EQ(g.buf[0], 0x7F);
	/* Any other command to an absent LUN: INVALID_LUN (the guest drops it). */
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 2, tur, 6, VSTOR_DATA_NONE, 0, 0, &c), 0);
	T_EXPECT_EQ(c.srb.srb_status, SRB_STATUS_INVALID_LUN);
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 200, tur, 6, VSTOR_DATA_NONE, 0, 0, &c), 0);
	T_EXPECT_EQ(c.srb.srb_status, SRB_STATUS_INVALID_LUN);
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 0, tur, 6, VSTOR_DATA_NONE, 0, 0, &c), 0);
	T_EXPECT_EQ(c.srb.srb_status, SRB_STATUS_SUCCESS);
	T_EXPECT_EQ(c.srb.scsi_status, 0);
	/* REPORT LUNS: the configured list on target 0, empty elsewhere. */
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 0, rl, 12, VSTOR_DATA_READ, 0, 256, &c), 0);
	T_EXPECT_EQ(c.srb.data_transfer_length, 24);
	T_EXPECT_EQ(g.buf[3], 16);
	T_EXPECT_EQ(g.buf[8 + 8 + 1], 1);
	T_ASSERT_EQ(svg_srb(&g, 3, 1, 0, rl, 12, VSTOR_DATA_READ, 0, 256, &c), 0);
	T_EXPECT_EQ(c.srb.data_transfer_length, 8);
	T_EXPECT_EQ(g.buf[3], 0);
	svg_free(&g);
}

/* Hot-add and hot-remove while the guest runs: ENUMERATE_BUS is sent with
 * trans_id 0, REPORT LUNS follows the table, a removed LUN answers
 * INVALID_LUN (storvsc then drops it) and the disk comes back to the caller. */
static void test_hot_add_remove(void)
{
	struct vstor_packet_wire c, n;
	struct memdisk md;
	struct scsi_disk *disk, *got = NULL;
	struct scsi_disk_params p = { 0 };
	static const uint8_t tur[6] = { 0 };
	static const uint8_t rl[12] = { 0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 };
	struct storvsp_stats st;
	uint64_t t = 99;

	setup(1);
	T_ASSERT_EQ(memdisk_init(&md, SIZE), 0);
	p.size = SIZE;
	p.block_size = 512;
	T_ASSERT_EQ(scsi_disk_new(&p, &memdisk_ops, &md, &disk), 0);
	T_EXPECT_EQ(storvsp_add_lun(g.sv, 0, disk), -EEXIST);
	T_EXPECT(!storvsp_has_lun(g.sv, 3));
	T_ASSERT_EQ(storvsp_add_lun(g.sv, 3, disk), 0);
	T_EXPECT(storvsp_has_lun(g.sv, 3));
	/* The unsolicited packet: in-band, trans_id 0, ENUMERATE_BUS. */
	T_ASSERT_EQ(svg_read(&g, &n, &t), (int)sizeof(n));
	T_EXPECT_EQ(t, 0);
	T_EXPECT_EQ(n.operation, VSTOR_OP_ENUMERATE_BUS);
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 0, rl, 12, VSTOR_DATA_READ, 0, 256, &c), 0);
	T_EXPECT_EQ(c.srb.data_transfer_length, 24);
	T_EXPECT_EQ(g.buf[8 + 1], 0);
	T_EXPECT_EQ(g.buf[8 + 8 + 1], 3);
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 3, tur, 6, VSTOR_DATA_NONE, 0, 0, &c), 0);
	T_EXPECT_EQ(c.srb.srb_status, SRB_STATUS_SUCCESS);
	/* Data reaches the hot-added disk. */
	memset(g.buf, 0x5A, 512);
	{
		static const uint8_t w10[10] = { 0x2A, 0, 0, 0, 0, 7, 0, 0, 1, 0 };

		T_ASSERT_EQ(svg_srb(&g, 0, 0, 3, w10, 10, VSTOR_DATA_WRITE, 0, 512, &c), 0);
		T_EXPECT_EQ(c.srb.srb_status, SRB_STATUS_SUCCESS);
		T_EXPECT_EQ(md.data[7 * 512], 0x5A);
		T_EXPECT_EQ(g.md[0].data[7 * 512], 0);
	}
	/* Hot-remove: the guest is told, the LUN is gone, the disk comes back. */
	T_EXPECT_EQ(storvsp_remove_lun(g.sv, 2, &got), -ENOENT);
	T_ASSERT_EQ(storvsp_remove_lun(g.sv, 3, &got), 0);
	T_EXPECT(got == disk);
	T_ASSERT_EQ(svg_read(&g, &n, &t), (int)sizeof(n));
	T_EXPECT_EQ(t, 0);
	T_EXPECT_EQ(n.operation, VSTOR_OP_ENUMERATE_BUS);
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 3, tur, 6, VSTOR_DATA_NONE, 0, 0, &c), 0);
	T_EXPECT_EQ(c.srb.srb_status, SRB_STATUS_INVALID_LUN);
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 0, rl, 12, VSTOR_DATA_READ, 0, 256, &c), 0);
	T_EXPECT_EQ(c.srb.data_transfer_length, 16);
	storvsp_get_stats(g.sv, &st);
	T_EXPECT_EQ(st.rescans, 2);
	/* Removing LUN 0 too leaves an empty controller that still answers. */
	T_ASSERT_EQ(storvsp_remove_lun(g.sv, 0, &got), 0);
	T_EXPECT(got == g.disk[0]);
	T_ASSERT_EQ(svg_read(&g, &n, &t), (int)sizeof(n));
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 0, rl, 12, VSTOR_DATA_READ, 0, 256, &c), 0);
	T_EXPECT_EQ(c.srb.data_transfer_length, 8);
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 0, inq36, 6, VSTOR_DATA_READ, 0, 36, &c), 0);
	T_EXPECT_EQ(g.buf[0], 0x7F);
	svg_free(&g);
	scsi_disk_free(disk);
	memdisk_fini(&md);
}

/* Sub-channels: offered in QUERY_PROPERTIES, made on CREATE_SUB_CHANNELS (at
 * most what was offered), I/O on a sub-channel completes on that channel. */
static void test_subchannels(void)
{
	struct vstor_packet_wire vp, c;
	struct vmbus_offer_channel_wire off;
	struct fg_chan subs[2], primary;
	struct fg_msg m;
	static const uint8_t tur[6] = { 0 };
	static const uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 3, 0, 0, 1, 0 };
	int n = 0;

	T_ASSERT_EQ(svg_new(&g, 1, SIZE, 512), 0);
	storvsp_set_max_subchannels(g.sv, 2);
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OP_BEGIN_INIT;
	T_ASSERT_EQ(svg_request(&g, &vp, VMBUS_RQST_ID_NO_RESPONSE, &c), 0);
	vp.operation = VSTOR_OP_QUERY_PROTOCOL_VERSION;
	vp.version.major_minor = VSTOR_PROTO_WIN10;
	T_ASSERT_EQ(svg_request(&g, &vp, VMBUS_RQST_ID_NO_RESPONSE, &c), 0);
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OP_QUERY_PROPERTIES;
	T_ASSERT_EQ(svg_request(&g, &vp, VMBUS_RQST_ID_NO_RESPONSE, &c), 0);
	T_EXPECT_EQ(c.props.max_channel_cnt, 2);
	T_EXPECT_EQ(c.props.flags & VSTOR_PROPS_MULTI_CHANNEL, VSTOR_PROPS_MULTI_CHANNEL);
	/* Not before END_INIT. */
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OP_CREATE_SUB_CHANNELS;
	vp.sub_channel_count = 2;
	T_ASSERT_EQ(svg_request(&g, &vp, VMBUS_RQST_ID_NO_RESPONSE, &c), 0);
	T_EXPECT_NE(c.status, 0);
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OP_END_INIT;
	T_ASSERT_EQ(svg_request(&g, &vp, VMBUS_RQST_ID_NO_RESPONSE, &c), 0);
	/* More than offered: refused, nothing made. */
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OP_CREATE_SUB_CHANNELS;
	vp.sub_channel_count = 3;
	T_ASSERT_EQ(svg_request(&g, &vp, VMBUS_RQST_ID_NO_RESPONSE, &c), 0);
	T_EXPECT_NE(c.status, 0);
	vp.sub_channel_count = 2;
	T_ASSERT_EQ(svg_request(&g, &vp, VMBUS_RQST_ID_NO_RESPONSE, &c), 0);
	T_EXPECT_EQ(c.status, 0);
	/* Asking again once all exist is refused. */
	vp.sub_channel_count = 1;
	T_ASSERT_EQ(svg_request(&g, &vp, VMBUS_RQST_ID_NO_RESPONSE, &c), 0);
	T_EXPECT_NE(c.status, 0);
	fg_poll_msgs(g.fg);
	while (n < 2 && fg_take_msg(g.fg, VMBUS_MSG_OFFERCHANNEL, &m)) {
		memcpy(&off, m.data, sizeof(off));
		T_EXPECT_EQ(off.sub_channel_index, n + 1);
		T_EXPECT_EQ(memcmp(off.if_type, storvsp_scsi_class_guid, 16), 0);
		T_ASSERT_EQ(fg_open(g.fg, &off, 32, 32, 0, &subs[n]), 0);
		n++;
	}
	T_ASSERT_EQ(n, 2);
	T_EXPECT(!fg_take_msg(g.fg, VMBUS_MSG_OFFERCHANNEL, &m));
	/* Protocol requests on a sub-channel are refused; I/O works there. */
	primary = g.ch;
	g.ch = subs[1];
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OP_BEGIN_INIT;
	T_ASSERT_EQ(svg_request(&g, &vp, 77, &c), 0);
	T_EXPECT_NE(c.status, 0);
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 0, tur, 6, VSTOR_DATA_NONE, 0, 0, &c), 0);
	T_EXPECT_EQ(c.srb.srb_status, SRB_STATUS_SUCCESS);
	g.md[0].data[3 * 512] = 0xAB;
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 0, r10, 10, VSTOR_DATA_READ, 0, 512, &c), 0);
	T_EXPECT_EQ(c.srb.srb_status, SRB_STATUS_SUCCESS);
	T_EXPECT_EQ(g.buf[0], 0xAB);
	g.ch = primary;
	/* Nothing of that went to the primary channel. */
	{
		uint64_t t;

		T_EXPECT_EQ(svg_read(&g, &c, &t), -EAGAIN);
	}
	svg_free(&g);
}

static void test_data_transfer_gpa_direct(void)
{
	struct vstor_packet_wire c;
	/* 300 blocks (150 KiB) at LBA 77, buffer starting mid-page. */
	static const uint8_t w10[10] = { 0x2A, 0, 0, 0, 0, 77, 0, 0x01, 0x2C, 0 };
	static const uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 77, 0, 0x01, 0x2C, 0 };
	static const uint8_t sync[10] = { 0x35 };
	const uint32_t len = 300 * 512, off = 1000;

	setup(1);
	for (uint32_t i = 0; i < len; i++)
		g.buf[off + i] = (uint8_t)(i * 13 + (i >> 9));
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 0, w10, 10, VSTOR_DATA_WRITE, off, len, &c), 0);
	T_EXPECT_EQ(c.status, 0);
	T_EXPECT_EQ(c.srb.srb_status, SRB_STATUS_SUCCESS);
	T_EXPECT_EQ(c.srb.data_transfer_length, len);
	T_EXPECT_MEMEQ(g.md[0].data + 77 * 512, g.buf + off, len);
	memset(g.buf, 0, SVG_BUF_BYTES);
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 0, r10, 10, VSTOR_DATA_READ, 4096 * 3 + 8, len, &c), 0);
	T_EXPECT_EQ(c.srb.data_transfer_length, len);
	T_EXPECT_MEMEQ(g.md[0].data + 77 * 512, g.buf + 4096 * 3 + 8, len);
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 0, sync, 10, VSTOR_DATA_NONE, 0, 0, &c), 0);
	T_EXPECT_EQ(c.srb.srb_status, SRB_STATUS_SUCCESS);
	T_EXPECT_EQ(g.md[0].flushes, 1);
	/* The largest transfer the properties allow. */
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 0, (const uint8_t[10]){ 0x28, 0, 0, 0, 0, 0, 0, 0x10, 0, 0 },
			    10, VSTOR_DATA_READ, 512, STORVSP_MAX_TRANSFER, &c), 0);
	T_EXPECT_EQ(c.srb.srb_status, SRB_STATUS_SUCCESS);
	T_EXPECT_EQ(c.srb.data_transfer_length, STORVSP_MAX_TRANSFER);
	svg_free(&g);
}

static void test_check_condition_completion(void)
{
	struct vstor_packet_wire c;
	static const uint8_t past_end[10] = { 0x28, 0, 0, 0, 0x20, 0, 0, 0, 1, 0 };
	static const uint8_t bad_op[6] = { 0xF7 };

	setup(1);
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 0, past_end, 10, VSTOR_DATA_READ, 0, 512, &c), 0);
	T_EXPECT_EQ(c.status, 0);
	T_EXPECT_EQ(c.srb.scsi_status, SCSI_STATUS_CHECK_CONDITION);
	T_EXPECT_EQ(c.srb.srb_status, SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID);
	T_EXPECT_EQ(c.srb.sense_info_length, 18);
	T_EXPECT_EQ(c.srb.sense_data[0], 0x70);
	T_EXPECT_EQ(c.srb.sense_data[2], SENSE_ILLEGAL_REQUEST);
	T_EXPECT_EQ(c.srb.sense_data[12], 0x21);
	T_EXPECT_EQ(c.srb.data_transfer_length, 0);
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 0, bad_op, 6, VSTOR_DATA_NONE, 0, 0, &c), 0);
	T_EXPECT_EQ(c.srb.sense_data[12], 0x20);
	g.md[0].fail_read = -EIO;
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 0, (const uint8_t[10]){ 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, 10,
			    VSTOR_DATA_READ, 0, 512, &c), 0);
	T_EXPECT_EQ(c.srb.sense_data[2], SENSE_MEDIUM_ERROR);
	svg_free(&g);
}

/* Build a GPA-direct EXECUTE_SRB READ(10) of one block by hand. */
static uint32_t build_raw(uint8_t *pkt, uint32_t range_count, uint32_t byte_count,
			  uint32_t byte_offset, uint64_t pfn, uint32_t npfn_written, uint8_t cdb_len)
{
	struct vmbus_pkt_desc_wire d = { .type = VMBUS_PKT_DATA_USING_GPA_DIRECT,
					 .flags = VMBUS_PKT_FLAG_COMPLETION_REQUESTED,
					 .trans_id = 99 };
	struct vmbus_gpa_direct_hdr_wire h = { .range_count = range_count };
	struct vmbus_gpa_range_wire rg = { .byte_count = byte_count, .byte_offset = byte_offset };
	struct vstor_packet_wire vp = { .operation = VSTOR_OP_EXECUTE_SRB, .flags = 1 };
	uint32_t off = 16;

	vp.srb.cdb_length = cdb_len;
	vp.srb.data_in = VSTOR_DATA_READ;
	vp.srb.data_transfer_length = byte_count;
	vp.srb.cdb[0] = 0x28;
	vp.srb.cdb[8] = 1;
	memcpy(pkt + off, &h, sizeof(h));
	off += sizeof(h);
	memcpy(pkt + off, &rg, sizeof(rg));
	off += sizeof(rg);
	for (uint32_t i = 0; i < npfn_written; i++, off += 8) {
		uint64_t p = pfn + i;
		memcpy(pkt + off, &p, 8);
	}
	d.offset8 = (uint16_t)(off / 8);
	memcpy(pkt + off, &vp, sizeof(vp));
	off += sizeof(vp);
	d.len8 = (uint16_t)(off / 8);
	memcpy(pkt, &d, sizeof(d));
	return off;
}

static void expect_invalid(uint8_t *pkt, uint32_t len)
{
	struct vstor_packet_wire c;
	uint64_t t = 0;

	T_ASSERT_EQ(svg_write_raw(&g, pkt, len), 0);
	T_ASSERT_EQ(svg_read(&g, &c, &t), 64);
	T_EXPECT_EQ(t, 99);
	T_EXPECT_EQ(c.srb.srb_status, SRB_STATUS_INVALID_REQUEST);
	T_EXPECT_EQ(c.srb.data_transfer_length, 0);
}

static void test_hostile_packets(void)
{
	uint8_t pkt[512];
	uint64_t pfn;
	struct vstor_packet_wire c;
	struct storvsp_stats st;
	uint64_t t;
	uint32_t n;

	setup(1);
	pfn = g.buf_gpa >> 12;
	n = build_raw(pkt, 1, 512, 0, pfn, 1, 10);
	T_ASSERT_EQ(svg_write_raw(&g, pkt, n), 0);
	T_ASSERT_EQ(svg_read(&g, &c, &t), 64);
	T_EXPECT_EQ(c.srb.srb_status, SRB_STATUS_SUCCESS);      /* the well-formed baseline */
	expect_invalid(pkt, build_raw(pkt, 2, 512, 0, pfn, 1, 10));          /* two ranges */
	expect_invalid(pkt, build_raw(pkt, 1, 512, 4096, pfn, 2, 10));       /* offset >= page */
	expect_invalid(pkt, build_raw(pkt, 1, 8192, 100, pfn, 2, 10));       /* PFN list short */
	expect_invalid(pkt, build_raw(pkt, 1, 512, 0, 1ull << 40, 1, 10));   /* not guest RAM */
	expect_invalid(pkt, build_raw(pkt, 1, 512, 0, UINT64_MAX, 1, 10));   /* overflow */
	expect_invalid(pkt, build_raw(pkt, 1, STORVSP_MAX_TRANSFER + 4096, 0, pfn, 0, 10));
	expect_invalid(pkt, build_raw(pkt, 1, 512, 0, pfn, 1, 17));          /* CDB too long */
	expect_invalid(pkt, build_raw(pkt, 1, 512, 0, pfn, 1, 0));           /* no CDB */

	/* Too short to be a vstor_packet: dropped and counted, no completion. */
	T_ASSERT_EQ(fg_chan_write(&g.ch, VMBUS_PKT_DATA_INBAND, VMBUS_PKT_FLAG_COMPLETION_REQUESTED,
				  5, "\x03\0\0\0\1\0\0\0", 8), 0);
	T_EXPECT_EQ(svg_read(&g, &c, &t), -EAGAIN);
	/* Unknown operation and wrong packet type. */
	memset(&c, 0, sizeof(c));
	c.operation = 77;
	T_ASSERT_EQ(svg_request(&g, &c, 6, &c), 0);
	T_EXPECT_NE(c.status, 0);
	memset(&c, 0, sizeof(c));
	T_ASSERT_EQ(fg_chan_write(&g.ch, VMBUS_PKT_COMP, VMBUS_PKT_FLAG_COMPLETION_REQUESTED, 8, &c,
				  sizeof(c)), 0);
	T_EXPECT_EQ(svg_read(&g, &c, &t), -EAGAIN);
	storvsp_get_stats(g.sv, &st);
	T_EXPECT_EQ(st.bad_packets, 2);
	/* Still serving afterwards. */
	T_ASSERT_EQ(svg_srb(&g, 0, 0, 0, inq36, 6, VSTOR_DATA_READ, 0, 36, &c), 0);
	T_EXPECT_EQ(c.srb.srb_status, SRB_STATUS_SUCCESS);
	svg_free(&g);
}

static void test_ring_full_completions_are_kept(void)
{
	struct vstor_packet_wire vp = { 0 }, c;
	struct storvsp_stats st;
	uint64_t t;
	int sent = 0, got = 0;

	setup(1);
	vp.operation = VSTOR_OP_EXECUTE_SRB;
	vp.flags = 1;
	vp.srb.cdb_length = 6;             /* TEST UNIT READY */
	vp.srb.data_in = VSTOR_DATA_NONE;
	/* The guest does not read: more completions than the 31-page ring holds. */
	for (int i = 0; i < 1800; i++) {
		if (fg_chan_write(&g.ch, VMBUS_PKT_DATA_INBAND, VMBUS_PKT_FLAG_COMPLETION_REQUESTED,
				  (uint64_t)i + 1, &vp, sizeof(vp)))
			break;
		sent++;
	}
	T_ASSERT(sent > 1500);
	for (int i = 0; i < 4000; i++) {
		if (svg_read(&g, &c, &t) < 0) {
			fg_run_host(g.fg);
			if (svg_read(&g, &c, &t) < 0)
				break;
		}
		T_EXPECT_EQ(t, (uint64_t)got + 1);   /* in order, none lost */
		got++;
	}
	T_EXPECT_EQ(got, sent);
	storvsp_get_stats(g.sv, &st);
	T_EXPECT_EQ(st.completions, (uint64_t)sent + 4);  /* + the init sequence */
	T_EXPECT_EQ(st.send_failed, 0);
	svg_free(&g);
}

/*
 * Completions sent while the host drains the request ring get one guest
 * signal at the end of the drain (storvsc reads its ring to the end per
 * interrupt), not one each; OPENHV_VMBUS_NO_BATCH_SIGNALS brings back one
 * per completion. The fake guest never masks its ring.
 */
static void test_completions_of_one_drain_signal_once(void)
{
	for (int pass = 0; pass < 2; pass++) {
		struct vstor_packet_wire vp = { 0 }, c;
		struct vmbus_stats before, after;
		uint64_t t;
		int got = 0;

		if (pass)
			setenv("OPENHV_VMBUS_NO_BATCH_SIGNALS", "1", 1);
		setup(1);
		unsetenv("OPENHV_VMBUS_NO_BATCH_SIGNALS");
		vp.operation = VSTOR_OP_EXECUTE_SRB;
		vp.flags = 1;
		vp.srb.cdb_length = 6;             /* TEST UNIT READY */
		vp.srb.data_in = VSTOR_DATA_NONE;
		vmbus_server_get_stats(g.fg->srv, &before);
		/*
		 * Eight requests in the ring before the host looks: the host's
		 * mask on its inbound ring holds the fake guest's signals back
		 * (the host itself never sets it); then one signal, and one
		 * drain takes all eight.
		 */
		fg_ring_hdr(&g.ch, false)->interrupt_mask = 1;
		for (int i = 0; i < 8; i++)
			T_ASSERT_EQ(fg_chan_write(&g.ch, VMBUS_PKT_DATA_INBAND,
						  VMBUS_PKT_FLAG_COMPLETION_REQUESTED, (uint64_t)i + 1,
						  &vp, sizeof(vp)), 0);
		fg_ring_hdr(&g.ch, false)->interrupt_mask = 0;
		fg_chan_signal(&g.ch);
		vmbus_server_get_stats(g.fg->srv, &after);
		while (svg_read(&g, &c, &t) >= 0) {
			T_EXPECT_EQ(c.srb.srb_status, SRB_STATUS_SUCCESS);
			got++;
		}
		T_EXPECT_EQ(got, 8);
		T_EXPECT_EQ(after.pkts_out - before.pkts_out, 8u);
		T_EXPECT_EQ(after.signals_out - before.signals_out, pass ? 8u : 1u);
		svg_free(&g);
	}
}

static const struct t_case cases[] = {
	T_CASE(test_init_sequence),
	T_CASE(test_lun_scan),
	T_CASE(test_hot_add_remove),
	T_CASE(test_subchannels),
	T_CASE(test_data_transfer_gpa_direct),
	T_CASE(test_check_condition_completion),
	T_CASE(test_hostile_packets),
	T_CASE(test_ring_full_completions_are_kept),
	T_CASE(test_completions_of_one_drain_signal_once),
	{ 0 },
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
