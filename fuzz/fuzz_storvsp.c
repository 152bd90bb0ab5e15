// SPDX-License-Identifier: MIT
/*
 * Fuzz target for storvsp packet parsing. The real hv layer, VMBus server
 * and storvsp with two in-memory disks run against the fake storvsc; the
 * input is a list of steps: raw packets (descriptor included, any offset8,
 * any GPA-direct header), vstor_packets sent INBAND, EXECUTE_SRBs with
 * fuzzed CDB/address/direction over a fuzzed GPA range, back-end failures.
 * Every completion must be exactly one 64-byte vstor_packet with the
 * request's trans_id; nothing may crash, hang or touch memory outside RAM.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/storvsp/sv_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drain(struct sv_guest *g)
{
	struct vstor_packet_wire c;
	uint64_t t;
	int n;

	for (int i = 0; i < 4096; i++) {
		n = svg_read(g, &c, &t);
		if (n < 0)
			break;
		if (n != (int)sizeof(c) || c.operation != VSTOR_OP_COMPLETE_IO)
			abort();   /* storvsc would reject or desynchronise */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sv_guest g;
	static uint8_t pkt[8192];
	size_t pos = 1;
	int steps = 0;

	if (!size)
		return 0;
	if (svg_new(&g, 2, 1u << 20, (data[0] & 1) ? 4096 : 512))
		return 0;
	if (!(data[0] & 2) && svg_init(&g))
		goto out;
	while (pos < size && steps++ < 64) {
		uint8_t op = data[pos++];
		size_t left = size - pos, n;

		switch (op % 5) {
		case 0: { /* raw packet bytes, descriptor fixed up to a sane length */
			struct vmbus_pkt_desc_wire d;

			n = MIN(left, sizeof(pkt) - 8);
			n = MIN(n, (size_t)(op >> 3) * 16 + 16);
			if (n < sizeof(d))
				goto out;
			memcpy(pkt, data + pos, n);
			pos += n;
			memcpy(&d, pkt, sizeof(d));
			if (op & 4)
				d.len8 = (uint16_t)((n + 7) / 8);
			memcpy(pkt, &d, sizeof(d));
			(void)svg_write_raw(&g, pkt, (uint32_t)n);
			break;
		}
		case 1: { /* INBAND vstor_packet */
			struct vstor_packet_wire vp = { 0 }, c;

			n = MIN(left, sizeof(vp));
			memcpy(&vp, data + pos, n);
			pos += n;
			(void)svg_request(&g, &vp, 1 + pos, &c);
			break;
		}
		case 2: { /* SRB: lun, data_in, cdb_len, buffer offset/len, 16 CDB bytes */
			uint8_t cdb[16] = { 0 };
			struct vstor_packet_wire c;
			uint32_t off, len;

			if (left < 7)
				goto out;
			off = (uint32_t)(data[pos + 3] | data[pos + 4] << 8) * 7u;
			len = (uint32_t)(data[pos + 5] | data[pos + 6] << 8) * 16u;
			off %= SVG_BUF_BYTES;
			len = MIN(len, (uint32_t)(SVG_BUF_BYTES - off));
			n = MIN(left - 7, sizeof(cdb));
			memcpy(cdb, data + pos + 7, n);
			(void)svg_srb(&g, 0, data[pos] & 1, data[pos + 1] % 4, cdb,
				      (uint8_t)(data[pos + 2] % 17), data[pos + 2] >> 5 & 3, off, len,
				      &c);
			pos += 7 + n;
			break;
		}
		case 3: /* back-end failures on/off */
			g.md[0].fail_read = (op & 8) ? -5 : 0;
			g.md[0].fail_write = (op & 16) ? -27 : 0;
			g.md[0].fail_flush = (op & 32) ? -5 : 0;
			break;
		default:
			drain(&g);
			break;
		}
		drain(&g);
	}
out:
	svg_free(&g);
	return 0;
}
