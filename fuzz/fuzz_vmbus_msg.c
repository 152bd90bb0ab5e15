// SPDX-License-Identifier: MIT
/*
 * Fuzz target for VMBus channel-management messages. A fake Linux guest
 * (tests/unit/vmbus/fake_guest.c) boots the real hv layer and VMBus server
 * with two devices; the input is a program of HvPostMessage calls with
 * fuzzed payloads (optionally after a real connect + REQUESTOFFERS), guest
 * message consumption and channel signals. The server must answer or drop
 * every message without crashing, leaking or looping.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/vmbus/fake_guest.h"

#define FZ_RAM (256 * 1024)

static int fz_packet(struct vmbus_chan *chan, const struct vmbus_pkt *pkt)
{
	if (pkt->flags & VMBUS_PKT_FLAG_COMPLETION_REQUESTED)
		return vmbus_chan_send(chan, VMBUS_PKT_COMP, 0, pkt->trans_id, pkt->payload,
				       MIN(pkt->payload_len, 64u)) == -EPROTO ? -EPROTO : 0;
	return 0;
}

static const struct vmbus_dev_class fz_class = {
	.name = "fuzz", .class_guid = { 0xf0, 0x22 }, .packet = fz_packet,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t i1[16] = { 1 }, i2[16] = { 2 };
	struct fake_guest *fg;
	struct vmbus_dev *d;
	struct vmbus_offer_channel_wire offers[4];
	size_t pos = 1;
	int steps = 0;

	if (!size || fg_new(2, FZ_RAM, &fg))
		return 0;
	if (fg_boot(fg) || vmbus_server_add_device(fg->srv, &fz_class, i1, NULL, &d) ||
	    vmbus_server_add_device(fg->srv, &fz_class, i2, NULL, &d))
		goto out;
	if (data[0] & 1) {
		if (!fg_connect(fg))
			goto out;
		if (fg_request_offers(fg, offers, 4) < 0)
			goto out;
	}
	if (!fg->msg_conn_id)
		fg->msg_conn_id = 1;
	while (pos + 2 <= size && steps++ < 256) {
		uint8_t op = data[pos], len = data[pos + 1];
		uint8_t msg[240];
		uint32_t n;

		pos += 2;
		n = (uint32_t)MIN((size_t)len % 241, size - pos);
		memset(msg, 0, sizeof(msg));
		memcpy(msg, data + pos, n);
		pos += n;
		switch (op & 3) {
		case 0:
			(void)fg_post(fg, op >> 7, (op & 4) ? 4 : 1, msg, n);
			break;
		case 1: /* force a known message type to get past the first check */
			msg[0] = (uint8_t)(msg[0] % 25);
			msg[1] = msg[2] = msg[3] = 0;
			/* GPADL header/body: make the PFNs guest RAM so creation, open,
			 * close and teardown are reached with fuzzed relids and sizes. */
			if ((msg[0] == 8 || msg[0] == 9) && (op & 0x40)) {
				uint32_t first = msg[0] == 8 ? 28 : 16;
				for (uint32_t k = first; k + 8 <= sizeof(msg); k += 8) {
					uint64_t pfn = 8 + (k + msg[4]) % 48;
					memcpy(msg + k, &pfn, 8);
				}
			}
			(void)fg_post(fg, op >> 7, fg->msg_conn_id, msg, MAX(n, 8u));
			break;
		case 2:
			fg_poll_msgs(fg);
			fg->n_msgs = 0;
			break;
		default:
			(void)vmbus_server_signal_event(fg->srv, 0, 16u + msg[0] % 8u, 0);
			break;
		}
		fg_run_host(fg);
	}
	fg_poll_msgs(fg);
out:
	fg_free(fg);
	return 0;
}
