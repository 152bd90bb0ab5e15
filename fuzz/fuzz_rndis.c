// SPDX-License-Identifier: MIT
/*
 * Fuzz target for the RNDIS parsers on their own: the input is one guest
 * RNDIS message, fed to the control handler (with the header length fixed
 * up half of the time so deeper paths are reached), the packet/PPI parser
 * and the packet filter. Responses must stay within RNDIS_RESP_MAX,
 * parsed frame offsets inside the message, and the offloads the guest
 * switches on within those offered (all, or none: bit 6 of the first byte,
 * which also decides whether MAC changes are allowed). vRSS: 1..8 receive
 * queues (top bits of the first byte); RSS parameters the guest sets must
 * name only those queues, and the message bytes taken as a host frame must
 * map to one of them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "vsp/netvsp/rndis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t msg[8192];
	uint8_t out[RNDIS_RESP_MAX + 64];
	struct rndis_state st = { .mac = { 0x02, 0x6f, 0x68, 0, 0, 1 }, .mtu = 1500,
				  .link_speed = 100000000, .link_up = true };
	struct rndis_tx_info ti;
	uint32_t len, rlen;

	if (!size)
		return 0;
	st.offload_caps = data[0] & 0x40 ? 0 : RNDIS_OFL_ALL;
	st.allow_mac_change = !(data[0] & 0x40);
	st.rss_queues = (uint16_t)(1 + (data[0] >> 5) % 8);
	len = (uint32_t)MIN(size - 1, sizeof(msg));
	memcpy(msg, data + 1, len);
	if ((data[0] & 1) && len >= 8)
		memcpy(msg + 4, &len, 4); /* consistent header length */
	if ((data[0] & 6) == 2 && len >= 4) {
		uint32_t t = RNDIS_MSG_QUERY + (data[0] >> 3) % 5;

		memcpy(msg, &t, 4);
	}
	memset(out, 0xA5, sizeof(out));
	(void)rndis_control(&st, msg, len, out, &rlen);
	if (rlen > RNDIS_RESP_MAX || out[RNDIS_RESP_MAX] != 0xA5)
		abort();
	if (st.offload_on & ~st.offload_caps)
		abort();
	if (st.mac_changed && ((st.mac[0] & 1) || !st.allow_mac_change))
		abort();
	if (st.rss.on) {
		if (!st.rss.itab_len || st.rss.itab_len > RSS_ITAB_MAX || st.rss_queues < 2)
			abort();
		for (uint32_t i = 0; i < st.rss.itab_len; i++)
			if (st.rss.itab[i] >= st.rss_queues)
				abort();
	}
	if (rss_channel(&st.rss, msg, len) >= MAX(st.rss_queues, 1u))
		abort();
	if (rndis_parse_packet(msg, len, &ti) == 0) {
		if ((uint64_t)ti.data_off + ti.data_len > len)
			abort();
		(void)rndis_filter_accepts(&st, msg + ti.data_off, ti.data_len);
	}
	return 0;
}
