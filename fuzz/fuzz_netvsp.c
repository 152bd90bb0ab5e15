// SPDX-License-Identifier: MIT
/*
 * Fuzz target for netvsp as the guest sees it: the real hv layer, VMBus
 * server and netvsp against the fake hv_netvsc guest. After the NVSP and
 * RNDIS bring-up (skipped for some inputs), the input is a list of guest
 * actions: raw NVSP messages (INBAND or COMP, with or without completion
 * request), RNDIS streams through a send section or a GPA-direct range,
 * host frames (some marked checksum-good, some coalesced for RSC), link
 * changes and guest polls. Bit 5 of the first byte gives the back-end
 * offloads (the guest is offered checksum, LSO and RSC and its PPIs reach
 * tx_offload), bit 6 allows MAC spoofing, bit 7 offers four vRSS queues:
 * the guest may then open the sub-channels it was offered and act on any
 * of them. The VSP must answer or drop, never crash, hang or write outside
 * the guest's buffers, and never hand the back-end a header pointing
 * outside the frame.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/netvsp/nv_guest.h"
#include "vsp/netvsp/netvsp.h"
#include "vsp/netvsp/netvsp_proto.h"

#define FZ_RAM (8 * 1024 * 1024)

static int fz_tx(void *o, const void *frame, size_t len)
{
	(void)o;
	(void)frame;
	return len > 1522 ? -EMSGSIZE : 0;
}

static int fz_tx_offload(void *o, const struct netvsp_vnet_hdr_wire *h, const void *frame,
			 size_t len)
{
	(void)o;
	(void)frame;
	if ((h->flags & VNET_F_NEEDS_CSUM) && (size_t)h->csum_start + h->csum_offset + 2 > len)
		abort();
	if (h->gso_type != VNET_GSO_NONE && (!h->gso_size || h->hdr_len > len))
		abort();
	return len > OFFLOAD_MAX_FRAME ? -EMSGSIZE : 0;
}

static int fz_set_mtu(void *o, uint32_t mtu)
{
	(void)o;
	if (mtu < NETVSP_MTU_MIN || mtu > NETVSP_MTU_MAX)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nv_guest g;
	static struct fg_chan subs[3];
	struct fg_chan primary;
	unsigned int nsubs = 0;
	static const uint8_t inst[16] = { 0x6f, 0x68, 0x76, 0, 0x6e, 0x65, 0x74, 0x40, 0x80, 1 };
	struct netvsp_config cfg = { .mac = { 0x02, 0x6f, 0x68, 0, 0, 1 } };
	struct netvsp_backend be = { .tx = fz_tx };
	struct vmbus_offer_channel_wire offer;
	struct fake_guest *fg;
	struct netvsp *nv = NULL;
	size_t pos = 1;
	int steps = 0;
	uint8_t mac[6];

	if (!size)
		return 0;
	cfg.vlan = (data[0] & 0x10) ? 5 : 0;
	cfg.allow_mac_spoofing = data[0] & 0x40;
	cfg.queues = data[0] & 0x80 ? 4 : 1;
	if (data[0] & 0x20) {
		be.tx_offload = fz_tx_offload;
		be.rx_rsc = true;
		be.set_mtu = fz_set_mtu;
	}
	if (fg_new(1, FZ_RAM, &fg))
		return 0;
	if (fg_boot(fg) || netvsp_new(fg->srv, fg->gm, &cfg, inst, &be, &nv) || !fg_connect(fg) ||
	    fg_request_offers(fg, &offer, 1) != 1 || nvg_open(&g, fg, &offer, 16))
		goto out;
	primary = g.ch;
	if (!(data[0] & 1) && nvg_connect(&g, NVSP_VERSION_61, 32 * 1024, 32 * 1024))
		goto out;
	if (!(data[0] & 3) && nvg_probe(&g, mac))
		abort(); /* a clean bring-up must always work */
	while (pos < size && steps++ < 64) {
		uint8_t op = data[pos++];
		uint32_t n = 0;
		const uint8_t *p;

		if (pos < size) {
			n = (uint32_t)data[pos++] * 8u;
			n = MIN(n, (uint32_t)(size - pos));
		}
		p = data + pos;

		pos += n;
		switch (op & 7) {
		case 0: /* raw NVSP message, completion requested or not */
			if (op & 8)
				(void)nvg_request(&g, p, n);
			else
				(void)nvg_post(&g, p, n);
			break;
		case 1: /* RNDIS stream through send section 0 */
			if (g.send_section)
				(void)nvg_send_rndis(&g, p, MIN(n, g.send_section), op >> 7, false);
			break;
		case 2: /* RNDIS stream through a GPA-direct range */
			if (g.send_bytes)
				(void)nvg_send_rndis(&g, p, n, op >> 7, true);
			break;
		case 3: /* raw packet of any type with the bytes as payload */
			(void)fg_chan_write(&g.ch, (uint16_t)(op >> 3), (op & 0x80) ? 1 : 0,
					    (uint64_t)op << 32 | n, p, n);
			break;
		case 4: /* a frame from the host, plain or coalesced (RSC) */
			if (op & 0x10)
				(void)netvsp_rx_rsc(nv, p, n, (uint32_t)(op >> 5) * 300u);
			else
				(void)netvsp_rx_ex(nv, p, n, op & 8 ? NETVSP_RX_CSUM_OK : 0);
			break;
		case 5:
			netvsp_set_link(nv, op & 8);
			break;
		case 6:
			g.hold_completions = op & 8;
			(void)nvg_poll(&g);
			break;
		default:
			if (op & 8) {
				/* open the sub-channels offered so far */
				struct fg_msg m;
				struct vmbus_offer_channel_wire o;

				fg_poll_msgs(fg);
				while (nsubs < 3 && fg_take_msg(fg, VMBUS_MSG_OFFERCHANNEL, &m)) {
					memcpy(&o, m.data, sizeof(o));
					if (fg_open(fg, &o, 4, 4, 0, &subs[nsubs]))
						break;
					nsubs++;
				}
			} else if (op & 0x10) {
				/* act on a sub-channel from now on, or the primary again */
				g.ch = nsubs && (op & 0x20) ? subs[(op >> 6) % nsubs] : primary;
			} else {
				nvg_release_held(&g);
			}
			break;
		}
		if (g.n_rx > NVG_MAX_RX / 2)
			g.n_rx = 0;
	}
	(void)nvg_poll(&g);
out:
	netvsp_free(nv);
	fg_free(fg);
	return 0;
}
