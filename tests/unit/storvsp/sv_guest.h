/* SPDX-License-Identifier: MIT */
/*
 * A fake storvsc (Linux 6.1 hv_storvsc) for unit tests and the fuzz target:
 * the real hv layer + VMBus server through tests/unit/vmbus/fake_guest, a
 * storvsp with in-memory disks, and the guest side of the storvsc protocol
 * (init sequence, EXECUTE_SRB as INBAND or GPA-direct packets with a
 * single multi-page range built the way storvsc builds it).
 */
#ifndef OPENHV_TESTS_SV_GUEST_H
#define OPENHV_TESTS_SV_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "../vmbus/fake_guest.h"
#include "vsp/storvsp/storvsp.h"
#include "vsp/storvsp/storvsp_proto.h"

/* In-memory block device with failure injection. */
struct memdisk {
	uint8_t *data;
	uint64_t size;
	int fail_read, fail_write, fail_flush;  /* -errno to return, 0 = work */
	uint64_t flushes, discards, discarded_bytes;
};
extern const struct scsi_blk_ops memdisk_ops;
extern const struct scsi_blk_ops memdisk_ops_nodiscard;
int memdisk_init(struct memdisk *m, uint64_t size);
void memdisk_fini(struct memdisk *m);

#define SVG_MAX_LUNS 4

struct sv_guest {
	struct fake_guest *fg;
	struct fg_chan ch;
	struct storvsp *sv;
	struct memdisk md[SVG_MAX_LUNS];
	struct scsi_disk *disk[SVG_MAX_LUNS];
	unsigned int n_luns;
	uint64_t buf_gpa;        /* 4 MiB + 1 page of guest RAM for data buffers */
	uint8_t *buf;            /* host view of buf_gpa */
	uint64_t next_trans;
};

#define SVG_BUF_BYTES (4u * 1024u * 1024u + 4096u)

/* Fake guest + storvsp with n_luns disks of `size` bytes each, channel open. */
int svg_new(struct sv_guest *g, unsigned int n_luns, uint64_t size, uint32_t block_size);
void svg_free(struct sv_guest *g);

/* Send one vstor_packet INBAND with trans_id; read the completion into ret.
 * Returns 0, -EAGAIN if no completion arrived. */
int svg_request(struct sv_guest *g, struct vstor_packet_wire *vp, uint64_t trans_id,
		struct vstor_packet_wire *ret);
/* The whole init sequence like storvsc_channel_init(); 0 or -EPROTO. */
int svg_init(struct sv_guest *g);

/* Write a raw packet (descriptor included, any offset8) and signal the host. */
int svg_write_raw(struct sv_guest *g, const void *pkt, uint32_t len);
/* Read the next host packet; payload length or -EAGAIN. */
int svg_read(struct sv_guest *g, struct vstor_packet_wire *ret, uint64_t *ret_trans);

/*
 * EXECUTE_SRB: cdb to (path, target, lun); data_in VSTOR_DATA_*; data buffer
 * of len bytes at g->buf + buf_off (GPA-direct when len > 0). Fills ret with
 * the completion. 0 or -errno.
 */
int svg_srb(struct sv_guest *g, uint8_t path, uint8_t target, uint8_t lun, const uint8_t *cdb,
	    uint8_t cdb_len, uint8_t data_in, uint32_t buf_off, uint32_t len,
	    struct vstor_packet_wire *ret);

#endif
