// SPDX-License-Identifier: MIT
/*
 * Fuzz target for integration-component messages. The real hv layer, VMBus
 * server and IC services run against a fake hv_utils guest; after a normal
 * negotiation the input drives hostile guest replies (the pending request
 * read from the ring, then overwritten with fuzz bytes, sent with the right
 * or a wrong trans_id), well-behaved replies, timer ticks and host API calls.
 * The services must count and drop junk, never crash, block or loop.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/ic/ic_guest.h"

#define FZ_RAM (4 * 1024 * 1024)

struct fz_clock {
	uint64_t now;
	struct fake_guest *fg;
};

static uint64_t fz_utc(void *o)
{
	return 133000000000000000ull + ((struct fz_clock *)o)->now / 100;
}

static uint64_t fz_ref(void *o)
{
	return hv_ref_time(((struct fz_clock *)o)->fg->hv);
}

static uint64_t fz_now(void *o)
{
	return ((struct fz_clock *)o)->now;
}

static const struct ic_host_ops fz_ops = { .utc_100ns = fz_utc, .ref_time = fz_ref,
					   .now_ns = fz_now };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ic_guest g;
	static uint8_t buf[16384];
	struct fz_clock clk = { .now = 1000000000ull };
	struct vmbus_offer_channel_wire offers[8];
	struct ic *ic = NULL;
	size_t pos = 0;
	int steps = 0, n;

	memset(&g, 0, sizeof(g));
	if (fg_new(1, FZ_RAM, &clk.fg))
		return 0;
	if (fg_boot(clk.fg) || ic_new(clk.fg->srv, NULL, &fz_ops, &clk, &ic) || !fg_connect(clk.fg))
		goto out;
	n = fg_request_offers(clk.fg, offers, 8);
	g.kvp_daemon = true;
	icg_add_kvp(&g, KVP_POOL_AUTO, "FullyQualifiedDomainName", "fuzz");
	if (n != 4 || icg_open_all(&g, clk.fg, offers, n))
		goto out;
	if (size && (data[0] & 1))
		icg_poll_all(&g); /* negotiate first, so the services are ready */
	while (pos < size && steps++ < 128) {
		uint8_t op = data[pos++];
		enum ic_service s = (enum ic_service)((op >> 3) % IC_SVC_COUNT);
		uint16_t type;
		uint64_t trans = 0;
		int len;
		uint32_t k, off, cnt;

		switch (op & 7) {
		case 0: /* hostile reply to the pending request */
		case 1:
			len = fg_chan_read(&g.ch[s], buf, sizeof(buf), &type, &trans);
			if (len < 0)
				len = 0;
			if (pos + 3 > size)
				break;
			off = data[pos] % 64u;
			cnt = MIN((uint32_t)data[pos + 1] * 4u, (uint32_t)(size - pos - 2));
			pos += 2;
			for (k = 0; k < cnt && off + k < sizeof(buf); k++)
				buf[off + k] = data[pos + k];
			pos += cnt;
			len = (int)MAX((uint32_t)len, MIN(off + cnt, (uint32_t)sizeof(buf)));
			if (op & 1)
				trans ^= data[pos - 1];
			(void)fg_chan_write(&g.ch[s], (op & 0x80) ? VMBUS_PKT_COMP : VMBUS_PKT_DATA_INBAND,
					    0, trans, buf, (uint32_t)MIN(len, 8000));
			break;
		case 2:
			clk.now += (uint64_t)(op >> 3) * 1000000000ull;
			ic_tick(ic);
			break;
		case 3:
			icg_poll_all(&g);
			break;
		case 4:
			if (ic_request_shutdown(ic, (op & 0x80) ? IC_SHUTDOWN_REBOOT : IC_SHUTDOWN_POWEROFF,
						"fuzz") == 0 && (op & 0x40))
				(void)ic_shutdown_result(ic);
			break;
		case 5: {
			char key[32];
			cnt = MIN((uint32_t)(size - pos), 31u);
			memcpy(key, data + pos, cnt);
			key[cnt] = 0;
			pos += cnt;
			if (ic_kvp_set(ic, key, (op & 0x80) ? NULL : "v") == 0)
				icg_poll(&g, IC_SVC_KVP);
			break;
		}
		case 6:
			if (ic_timesync_sync_now(ic) == 0)
				icg_poll(&g, IC_SVC_TIMESYNC);
			break;
		default: {
			struct ic_heartbeat_status hs;
			struct ic_kvp_entry e[4];
			if (ic_heartbeat_status(ic, &hs) == 0)
				(void)ic_kvp_list(ic, e, 4);
			break;
		}
		}
	}
out:
	ic_free(ic);
	fg_free(clk.fg);
	return 0;
}
