// SPDX-License-Identifier: MIT
/*
 * netvsp offload helpers (see offload.h): checksum PPI / LSOv2 PPI to
 * virtio-net header for guest frames, and checksum completion plus TCP
 * segmentation for host frames that arrive with a virtio-net header.
 *
 * Checksums are computed the way Linux does: 16-bit words summed in native
 * byte order, folded, complemented and stored back in native order, which
 * gives the right bytes on either endianness.
 */
#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "vsp/netvsp/offload.h"

#define ETH_P_IPV4 0x0800u
#define ETH_P_IPV6 0x86DDu
#define ETH_P_8021Q 0x8100u
#define ETH_P_8021AD 0x88A8u
#define PROTO_TCP 6u
#define PROTO_UDP 17u
#define TCP_CSUM_OFF 16u
#define UDP_CSUM_OFF 6u
#define TCP_FIN 0x01u
#define TCP_PSH 0x08u
#define TCP_CWR 0x80u

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Add v with end-around carry: the 64-bit ones' complement sum, which folds
 * to the same 16-bit sum (65535 divides 2^64 - 1). */
static uint64_t add_carry(uint64_t a, uint64_t v)
{
	a += v;
	return a + (a < v);
}

uint64_t offload_csum_add(uint64_t sum, const void *data, uint32_t len)
{
	const uint8_t *p = data;

	/* 8 bytes per step: this runs over every byte the host sends. */
	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		sum = add_carry(sum, w);
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		sum = add_carry(sum, w);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t h;

		memcpy(&h, p, 2);
		sum = add_carry(sum, h);
		p += 2;
		len -= 2;
	}
	if (len) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		sum = add_carry(sum, p[0]);
#else
		sum = add_carry(sum, (uint32_t)p[0] << 8);
#endif
	}
	return sum;
}

uint16_t offload_csum_fold(uint64_t sum)
{
	sum = (sum & 0xFFFFFFFFu) + (sum >> 32);
	while (sum >> 16)
		sum = (sum & 0xFFFFu) + (sum >> 16);
	return (uint16_t)sum;
}

/* Store the complemented sum at p (a computed 0 is sent as 0xFFFF, which
 * also keeps UDP's "no checksum" value out). */
static void csum_store(uint8_t *p, uint64_t sum)
{
	uint16_t c = (uint16_t)~offload_csum_fold(sum);

	if (!c)
		c = 0xFFFF;
	memcpy(p, &c, 2);
}

static void ipv4_hdr_csum(uint8_t *ip, uint32_t ihl)
{
	uint16_t c;

	ip[10] = ip[11] = 0;
	c = (uint16_t)~offload_csum_fold(offload_csum_add(0, ip, ihl));
	memcpy(ip + 10, &c, 2);
}

/* The Ethernet type and where the L3 header starts (one VLAN tag allowed). */
static int l3_of(const uint8_t *f, uint32_t len, uint32_t *ret_off, uint32_t *ret_type)
{
	uint32_t t, off = 14;

	if (len < 14)
		return -EPROTO;
	t = be16(f + 12);
	if (t == ETH_P_8021Q || t == ETH_P_8021AD) {
		if (len < 18)
			return -EPROTO;
		t = be16(f + 16);
		off = 18;
	}
	*ret_off = off;
	*ret_type = t;
	return 0;
}

/*
 * Check the IP header at l3 against the expected version and find where
 * its payload starts: IPv4 by IHL, IPv6 after the fixed header (extension
 * headers only when allow_ext). proto: required L4 protocol (0 = any).
 */
static int ip_check(const uint8_t *f, uint32_t len, uint32_t l3, bool v6, uint32_t proto,
		    bool allow_ext, uint32_t *ret_l4)
{
	if (!v6) {
		uint32_t ihl;

		if (!range_ok(l3, 20, len) || f[l3] >> 4 != 4)
			return -EPROTO;
		ihl = (f[l3] & 15u) * 4;
		if (ihl < 20 || !range_ok(l3, ihl, len) || (proto && f[l3 + 9] != proto))
			return -EPROTO;
		*ret_l4 = l3 + ihl;
		return 0;
	}
	if (!range_ok(l3, 40, len) || f[l3] >> 4 != 6)
		return -EPROTO;
	if (proto && f[l3 + 6] != proto && !allow_ext)
		return -EPROTO;
	*ret_l4 = l3 + 40;
	return 0;
}

static uint64_t pseudo_sum(const uint8_t *f, uint32_t l3, bool v6, uint32_t proto, uint32_t l4len)
{
	uint8_t tail[4] = { 0, (uint8_t)proto, (uint8_t)(l4len >> 8), (uint8_t)l4len };
	uint64_t sum;

	if (!v6)
		return offload_csum_add(offload_csum_add(0, f + l3 + 12, 8), tail, 4);
	sum = offload_csum_add(0, f + l3 + 8, 32);
	{
		uint8_t v6tail[8] = { (uint8_t)(l4len >> 24), (uint8_t)(l4len >> 16),
				      (uint8_t)(l4len >> 8), (uint8_t)l4len, 0, 0, 0, (uint8_t)proto };

		return offload_csum_add(sum, v6tail, 8);
	}
}

static int tx_lso(uint8_t *f, uint32_t len, uint32_t l2_shift, uint32_t mtu, uint32_t v,
		  struct netvsp_vnet_hdr_wire *ret)
{
	uint32_t mss = v & 0xFFFFFu, l4 = ((v >> 20) & 0x3FFu) + l2_shift;
	bool v6 = v >> 31;
	uint32_t l3, etype, ip_l4, thlen, l4len;
	uint64_t sum;
	uint16_t check;
	uint8_t lenb[2];

	if (!(v >> 30 & 1u) || l3_of(f, len, &l3, &etype) ||
	    etype != (v6 ? ETH_P_IPV6 : ETH_P_IPV4) ||
	    ip_check(f, len, l3, v6, PROTO_TCP, true, &ip_l4) || l4 < ip_l4 || (!v6 && l4 != ip_l4))
		return -EPROTO;
	if (!range_ok(l4, 20, len))
		return -EPROTO;
	thlen = (f[l4 + 12] >> 4) * 4u;
	if (thlen < 20 || !range_ok(l4, thlen, len))
		return -EPROTO;
	/* The segments must fit the MTU; the whole frame must fit IP's lengths. */
	if (!mss || (uint64_t)(l4 - l3) + thlen + mss > mtu || len - l3 > 65535u)
		return -EPROTO;
	if (!v6) {
		put_be16(f + l3 + 2, len - l3);
		ipv4_hdr_csum(f + l3, l4 - l3);
	} else {
		put_be16(f + l3 + 4, len - l3 - 40);
	}
	/* Linux put the pseudo-header sum without the length: add it. */
	l4len = len - l4;
	put_be16(lenb, l4len);
	memcpy(&check, f + l4 + TCP_CSUM_OFF, 2);
	sum = offload_csum_add(check, lenb, 2);
	check = offload_csum_fold(sum);
	memcpy(f + l4 + TCP_CSUM_OFF, &check, 2);
	ret->flags = VNET_F_NEEDS_CSUM;
	ret->csum_start = (uint16_t)l4;
	ret->csum_offset = TCP_CSUM_OFF;
	ret->hdr_len = (uint16_t)(l4 + thlen);
	if (len - (l4 + thlen) > mss) {
		ret->gso_type = v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4;
		ret->gso_size = (uint16_t)mss;
	}
	return 0;
}

int offload_tx_prepare(uint8_t *f, uint32_t len, uint32_t l2_shift, uint32_t mtu,
		       const struct rndis_tx_info *ti, struct netvsp_vnet_hdr_wire *ret)
{
	uint32_t v, l3, etype, ip_l4, l4;
	bool v4, v6, tcp, udp;

	memset(ret, 0, sizeof(*ret));
	if (len > OFFLOAD_MAX_FRAME)
		return -EPROTO;
	if (ti->has_lso)
		return tx_lso(f, len, l2_shift, mtu, ti->lso_info, ret);
	if (!ti->has_csum)
		return 0;
	v = ti->csum_info;
	v4 = v & 1u;
	v6 = v >> 1 & 1u;
	tcp = v >> 2 & 1u;
	udp = v >> 3 & 1u;
	l4 = ((v >> 16) & 0x3FFu) + l2_shift;
	if (!tcp && !udp && !(v >> 4 & 1u))
		return 0; /* nothing asked */
	if (v4 == v6 || (tcp && udp) || l3_of(f, len, &l3, &etype) ||
	    etype != (v6 ? ETH_P_IPV6 : ETH_P_IPV4) ||
	    ip_check(f, len, l3, v6, tcp ? PROTO_TCP : udp ? PROTO_UDP : 0, true, &ip_l4))
		return -EPROTO;
	if (v >> 4 & 1u) { /* IPv4 header checksum: done here, the TAP has no flag for it */
		if (v6)
			return -EPROTO;
		ipv4_hdr_csum(f + l3, ip_l4 - l3);
	}
	if (!tcp && !udp)
		return 0;
	if (l4 < ip_l4 || (v4 && l4 != ip_l4) || !range_ok(l4, tcp ? 20 : 8, len))
		return -EPROTO;
	ret->flags = VNET_F_NEEDS_CSUM;
	ret->csum_start = (uint16_t)l4;
	ret->csum_offset = tcp ? TCP_CSUM_OFF : UDP_CSUM_OFF;
	return 0;
}

int offload_rx_prepare(uint8_t *f, uint32_t len, const struct netvsp_vnet_hdr_wire *h,
		       struct offload_rx *ret)
{
	uint32_t gso = h->gso_type & ~VNET_GSO_ECN;
	uint32_t start = h->csum_start, coff = h->csum_offset;
	uint32_t l3, etype, l4, thlen;

	memset(ret, 0, sizeof(*ret));
	ret->nseg = 1;
	if (len > OFFLOAD_MAX_FRAME)
		return -EPROTO;
	if (gso == VNET_GSO_NONE) {
		if (h->flags & VNET_F_NEEDS_CSUM) {
			if (start < 14 || !range_ok((uint64_t)start + coff, 2, len))
				return -EPROTO;
			/* The field holds the pseudo-header sum: add the rest. */
			csum_store(f + start + coff, offload_csum_add(0, f + start, len - start));
			ret->csum_ok = true;
		} else if (h->flags & VNET_F_DATA_VALID) {
			ret->csum_ok = true;
		}
		return 0;
	}
	/* Only TCP segmentation was enabled on the TAP (TUNSETOFFLOAD). */
	if ((gso != VNET_GSO_TCPV4 && gso != VNET_GSO_TCPV6) || !(h->flags & VNET_F_NEEDS_CSUM) ||
	    coff != TCP_CSUM_OFF || l3_of(f, len, &l3, &etype))
		return -EPROTO;
	ret->ipv6 = gso == VNET_GSO_TCPV6;
	if (etype != (ret->ipv6 ? ETH_P_IPV6 : ETH_P_IPV4) ||
	    ip_check(f, len, l3, ret->ipv6, PROTO_TCP, false, &l4) || l4 != start ||
	    !range_ok(l4, 20, len))
		return -EPROTO;
	thlen = (f[l4 + 12] >> 4) * 4u;
	if (thlen < 20 || !range_ok(l4, thlen, len) || !h->gso_size)
		return -EPROTO;
	ret->l3_off = l3;
	ret->l4_off = l4;
	ret->hdr_len = l4 + thlen;
	ret->mss = h->gso_size;
	ret->payload = len - ret->hdr_len;
	ret->nseg = ret->payload ? (ret->payload + ret->mss - 1) / ret->mss : 1;
	ret->csum_ok = true;
	return 0;
}

uint32_t offload_rx_segment(const uint8_t *f, const struct offload_rx *rx, uint32_t idx,
			    uint8_t *out)
{
	uint32_t done = idx * rx->mss;
	uint32_t n = rx->payload > done ? MIN(rx->mss, rx->payload - done) : 0;
	uint32_t seglen = rx->hdr_len + n, l3 = rx->l3_off, l4 = rx->l4_off;
	uint8_t *tcp = out + l4;
	uint32_t seq;
	uint64_t sum;

	memcpy(out, f, rx->hdr_len);
	memcpy(out + rx->hdr_len, f + rx->hdr_len + done, n);
	if (!rx->ipv6) {
		put_be16(out + l3 + 2, seglen - l3);
		put_be16(out + l3 + 4, be16(out + l3 + 4) + idx);
		ipv4_hdr_csum(out + l3, l4 - l3);
	} else {
		put_be16(out + l3 + 4, seglen - l3 - 40);
	}
	seq = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 | tcp[7];
	seq += done;
	tcp[4] = (uint8_t)(seq >> 24);
	tcp[5] = (uint8_t)(seq >> 16);
	tcp[6] = (uint8_t)(seq >> 8);
	tcp[7] = (uint8_t)seq;
	if (idx + 1 < rx->nseg)
		tcp[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
	if (idx)
		tcp[13] &= (uint8_t)~TCP_CWR;
	tcp[16] = tcp[17] = 0;
	sum = pseudo_sum(out, l3, rx->ipv6, PROTO_TCP, seglen - l4);
	csum_store(tcp + TCP_CSUM_OFF, offload_csum_add(sum, tcp, seglen - l4));
	return seglen;
}

uint32_t offload_rx_csum_info(const uint8_t *f, uint32_t len)
{
	uint32_t l3, etype, l4, proto;

	if (l3_of(f, len, &l3, &etype))
		return 0;
	if (etype == ETH_P_IPV4) {
		if (ip_check(f, len, l3, false, 0, false, &l4))
			return 0;
		proto = f[l3 + 9];
		if (proto == PROTO_TCP)
			return RNDIS_CSUM_RX_TCP_OK | RNDIS_CSUM_RX_IP_OK;
		if (proto == PROTO_UDP)
			return RNDIS_CSUM_RX_UDP_OK | RNDIS_CSUM_RX_IP_OK;
		return 0;
	}
	if (etype == ETH_P_IPV6 && !ip_check(f, len, l3, true, 0, false, &l4)) {
		proto = f[l3 + 6];
		if (proto == PROTO_TCP)
			return RNDIS_CSUM_RX_TCP_OK;
		if (proto == PROTO_UDP)
			return RNDIS_CSUM_RX_UDP_OK;
	}
	return 0;
}
