// SPDX-License-Identifier: MIT
/*
 * storvsp: synthetic SCSI controller on VMBus. See storvsp.h for the
 * contract and hyperv-guest-interface.md §6 for the protocol.
 *
 * GUEST: every host packet is a COMP packet with exactly one 64-byte
 * vstor_packet (storvsc's max_pkt_size is 80 bytes), echoing the request's
 * trans_id, operation COMPLETE_IO. INQUIRY and MODE SENSE results are forced
 * to success by storvsc, so absent LUNs answer INQUIRY with peripheral
 * qualifier 3 data instead of an error; other commands to them get
 * SRB_STATUS_INVALID_LUN so the guest drops the device.
 * SECURITY: a hostile guest gets a defined error completion for every
 * malformed request; packets too short to carry a vstor_packet are counted
 * and dropped (there is no trans_id we could trust the guest to expect).
 */
#include "vsp/storvsp/storvsp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "vsp/storvsp/storvsp_proto.h"

#define STORVSP_MAX_PAGES (STORVSP_MAX_TRANSFER / 4096u + 1u)
#define STORVSP_PENDING_MAX 1024u

/* ba6163d9-04a1-4d29-b605-72e2ffb1dc7f (reference §5). */
const uint8_t storvsp_scsi_class_guid[16] = { 0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d,
					       0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f };

enum sv_state { SV_CLOSED, SV_OPEN, SV_INIT, SV_READY };

struct sv_pending {
	uint64_t trans_id;
	struct vstor_packet_wire pkt;
};

struct storvsp {
	struct vmbus_server *srv;
	const struct gm *gm;
	struct vmbus_dev *dev;
	struct vmbus_chan *chan;
	enum sv_state state;
	uint16_t version;
	struct scsi_disk *luns[STORVSP_MAX_LUNS];
	uint8_t lun_list[STORVSP_MAX_LUNS];
	unsigned int n_luns;
	struct iovec iov[STORVSP_MAX_PAGES];
	struct sv_pending *pending;   /* completions waiting for ring space */
	unsigned int n_pending;
	struct storvsp_stats st;
};

static int sv_on_open(struct vmbus_chan *chan, const uint8_t userdata[120]);
static void sv_on_close(struct vmbus_chan *chan);
static int sv_on_packet(struct vmbus_chan *chan, const struct vmbus_pkt *pkt);
static void sv_on_writable(struct vmbus_chan *chan);

static const struct vmbus_dev_class storvsp_class = {
	.name = "storvsp",
	.class_guid = { 0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d, 0xb6, 0x05, 0x72, 0xe2,
			0xff, 0xb1, 0xdc, 0x7f },
	/* SPEC §4.1: storvsc accepts 16 + 64 bytes per host packet, no more. */
	.max_pkt_size = 16 + sizeof(struct vstor_packet_wire),
	.open = sv_on_open,
	.close = sv_on_close,
	.packet = sv_on_packet,
	.writable = sv_on_writable,
};

int storvsp_new(struct vmbus_server *srv, const struct gm *gm, struct storvsp **ret)
{
	struct storvsp *sv;

	if (!srv || !gm || !ret)
		return -EINVAL;
	sv = calloc(1, sizeof(*sv));
	if (!sv)
		return -ENOMEM;
	sv->pending = calloc(STORVSP_PENDING_MAX, sizeof(*sv->pending));
	if (!sv->pending) {
		free(sv);
		return -ENOMEM;
	}
	sv->srv = srv;
	sv->gm = gm;
	*ret = sv;
	return 0;
}

int storvsp_add_lun(struct storvsp *sv, uint8_t lun, struct scsi_disk *disk)
{
	if (!disk || lun >= STORVSP_MAX_LUNS || sv->dev)
		return -EINVAL;
	if (sv->luns[lun])
		return -EEXIST;
	sv->luns[lun] = disk;
	sv->n_luns = 0;
	for (unsigned int i = 0; i < STORVSP_MAX_LUNS; i++)
		if (sv->luns[i])
			sv->lun_list[sv->n_luns++] = (uint8_t)i;
	return 0;
}

int storvsp_start(struct storvsp *sv, const uint8_t instance_guid[16])
{
	if (sv->dev)
		return -EALREADY;
	return vmbus_server_add_device(sv->srv, &storvsp_class, instance_guid, sv, &sv->dev);
}

void storvsp_free(struct storvsp *sv)
{
	if (!sv)
		return;
	if (sv->dev)
		vmbus_server_remove_device(sv->srv, sv->dev);
	free(sv->pending);
	free(sv);
}

void storvsp_get_stats(struct storvsp *sv, struct storvsp_stats *ret)
{
	vmbus_server_lock(sv->srv);
	*ret = sv->st;
	vmbus_server_unlock(sv->srv);
}

uint16_t storvsp_protocol(struct storvsp *sv)
{
	uint16_t v;

	vmbus_server_lock(sv->srv);
	v = sv->version;
	vmbus_server_unlock(sv->srv);
	return v;
}

/* ---- channel ---- */

static int sv_on_open(struct vmbus_chan *chan, const uint8_t userdata[120])
{
	struct storvsp *sv = vmbus_chan_ctx(chan);

	(void)userdata;
	sv->chan = chan;
	sv->state = SV_OPEN;
	sv->version = 0;
	sv->n_pending = 0;
	return 0;
}

static void sv_on_close(struct vmbus_chan *chan)
{
	struct storvsp *sv = vmbus_chan_ctx(chan);

	sv->state = SV_CLOSED;
	sv->n_pending = 0;
	sv->chan = NULL;
}

static void sv_flush_pending(struct storvsp *sv)
{
	unsigned int done = 0;

	while (done < sv->n_pending) {
		struct sv_pending *p = &sv->pending[done];
		int r = vmbus_chan_send(sv->chan, VMBUS_PKT_COMP, 0, p->trans_id, &p->pkt,
					sizeof(p->pkt));

		if (r == -EAGAIN)
			break;
		if (r)
			sv->st.send_failed++;
		else
			sv->st.completions++;
		done++;
	}
	memmove(sv->pending, sv->pending + done, (sv->n_pending - done) * sizeof(*sv->pending));
	sv->n_pending -= done;
}

static void sv_on_writable(struct vmbus_chan *chan)
{
	struct storvsp *sv = vmbus_chan_ctx(chan);

	if (sv->chan)
		sv_flush_pending(sv);
}

static void sv_complete(struct storvsp *sv, uint64_t trans_id, struct vstor_packet_wire *vp)
{
	int r = -EAGAIN;

	vp->operation = VSTOR_OP_COMPLETE_IO;
	vp->flags = 0;
	if (!sv->n_pending)
		r = vmbus_chan_send(sv->chan, VMBUS_PKT_COMP, 0, trans_id, vp, sizeof(*vp));
	if (r == -EAGAIN) {
		/* The guest is not reading its ring; keep the completion for later. */
		if (sv->n_pending >= STORVSP_PENDING_MAX) {
			sv->st.send_failed++;
			return;
		}
		sv->pending[sv->n_pending].trans_id = trans_id;
		sv->pending[sv->n_pending].pkt = *vp;
		sv->n_pending++;
		return;
	}
	if (r)
		sv->st.send_failed++;
	else
		sv->st.completions++;
}

/* ---- EXECUTE_SRB ---- */

/*
 * Resolve the packet's GPA-direct range into host iovecs. Returns the count
 * (0 for no buffer) and the buffer length, or -1 if the range is malformed
 * or any page is not guest RAM.
 */
static int sv_map_buffer(struct storvsp *sv, const struct vmbus_pkt *pkt, uint32_t *ret_len)
{
	struct vmbus_gpa_direct_hdr_wire h;
	struct vmbus_gpa_range_wire rg;
	uint32_t hdr_end = (uint32_t)(pkt->payload - pkt->data), npfn, left;
	int n = 0;

	*ret_len = 0;
	if (pkt->type != VMBUS_PKT_DATA_USING_GPA_DIRECT)
		return 0;
	if (hdr_end < 16 + sizeof(h) + sizeof(rg))
		return -1;
	memcpy(&h, pkt->data + 16, sizeof(h));
	if (h.range_count == 0)
		return 0;
	if (h.range_count != 1)
		return -1;       /* storvsc always sends one multi-page range */
	memcpy(&rg, pkt->data + 16 + sizeof(h), sizeof(rg));
	if (rg.byte_offset >= 4096 || rg.byte_count > STORVSP_MAX_TRANSFER)
		return -1;
	npfn = (uint32_t)(((uint64_t)rg.byte_offset + rg.byte_count + 4095) / 4096);
	if (npfn > STORVSP_MAX_PAGES || 16 + sizeof(h) + sizeof(rg) + 8ull * npfn > hdr_end)
		return -1;
	left = rg.byte_count;
	for (uint32_t i = 0; i < npfn && left; i++) {
		uint64_t pfn;
		uint32_t start = i ? 0 : rg.byte_offset, seg = MIN(4096 - start, left);
		uint8_t *p;

		memcpy(&pfn, pkt->data + 16 + sizeof(h) + sizeof(rg) + 8 * i, sizeof(pfn));
		if (pfn > (UINT64_MAX >> GM_PAGE_SHIFT))
			return -1;
		p = gm_ptr(sv->gm, gpn_to_gpa(pfn) + start, seg);
		if (!p)
			return -1;
		if (n && (uint8_t *)sv->iov[n - 1].iov_base + sv->iov[n - 1].iov_len == p) {
			sv->iov[n - 1].iov_len += seg;
		} else {
			sv->iov[n].iov_base = p;
			sv->iov[n].iov_len = seg;
			n++;
		}
		left -= seg;
	}
	*ret_len = rg.byte_count;
	return n;
}

static void srb_finish(struct vstor_packet_wire *vp, const struct scsi_req *r)
{
	struct vmscsi_request_wire *s = &vp->srb;

	s->scsi_status = r->status;
	if (r->status == SCSI_STATUS_GOOD) {
		s->srb_status = SRB_STATUS_SUCCESS;
		s->data_transfer_length = r->xfer;
		s->sense_info_length = 0;
		return;
	}
	s->data_transfer_length = 0;
	memset(s->sense_data, 0, sizeof(s->sense_data));
	if (r->status == SCSI_STATUS_CHECK_CONDITION && r->sense_len) {
		uint8_t n = MIN(r->sense_len, (uint8_t)VSTOR_SENSE_MAX);

		memcpy(s->sense_data, r->sense, n);
		s->sense_info_length = n;
		s->srb_status = SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID;
	} else {
		s->sense_info_length = 0;
		s->srb_status = SRB_STATUS_ERROR;
	}
}

static void srb_fail(struct vstor_packet_wire *vp, uint8_t srb_status)
{
	vp->srb.srb_status = srb_status;
	vp->srb.scsi_status = 0;
	vp->srb.data_transfer_length = 0;
	vp->srb.sense_info_length = 0;
}

static void sv_execute_srb(struct storvsp *sv, const struct vmbus_pkt *pkt,
			   struct vstor_packet_wire *vp)
{
	struct vmscsi_request_wire *s = &vp->srb;
	uint8_t cdb[VSTOR_CDB_MAX];
	struct scsi_req r = { 0 };
	uint32_t buf_len;
	int n;

	sv->st.srbs++;
	if (s->cdb_length == 0 || s->cdb_length > VSTOR_CDB_MAX || s->data_in > VSTOR_DATA_NONE) {
		sv->st.srb_errors++;
		srb_fail(vp, SRB_STATUS_INVALID_REQUEST);
		return;
	}
	n = sv_map_buffer(sv, pkt, &buf_len);
	if (n < 0) {
		sv->st.srb_errors++;
		srb_fail(vp, SRB_STATUS_INVALID_REQUEST);
		return;
	}
	memcpy(cdb, s->cdb, sizeof(cdb));
	r.cdb = cdb;
	r.cdb_len = s->cdb_length;
	r.dir = s->data_in == VSTOR_DATA_WRITE ? SCSI_DIR_TO_DEV :
		s->data_in == VSTOR_DATA_READ ? SCSI_DIR_FROM_DEV : SCSI_DIR_NONE;
	/* The SRB length may only shrink the buffer the range describes. */
	buf_len = r.dir == SCSI_DIR_NONE ? 0 : MIN(buf_len, s->data_transfer_length);
	r.iov = sv->iov;
	r.iovcnt = buf_len ? n : 0;
	r.buf_len = buf_len;

	if (s->path_id || s->target_id || s->lun >= STORVSP_MAX_LUNS || !sv->luns[s->lun]) {
		/* Disks live at path 0, target 0 (the Hyper-V convention). */
		if (cdb[0] == SCSI_INQUIRY) {
			scsi_absent_lun_inquiry(&r);
		} else if (cdb[0] == SCSI_REPORT_LUNS && !s->lun) {
			if (s->path_id || s->target_id)
				scsi_report_luns(&r, NULL, 0);
			else
				scsi_report_luns(&r, sv->lun_list, sv->n_luns);
		} else {
			sv->st.invalid_lun++;
			srb_fail(vp, SRB_STATUS_INVALID_LUN);
			return;
		}
	} else if (cdb[0] == SCSI_REPORT_LUNS) {
		scsi_report_luns(&r, sv->lun_list, sv->n_luns);
	} else {
		scsi_disk_exec(sv->luns[s->lun], &r);
	}
	srb_finish(vp, &r);
}

static int sv_on_packet(struct vmbus_chan *chan, const struct vmbus_pkt *pkt)
{
	struct storvsp *sv = vmbus_chan_ctx(chan);
	struct vstor_packet_wire vp;

	sv->st.requests++;
	if ((pkt->type != VMBUS_PKT_DATA_INBAND && pkt->type != VMBUS_PKT_DATA_USING_GPA_DIRECT) ||
	    pkt->payload_len < sizeof(vp)) {
		sv->st.bad_packets++;
		return 0;
	}
	memcpy(&vp, pkt->payload, sizeof(vp));
	switch (vp.operation) {
	case VSTOR_OP_BEGIN_INIT:
		sv->state = SV_INIT;
		vp.status = VSTOR_STATUS_SUCCESS;
		break;
	case VSTOR_OP_QUERY_PROTOCOL_VERSION:
		if (sv->state != SV_INIT) {
			vp.status = VSTOR_STATUS_INVALID_DEVICE_STATE;
		} else if (vp.version.major_minor == VSTOR_PROTO_WIN10 ||
			   vp.version.major_minor == VSTOR_PROTO_WIN8_1 ||
			   vp.version.major_minor == VSTOR_PROTO_WIN8) {
			sv->version = vp.version.major_minor;
			vp.status = VSTOR_STATUS_SUCCESS;
		} else {
			vp.status = VSTOR_STATUS_REVISION_MISMATCH;
		}
		break;
	case VSTOR_OP_QUERY_PROPERTIES:
		if (sv->state != SV_INIT || !sv->version) {
			vp.status = VSTOR_STATUS_INVALID_DEVICE_STATE;
			break;
		}
		memset(&vp.props, 0, sizeof(vp.props));
		vp.props.max_channel_cnt = 0;
		vp.props.flags = 0;
		vp.props.max_transfer_bytes = STORVSP_MAX_TRANSFER;
		vp.status = VSTOR_STATUS_SUCCESS;
		break;
	case VSTOR_OP_END_INIT:
		if (sv->state != SV_INIT || !sv->version) {
			vp.status = VSTOR_STATUS_INVALID_DEVICE_STATE;
			break;
		}
		sv->state = SV_READY;
		vp.status = VSTOR_STATUS_SUCCESS;
		break;
	case VSTOR_OP_EXECUTE_SRB:
		if (sv->state != SV_READY) {
			vp.status = VSTOR_STATUS_INVALID_DEVICE_STATE;
			srb_fail(&vp, SRB_STATUS_ERROR);
			break;
		}
		vp.status = VSTOR_STATUS_SUCCESS;
		sv_execute_srb(sv, pkt, &vp);
		break;
	case VSTOR_OP_RESET_LUN:
	case VSTOR_OP_RESET_ADAPTER:
	case VSTOR_OP_RESET_BUS:
		/* I/O completes synchronously: nothing is outstanding to abort. */
		vp.status = VSTOR_STATUS_SUCCESS;
		break;
	default:
		/* CREATE_SUB_CHANNELS (not advertised), FCHBA_DATA (not FC), junk. */
		vp.status = VSTOR_STATUS_UNSUCCESSFUL;
		break;
	}
	if (pkt->flags & VMBUS_PKT_FLAG_COMPLETION_REQUESTED)
		sv_complete(sv, pkt->trans_id, &vp);
	return 0;
}
