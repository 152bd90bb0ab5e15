// SPDX-License-Identifier: MIT
/* Fake storvsc guest for storvsp tests and fuzzing. See sv_guest.h. */
#include "sv_guest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

static int md_readv(void *o, uint64_t off, const struct iovec *iov, int cnt)
{
	struct memdisk *m = o;

	if (m->fail_read)
		return m->fail_read;
	for (int i = 0; i < cnt; i++) {
		if (off + iov[i].iov_len > m->size)
			return -EIO;
		memcpy(iov[i].iov_base, m->data + off, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return 0;
}

static int md_writev(void *o, uint64_t off, const struct iovec *iov, int cnt)
{
	struct memdisk *m = o;

	if (m->fail_write)
		return m->fail_write;
	for (int i = 0; i < cnt; i++) {
		if (off + iov[i].iov_len > m->size)
			return -EIO;
		memcpy(m->data + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return 0;
}

static int md_flush(void *o)
{
	struct memdisk *m = o;

	if (m->fail_flush)
		return m->fail_flush;
	m->flushes++;
	return 0;
}

static int md_discard(void *o, uint64_t off, uint64_t len)
{
	struct memdisk *m = o;

	if (off + len > m->size)
		return -EIO;
	memset(m->data + off, 0, len);
	m->discards++;
	m->discarded_bytes += len;
	return 0;
}

const struct scsi_blk_ops memdisk_ops = {
	.readv = md_readv, .writev = md_writev, .flush = md_flush, .discard = md_discard,
};
const struct scsi_blk_ops memdisk_ops_nodiscard = {
	.readv = md_readv, .writev = md_writev, .flush = md_flush,
};

int memdisk_init(struct memdisk *m, uint64_t size)
{
	memset(m, 0, sizeof(*m));
	m->data = calloc(1, size);
	if (!m->data)
		return -ENOMEM;
	m->size = size;
	return 0;
}

void memdisk_fini(struct memdisk *m)
{
	free(m->data);
	m->data = NULL;
}

static const uint8_t svg_instance[16] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
					  0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01 };

int svg_new(struct sv_guest *g, unsigned int n_luns, uint64_t size, uint32_t block_size)
{
	struct vmbus_offer_channel_wire offers[8];
	int n, r;

	memset(g, 0, sizeof(*g));
	if (n_luns > SVG_MAX_LUNS)
		return -EINVAL;
	r = fg_new(1, 16u * 1024u * 1024u, &g->fg);
	if (r)
		return r;
	r = fg_boot(g->fg);
	r = r ?: storvsp_new(g->fg->srv, g->fg->gm, &g->sv);
	for (unsigned int i = 0; !r && i < n_luns; i++) {
		struct scsi_disk_params p = { .size = size, .block_size = block_size };

		memcpy(p.serial, "OHVTEST0001", 12);
		p.serial[10] = (char)('0' + i);
		p.naa[0] = 0x60;
		p.naa[15] = (uint8_t)i;
		r = memdisk_init(&g->md[i], size);
		r = r ?: scsi_disk_new(&p, &memdisk_ops, &g->md[i], &g->disk[i]);
		r = r ?: storvsp_add_lun(g->sv, (uint8_t)i, g->disk[i]);
		if (!r)
			g->n_luns = i + 1;
	}
	r = r ?: storvsp_start(g->sv, svg_instance);
	if (r)
		goto fail;
	if (!fg_connect(g->fg)) {
		r = -EPROTO;
		goto fail;
	}
	n = fg_request_offers(g->fg, offers, 8);
	if (n != 1 || memcmp(offers[0].if_type, storvsp_scsi_class_guid, 16)) {
		r = -EPROTO;
		goto fail;
	}
	/* storvsc rings: 128 KiB each way (32 pages here keeps the test small). */
	r = fg_open(g->fg, &offers[0], 32, 32, 0, &g->ch);
	if (r)
		goto fail;
	g->buf_gpa = fg_alloc_pages(g->fg, SVG_BUF_BYTES / 4096);
	g->buf = gm_ptr(g->fg->gm, g->buf_gpa, SVG_BUF_BYTES);
	if (!g->buf) {
		r = -ENOMEM;
		goto fail;
	}
	g->next_trans = 1;
	return 0;
fail:
	svg_free(g);
	return r ? r : -EPROTO;
}

void svg_free(struct sv_guest *g)
{
	storvsp_free(g->sv);
	g->sv = NULL;
	for (unsigned int i = 0; i < SVG_MAX_LUNS; i++) {
		scsi_disk_free(g->disk[i]);
		g->disk[i] = NULL;
		memdisk_fini(&g->md[i]);
	}
	if (g->fg)
		fg_free(g->fg);
	g->fg = NULL;
}

int svg_write_raw(struct sv_guest *g, const void *pkt, uint32_t len)
{
	struct vmbus_ring_hdr_wire *h = fg_ring_hdr(&g->ch, false);
	uint8_t *data = (uint8_t *)h + GM_PAGE_SIZE;
	uint32_t size = (g->ch.send_pages - 1) * (uint32_t)GM_PAGE_SIZE;
	uint32_t plen = (uint32_t)ALIGN_UP(len, 8), total = plen + 8;
	uint32_t wr = h->write_index, rd = __atomic_load_n(&h->read_index, __ATOMIC_ACQUIRE);
	uint32_t used = wr >= rd ? wr - rd : size - rd + wr;
	uint64_t trailer = (uint64_t)wr << 32;
	const uint8_t *p = pkt;

	if (size - used <= total)
		return -EAGAIN;
	for (uint32_t i = 0; i < plen; i++)
		data[(wr + i) % size] = i < len ? p[i] : 0;
	for (uint32_t i = 0; i < 8; i++)
		data[(wr + plen + i) % size] = (uint8_t)(trailer >> (8 * i));
	__atomic_store_n(&h->write_index, (wr + total) % size, __ATOMIC_SEQ_CST);
	vmbus_server_signal_event(g->fg->srv, 0, g->ch.conn_id, 0);
	fg_run_host(g->fg);
	return 0;
}

int svg_read(struct sv_guest *g, struct vstor_packet_wire *ret, uint64_t *ret_trans)
{
	uint8_t buf[256];
	uint16_t type;
	int n = fg_chan_read(&g->ch, buf, sizeof(buf), &type, ret_trans);

	if (n < 0)
		return n;
	memset(ret, 0, sizeof(*ret));
	memcpy(ret, buf, MIN((size_t)n, sizeof(*ret)));
	return n;
}

int svg_request(struct sv_guest *g, struct vstor_packet_wire *vp, uint64_t trans_id,
		struct vstor_packet_wire *ret)
{
	uint64_t t = 0;
	int r;

	vp->flags = VSTOR_FLAG_REQUEST_COMPLETION;
	r = fg_chan_write(&g->ch, VMBUS_PKT_DATA_INBAND, VMBUS_PKT_FLAG_COMPLETION_REQUESTED,
			  trans_id, vp, sizeof(*vp));
	if (r)
		return r;
	r = svg_read(g, ret, &t);
	if (r < 0)
		return r;
	if (r != (int)sizeof(*ret) || t != trans_id)
		return -EPROTO;
	return 0;
}

int svg_init(struct sv_guest *g)
{
	static const uint16_t versions[] = { VSTOR_PROTO_WIN10, VSTOR_PROTO_WIN8_1, VSTOR_PROTO_WIN8 };
	struct vstor_packet_wire vp, c;
	const uint64_t init_id = VMBUS_RQST_ID_NO_RESPONSE;
	bool ok = false;

	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OP_BEGIN_INIT;
	if (svg_request(g, &vp, init_id, &c) || c.operation != VSTOR_OP_COMPLETE_IO || c.status)
		return -EPROTO;
	for (size_t i = 0; i < ARRAY_SIZE(versions) && !ok; i++) {
		memset(&vp, 0, sizeof(vp));
		vp.operation = VSTOR_OP_QUERY_PROTOCOL_VERSION;
		vp.version.major_minor = versions[i];
		if (svg_request(g, &vp, init_id, &c) || c.operation != VSTOR_OP_COMPLETE_IO)
			return -EPROTO;
		ok = !c.status;
	}
	if (!ok)
		return -EPROTO;
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OP_QUERY_PROPERTIES;
	if (svg_request(g, &vp, init_id, &c) || c.status || !c.props.max_transfer_bytes)
		return -EPROTO;
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OP_END_INIT;
	if (svg_request(g, &vp, init_id, &c) || c.status)
		return -EPROTO;
	return 0;
}

int svg_srb(struct sv_guest *g, uint8_t path, uint8_t target, uint8_t lun, const uint8_t *cdb,
	    uint8_t cdb_len, uint8_t data_in, uint32_t buf_off, uint32_t len,
	    struct vstor_packet_wire *ret)
{
	uint8_t pkt[16 + 8 + 8 + 8 * 1100 + 64];
	struct vmbus_pkt_desc_wire d = { 0 };
	struct vstor_packet_wire vp;
	uint64_t trans = g->next_trans++, t = 0;
	uint32_t off = 16;
	int r;

	if (buf_off + (uint64_t)len > SVG_BUF_BYTES || cdb_len > 16)
		return -EINVAL;
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OP_EXECUTE_SRB;
	vp.flags = VSTOR_FLAG_REQUEST_COMPLETION;
	vp.srb.length = sizeof(vp.srb);
	vp.srb.path_id = path;
	vp.srb.target_id = target;
	vp.srb.lun = lun;
	vp.srb.cdb_length = cdb_len;
	vp.srb.sense_info_length = VSTOR_SENSE_MAX;
	vp.srb.data_in = data_in;
	vp.srb.data_transfer_length = len;
	memcpy(vp.srb.cdb, cdb, cdb_len);
	d.flags = VMBUS_PKT_FLAG_COMPLETION_REQUESTED;
	d.trans_id = trans;
	if (len) {
		uint64_t gpa = g->buf_gpa + buf_off;
		uint32_t first = (uint32_t)(gpa & 4095), npfn = (first + len + 4095) / 4096;
		struct vmbus_gpa_direct_hdr_wire h = { .range_count = 1 };
		struct vmbus_gpa_range_wire rg = { .byte_count = len, .byte_offset = first };

		memcpy(pkt + off, &h, sizeof(h));
		off += sizeof(h);
		memcpy(pkt + off, &rg, sizeof(rg));
		off += sizeof(rg);
		for (uint32_t i = 0; i < npfn; i++) {
			uint64_t pfn = (gpa >> 12) + i;

			memcpy(pkt + off, &pfn, 8);
			off += 8;
		}
		d.type = VMBUS_PKT_DATA_USING_GPA_DIRECT;
	} else {
		d.type = VMBUS_PKT_DATA_INBAND;
	}
	d.offset8 = (uint16_t)(off / 8);
	memcpy(pkt + off, &vp, sizeof(vp));
	off += sizeof(vp);
	d.len8 = (uint16_t)(off / 8);
	memcpy(pkt, &d, sizeof(d));
	r = svg_write_raw(g, pkt, off);
	if (r)
		return r;
	r = svg_read(g, ret, &t);
	if (r < 0)
		return r;
	if (r != (int)sizeof(*ret) || t != trans)
		return -EPROTO;
	return 0;
}
