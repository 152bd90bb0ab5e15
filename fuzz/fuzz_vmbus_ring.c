// SPDX-License-Identifier: MIT
/*
 * Fuzz target for ring-buffer packet parsing and signalling. A fake Linux
 * guest opens a channel with one data page per direction; the input then
 * scribbles over the guest->host ring (data and indices), the host->guest
 * ring header (read index, interrupt mask, pending_send_sz), signals the
 * host, and mixes in well-formed guest writes/reads and host sends. The
 * server must break the channel on garbage, never read or write outside the
 * ring, and never loop.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/vmbus/fake_guest.h"

#define FZ_RAM (1024 * 1024)

static int fz_packet(struct vmbus_chan *chan, const struct vmbus_pkt *pkt)
{
	if (pkt->flags & VMBUS_PKT_FLAG_COMPLETION_REQUESTED)
		return vmbus_chan_send(chan, VMBUS_PKT_COMP, 0, pkt->trans_id, pkt->payload,
				       MIN(pkt->payload_len, 512u)) == -EPROTO ? -EPROTO : 0;
	return 0;
}

static const struct vmbus_dev_class fz_class = {
	.name = "fuzz", .class_guid = { 0xf0, 0x33 }, .max_pkt_size = 8192, .packet = fz_packet,
};

static uint32_t take32(const uint8_t *d, size_t size, size_t *pos)
{
	uint32_t v = 0;

	for (int i = 0; i < 4 && *pos < size; i++)
		v |= (uint32_t)d[(*pos)++] << (8 * i);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t inst[16] = { 9 };
	struct fake_guest *fg;
	struct vmbus_dev *dev;
	struct vmbus_offer_channel_wire offers[2];
	struct fg_chan ch = { 0 };
	uint8_t buf[4096];
	size_t pos = 0;
	int steps = 0;

	if (fg_new(1, FZ_RAM, &fg))
		return 0;
	if (fg_boot(fg) || vmbus_server_add_device(fg->srv, &fz_class, inst, NULL, &dev) ||
	    !fg_connect(fg) || fg_request_offers(fg, offers, 2) != 1 ||
	    fg_open(fg, &offers[0], 2, 2, 0, &ch))
		goto out;
	while (pos < size && steps++ < 256) {
		uint8_t op = data[pos++];
		struct vmbus_ring_hdr_wire *gh = fg_ring_hdr(&ch, false);
		struct vmbus_ring_hdr_wire *hg = fg_ring_hdr(&ch, true);
		uint32_t v = take32(data, size, &pos), n;

		switch (op & 7) {
		case 0: /* raw bytes into the guest->host data page */
			n = MIN((uint32_t)(size - pos), (v >> 16) % 512u);
			memcpy((uint8_t *)gh + 4096 + (v & 0xFFF) % (4096 - n + 1), data + pos, n);
			pos += n;
			break;
		case 1:
			gh->write_index = v;
			break;
		case 2:
			hg->read_index = v;
			break;
		case 3:
			hg->interrupt_mask = v & 1;
			hg->pending_send_sz = v >> 1;
			gh->pending_send_sz = v >> 20;
			break;
		case 4:
			(void)vmbus_server_signal_event(fg->srv, 0, ch.conn_id, 0);
			break;
		case 5:
			n = v % 5000;
			memset(buf, (int)op, sizeof(buf));
			if (vmbus_chan_send(vmbus_dev_chan(dev), VMBUS_PKT_DATA_INBAND, 0, v, buf,
					    MIN(n, (uint32_t)sizeof(buf))) == -EPROTO)
				steps += 8; /* broken channel: nothing more to learn */
			break;
		case 6:
			n = MIN((uint32_t)(size - pos), v % 2048);
			(void)fg_chan_write(&ch, (uint16_t)(v >> 24), (uint16_t)(v >> 16), v, data + pos, n);
			pos += n;
			break;
		default:
			(void)fg_chan_read(&ch, buf, sizeof(buf), NULL, NULL);
			break;
		}
		fg_run_host(fg);
	}
out:
	fg_free(fg);
	return 0;
}
