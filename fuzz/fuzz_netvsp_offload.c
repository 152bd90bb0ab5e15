// SPDX-License-Identifier: MIT
/*
 * Fuzz target for the netvsp offload helpers (offload.h): the input is a
 * virtio-net header (10 bytes), a checksum PPI value and an LSOv2 PPI value
 * (4 bytes each), one flag byte and a frame. The frame goes through the
 * guest TX translation and, separately, through the host RX path: checksum
 * completion and GSO segmentation, every segment built. Segments must fit
 * hdr_len + MSS and the MTU bound; headers produced for the TAP must point
 * inside the frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "vsp/netvsp/offload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[OFFLOAD_MAX_FRAME], seg[OFFLOAD_MAX_FRAME];
	struct netvsp_vnet_hdr_wire h, out;
	struct rndis_tx_info ti = { 0 };
	struct offload_rx rx;
	uint32_t len, mtu;
	uint8_t flags;

	if (size < 19)
		return 0;
	memcpy(&h, data, 10);
	memcpy(&ti.csum_info, data + 10, 4);
	memcpy(&ti.lso_info, data + 14, 4);
	flags = data[18];
	len = (uint32_t)MIN(size - 19, sizeof(frame));
	ti.has_csum = flags & 1;
	ti.has_lso = flags & 2;
	mtu = flags & 4 ? 9000 : 1500;

	memcpy(frame, data + 19, len);
	if (offload_tx_prepare(frame, len, flags & 8 ? 4 : 0, mtu, &ti, &out) == 0) {
		if (out.flags & VNET_F_NEEDS_CSUM &&
		    (uint32_t)out.csum_start + out.csum_offset + 2 > len)
			abort();
		if (out.gso_type != VNET_GSO_NONE &&
		    (!out.gso_size || out.hdr_len > len || out.hdr_len + out.gso_size > 65535u + 18u))
			abort();
	}

	memcpy(frame, data + 19, len);
	if (offload_rx_prepare(frame, len, &h, &rx) == 0 && rx.nseg > 1) {
		if (rx.hdr_len > len || !rx.mss || rx.hdr_len + rx.payload != len)
			abort();
		/* every segment for small inputs; first and last for big ones */
		for (uint32_t i = 0; i < rx.nseg; i++) {
			uint32_t n;

			if (rx.nseg > 64 && i == 2)
				i = rx.nseg - 1;
			n = offload_rx_segment(frame, &rx, i, seg);
			if (n > rx.hdr_len + rx.mss || n < rx.hdr_len)
				abort();
		}
	}
	(void)offload_rx_csum_info(frame, len);
	return 0;
}
