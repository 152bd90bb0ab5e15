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
#include <unistd.h>

#include "base/util.h"
#include "vsp/storvsp/storvsp_proto.h"

#define STORVSP_MAX_PAGES (STORVSP_MAX_TRANSFER / 4096u + 1u)
#define STORVSP_PENDING_MAX 1024u
#define STORVSP_AIO_SLOTS 128u      /* requests in flight in async back-ends */
#define STORVSP_RESETS_MAX 8u
#define STORVSP_CHANNELS (1u + STORVSP_MAX_SUBCHANNELS)

/* ba6163d9-04a1-4d29-b605-72e2ffb1dc7f (reference §5). */
const uint8_t storvsp_scsi_class_guid[16] = { 0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d,
					       0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f };

enum sv_state { SV_CLOSED, SV_OPEN, SV_INIT, SV_READY };

struct sv_pending {
	uint64_t trans_id;
	struct vstor_packet_wire pkt;
};

/* One VMBus channel of the controller: the primary (0) or a sub-channel. */
struct sv_chan {
	struct vmbus_chan *chan;      /* NULL while closed */
	struct sv_pending *pending;   /* completions waiting for ring space */
	unsigned int n_pending;
	uint64_t gen;                 /* bumped on every open and close */
};

/* A request whose data path runs asynchronously in the disk back-end. */
struct sv_req {
	struct storvsp *sv;
	struct scsi_disk *disk;
	uint64_t trans_id;
	unsigned int cidx;        /* channel it arrived on (and completes on) */
	uint64_t gen;             /* that channel's generation then */
	bool want_completion;
	struct vstor_packet_wire vp;
	uint8_t cdb[VSTOR_CDB_MAX];
	struct scsi_req r;
	struct scsi_io io;
	struct sv_req *next_free;
	struct iovec iov[STORVSP_MAX_PAGES];
};

struct storvsp {
	struct vmbus_server *srv;
	const struct gm *gm;
	struct vmbus_dev *dev;
	struct sv_chan ch[STORVSP_CHANNELS];
	unsigned int max_subs;        /* sub-channels offered in QUERY_PROPERTIES */
	enum sv_state state;
	uint16_t version;
	struct scsi_disk *luns[STORVSP_MAX_LUNS];
	uint8_t lun_list[STORVSP_MAX_LUNS];
	unsigned int n_luns;
	struct iovec iov[STORVSP_MAX_PAGES];
	struct sv_req *slots, *free_slots;
	unsigned int in_flight;
	/* Reset requests answered once nothing is in flight any more. */
	uint64_t reset_ids[STORVSP_RESETS_MAX];
	unsigned int reset_cidx[STORVSP_RESETS_MAX];
	struct vstor_packet_wire reset_vp[STORVSP_RESETS_MAX];
	unsigned int n_resets;
	bool rescan_due;              /* ENUMERATE_BUS waits for ring space */
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
	/* storvsc's callback reads its ring to the end on every interrupt. */
	.batch_signals = true,
};

int storvsp_new(struct vmbus_server *srv, const struct gm *gm, struct storvsp **ret)
{
	struct storvsp *sv;

	if (!srv || !gm || !ret)
		return -EINVAL;
	sv = calloc(1, sizeof(*sv));
	if (!sv)
		return -ENOMEM;
	sv->slots = calloc(STORVSP_AIO_SLOTS, sizeof(*sv->slots));
	for (unsigned int i = 0; sv->slots && i < STORVSP_CHANNELS; i++) {
		/* Untouched until a channel needs it, so it costs address space only. */
		sv->ch[i].pending = calloc(STORVSP_PENDING_MAX, sizeof(*sv->ch[i].pending));
		if (!sv->ch[i].pending) {
			for (unsigned int k = 0; k < i; k++)
				free(sv->ch[k].pending);
			free(sv->slots);
			sv->slots = NULL;
		}
	}
	if (!sv->slots) {
		free(sv);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < STORVSP_AIO_SLOTS; i++) {
		sv->slots[i].sv = sv;
		sv->slots[i].next_free = i + 1 < STORVSP_AIO_SLOTS ? &sv->slots[i + 1] : NULL;
	}
	sv->free_slots = &sv->slots[0];
	sv->srv = srv;
	sv->gm = gm;
	*ret = sv;
	return 0;
}

static void sv_rebuild_lun_list(struct storvsp *sv)
{
	sv->n_luns = 0;
	for (unsigned int i = 0; i < STORVSP_MAX_LUNS; i++)
		if (sv->luns[i])
			sv->lun_list[sv->n_luns++] = (uint8_t)i;
}

static void sv_send_rescan(struct storvsp *sv);

int storvsp_add_lun(struct storvsp *sv, uint8_t lun, struct scsi_disk *disk)
{
	int r = 0;

	if (!disk || lun >= STORVSP_MAX_LUNS)
		return -EINVAL;
	vmbus_server_lock(sv->srv);
	if (sv->luns[lun]) {
		r = -EEXIST;
	} else {
		sv->luns[lun] = disk;
		sv_rebuild_lun_list(sv);
		if (sv->dev)
			sv_send_rescan(sv);
	}
	vmbus_server_unlock(sv->srv);
	return r;
}

void storvsp_set_max_subchannels(struct storvsp *sv, unsigned int n)
{
	vmbus_server_lock(sv->srv);
	sv->max_subs = MIN(n, STORVSP_MAX_SUBCHANNELS);
	vmbus_server_unlock(sv->srv);
}

bool storvsp_has_lun(struct storvsp *sv, uint8_t lun)
{
	bool has;

	if (lun >= STORVSP_MAX_LUNS)
		return false;
	vmbus_server_lock(sv->srv);
	has = sv->luns[lun] != NULL;
	vmbus_server_unlock(sv->srv);
	return has;
}

/* Requests to disk still in an asynchronous back-end. Server lock held. */
static unsigned int sv_disk_in_flight(struct storvsp *sv, const struct scsi_disk *disk)
{
	unsigned int n = 0;

	if (!sv->in_flight)
		return 0;
	/* A slot names its disk only while it is in use (see sv_io_done). */
	for (unsigned int i = 0; i < STORVSP_AIO_SLOTS; i++)
		if (sv->slots[i].disk == disk)
			n++;
	return n;
}

int storvsp_remove_lun(struct storvsp *sv, uint8_t lun, struct scsi_disk **ret)
{
	struct scsi_disk *disk;
	unsigned int n;

	if (ret)
		*ret = NULL;
	if (lun >= STORVSP_MAX_LUNS)
		return -EINVAL;
	vmbus_server_lock(sv->srv);
	disk = sv->luns[lun];
	if (!disk) {
		vmbus_server_unlock(sv->srv);
		return -ENOENT;
	}
	sv->luns[lun] = NULL;
	sv_rebuild_lun_list(sv);
	if (sv->dev)
		sv_send_rescan(sv);
	vmbus_server_unlock(sv->srv);
	/* Requests already in the back-end still finish (and complete to the guest). */
	for (;;) {
		vmbus_server_lock(sv->srv);
		n = sv_disk_in_flight(sv, disk);
		vmbus_server_unlock(sv->srv);
		if (!n)
			break;
		usleep(1000);
	}
	if (ret)
		*ret = disk;
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
	unsigned int n;

	if (!sv)
		return;
	/*
	 * Requests still in the back-ends write into guest memory and call us
	 * back: wait for them (host I/O always ends) before anything goes away.
	 */
	for (;;) {
		vmbus_server_lock(sv->srv);
		n = sv->in_flight;
		vmbus_server_unlock(sv->srv);
		if (!n)
			break;
		usleep(1000);
	}
	if (sv->dev)
		vmbus_server_remove_device(sv->srv, sv->dev);
	for (unsigned int i = 0; i < STORVSP_CHANNELS; i++)
		free(sv->ch[i].pending);
	free(sv->slots);
	free(sv);
}

void storvsp_get_stats(struct storvsp *sv, struct storvsp_stats *ret)
{
	vmbus_server_lock(sv->srv);
	*ret = sv->st;
	ret->in_flight = sv->in_flight;
	ret->queued_comps = 0;
	for (unsigned int i = 0; i < STORVSP_CHANNELS; i++)
		ret->queued_comps += sv->ch[i].n_pending;
	vmbus_server_unlock(sv->srv);
}

int storvsp_chan_rings(struct storvsp *sv, unsigned int i, struct vmbus_chan_rings *ret,
		       unsigned int *ret_queued)
{
	int r;

	if (i >= STORVSP_CHANNELS)
		return -ENOENT;
	vmbus_server_lock(sv->srv);
	r = sv->ch[i].chan ? vmbus_chan_rings(sv->ch[i].chan, ret) : -ENOTCONN;
	*ret_queued = sv->ch[i].n_pending;
	vmbus_server_unlock(sv->srv);
	return r;
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

/* Index of chan in sv->ch, or -1 for a channel we did not expect. */
static int sv_cidx(struct vmbus_chan *chan)
{
	uint16_t i = vmbus_chan_sub_index(chan);

	return i < STORVSP_CHANNELS ? (int)i : -1;
}

static int sv_on_open(struct vmbus_chan *chan, const uint8_t userdata[120])
{
	struct storvsp *sv = vmbus_chan_ctx(chan);
	int i = sv_cidx(chan);

	(void)userdata;
	if (i < 0)
		return -EINVAL;
	sv->ch[i].chan = chan;
	sv->ch[i].n_pending = 0;
	sv->ch[i].gen++;
	if (i == 0) {
		/* The guest (re)starts the protocol on the primary channel. */
		sv->state = SV_OPEN;
		sv->version = 0;
		sv->n_resets = 0;
		sv->rescan_due = false;
	}
	return 0;
}

static void sv_on_close(struct vmbus_chan *chan)
{
	struct storvsp *sv = vmbus_chan_ctx(chan);
	int i = sv_cidx(chan);

	if (i < 0)
		return;
	sv->ch[i].chan = NULL;
	sv->ch[i].n_pending = 0;
	sv->ch[i].gen++;   /* completions of requests still in flight are dropped */
	if (i == 0) {
		sv->state = SV_CLOSED;
		sv->n_resets = 0;
	}
}

static void sv_flush_pending(struct storvsp *sv, struct sv_chan *c)
{
	unsigned int done = 0;

	while (done < c->n_pending) {
		struct sv_pending *p = &c->pending[done];
		int r = vmbus_chan_send(c->chan, VMBUS_PKT_COMP, 0, p->trans_id, &p->pkt,
					sizeof(p->pkt));

		if (r == -EAGAIN)
			break;
		if (r)
			sv->st.send_failed++;
		else
			sv->st.completions++;
		done++;
	}
	memmove(c->pending, c->pending + done, (c->n_pending - done) * sizeof(*c->pending));
	c->n_pending -= done;
}

/*
 * Tell a ready guest its LUNs changed: an unsolicited in-band packet with
 * trans_id 0 and operation ENUMERATE_BUS (storvsc queues a host re-scan).
 * A guest still initialising scans everything anyway after END_INIT, and a
 * full ring defers the packet until the guest reads. Server lock held.
 */
static void sv_send_rescan(struct storvsp *sv)
{
	struct vstor_packet_wire vp;
	int r;

	if (!sv->ch[0].chan || sv->state != SV_READY) {
		sv->rescan_due = false;
		return;
	}
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OP_ENUMERATE_BUS;
	vp.status = VSTOR_STATUS_SUCCESS;
	r = sv->ch[0].n_pending ? -EAGAIN :
	    vmbus_chan_send(sv->ch[0].chan, VMBUS_PKT_DATA_INBAND, 0, 0, &vp, sizeof(vp));
	sv->rescan_due = r == -EAGAIN;
	if (!r)
		sv->st.rescans++;
	else if (r != -EAGAIN)
		sv->st.send_failed++;
}

static void sv_on_writable(struct vmbus_chan *chan)
{
	struct storvsp *sv = vmbus_chan_ctx(chan);
	int i = sv_cidx(chan);

	if (i < 0 || !sv->ch[i].chan)
		return;
	sv_flush_pending(sv, &sv->ch[i]);
	if (i == 0 && sv->rescan_due && !sv->ch[0].n_pending)
		sv_send_rescan(sv);
}

/* Answer on channel cidx (where the request arrived); dropped if it closed since. */
static void sv_complete(struct storvsp *sv, unsigned int cidx, uint64_t trans_id,
			struct vstor_packet_wire *vp)
{
	struct sv_chan *c = &sv->ch[cidx];
	int r = -EAGAIN;

	vp->operation = VSTOR_OP_COMPLETE_IO;
	vp->flags = 0;
	if (!c->chan)
		return;
	if (!c->n_pending)
		r = vmbus_chan_send(c->chan, VMBUS_PKT_COMP, 0, trans_id, vp, sizeof(*vp));
	if (r == -EAGAIN) {
		/* The guest is not reading its ring; keep the completion for later. */
		if (c->n_pending >= STORVSP_PENDING_MAX) {
			sv->st.send_failed++;
			return;
		}
		c->pending[c->n_pending].trans_id = trans_id;
		c->pending[c->n_pending].pkt = *vp;
		c->n_pending++;
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
static int sv_map_buffer(struct storvsp *sv, const struct vmbus_pkt *pkt, struct iovec *iov,
			 uint32_t *ret_len)
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
		if (n && (uint8_t *)iov[n - 1].iov_base + iov[n - 1].iov_len == p) {
			iov[n - 1].iov_len += seg;
		} else {
			iov[n].iov_base = p;
			iov[n].iov_len = seg;
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

static void sv_answer_resets(struct storvsp *sv)
{
	unsigned int n = sv->n_resets;

	sv->n_resets = 0;
	for (unsigned int i = 0; i < n; i++)
		sv_complete(sv, sv->reset_cidx[i], sv->reset_ids[i], &sv->reset_vp[i]);
}

/* Back-end callback (any thread): finish the SCSI command and complete it. */
static void sv_io_done(struct scsi_io *io, int result)
{
	struct sv_req *q = io->cookie;
	struct storvsp *sv = q->sv;

	vmbus_server_lock(sv->srv);
	scsi_disk_finish(q->disk, &q->r, result);
	srb_finish(&q->vp, &q->r);
	if (q->r.status != SCSI_STATUS_GOOD)
		sv->st.srb_errors++;
	if (q->want_completion && q->gen == sv->ch[q->cidx].gen)
		sv_complete(sv, q->cidx, q->trans_id, &q->vp);
	q->disk = NULL;
	q->next_free = sv->free_slots;
	sv->free_slots = q;
	sv->in_flight--;
	if (!sv->in_flight && sv->n_resets)
		sv_answer_resets(sv);
	vmbus_server_unlock(sv->srv);
}

/*
 * Returns true when the request went to an asynchronous back-end (it is
 * completed later by sv_io_done), false when vp holds the answer now.
 */
static bool sv_execute_srb(struct storvsp *sv, unsigned int cidx, const struct vmbus_pkt *pkt,
			   struct vstor_packet_wire *vp)
{
	struct vmscsi_request_wire *s = &vp->srb;
	struct sv_req *q = sv->free_slots;
	uint8_t cdb[VSTOR_CDB_MAX];
	struct scsi_req r = { 0 };
	struct iovec *iov;
	uint32_t buf_len;
	bool absent;
	int n;

	sv->st.srbs++;
	if (s->cdb_length == 0 || s->cdb_length > VSTOR_CDB_MAX || s->data_in > VSTOR_DATA_NONE) {
		sv->st.srb_errors++;
		srb_fail(vp, SRB_STATUS_INVALID_REQUEST);
		return false;
	}
	absent = s->path_id || s->target_id || s->lun >= STORVSP_MAX_LUNS || !sv->luns[s->lun];
	/* Commands to a present LUN may run asynchronously in a free slot. */
	if (absent)
		q = NULL;
	iov = q ? q->iov : sv->iov;
	n = sv_map_buffer(sv, pkt, iov, &buf_len);
	if (n < 0) {
		sv->st.srb_errors++;
		srb_fail(vp, SRB_STATUS_INVALID_REQUEST);
		return false;
	}
	memcpy(cdb, s->cdb, sizeof(cdb));
	r.cdb = cdb;
	r.cdb_len = s->cdb_length;
	r.dir = s->data_in == VSTOR_DATA_WRITE ? SCSI_DIR_TO_DEV :
		s->data_in == VSTOR_DATA_READ ? SCSI_DIR_FROM_DEV : SCSI_DIR_NONE;
	/* The SRB length may only shrink the buffer the range describes. */
	buf_len = r.dir == SCSI_DIR_NONE ? 0 : MIN(buf_len, s->data_transfer_length);
	r.iov = iov;
	r.iovcnt = buf_len ? n : 0;
	r.buf_len = buf_len;

	if (absent) {
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
			return false;
		}
	} else if (cdb[0] == SCSI_REPORT_LUNS) {
		scsi_report_luns(&r, sv->lun_list, sv->n_luns);
	} else if (q) {
		memcpy(q->cdb, cdb, sizeof(q->cdb));
		q->r = r;
		q->r.cdb = q->cdb;
		q->r.aio = &q->io;
		q->io = (struct scsi_io){ .iov = q->iov, .iov_max = (int)STORVSP_MAX_PAGES,
					  .done = sv_io_done, .cookie = q };
		q->disk = sv->luns[s->lun];
		q->trans_id = pkt->trans_id;
		q->cidx = cidx;
		q->gen = sv->ch[cidx].gen;
		q->want_completion = pkt->flags & VMBUS_PKT_FLAG_COMPLETION_REQUESTED;
		q->vp = *vp;
		/* Taken before exec: done() may run on another thread at once (it
		 * then waits for the server lock we hold). */
		sv->free_slots = q->next_free;
		sv->in_flight++;
		scsi_disk_exec(q->disk, &q->r);
		if (q->r.pending)
			return true;
		sv->in_flight--;
		q->disk = NULL;
		q->next_free = sv->free_slots;
		sv->free_slots = q;
		r = q->r;
	} else {
		scsi_disk_exec(sv->luns[s->lun], &r);
	}
	srb_finish(vp, &r);
	return false;
}

static int sv_on_packet(struct vmbus_chan *chan, const struct vmbus_pkt *pkt)
{
	struct storvsp *sv = vmbus_chan_ctx(chan);
	struct vstor_packet_wire vp;
	int ci = sv_cidx(chan);
	unsigned int cidx;

	sv->st.requests++;
	if (ci < 0 || (pkt->type != VMBUS_PKT_DATA_INBAND &&
		       pkt->type != VMBUS_PKT_DATA_USING_GPA_DIRECT) ||
	    pkt->payload_len < sizeof(vp)) {
		sv->st.bad_packets++;
		return 0;
	}
	cidx = (unsigned int)ci;
	memcpy(&vp, pkt->payload, sizeof(vp));
	/* A sub-channel carries I/O only; the protocol itself runs on the primary. */
	if (cidx && vp.operation != VSTOR_OP_EXECUTE_SRB) {
		vp.status = VSTOR_STATUS_INVALID_DEVICE_STATE;
		if (pkt->flags & VMBUS_PKT_FLAG_COMPLETION_REQUESTED)
			sv_complete(sv, cidx, pkt->trans_id, &vp);
		return 0;
	}
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
		vp.props.max_channel_cnt = (uint16_t)sv->max_subs;
		vp.props.flags = sv->max_subs ? VSTOR_PROPS_MULTI_CHANNEL : 0;
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
		if (sv_execute_srb(sv, cidx, pkt, &vp))
			return 0;   /* completed by sv_io_done */
		break;
	case VSTOR_OP_RESET_LUN:
	case VSTOR_OP_RESET_ADAPTER:
	case VSTOR_OP_RESET_BUS:
		/*
		 * Host I/O cannot be aborted once started: answer when every
		 * request in flight has completed, so the guest never sees a
		 * completion for a command it already gave up on after the reset.
		 */
		vp.status = VSTOR_STATUS_SUCCESS;
		if (sv->in_flight && (pkt->flags & VMBUS_PKT_FLAG_COMPLETION_REQUESTED) &&
		    sv->n_resets < STORVSP_RESETS_MAX) {
			vp.operation = VSTOR_OP_COMPLETE_IO;
			vp.flags = 0;
			sv->reset_ids[sv->n_resets] = pkt->trans_id;
			sv->reset_cidx[sv->n_resets] = cidx;
			sv->reset_vp[sv->n_resets] = vp;
			sv->n_resets++;
			return 0;
		}
		break;
	case VSTOR_OP_CREATE_SUB_CHANNELS:
		/*
		 * After END_INIT, at most what QUERY_PROPERTIES offered in all. The
		 * offers go out at once; the guest opens them without waiting.
		 */
		/*
		 * (A driver that re-binds without a VMBus reconnect finds its old
		 * sub-channels still counted and is refused: it then runs on the
		 * primary channel alone.)
		 */
		if (sv->state != SV_READY || !vp.sub_channel_count ||
		    vp.sub_channel_count > sv->max_subs - MIN(sv->max_subs,
							      vmbus_dev_subchannel_count(sv->dev))) {
			vp.status = VSTOR_STATUS_UNSUCCESSFUL;
			break;
		}
		vp.status = vmbus_dev_add_subchannels(sv->dev, vp.sub_channel_count) > 0 ?
			    VSTOR_STATUS_SUCCESS : VSTOR_STATUS_UNSUCCESSFUL;
		break;
	default:
		/* FCHBA_DATA (not FC), junk. */
		vp.status = VSTOR_STATUS_UNSUCCESSFUL;
		break;
	}
	if (pkt->flags & VMBUS_PKT_FLAG_COMPLETION_REQUESTED)
		sv_complete(sv, cidx, pkt->trans_id, &vp);
	return 0;
}
