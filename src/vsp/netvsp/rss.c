// SPDX-License-Identifier: MIT
/* Receive-side scaling: Toeplitz hash and channel choice (see rss.h). */
#include <string.h>

#include "vsp/netvsp/rss.h"

#define ETH_HLEN 14u

uint32_t rss_toeplitz(const uint8_t *key, const uint8_t *data, size_t len)
{
	/* A 32-bit window slides over the key one bit per input bit; every set
	 * input bit XORs the current window into the result. */
	uint32_t win = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 |
		       key[3];
	uint32_t h = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t next = key[i + 4];

		for (int b = 7; b >= 0; b--) {
			if (data[i] >> b & 1)
				h ^= win;
			win = win << 1 | (uint32_t)(next >> b & 1);
		}
	}
	return h;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

bool rss_frame_hash(const struct rss_state *st, const uint8_t *f, size_t len, uint32_t *ret_hash)
{
	uint8_t in[36];
	size_t l3 = ETH_HLEN, n;
	uint16_t type;

	if (len < ETH_HLEN)
		return false;
	type = be16(f + 12);
	if (type == 0x8100) {
		if (len < ETH_HLEN + 4)
			return false;
		type = be16(f + 16);
		l3 += 4;
	}
	if (type == 0x0800 && (st->hashinfo & (RSS_HASH_IPV4 | RSS_HASH_TCP_IPV4))) {
		const uint8_t *ip = f + l3;
		size_t ihl;
		bool frag;

		if (len < l3 + 20 || ip[0] >> 4 != 4)
			return false;
		ihl = (size_t)(ip[0] & 0xF) * 4;
		if (ihl < 20 || len < l3 + ihl)
			return false;
		memcpy(in, ip + 12, 8); /* source, destination */
		n = 8;
		frag = (be16(ip + 6) & 0x3FFF) != 0; /* MF or an offset */
		if (ip[9] == 6 && !frag && (st->hashinfo & RSS_HASH_TCP_IPV4) &&
		    len >= l3 + ihl + 4) {
			memcpy(in + 8, ip + ihl, 4); /* source port, destination port */
			n = 12;
		} else if (!(st->hashinfo & RSS_HASH_IPV4)) {
			return false;
		}
	} else if (type == 0x86DD && (st->hashinfo & (RSS_HASH_IPV6 | RSS_HASH_TCP_IPV6))) {
		const uint8_t *ip = f + l3;

		if (len < l3 + 40 || ip[0] >> 4 != 6)
			return false;
		memcpy(in, ip + 8, 32);
		n = 32;
		if (ip[6] == 6 && (st->hashinfo & RSS_HASH_TCP_IPV6) && len >= l3 + 40 + 4) {
			memcpy(in + 32, ip + 40, 4);
			n = 36;
		} else if (!(st->hashinfo & RSS_HASH_IPV6)) {
			return false;
		}
	} else {
		return false;
	}
	*ret_hash = rss_toeplitz(st->key, in, n);
	return true;
}

uint16_t rss_channel(const struct rss_state *st, const uint8_t *frame, size_t len)
{
	uint32_t h;

	if (!st->on || !st->itab_len || !rss_frame_hash(st, frame, len, &h))
		return 0;
	return st->itab[h % st->itab_len];
}
